"""Reading the API contract: Django models and DRF serializers with ast, TypeScript declarations, their drift."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from diagnostics import contracts
from diagnostics.contracts import ReadProblem, TypeIndex, parse_typescript
from diagnostics.diffs import unified


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip("\n"))
    return root


USER_MODEL = """
    from django.contrib.auth.models import AbstractUser
    from django.db import models


    class User(AbstractUser):
        email = models.EmailField("email address", unique=True)
        full_name = models.CharField(max_length=150, blank=True)
        company_name = models.CharField(max_length=200, blank=True)
        is_email_verified = models.BooleanField(default=False)
"""
USER_SERIALIZER = """
    from rest_framework import serializers

    from .models import User


    class UserSerializer(serializers.ModelSerializer):
        class Meta:
            model = User
            fields = ["id", "email", "full_name", "company_name", "is_email_verified", "date_joined"]
"""
USER_TS = """
    // what the API returns
    export interface User {
      id: number;
      email: string;
      name: string;
      company: string;
      isEmailVerified: boolean;
      dateJoined: string;
    }

    export interface Paginated<T> {
      count: number;
      results: T[];
    }
"""


def drifts_of(root: Path, interface: str = "User", convention: contracts.Convention | None = None):
    backend = contracts.read_backend(root)
    files = [contracts.read_type_file(p, rel) for p, rel in contracts.find_type_files(root)]
    tf, iface = next((f, i) for f in files for i in f.interfaces if i.name == interface)
    names = {i.name for f in files for i in f.interfaces}
    contract = backend.contract_for(iface.name, names)
    assert contract is not None
    if convention is None:
        pairs = [(i, c) for f in files for i in f.interfaces if (c := backend.contract_for(i.name, names))]
        convention = contracts.detect_convention(pairs, backend.camel_case_renderer)
    return tf, contracts.compare(iface, contract, convention, TypeIndex(files))


# --- Django models -----------------------------------------------------------------------------


def test_a_custom_user_has_abstractusers_fields_an_implicit_id_and_its_own(tmp_path: Path):
    backend = contracts.read_backend(write(tmp_path, {"users/models.py": USER_MODEL}))
    [user] = backend.models
    assert user.label == "users.User"
    names = [f.name for f in user.fields]
    assert names[0] == "id" and names[-2:] == ["groups", "user_permissions"]
    assert {"password", "username", "date_joined", "full_name", "company_name"} <= set(names)
    email = user.field("email")
    assert email is not None and email.line == 6 and not email.blank  # the subclass's email overrides Django's
    full = user.field("full_name")
    assert full is not None and (full.path, full.line, full.blank) == ("users/models.py", 7, True)
    assert full.text == "full_name = models.CharField(max_length=150, blank=True)"
    joined = user.field("date_joined")
    assert joined is not None and joined.line is None and "AbstractUser" in joined.origin


def test_abstract_bases_removed_fields_and_explicit_primary_keys(tmp_path: Path):
    models = """
        import uuid
        from django.db import models
        from django.contrib.auth.models import AbstractUser


        class TimeStamped(models.Model):
            created_at = models.DateTimeField(auto_now_add=True)

            class Meta:
                abstract = True


        class Account(AbstractUser):
            username = None
            uid = models.UUIDField(primary_key=True, default=uuid.uuid4)


        class Note(TimeStamped):
            author = models.ForeignKey(Account, on_delete=models.CASCADE)
            parent = models.ForeignKey("self", null=True, on_delete=models.CASCADE)
            data = models.JSONField(default=dict)
            tags = models.ManyToManyField("Tag")
            objects = models.Manager()


        class Tag(models.Model):
            name = models.SlugField()
    """
    backend = contracts.read_backend(write(tmp_path, {"notes/models.py": models}))
    by = {m.name: m for m in backend.models}
    assert set(by) == {"Account", "Note", "Tag"}  # the abstract base is no model of its own
    account = by["Account"]
    assert account.field("username") is None and account.field("id") is None
    note = by["Note"]
    assert [f.name for f in note.fields] == ["id", "created_at", "author", "parent", "data", "tags"]
    all_models = {m.name: m for m in backend.models}
    author, parent, data, tags = (note.field(n) for n in ("author", "parent", "data", "tags"))
    assert author is not None and contracts.model_type(author, all_models)[0] == "string"  # Account's pk is a UUID
    assert parent is not None and parent.target == "Note" and parent.optional
    assert contracts.model_type(parent, all_models) == ("number", frozenset({"number"}))
    assert data is not None and contracts.model_type(data, all_models)[0] == "Record<string, unknown>"
    assert tags is not None and contracts.model_type(tags, all_models) == ("number[]", frozenset({"array"}))


def test_an_unparsable_models_file_is_a_problem_with_its_line_and_the_others_are_read(tmp_path: Path):
    broken = "from django.db import models\n\nclass Broken(models.Model)\n    name = models.CharField()\n"
    write(tmp_path, {"users/models.py": USER_MODEL, "shop/models.py": broken, "tools/models.py": "def (:\n"})
    backend = contracts.read_backend(tmp_path)
    [problem] = backend.problems  # tools/models.py is not Django code: not ours to report
    assert (problem.path, problem.line) == ("shop/models.py", 3)
    assert "expected ':'" in problem.message
    assert [m.name for m in backend.models] == ["User"]


def test_a_models_file_that_is_not_utf8_is_a_problem(tmp_path: Path):
    write(tmp_path, {"shop/models.py": b"from django.db import models\n# caf\xe9\n"})
    [problem] = contracts.read_backend(tmp_path).problems
    assert problem.line == 2 and "not UTF-8" in problem.message


# --- serializers -------------------------------------------------------------------------------


def test_the_serializer_is_the_contract_when_the_model_has_one(tmp_path: Path):
    write(tmp_path, {"users/models.py": USER_MODEL, "users/serializers.py": USER_SERIALIZER})
    contract = contracts.read_backend(tmp_path).contract_for("User")
    assert contract is not None and contract.exact and contract.label == "serializer UserSerializer"
    assert [f.name for f in contract.fields] == [
        "id",
        "email",
        "full_name",
        "company_name",
        "is_email_verified",
        "date_joined",
    ]
    full = contract.fields[2]
    assert (full.ts_type, full.optional) == ("string", True)
    assert [(s.location.path, s.location.line) for s in full.sources if s.location] == [
        ("users/serializers.py", 9),
        ("users/models.py", 7),
    ]


def test_declared_fields_sources_write_only_and_nesting(tmp_path: Path):
    serializers = """
        from rest_framework import serializers
        from tenants.models import Organization
        from .models import User


        class OrganizationSerializer(serializers.ModelSerializer):
            class Meta:
                model = Organization
                fields = "__all__"


        class UserSerializer(serializers.ModelSerializer):
            company = serializers.CharField(source="company_name", required=False)
            password = serializers.CharField(write_only=True)
            organizations = OrganizationSerializer(many=True, read_only=True)
            score = serializers.SerializerMethodField()

            class Meta:
                model = User
                fields = ["id", "company", "password", "organizations", "score", "last_login", "secret"]
                extra_kwargs = {"secret": {"write_only": True}}
    """
    org = (
        "from django.db import models\n\nclass Organization(models.Model):\n    name = models.CharField(max_length=9)\n"
    )
    write(
        tmp_path,
        {"users/models.py": USER_MODEL, "users/serializers.py": serializers, "tenants/models.py": org},
    )
    backend = contracts.read_backend(tmp_path)
    contract = backend.contract_for("IUserResponse", {"Organization"})
    assert contract is not None
    fields = {f.name: f for f in contract.fields}
    assert list(fields) == ["id", "company", "organizations", "score", "last_login"]
    assert (fields["company"].ts_type, fields["company"].optional) == ("string", True)
    assert fields["organizations"].ts_type == "Organization[]"
    assert fields["score"].accepts is None
    assert (fields["last_login"].ts_type, fields["last_login"].optional) == ("string", True)
    org_contract = backend.contract_for("OrganizationDto")
    assert org_contract is not None and [f.name for f in org_contract.fields] == ["id", "name"]


def test_without_a_serializer_the_model_is_an_upper_bound(tmp_path: Path):
    write(tmp_path, {"users/models.py": USER_MODEL})
    contract = contracts.read_backend(tmp_path).contract_for("User")
    assert contract is not None and not contract.exact and contract.label == "model users.User"


# --- TypeScript --------------------------------------------------------------------------------


def test_interfaces_type_literals_aliases_and_enums_are_read():
    text = textwrap.dedent(
        """
        import type { Thing } from "./thing";
        /** a user */
        export interface User extends Base<number>, Named {
          readonly id: number;
          "full-name"?: string | null; // trailing
          tags: Array<{ name: string; weight: number }>;
          onClick(event: MouseEvent): void;
          [key: string]: unknown;
          handler: (a: string, b: number) => void
          role: Role
        }
        export type Point = { x: number, y: number };
        export type Role = "owner" | 'member';
        export type Id = `user-${string}`;
        export enum Kind { A = "a", B = "b" }
        enum Level { Low, High }
        const sample = { interface: 1, type: 2 };
        """
    )
    tf = parse_typescript(text, "types.ts")
    user = tf.interface("User")
    assert user is not None and user.bases == ("Base", "Named") and user.line == 4
    kinds = [(m.name, m.kind, m.optional) for m in user.members]
    assert kinds == [
        ("id", "property", False),
        ("full-name", "property", True),
        ("tags", "property", False),
        ("onClick", "method", False),
        (None, "index", False),
        ("handler", "property", False),
        ("role", "property", False),
    ]
    assert user.members[1].type_text(text) == "string | null" and user.members[1].line == 6
    assert user.members[5].type_text(text) == "(a: string, b: number) => void"
    point = tf.interface("Point")
    assert point is not None and point.kind == "type" and [m.name for m in point.members] == ["x", "y"]
    assert set(tf.aliases) == {"Role", "Id"} and tf.enums == {"Kind": "string", "Level": "number"}
    index = TypeIndex([tf])
    bases = {m.name: index.bases(m.type_tokens) for m in user.members if m.type_tokens}
    assert bases["id"] == {"number"} and bases["full-name"] == {"string"} and bases["tags"] == {"array"}
    assert bases["role"] == {"string"}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("export interface A {\n  a: string;\n", 1, "'{' is never closed"),
        ("export interface A {\n  a: 'oops;\n}\n", 2, "not closed on its line"),
        ("/* header\nexport interface A { a: string }\n", 1, "never closed"),
        ("export interface A {\n  a: string;\n}}\n", 3, "unexpected '}'"),
        ("export interface A {\n  a: string;\n  = b\n}\n", 3, "unexpected '='"),
        ("export interface A {\n  a: ;\n}\n", 2, "no type after ':'"),
    ],
)
def test_typescript_that_does_not_parse_names_its_line(text: str, line: int, message: str):
    with pytest.raises(ReadProblem) as e:
        parse_typescript(text, "types.ts")
    assert e.value.line == line and message in e.value.message


def test_binary_and_non_utf8_types_files_cannot_be_read(tmp_path: Path):
    write(tmp_path, {"src/types/a.ts": b"\x89PNG\r\n\x1a\n\x00\x00", "src/types/b.ts": b"// caf\xe9\n"})
    a, b = contracts.find_type_files(tmp_path)
    with pytest.raises(ReadProblem, match="binary"):
        contracts.read_type_file(*a)
    with pytest.raises(ReadProblem, match="not UTF-8") as e:
        contracts.read_type_file(*b)
    assert e.value.line == 1


def test_types_files_are_found_where_frontends_keep_them(tmp_path: Path):
    names = [
        "frontend/src/types/index.ts",
        "frontend/src/types/api/user.d.ts",
        "web/lib/types.ts",
        "frontend/src/types/user.test.ts",
        "frontend/src/api/client.ts",
        "frontend/node_modules/x/types/index.ts",
        "frontend/src/types/index.tsx",
    ]
    write(tmp_path, dict.fromkeys(names, "export {};\n"))
    assert [rel for _, rel in contracts.find_type_files(tmp_path)] == [
        "frontend/src/types/api/user.d.ts",
        "frontend/src/types/index.ts",
        "web/lib/types.ts",
    ]


# --- comparison --------------------------------------------------------------------------------


def test_the_user_model_and_interface_of_incident_i6_drift_per_field(tmp_path: Path):
    write(
        tmp_path,
        {
            "backend/users/models.py": USER_MODEL,
            "backend/users/serializers.py": USER_SERIALIZER,
            "frontend/src/types/index.ts": USER_TS,
        },
    )
    _, drifts = drifts_of(tmp_path)
    assert [(d.kind, d.member and d.member.name, d.field and d.field.name, d.expected_name) for d in drifts] == [
        ("renamed", "name", "full_name", "fullName"),
        ("renamed", "company", "company_name", "companyName"),
    ]
    assert [d.member.line for d in drifts if d.member] == [5, 6]


def test_names_that_agree_under_camel_case_do_not_drift(tmp_path: Path):
    fixed = USER_TS.replace("name: string", "fullName: string").replace("company: string", "companyName?: string")
    write(
        tmp_path,
        {
            "backend/users/models.py": USER_MODEL,
            "backend/users/serializers.py": USER_SERIALIZER,
            "frontend/src/types/index.ts": fixed,
        },
    )
    assert drifts_of(tmp_path)[1] == []


def test_the_convention_is_counted_from_the_matching_interfaces(tmp_path: Path):
    snake_ts = """
        export interface User {
          id: number;
          email: string;
          full_name: string;
          company_name: string;
          is_email_verified: boolean;
          date_joined: string;
        }
    """
    write(
        tmp_path,
        {
            "users/models.py": USER_MODEL,
            "users/serializers.py": USER_SERIALIZER,
            "web/types.ts": snake_ts,
        },
    )
    assert drifts_of(tmp_path)[1] == []
    # the same interface, read as a camelCase project's, is all renames
    _, as_camel = drifts_of(tmp_path, convention="camelCase")
    assert {d.kind for d in as_camel} == {"renamed"} and len(as_camel) == 4


def test_extra_missing_and_type_mismatch(tmp_path: Path):
    ts = """
        export interface User {
          id: string;
          email: string;
          fullName: string;
          companyName: string;
          isEmailVerified: boolean;
          avatarUrl: string;
          dateJoined: Date;
        }
    """
    serializer = USER_SERIALIZER.replace('"date_joined"]', '"date_joined", "last_login"]')
    write(tmp_path, {"u/models.py": USER_MODEL, "u/serializers.py": serializer, "types/index.ts": ts})
    _, drifts = drifts_of(tmp_path)
    summary = [(d.kind, d.member and d.member.name, d.field and d.field.name) for d in drifts]
    assert summary == [("type", "id", "id"), ("extra", "avatarUrl", None), ("missing", None, "last_login")]
    assert drifts[0].ts_bases == {"string"}


def test_without_a_serializer_a_subset_interface_is_fine_but_unknown_members_are_not(tmp_path: Path):
    ts = "export interface User {\n  id: number;\n  email: string;\n  fullName: string;\n  nickname: string;\n}\n"
    write(tmp_path, {"u/models.py": USER_MODEL, "types/index.ts": ts})
    _, drifts = drifts_of(tmp_path, convention="camelCase")
    assert [(d.kind, d.member and d.member.name) for d in drifts] == [("extra", "nickname")]


# --- rewriting ---------------------------------------------------------------------------------


def changed(before: str, after: str) -> list[str]:
    return [
        line
        for line in unified(before, after, "t.ts").splitlines()
        if line[:1] in "+-" and not line.startswith(("---", "+++"))
    ]


def test_the_rewrite_renames_in_place_and_touches_nothing_else(tmp_path: Path):
    write(
        tmp_path,
        {
            "users/models.py": USER_MODEL,
            "users/serializers.py": USER_SERIALIZER,
            "src/types/index.ts": USER_TS,
        },
    )
    tf, drifts = drifts_of(tmp_path)
    after = contracts.rewrite(tf.text, drifts)
    assert after is not None
    assert changed(tf.text, after) == [
        "-  name: string;",
        "-  company: string;",
        "+  fullName?: string;",
        "+  companyName?: string;",
    ]
    again = parse_typescript(after, tf.path)
    assert [i.name for i in again.interfaces] == ["User", "Paginated"]


def test_the_rewrite_removes_extras_with_their_comment_and_inserts_missing_fields_in_order(tmp_path: Path):
    ts = """
        export interface User {
          id: number,
          /** shown in the menu */
          avatarUrl: string,
          email: string,
          isEmailVerified: boolean, // badge
          dateJoined: string,
        }
    """
    write(tmp_path, {"u/models.py": USER_MODEL, "u/serializers.py": USER_SERIALIZER, "types/index.ts": ts})
    tf, drifts = drifts_of(tmp_path, convention="camelCase")
    after = contracts.rewrite(tf.text, drifts)
    assert after is not None
    assert after == textwrap.dedent(
        """\
        export interface User {
          id: number,
          email: string,
          fullName?: string,
          companyName?: string,
          isEmailVerified: boolean, // badge
          dateJoined: string,
        }
        """
    )


def test_a_one_line_interface_is_rewritten_on_its_line(tmp_path: Path):
    ts = "export type User = { id: number; email: string; name: string; isEmailVerified: boolean; dateJoined: string };\n"
    write(tmp_path, {"u/models.py": USER_MODEL, "u/serializers.py": USER_SERIALIZER, "types.ts": ts})
    tf, drifts = drifts_of(tmp_path, convention="camelCase")
    assert [d.kind for d in drifts] == ["renamed", "missing"]
    after = contracts.rewrite(tf.text, drifts)
    assert after == (
        "export type User = { id: number; email: string; fullName?: string; companyName?: string; "
        "isEmailVerified: boolean; dateJoined: string };\n"
    )
    assert drifts_of(write(tmp_path, {"types.ts": after}), convention="camelCase")[1] == []


def test_serializers_inherit_from_each_other_and_interfaces_can_name_a_serializer(tmp_path: Path):
    serializers = """
        from rest_framework import serializers
        from .models import User


        class UserSerializer(serializers.ModelSerializer):
            class Meta:
                model = User
                fields = ["id", "email"]


        class UserDetailSerializer(UserSerializer):
            class Meta(UserSerializer.Meta):
                fields = ["id", "email", "full_name"]


        class UserAdminSerializer(UserSerializer):
            is_staff = serializers.BooleanField()
    """
    write(tmp_path, {"u/models.py": USER_MODEL, "u/serializers.py": serializers})
    backend = contracts.read_backend(tmp_path)
    detail = backend.contract_for("UserDetail")
    assert detail is not None and detail.label == "serializer UserDetailSerializer"
    assert [f.name for f in detail.fields] == ["id", "email", "full_name"]
    admin = backend.contract_for("UserAdminResponse")
    assert admin is not None and [f.name for f in admin.fields] == ["id", "email"]  # Meta inherited
    user = backend.contract_for("User")
    assert user is not None and user.label == "serializer UserSerializer" and user.exact


def test_several_serializers_and_none_named_after_the_interface_make_an_upper_bound(tmp_path: Path):
    serializers = """
        from rest_framework import serializers
        from .models import User


        class PublicProfile(serializers.ModelSerializer):
            class Meta:
                model = User
                fields = ["id", "full_name"]


        class PrivateProfile(serializers.ModelSerializer):
            class Meta:
                model = User
                fields = ["id", "email"]
    """
    write(tmp_path, {"u/models.py": USER_MODEL, "u/serializers.py": serializers})
    contract = contracts.read_backend(tmp_path).contract_for("User")
    assert contract is not None and not contract.exact
    assert [f.name for f in contract.fields] == ["id", "full_name", "email"]


def test_members_inherited_through_extends_count_and_unknown_bases_stop_missing_checks(tmp_path: Path):
    ts = """
        export interface Base { id: number; email: string }
        export interface User extends Base {
          fullName: string;
          companyName: string;
          isEmailVerified: boolean;
          dateJoined: string;
        }
        export interface UserResponse extends Remote { fullName: string }
    """
    write(tmp_path, {"u/models.py": USER_MODEL, "u/serializers.py": USER_SERIALIZER, "types.ts": ts})
    assert drifts_of(tmp_path, convention="camelCase")[1] == []
    assert drifts_of(tmp_path, "UserResponse", convention="camelCase")[1] == []
