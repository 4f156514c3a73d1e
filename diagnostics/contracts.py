"""The API contract between a Django backend and its TypeScript frontend, read statically from the repository.

Three readers and one comparison:

- Django models (`models.py`, `models/` packages) and DRF serializers (`*serializer*.py`) are read
  with `ast`, never imported. Each model or serializer becomes a `Contract`: the fields the API
  sends, with the TypeScript type each maps to.
- TypeScript declarations (`interface X {…}`, `type X = {…}`, aliases and enums) are read by a
  small scanner made for declaration files: the `*.ts`/`*.d.ts` files under a `types` directory
  and files named `types.ts`.
- `compare` pairs an interface's members with a contract's fields under the project's naming
  convention (`detect_convention`) and `rewrite` edits the interface so it agrees.

The surprising parts:

- A serializer is the contract when one exists for the model (its `Meta.fields`, declared fields,
  `write_only` fields left out): then a field the interface lacks is drift. Without a serializer the
  model is only an upper bound (an API may send a subset), so only members the model lacks and types
  that disagree count. A model with several serializers and none named after the interface is
  checked against their union, as an upper bound too.
- A ForeignKey is sent as `<name>` holding the related row's id (DRF's PrimaryKeyRelatedField). A
  serializer listing `<name>_id` sends that name instead; with no serializer both spellings pass.
- Blank or nullable fields are generated optional (`?`), but a required member that matches such a
  field is not drift: DRF always sends the key.
- DecimalField is generated `number`, yet `string` passes too (DRF renders decimals as strings by
  default). A `Date` passes for date/time fields: clients often revive them.
"""

from __future__ import annotations

import ast
import difflib
import itertools
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from diagnostics import pyast
from diagnostics.findings import Location
from diagnostics.repo import SKIP_DIRS

Convention = Literal["camelCase", "snake_case"]
DriftKind = Literal["renamed", "extra", "missing", "type"]

MAX_FILE_BYTES = 2 * 1024 * 1024
# the repository's own skip list, plus build output a frontend leaves next to its sources
_SKIP_DIRS = SKIP_DIRS | {"dist-packages", "dist", "build", "coverage", ".next"}
_PREFIX = re.compile(r"I(?=[A-Z][a-z])")
_SUFFIXES = ("Response", "Dto", "DTO")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


class ReadProblem(ValueError):
    """A file that could not be checked: where, and one line saying why."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")
        self.path, self.line, self.message = path, line, message


# ---------------------------------------------------------------------------------------------
# names


def camel(name: str) -> str:
    """`full_name` → `fullName`, as djangorestframework-camel-case renders keys."""
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def snake(name: str) -> str:
    """`fullName` → `full_name`; snake_case names pass unchanged."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def in_convention(name: str, convention: Convention) -> str:
    return camel(name) if convention == "camelCase" else name


def base_names(interface: str) -> list[str]:
    """The names an interface may stand for: `IUserResponse` → IUserResponse, UserResponse, IUser, User."""
    names = [interface]
    for n in list(names):
        if _PREFIX.match(n):
            names.append(n[1:])
    for n in list(names):
        for suffix in _SUFFIXES:
            if n.endswith(suffix) and len(n) > len(suffix):
                names.append(n[: -len(suffix)])
    return list(dict.fromkeys(names))


# ---------------------------------------------------------------------------------------------
# contracts


@dataclass(frozen=True, slots=True)
class Source:
    """Where a field of the contract is declared, for evidence: what (`Django model users.User`) and where."""

    what: str
    text: str  # the declaration, on one line
    location: Location | None


@dataclass(frozen=True, slots=True)
class ContractField:
    """One key the API sends, named as the backend names it (snake_case), and how TypeScript should type it.

    `accepts` are the base types a TypeScript member may have (see `bases`); None accepts anything.
    """

    name: str
    ts_type: str
    accepts: frozenset[str] | None
    optional: bool
    sources: tuple[Source, ...]
    aliases: tuple[str, ...] = ()  # other backend names that also count (`organization_id` for a bare FK)
    django_type: str = ""


@dataclass(frozen=True, slots=True)
class Contract:
    """What one model or serializer sends. `exact`: a serializer lists it (missing members are drift)."""

    name: str
    label: str  # "serializer UserSerializer" / "model users.User"
    fields: tuple[ContractField, ...]
    exact: bool
    location: Location


# Django model fields → (generated TypeScript type, accepted bases)
_STRING = ("string", frozenset({"string"}))
_NUMBER = ("number", frozenset({"number"}))
_BOOLEAN = ("boolean", frozenset({"boolean"}))
_DATE = ("string", frozenset({"string", "Date"}))
_DECIMAL = ("number", frozenset({"number", "string"}))
_ANY: tuple[str, frozenset[str] | None] = ("unknown", None)
_MODEL_TYPES: dict[str, tuple[str, frozenset[str] | None]] = {
    **dict.fromkeys(
        (
            "CharField",
            "TextField",
            "EmailField",
            "SlugField",
            "URLField",
            "UUIDField",
            "GenericIPAddressField",
            "IPAddressField",
            "FilePathField",
            "FileField",
            "ImageField",
            "DurationField",
            "CICharField",
            "CIEmailField",
            "CITextField",
        ),
        _STRING,
    ),
    **dict.fromkeys(
        (
            "IntegerField",
            "SmallIntegerField",
            "BigIntegerField",
            "PositiveIntegerField",
            "PositiveSmallIntegerField",
            "PositiveBigIntegerField",
            "FloatField",
            "AutoField",
            "BigAutoField",
            "SmallAutoField",
        ),
        _NUMBER,
    ),
    "DecimalField": _DECIMAL,
    "BooleanField": _BOOLEAN,
    "NullBooleanField": _BOOLEAN,
    "DateTimeField": _DATE,
    "DateField": _DATE,
    "TimeField": _DATE,
    "ArrayField": ("unknown[]", frozenset({"array"})),
}
_RELATIONS = frozenset({"ForeignKey", "OneToOneField"})
_MANY = frozenset({"ManyToManyField"})
_JSON = frozenset({"JSONField", "HStoreField"})
_FIELD_CALLS = _RELATIONS | _MANY
# DRF serializer fields → (generated TypeScript type, accepted bases)
_SERIALIZER_TYPES: dict[str, tuple[str, frozenset[str] | None]] = {
    **dict.fromkeys(
        (
            "CharField",
            "EmailField",
            "SlugField",
            "URLField",
            "UUIDField",
            "RegexField",
            "IPAddressField",
            "ChoiceField",
            "FilePathField",
            "FileField",
            "ImageField",
            "HyperlinkedRelatedField",
            "HyperlinkedIdentityField",
            "StringRelatedField",
            "SlugRelatedField",
            "DurationField",
        ),
        _STRING,
    ),
    **dict.fromkeys(("DateTimeField", "DateField", "TimeField"), _DATE),
    **dict.fromkeys(("IntegerField", "FloatField", "PrimaryKeyRelatedField"), _NUMBER),
    "DecimalField": _DECIMAL,
    "BooleanField": _BOOLEAN,
    "NullBooleanField": _BOOLEAN,
    "DictField": ("Record<string, unknown>", frozenset({"object"})),
    "HStoreField": ("Record<string, unknown>", frozenset({"object"})),
    "ListField": ("unknown[]", frozenset({"array"})),
    "MultipleChoiceField": ("unknown[]", frozenset({"array"})),
}


@dataclass(frozen=True, slots=True)
class ModelField:
    name: str
    kind: str  # the field class: CharField, ForeignKey, …
    line: int | None  # None: declared by Django itself (AbstractUser)
    path: str
    text: str
    null: bool = False
    blank: bool = False
    primary_key: bool = False
    target: str | None = None  # a relation's model name
    json_default: str | None = None  # "dict" / "list" for JSONField(default=dict)
    origin: str = ""  # the class that declares it, when inherited

    @property
    def optional(self) -> bool:
        return self.null or self.blank


@dataclass(frozen=True, slots=True)
class DjangoModel:
    name: str
    app_label: str
    path: str
    line: int
    fields: tuple[ModelField, ...]  # pk first, then inherited, then own, many-to-many last

    @property
    def label(self) -> str:
        return f"{self.app_label}.{self.name}"

    def field(self, name: str) -> ModelField | None:
        return next((f for f in self.fields if f.name == name), None)


def _django_base(*fields: tuple[str, str, bool, bool]) -> tuple[ModelField, ...]:
    return tuple(ModelField(n, k, None, "", f"{n} = models.{k}(…)", null=nl, blank=b) for n, k, nl, b in fields)


# the fields Django's own abstract models declare, in the order `_meta` lists them
_ABSTRACT_BASE_USER = _django_base(("password", "CharField", False, False), ("last_login", "DateTimeField", True, True))
_PERMISSIONS_MIXIN = _django_base(
    ("is_superuser", "BooleanField", False, False),
    ("groups", "ManyToManyField", False, True),
    ("user_permissions", "ManyToManyField", False, True),
)
_ABSTRACT_USER_OWN = _django_base(
    ("username", "CharField", False, False),
    ("first_name", "CharField", False, True),
    ("last_name", "CharField", False, True),
    ("email", "EmailField", False, True),
    ("is_staff", "BooleanField", False, False),
    ("is_active", "BooleanField", False, False),
    ("date_joined", "DateTimeField", False, False),
)
DJANGO_BASES: dict[str, tuple[str, tuple[ModelField, ...]]] = {
    "Model": ("django.db.models.Model", ()),
    "AbstractBaseUser": ("django.contrib.auth.base_user.AbstractBaseUser", _ABSTRACT_BASE_USER),
    "PermissionsMixin": ("django.contrib.auth.models.PermissionsMixin", _PERMISSIONS_MIXIN),
    "AbstractUser": (
        "django.contrib.auth.models.AbstractUser",
        _ABSTRACT_BASE_USER + _PERMISSIONS_MIXIN + _ABSTRACT_USER_OWN,
    ),
}


def _name_of(node: ast.expr) -> str | None:
    """`models.CharField` → CharField, `User` → User, `"tenants.Organization"` → Organization."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.rpartition(".")[2]
    if isinstance(node, ast.Subscript):  # Generic[...] bases
        return _name_of(node.value)
    return None


def _kwarg(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _true(call: ast.Call, name: str) -> bool:
    value = _kwarg(call, name)
    return isinstance(value, ast.Constant) and value.value is True


def _one_line(source: str, node: ast.AST) -> str:
    text = ast.get_source_segment(source, node) or ""
    text = " ".join(text.split())
    return re.sub(r"([(\[]) ", r"\1", re.sub(r",? ([)\]])", r"\1", text))


@dataclass(frozen=True, slots=True)
class _Class:
    node: ast.ClassDef
    path: str
    source: str
    app_label: str


def _is_field_call(value: ast.expr) -> ast.Call | None:
    if not isinstance(value, ast.Call):
        return None
    name = _name_of(value.func)
    if name and (name.endswith("Field") or name in _FIELD_CALLS):
        return value
    return None


def _class_fields(cls: _Class, own_name: str) -> tuple[list[ModelField], set[str]]:
    """The fields a class body declares, and the inherited names it sets to None (removes)."""
    fields: list[ModelField] = []
    removed: set[str] = set()
    for stmt in cls.node.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            target, value = stmt.targets[0].id, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
            target, value = stmt.target.id, stmt.value
        else:
            continue
        if isinstance(value, ast.Constant) and value.value is None:
            removed.add(target)
            continue
        call = _is_field_call(value)
        if call is None:
            continue
        kind = _name_of(call.func) or ""
        rel: str | None = None
        if kind in _FIELD_CALLS:
            to = call.args[0] if call.args else _kwarg(call, "to")
            rel = _name_of(to) if to is not None else None
            if rel == "self":
                rel = own_name
        default = _kwarg(call, "default")
        json_default = default.id if isinstance(default, ast.Name) and default.id in ("dict", "list") else None
        fields.append(
            ModelField(
                target,
                kind,
                stmt.lineno,
                cls.path,
                _one_line(cls.source, stmt),
                null=_true(call, "null"),
                blank=_true(call, "blank"),
                primary_key=_true(call, "primary_key"),
                target=rel,
                json_default=json_default,
            )
        )
    return fields, removed


def _models_from(classes: dict[str, list[_Class]]) -> list[DjangoModel]:
    """The model classes among `classes` (by name; a base from another file resolves by name too)."""
    state: dict[int, list[ModelField] | None] = {}

    def fields_of(cls: _Class, depth: int = 0) -> list[ModelField] | None:
        """Inherited then own fields (no implicit pk); None when the class is not a model."""
        key = id(cls)
        if key in state:
            return state[key]
        state[key] = None  # a cycle of bases: not a model
        inherited: list[ModelField] = []
        is_model = False
        for base in cls.node.bases:
            name = _name_of(base)
            if name is None:
                continue
            if name in DJANGO_BASES:
                is_model = True
                dotted, base_fields = DJANGO_BASES[name]
                inherited += [_inherited(f, dotted) for f in base_fields]
                continue
            for candidate in classes.get(name, ()):
                if candidate is not cls and depth < 20:
                    got = fields_of(candidate, depth + 1)
                    if got is not None:
                        is_model = True
                        inherited += [f if f.origin else _inherited(f, f"{candidate.app_label}.{name}") for f in got]
                        break
        if not is_model:
            return None
        own, removed = _class_fields(cls, cls.node.name)
        names = {f.name for f in own} | removed
        merged = [f for f in inherited if f.name not in names]
        seen: set[str] = set()
        out = []
        for f in [*merged, *own]:
            if f.name not in seen:
                seen.add(f.name)
                out.append(f)
        state[key] = out
        return out

    models: list[DjangoModel] = []
    for group in classes.values():
        for cls in group:
            got = fields_of(cls)
            if got is None or _is_abstract(cls.node):
                continue
            pk: list[ModelField] = []
            if not any(f.primary_key for f in got):
                pk = [ModelField("id", "AutoField", None, cls.path, "id (implicit AutoField)", origin="implicit")]
            ordered = pk + [f for f in got if f.kind not in _MANY] + [f for f in got if f.kind in _MANY]
            models.append(DjangoModel(cls.node.name, cls.app_label, cls.path, cls.node.lineno, tuple(ordered)))
    return models


def _inherited(f: ModelField, origin: str) -> ModelField:
    return ModelField(
        f.name,
        f.kind,
        f.line,
        f.path,
        f.text,
        f.null,
        f.blank,
        f.primary_key,
        f.target,
        f.json_default,
        origin,
    )


def _meta(node: ast.ClassDef) -> ast.ClassDef | None:
    return next((s for s in node.body if isinstance(s, ast.ClassDef) and s.name == "Meta"), None)


def _meta_value(node: ast.ClassDef, name: str) -> ast.expr | None:
    meta = _meta(node)
    if meta is None:
        return None
    for stmt in meta.body:
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets):
            return stmt.value
    return None


def _is_abstract(node: ast.ClassDef) -> bool:
    value = _meta_value(node, "abstract")
    return isinstance(value, ast.Constant) and value.value is True


def model_type(f: ModelField, models: dict[str, DjangoModel]) -> tuple[str, frozenset[str] | None]:
    """The TypeScript type a model field is sent as (DRF defaults), and the bases a member may have."""
    if f.kind in _RELATIONS or f.kind in _MANY:
        target = models.get(f.target or "")
        pk = next((p for p in target.fields if p.primary_key or p.name == "id"), None) if target else None
        if pk is not None and pk.kind not in _RELATIONS and _MODEL_TYPES.get(pk.kind, _ANY)[0] == "string":
            one: tuple[str, frozenset[str] | None] = _STRING
        elif target is None:  # settings.AUTH_USER_MODEL or an app outside the repository: its pk is unknown
            one = ("number", frozenset({"number", "string"}))
        else:
            one = _NUMBER
        if f.kind in _MANY:
            return f"{one[0]}[]", frozenset({"array"})
        return one
    if f.kind in _JSON:
        return {"dict": ("Record<string, unknown>", None), "list": ("unknown[]", None)}.get(
            f.json_default or "", ("unknown", None)
        )
    return _MODEL_TYPES.get(f.kind, _ANY)


def _model_source(model: DjangoModel, f: ModelField) -> Source:
    what = f"Django model {model.label}"
    if f.origin == "implicit":
        return Source(
            what, f"class {model.name}: id (implicit AutoField primary key)", Location(model.path, model.line)
        )
    if f.line is None:
        where = Location(model.path, model.line)
        return Source(what, f"class {model.name}: {f.name} ({f.kind}) inherited from {f.origin}", where)
    inherited = f" (inherited from {f.origin})" if f.origin else ""
    return Source(what, f.text + inherited, Location(f.path, f.line))


def model_contract(model: DjangoModel, models: dict[str, DjangoModel]) -> Contract:
    """The model as an upper bound of what the API sends: every concrete field, FKs by `<name>`."""
    fields = []
    for f in model.fields:
        ts, accepts = model_type(f, models)
        aliases = (f"{f.name}_id",) if f.kind in _RELATIONS else ()
        fields.append(ContractField(f.name, ts, accepts, f.optional, (_model_source(model, f),), aliases, f.kind))
    return Contract(model.name, f"model {model.label}", tuple(fields), False, Location(model.path, model.line))


# --- serializers


@dataclass(frozen=True, slots=True)
class DeclaredField:
    name: str
    kind: str
    line: int
    text: str
    many: bool = False
    optional: bool = False
    write_only: bool = False
    source: str | None = None
    nested: str | None = None  # the serializer class it nests


@dataclass(frozen=True, slots=True)
class Serializer:
    name: str
    path: str
    line: int
    model: str | None
    declared: tuple[DeclaredField, ...]
    fields: tuple[tuple[str, int], ...] | None  # Meta.fields with each name's line; None: "__all__" or absent
    exclude: tuple[str, ...] = ()
    write_only: tuple[str, ...] = ()  # from Meta.extra_kwargs
    depth: int = 0
    hyperlinked: bool = False
    bases: tuple[str, ...] = ()


def _strings(node: ast.expr | None) -> list[tuple[str, int]]:
    if isinstance(node, ast.List | ast.Tuple):
        return [(e.value, e.lineno) for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return []


def _serializer(node: ast.ClassDef, path: str, source: str) -> Serializer:
    declared: list[DeclaredField] = []
    for stmt in node.body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            continue
        call = stmt.value
        if not isinstance(call, ast.Call):
            continue
        kind = _name_of(call.func) or ""
        if not (kind.endswith(("Field", "Serializer")) or kind.endswith("RelatedField")):
            continue
        src = _kwarg(call, "source")
        declared.append(
            DeclaredField(
                stmt.targets[0].id,
                kind,
                stmt.lineno,
                _one_line(source, stmt),
                many=_true(call, "many"),
                optional=_true(call, "allow_null") or (_false(call, "required")),
                write_only=_true(call, "write_only"),
                source=src.value if isinstance(src, ast.Constant) and isinstance(src.value, str) else None,
                nested=kind if kind.endswith("Serializer") else None,
            )
        )
    model = _meta_value(node, "model")
    fields_node = _meta_value(node, "fields")
    fields = None if fields_node is None or isinstance(fields_node, ast.Constant) else tuple(_strings(fields_node))
    depth_node = _meta_value(node, "depth")
    extra = _meta_value(node, "extra_kwargs")
    write_only: list[str] = []
    if isinstance(extra, ast.Dict):
        for k, v in zip(extra.keys, extra.values, strict=True):
            if isinstance(k, ast.Constant) and isinstance(v, ast.Dict):
                for kk, vv in zip(v.keys, v.values, strict=True):
                    if isinstance(kk, ast.Constant) and kk.value == "write_only" and getattr(vv, "value", None) is True:
                        write_only.append(str(k.value))
    bases = tuple(n for n in (_name_of(b) for b in node.bases) if n)
    return Serializer(
        node.name,
        path,
        node.lineno,
        _name_of(model) if model is not None else None,
        tuple(declared),
        fields,
        tuple(n for n, _ in _strings(_meta_value(node, "exclude"))),
        tuple(write_only),
        depth_node.value if isinstance(depth_node, ast.Constant) and isinstance(depth_node.value, int) else 0,
        "HyperlinkedModelSerializer" in bases,
        bases,
    )


def _false(call: ast.Call, name: str) -> bool:
    value = _kwarg(call, name)
    return isinstance(value, ast.Constant) and value.value is False


def _resolve_serializer(s: Serializer, by_name: dict[str, Serializer], depth: int = 0) -> Serializer:
    """A serializer with what it inherits from in-repository serializers (declared fields, Meta)."""
    parent = next((by_name[b] for b in s.bases if b in by_name and by_name[b] is not s), None)
    if parent is None or depth > 10:
        return s
    p = _resolve_serializer(parent, by_name, depth + 1)
    own = {d.name for d in s.declared}
    own_meta = s.model is not None or s.fields is not None
    return Serializer(
        s.name,
        s.path,
        s.line,
        s.model if own_meta else p.model,
        tuple(d for d in p.declared if d.name not in own) + s.declared,
        s.fields if own_meta else p.fields,
        s.exclude if own_meta else p.exclude,
        s.write_only if own_meta else p.write_only,
        s.depth if own_meta else p.depth,
        s.hyperlinked or p.hyperlinked,
        s.bases,
    )


def serializer_contract(
    s: Serializer, models: dict[str, DjangoModel], serializers: dict[str, Serializer], interfaces: set[str]
) -> Contract:
    """What the serializer sends: its `Meta.fields` in order (or the model's, for `__all__`/`exclude`)."""
    model = models.get(s.model or "")
    declared = {d.name: d for d in s.declared}
    what = f"DRF serializer {s.name}"
    names: list[tuple[str, int | None]]
    if s.fields is not None:
        names = list(s.fields)
    else:
        names = [(f.name, None) for f in model.fields if f.name not in s.exclude] if model else []
        names += [(d, None) for d in declared if d not in {n for n, _ in names}]
    if s.hyperlinked and s.fields is None:
        names.insert(0, ("url", None))
    out: list[ContractField] = []
    for name, line in names:
        if name in s.write_only or (name in declared and declared[name].write_only):
            continue
        listed = Source(what, f"{s.name}.Meta.fields lists {name!r}", Location(s.path, line)) if line else None
        sources: list[Source] = [listed] if listed else []
        d = declared.get(name)
        mf = model.field(name) if model else None
        if d is not None:
            sources.append(Source(what, d.text, Location(s.path, d.line)))
            ts, accepts, optional = _declared_type(d, model, models, serializers, interfaces)
            if mf is not None and model is not None and d.source is None:
                sources.append(_model_source(model, mf))
        elif mf is not None and model is not None:
            sources.append(_model_source(model, mf))
            ts, accepts = model_type(mf, models)
            optional = mf.optional
            if mf.kind in _RELATIONS | _MANY and (s.depth > 0 or s.hyperlinked):
                ts, accepts = ("unknown", None) if s.depth > 0 else ("string", frozenset({"string"}))
        elif model is not None and name.endswith("_id") and (fk := model.field(name[:-3])) is not None:
            sources.append(_model_source(model, fk))  # the FK's column, sent as is
            ts, accepts = model_type(fk, models)
            optional = fk.optional
        elif name == "url" and s.hyperlinked:
            ts, accepts, optional = "string", frozenset({"string"}), False
        else:  # a property or method of the model, sent through a ReadOnlyField: type unknown
            ts, accepts, optional = "unknown", None, False
        if not sources:
            sources.append(Source(what, f"class {s.name}", Location(s.path, s.line)))
        kind = d.kind if d is not None else (mf.kind if mf is not None else "")
        out.append(ContractField(name, ts, accepts, optional, tuple(sources), (), kind))
    return Contract(s.name, f"serializer {s.name}", tuple(out), True, Location(s.path, s.line))


def _declared_type(
    d: DeclaredField,
    model: DjangoModel | None,
    models: dict[str, DjangoModel],
    serializers: dict[str, Serializer],
    interfaces: set[str],
) -> tuple[str, frozenset[str] | None, bool]:
    optional = d.optional
    if d.nested is not None:
        nested = serializers.get(d.nested)
        target = nested.model if nested and nested.model else d.nested.removesuffix("Serializer")
        ts = next(
            (n for n in (target, d.nested.removesuffix("Serializer")) if n in interfaces), "Record<string, unknown>"
        )
        accepts: frozenset[str] | None = frozenset({"object"})
    elif d.kind in ("ReadOnlyField", "ModelField") and model is not None:
        mf = model.field(d.source or d.name)
        ts, accepts = model_type(mf, models) if mf else ("unknown", None)
    else:
        ts, accepts = _SERIALIZER_TYPES.get(d.kind, _ANY)
    if d.many:
        return (f"{ts}[]" if re.fullmatch(r"[\w<>, ]+", ts) else f"Array<{ts}>"), frozenset({"array"}), optional
    return ts, accepts, optional


# --- reading the Python side


@dataclass(frozen=True, slots=True)
class Backend:
    """Every model and serializer the repository declares, and the files that could not be read."""

    models: tuple[DjangoModel, ...]
    serializers: tuple[Serializer, ...]  # with what they inherit from the repository's other serializers
    problems: tuple[ReadProblem, ...]
    camel_case_renderer: bool  # settings or requirements name djangorestframework-camel-case

    def contract_for(self, interface: str, interfaces: Iterable[str] = ()) -> Contract | None:
        """The contract an interface named `interface` describes, if one does (see the module docstring).

        `interfaces` are the interface names the frontend declares: a nested serializer is typed with
        the one named after its model when there is one.
        """
        known = set(interfaces)
        models = {m.name: m for m in self.models}
        resolved = {s.name: s for s in self.serializers}
        for name in base_names(interface):
            s = resolved.get(f"{name}Serializer")
            if s is not None and (s.model is None or s.model != name):
                return serializer_contract(s, models, resolved, known)
        for name in base_names(interface):
            candidates = [m for m in self.models if m.name == name]
            if not candidates:
                continue
            with_serializers = [m for m in candidates if any(s.model == m.name for s in resolved.values())]
            if len(candidates) > 1 and len(with_serializers) != 1:
                return None  # two apps declare a model of that name: which one the interface means is unknown
            model = with_serializers[0] if len(candidates) > 1 else candidates[0]
            own = [s for s in resolved.values() if s.model == model.name]
            named = next((s for s in own if s.name == f"{model.name}Serializer"), None)
            if named is not None or len(own) == 1:
                return serializer_contract(named or own[0], models, resolved, known)
            if own:
                return _union([serializer_contract(s, models, resolved, known) for s in own], model)
            return model_contract(model, models)
        return None


def _union(contracts: Sequence[Contract], model: DjangoModel) -> Contract:
    fields: dict[str, ContractField] = {}
    for c in contracts:
        for f in c.fields:
            fields.setdefault(f.name, f)
    label = "serializers " + ", ".join(c.name for c in contracts)
    return Contract(model.name, label, tuple(fields.values()), False, Location(model.path, model.line))


def _walk(root: Path) -> Iterator[tuple[Path, str]]:
    """(absolute path, POSIX path relative to root) of every file, vendored and build trees skipped."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            yield path, path.relative_to(root).as_posix()


def _parse_python(path: Path, rel: str) -> tuple[ast.Module, str]:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ReadProblem(rel, None, f"it is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        data = path.read_bytes()
    except OSError as e:
        raise ReadProblem(rel, None, f"it cannot be read ({e.strerror})") from e
    try:
        text = data.decode("utf-8")
        return pyast.parse(text, filename=rel), text
    except SyntaxError as e:
        raise ReadProblem(rel, e.lineno, e.msg) from e
    except UnicodeDecodeError as e:
        raise ReadProblem(rel, _line_at(data, e.start), f"it is not UTF-8 text (byte {e.object[e.start]:#04x})") from e
    except ValueError as e:  # null bytes
        raise ReadProblem(rel, None, str(e)) from e


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _app_label(rel: str) -> str:
    parts = rel.split("/")
    parts = parts[:-2] if parts[-2:-1] == ["models"] else parts[:-1]
    return parts[-1] if parts else "."


def read_backend(root: Path) -> Backend:
    """Models and serializers of every Django app in the repository, read with `ast`."""
    classes: dict[str, list[_Class]] = {}
    serializer_classes: list[Serializer] = []
    problems: list[ReadProblem] = []
    camel_hint = False
    for path, rel in _walk(root):
        parts = rel.split("/")
        if not rel.endswith(".py") or "migrations" in parts[:-1]:
            if path.name.startswith("requirements") or path.name == "pyproject.toml":
                camel_hint = camel_hint or _mentions_camel_renderer(path)
            continue
        is_models = path.name == "models.py" or (len(parts) > 1 and parts[-2] == "models")
        is_serializers = "serializer" in path.name or any("serializer" in p for p in parts[:-1])
        if "settings" in path.name or (len(parts) > 1 and parts[-2] == "settings"):
            camel_hint = camel_hint or _mentions_camel_renderer(path)
        if not (is_models or is_serializers):
            continue
        try:
            tree, text = _parse_python(path, rel)
        except ReadProblem as e:
            if _looks_django(path):
                problems.append(e)
            continue
        for node in tree.body:
            if not isinstance(node, ast.ClassDef):
                continue
            if is_models:
                classes.setdefault(node.name, []).append(_Class(node, rel, text, _app_label(rel)))
            if is_serializers and any((_name_of(b) or "").endswith("Serializer") for b in node.bases):
                serializer_classes.append(_serializer(node, rel, text))
    by_name = {s.name: s for s in serializer_classes}
    resolved = tuple(_resolve_serializer(s, by_name) for s in serializer_classes)
    return Backend(tuple(_models_from(classes)), resolved, tuple(problems), camel_hint)


def _looks_django(path: Path) -> bool:
    """A file that does not parse is only ours to report when it is Django code (or unreadable)."""
    try:
        head = path.read_bytes()[:MAX_FILE_BYTES]
    except OSError:
        return True
    return b"django" in head or b"rest_framework" in head or b"models." in head or b"\x00" in head


def _mentions_camel_renderer(path: Path) -> bool:
    try:
        text = path.read_bytes()[:MAX_FILE_BYTES].decode("utf-8", "replace").lower()
    except OSError:
        return False
    return "camel_case" in text or "camel-case" in text or "camelcase" in text


# ---------------------------------------------------------------------------------------------
# TypeScript


@dataclass(frozen=True, slots=True)
class Token:
    kind: Literal["ident", "string", "template", "number", "punct"]
    value: str
    start: int
    end: int
    line: int
    newline_before: bool = False


@dataclass(frozen=True, slots=True)
class Comment:
    start: int
    end: int
    line: int
    end_line: int


@dataclass(frozen=True, slots=True)
class Member:
    """One member of an interface body. `name` None: an index, call or construct signature."""

    name: str | None
    optional: bool
    kind: Literal["property", "method", "index", "call"]
    start: int  # offset of its first token (modifiers included)
    end: int  # offset after its last token (its separator excluded)
    name_span: tuple[int, int]  # the name token; with `?` when optional
    type_span: tuple[int, int] | None
    type_tokens: tuple[Token, ...]
    separator: str  # ";", "," or "" (newline)
    sep_end: int  # offset after the separator (== end when none)
    line: int
    end_line: int

    def type_text(self, text: str) -> str:
        return text[self.type_span[0] : self.type_span[1]] if self.type_span else ""


@dataclass(frozen=True, slots=True)
class Interface:
    name: str
    path: str
    line: int
    kind: Literal["interface", "type"]
    open_brace: int  # offsets of `{` and `}`
    close_brace: int
    members: tuple[Member, ...]
    bases: tuple[str, ...]  # `extends` names (without type arguments)
    generic: bool

    def member(self, name: str) -> Member | None:
        return next((m for m in self.members if m.name == name), None)


@dataclass(frozen=True, slots=True)
class TypeFile:
    path: str
    text: str
    interfaces: tuple[Interface, ...]
    aliases: dict[str, tuple[Token, ...]] = field(hash=False)  # `type X = …` that are not object literals
    enums: dict[str, str] = field(hash=False)  # name → "string" | "number"

    def interface(self, name: str) -> Interface | None:
        return next((i for i in self.interfaces if i.name == name), None)


_PUNCT2 = ("=>", "?.", "...", "??")
_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {v: k for k, v in _OPEN.items()}


def tokenize(text: str, path: str = "<text>") -> tuple[list[Token], list[Comment]]:
    """Tokens and comments of TypeScript source; an unterminated string or comment is a `ReadProblem`."""
    tokens: list[Token] = []
    comments: list[Comment] = []
    i, line, n = 0, 1, len(text)
    newline = False
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            newline = True
            i += 1
            continue
        if c in " \t\r\f\v\ufeff":
            i += 1
            continue
        start_line = line
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            comments.append(Comment(i, j, line, line))
            i = j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise ReadProblem(path, start_line, "a /* comment is never closed")
            line += text.count("\n", i, j)
            newline = newline or "\n" in text[i:j]
            comments.append(Comment(i, j + 2, start_line, line))
            i = j + 2
            continue
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                if text[j] == "\\":
                    j += 1
                elif text[j] == "\n":
                    raise ReadProblem(path, start_line, "a string is not closed on its line")
                j += 1
            if j >= n:
                raise ReadProblem(path, start_line, "a string is never closed")
            tokens.append(Token("string", text[i + 1 : j], i, j + 1, start_line, newline))
            i = j + 1
        elif c == "`":
            j, depth = i + 1, 0
            while j < n and (text[j] != "`" or depth):
                if text[j] == "\\":
                    j += 1
                elif text.startswith("${", j):
                    depth += 1
                    j += 1
                elif text[j] == "}" and depth:
                    depth -= 1
                j += 1
            if j >= n:
                raise ReadProblem(path, start_line, "a template literal is never closed")
            line += text.count("\n", i, j)
            tokens.append(Token("template", text[i + 1 : j], i, j + 1, start_line, newline))
            i = j + 1
        elif c.isalpha() or c in "_$" or ord(c) > 127:
            m = re.compile(r"[\w$\u0080-\uffff]+").match(text, i)
            assert m is not None
            tokens.append(Token("ident", m.group(), i, m.end(), line, newline))
            i = m.end()
        elif c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            m = re.compile(r"[\d._xXa-fA-FnoObB]+(?:[eE][+-]?\d+)?").match(text, i)
            assert m is not None
            tokens.append(Token("number", m.group(), i, m.end(), line, newline))
            i = m.end()
        else:
            two = next((p for p in _PUNCT2 if text.startswith(p, i)), c)
            tokens.append(Token("punct", two, i, i + len(two), line, newline))
            i += len(two)
        newline = False
    return tokens, comments


def _matching(tokens: Sequence[Token], path: str) -> dict[int, int]:
    """Index of each opening bracket → index of its closer; an unbalanced bracket is a `ReadProblem`."""
    stack: list[int] = []
    match: dict[int, int] = {}
    for i, t in enumerate(tokens):
        if t.kind != "punct":
            continue
        if t.value in _OPEN:
            stack.append(i)
        elif t.value in _CLOSE:
            if not stack or tokens[stack[-1]].value != _CLOSE[t.value]:
                raise ReadProblem(path, t.line, f"unexpected {t.value!r}")
            match[stack.pop()] = i
    if stack:
        t = tokens[stack[-1]]
        raise ReadProblem(path, t.line, f"{t.value!r} is never closed")
    return match


_CONTINUES = frozenset({"|", "&", "=>", ":", ",", "<", "(", "[", "{", "?", ".", "=", "extends", "keyof", "typeof"})
_MEMBER_STARTS = frozenset({"readonly", "get", "set", "new"})


def _type_end(tokens: Sequence[Token], i: int, stop: int, match: dict[int, int]) -> int:
    """Index after a type starting at `i`: up to `;`/`,` at depth 0, the body's end, or a newline ending it."""
    angle = 0
    j = i
    while j < stop:
        t = tokens[j]
        if j > i and t.newline_before and angle == 0:
            prev = tokens[j - 1]
            if prev.value not in _CONTINUES and t.value not in ("|", "&", "=>", ".", "?", ":", "extends"):
                return j
        if t.kind == "punct":
            if t.value in _OPEN:
                j = match[j] + 1
                continue
            if t.value == "<":
                angle += 1
            elif t.value == ">" and angle:
                angle -= 1
            elif t.value in (";", ",") and angle == 0:
                return j
        j += 1
    return j


def _members(tokens: Sequence[Token], lo: int, hi: int, match: dict[int, int], path: str) -> list[Member]:
    """The members between tokens `lo` and `hi` (exclusive), the body of an interface or type literal."""
    out: list[Member] = []
    i = lo
    while i < hi:
        t = tokens[i]
        if t.value in (";", ","):
            i += 1
            continue
        first = i
        while (
            tokens[i].kind == "ident"
            and tokens[i].value in _MEMBER_STARTS
            and i + 1 < hi
            and tokens[i + 1].value not in ("?", ":", "(", "<", ";", ",")
            and not tokens[i + 1].newline_before
        ):
            i += 1  # a modifier, not a member named readonly
        t = tokens[i]
        name: str | None = None
        kind: Literal["property", "method", "index", "call"]
        if t.value == "[" and t.kind == "punct":
            kind, j = "index", match[i] + 1
            name_span = (t.start, tokens[match[i]].end)
        elif t.kind == "punct" and t.value in ("(", "<"):
            kind, j = "call", i
            name_span = (t.start, t.start)
        elif t.kind in ("ident", "string", "number"):
            kind, name, j = "property", t.value, i + 1
            name_span = (t.start, t.end)
        else:
            raise ReadProblem(path, t.line, f"unexpected {t.value!r} in a type body")
        optional = j < hi and tokens[j].value == "?"
        if optional:
            name_span = (name_span[0], tokens[j].end)
            j += 1
        type_span: tuple[int, int] | None = None
        type_tokens: tuple[Token, ...] = ()
        if j < hi and tokens[j].value in ("(", "<"):
            kind = "method" if kind == "property" else kind
            end = _type_end(tokens, j, hi, match)
        elif j < hi and tokens[j].value == ":":
            end = _type_end(tokens, j + 1, hi, match)
            if end == j + 1:
                raise ReadProblem(path, tokens[j].line, f"member {name or '[…]'} has no type after ':'")
            type_span = (tokens[j + 1].start, tokens[end - 1].end)
            type_tokens = tuple(tokens[j + 1 : end])
        elif kind == "property" and (j >= hi or tokens[j].value in (";", ",") or tokens[j].newline_before):
            end = j  # `name;` (implicitly any)
        else:
            bad = tokens[j] if j < hi else tokens[hi - 1]
            raise ReadProblem(path, bad.line, f"expected ':' after member {name or t.value!r}")
        last = tokens[end - 1]
        separator = tokens[end].value if end < hi and tokens[end].value in (";", ",") else ""
        sep_end = tokens[end].end if separator else last.end
        out.append(
            Member(
                name,
                optional,
                kind,
                tokens[first].start,
                last.end,
                name_span,
                type_span,
                type_tokens,
                separator,
                sep_end,
                tokens[first].line,
                last.line + _newlines(last),
            )
        )
        i = end + (1 if separator else 0)
    return out


def _newlines(t: Token) -> int:
    return t.value.count("\n") if t.kind == "template" else 0


def parse_typescript(text: str, path: str = "<text>") -> TypeFile:
    """The interfaces, object type aliases, other aliases and enums of a TypeScript file.

    Reads declarations only; code around them is skipped by bracket matching. Brackets that do
    not balance, strings or comments never closed, and type bodies that are not member lists
    raise `ReadProblem` with the line.
    """
    tokens, _ = tokenize(text, path)
    match = _matching(tokens, path)
    interfaces: list[Interface] = []
    aliases: dict[str, tuple[Token, ...]] = {}
    enums: dict[str, str] = {}
    i, n = 0, len(tokens)
    while i < n:
        t = tokens[i]
        prev = tokens[i - 1].value if i else ""
        if t.kind != "ident" or prev in (".", "?.") or i + 1 >= n or tokens[i + 1].kind != "ident":
            i += 1
            continue
        name_tok = tokens[i + 1]
        j = i + 2
        generic = j < n and tokens[j].value == "<"
        if generic:
            j = _skip_angle(tokens, j, match)
        if t.value == "interface" and j < n and tokens[j].value in ("{", "extends"):
            bases: list[str] = []
            if tokens[j].value == "extends":
                j += 1
                while j < n and tokens[j].value != "{":
                    tok = tokens[j]
                    if tok.kind == "ident" and tokens[j - 1].value in ("extends", ","):
                        bases.append(tok.value)
                    j = _skip_angle(tokens, j + 1, match) if j + 1 < n and tokens[j + 1].value == "<" else j + 1
            if j >= n:
                raise ReadProblem(path, name_tok.line, f"interface {name_tok.value} has no body")
            close = match[j]
            members = _members(tokens, j + 1, close, match, path)
            interfaces.append(
                Interface(
                    name_tok.value,
                    path,
                    t.line,
                    "interface",
                    tokens[j].start,
                    tokens[close].start,
                    tuple(members),
                    tuple(bases),
                    generic,
                )
            )
            i = close + 1
        elif t.value == "type" and j < n and tokens[j].value == "=":
            j += 1
            if j < n and tokens[j].value == "{" and _type_end(tokens, j, n, match) == match[j] + 1:
                close = match[j]
                members = _members(tokens, j + 1, close, match, path)
                interfaces.append(
                    Interface(
                        name_tok.value,
                        path,
                        t.line,
                        "type",
                        tokens[j].start,
                        tokens[close].start,
                        tuple(members),
                        (),
                        generic,
                    )
                )
                i = close + 1
            else:
                end = _type_end(tokens, j, n, match)
                if not generic:
                    aliases[name_tok.value] = tuple(tokens[j:end])
                i = max(end, j)
        elif t.value == "enum" and j < n and tokens[j].value == "{":
            close = match[j]
            body = tokens[j + 1 : close]
            strings = any(b.kind in ("string", "template") for b in body)
            enums[name_tok.value] = "string" if strings else "number"
            i = close + 1
        else:
            i += 1
    return TypeFile(path, text, tuple(interfaces), aliases, enums)


def _skip_angle(tokens: Sequence[Token], j: int, match: dict[int, int]) -> int:
    """Index after the `<…>` that starts at `j`."""
    depth = 0
    while j < len(tokens):
        v = tokens[j].value
        if tokens[j].kind == "punct" and v in _OPEN:
            j = match[j] + 1
            continue
        if v == "<":
            depth += 1
        elif v == ">":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return j


def is_types_file(rel: str) -> bool:
    """A file the frontend declares API shapes in: `*.ts` under a `types` directory, or `types.ts`."""
    parts = rel.split("/")
    name = parts[-1]
    if not name.endswith(".ts") or name.endswith(".spec.ts") or name.endswith(".test.ts"):
        return False
    return name in ("types.ts", "types.d.ts") or "types" in parts[:-1]


def find_type_files(root: Path) -> list[tuple[Path, str]]:
    """Every types file under `root` (see `is_types_file`), sorted by path."""
    return sorted(((p, rel) for p, rel in _walk(root) if is_types_file(rel)), key=lambda x: x[1])


def read_type_file(path: Path, rel: str) -> TypeFile:
    """A types file parsed; one that cannot be read, decoded or parsed raises `ReadProblem`."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ReadProblem(rel, None, f"it is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        data = path.read_bytes()
    except OSError as e:
        raise ReadProblem(rel, None, f"it cannot be read ({e.strerror})") from e
    if b"\x00" in data:
        raise ReadProblem(rel, None, "it is binary, not TypeScript text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ReadProblem(rel, _line_at(data, e.start), f"it is not UTF-8 text (byte {data[e.start]:#04x})") from e
    # the way Path.read_text() returns it (universal newlines): what a fix's `before` is compared with
    return parse_typescript(text.replace("\r\n", "\n").replace("\r", "\n"), rel)


# --- types


class TypeIndex:
    """Named types across the types files, to resolve a member's type to its JSON base types."""

    def __init__(self, files: Iterable[TypeFile]) -> None:
        self.aliases: dict[str, tuple[Token, ...]] = {}
        self.enums: dict[str, str] = {}
        self.interfaces: dict[str, Interface] = {}
        for f in files:
            self.aliases.update(f.aliases)
            self.enums.update(f.enums)
            for i in f.interfaces:
                self.interfaces.setdefault(i.name, i)

    def bases(self, tokens: Sequence[Token], depth: int = 0) -> frozenset[str] | None:
        """The JSON base types a TypeScript type can take: string, number, boolean, array, object, Date.

        None when anything goes (`any`, `unknown`, a generic parameter, a type from elsewhere);
        `null` and `undefined` are left out (optionality is not compared).
        """
        if depth > 12:
            return None
        out: set[str] = set()
        for part in _split(tokens, "|"):
            if not part:
                continue
            got = self._part(part, depth)
            if got is None:
                return None
            out |= got
        return frozenset(out)

    def _part(self, part: Sequence[Token], depth: int) -> set[str] | None:
        if len(_split(part, "&")) > 1:
            return None
        while part and part[0].value == "readonly":
            part = part[1:]
        if not part:
            return None
        first, last = part[0], part[-1]
        if first.value == "(" and last.value == ")" and _closes_at(part, 0) == len(part) - 1:
            return set(self.bases(part[1:-1], depth + 1) or ()) or None
        if last.value == "]" and len(part) >= 3 and part[-2].value == "[":
            return {"array"}
        if first.value == "{":
            return {"object"}
        if first.kind in ("string", "template"):
            return {"string"}
        if first.kind == "number" or (first.value == "-" and len(part) == 2):
            return {"number"}
        if first.kind != "ident":
            return None
        v = first.value
        if len(part) > 1 and part[1].value == "<":
            if v in ("Array", "ReadonlyArray", "Set"):
                return {"array"}
            if v in ("Record", "Partial", "Required", "Readonly", "Pick", "Omit", "Map"):
                return {"object"}
            return None
        if len(part) > 1:
            return None  # keyof X, typeof x, A.B, conditional types: not resolved
        if v in ("string", "number", "boolean", "object"):
            return {v}
        if v == "bigint":
            return {"number"}
        if v in ("true", "false"):
            return {"boolean"}
        if v in ("null", "undefined", "void"):
            return set()
        if v == "Date":
            return {"Date"}
        if v in self.enums:
            return {self.enums[v]}
        if v in self.aliases:
            got = self.bases(self.aliases[v], depth + 1)
            return None if got is None else set(got)
        if v in self.interfaces:
            return {"object"}
        return None


def _split(tokens: Sequence[Token], sep: str) -> list[list[Token]]:
    parts: list[list[Token]] = [[]]
    depth = 0
    for t in tokens:
        if t.kind == "punct" and t.value in ("(", "[", "{", "<"):
            depth += 1
        elif t.kind == "punct" and t.value in (")", "]", "}", ">"):
            depth -= 1
        if depth == 0 and t.kind == "punct" and t.value == sep:
            parts.append([])
            continue
        parts[-1].append(t)
    return parts


def _closes_at(part: Sequence[Token], i: int) -> int:
    depth = 0
    for j in range(i, len(part)):
        if part[j].value in ("(", "[", "{"):
            depth += 1
        elif part[j].value in (")", "]", "}"):
            depth -= 1
            if depth == 0:
                return j
    return -1


def describe(bases: frozenset[str] | None) -> str:
    if not bases:
        return "anything"
    words = {"array": "an array", "object": "an object", "Date": "a Date"}
    return " or ".join(words.get(b, f"a {b}") for b in sorted(bases))


# ---------------------------------------------------------------------------------------------
# comparison


@dataclass(frozen=True, slots=True)
class Drift:
    """One way an interface and its contract disagree.

    renamed: `member` has no field, `field` no member, and they look like the same thing;
    extra: `member` has no field; missing: `field` has no member (exact contracts only);
    type: same name, types that share no base.
    """

    kind: DriftKind
    interface: Interface
    contract: Contract
    member: Member | None
    field: ContractField | None
    expected_name: str | None  # the member name the API sends under the convention
    ts_bases: frozenset[str] | None = None


def _names(f: ContractField, convention: Convention, exact: bool) -> set[str]:
    names = {in_convention(f.name, convention)}
    if not exact:
        names |= {in_convention(a, convention) for a in f.aliases}
    return names


def detect_convention(pairs: Iterable[tuple[Interface, Contract]], hint_camel: bool) -> Convention:
    """camelCase or snake_case, by how the interfaces that match a contract name their multi-word fields.

    A tie (or no multi-word field anywhere) goes to camelCase when the backend renders camelCase
    (djangorestframework-camel-case), else to snake_case, DRF's own output.
    """
    votes: Counter[str] = Counter()
    for iface, contract in pairs:
        members = {m.name for m in iface.members if m.name}
        for f in contract.fields:
            for name in (f.name, *f.aliases):
                if "_" not in name.strip("_"):
                    continue
                if name in members:
                    votes["snake_case"] += 1
                elif camel(name) in members:
                    votes["camelCase"] += 1
    if votes["camelCase"] != votes["snake_case"]:
        return "camelCase" if votes["camelCase"] > votes["snake_case"] else "snake_case"
    return "camelCase" if hint_camel else "snake_case"


def _similarity(member: str, field_name: str) -> float:
    """How much a member name looks like a field's: shared words first, spelling second; 0 when unrelated."""
    a, b = snake(member).strip("_"), field_name.strip("_")
    ta, tb = set(a.split("_")) - {""}, set(b.split("_")) - {""}
    words = len(ta & tb) / len(ta | tb) if ta | tb else 0.0
    spelling = difflib.SequenceMatcher(None, a, b).ratio()
    if words == 0 and spelling < 0.75:
        return 0.0
    return words + 0.1 * spelling


def _pair(members: Sequence[Member], fields: Sequence[ContractField], index: TypeIndex) -> list[tuple[int, int]]:
    """The renames: pairs (member index, field index) with the best total similarity, each used once."""
    scores: dict[tuple[int, int], float] = {}
    for i, m in enumerate(members):
        ts = index.bases(m.type_tokens) if m.type_tokens else None
        for j, f in enumerate(fields):
            if ts is not None and f.accepts is not None and ts and not (ts & f.accepts):
                continue  # a number is not a renamed string
            s = _similarity(m.name or "", f.name)
            if s > 0:
                scores[(i, j)] = s
    if not scores:
        return []
    rows = sorted({i for i, _ in scores})
    cols = sorted({j for _, j in scores})
    if len(rows) <= 6 and len(cols) <= 8:
        best: tuple[float, list[tuple[int, int]]] = (0.0, [])
        for chosen in itertools.product([None, *cols], repeat=len(rows)):
            used = [c for c in chosen if c is not None]
            if len(used) != len(set(used)):
                continue
            pairs = [(r, c) for r, c in zip(rows, chosen, strict=True) if c is not None and (r, c) in scores]
            if len(pairs) != len(used):
                continue
            total = sum(scores[p] for p in pairs)
            if total > best[0] + 1e-9:
                best = (total, pairs)
        return sorted(best[1])
    taken_r: set[int] = set()
    taken_c: set[int] = set()
    out = []
    for (r, c), _ in sorted(scores.items(), key=lambda kv: -kv[1]):
        if r not in taken_r and c not in taken_c:
            taken_r.add(r)
            taken_c.add(c)
            out.append((r, c))
    return sorted(out)


def inherited_members(iface: Interface, index: TypeIndex, depth: int = 0) -> tuple[set[str], bool]:
    """Names of the members `iface` inherits through `extends`, and whether all its bases could be read."""
    names: set[str] = set()
    complete = True
    for base in iface.bases:
        parent = index.interfaces.get(base)
        if parent is None or depth > 10:
            complete = False
            continue
        names |= {m.name for m in parent.members if m.name}
        more, ok = inherited_members(parent, index, depth + 1)
        names |= more
        complete = complete and ok and not any(m.kind == "index" for m in parent.members)
    return names, complete


def compare(iface: Interface, contract: Contract, convention: Convention, index: TypeIndex) -> list[Drift]:
    """Every disagreement between an interface and its contract, in the interface's member order."""
    own = [m for m in iface.members if m.kind == "property" and m.name]
    inherited, complete = inherited_members(iface, index)
    open_ended = any(m.kind == "index" for m in iface.members) or not complete
    by_name: dict[str, ContractField] = {}
    for f in contract.fields:
        for n in _names(f, convention, contract.exact):
            by_name.setdefault(n, f)
    matched: dict[str, Member] = {}  # field name → member
    unmatched: list[Member] = []
    type_drifts: list[Drift] = []
    for m in own:
        hit = by_name.get(m.name or "")
        if hit is None or hit.name in matched:
            unmatched.append(m)
            continue
        matched[hit.name] = m
        ts = index.bases(m.type_tokens) if m.type_tokens else None
        if ts and hit.accepts is not None and not (ts & hit.accepts):
            type_drifts.append(Drift("type", iface, contract, m, hit, m.name, ts))
    for name in inherited:
        hit = by_name.get(name)
        if hit is not None:
            matched.setdefault(hit.name, Member(name, False, "property", 0, 0, (0, 0), None, (), "", 0, 0, 0))
    left = [f for f in contract.fields if f.name not in matched]
    drifts = list(type_drifts)
    pairs = _pair(unmatched, left, index)
    paired_m = {i for i, _ in pairs}
    paired_f = {j for _, j in pairs}
    for i, j in pairs:
        m, f = unmatched[i], left[j]
        drifts.append(
            Drift("renamed", iface, contract, m, f, in_convention(f.name, convention), _member_bases(m, index))
        )
    for i, m in enumerate(unmatched):
        if i not in paired_m:
            drifts.append(Drift("extra", iface, contract, m, None, None, _member_bases(m, index)))
    if contract.exact and not open_ended:
        for j, f in enumerate(left):
            if j not in paired_f:
                drifts.append(Drift("missing", iface, contract, None, f, in_convention(f.name, convention)))
    order = {m.name: k for k, m in enumerate(own)}
    fields = {f.name: k for k, f in enumerate(contract.fields)}
    return sorted(
        drifts,
        key=lambda d: (
            order.get(d.member.name, len(order)) if d.member else len(order),
            fields.get(d.field.name, 0) if d.field else 0,
        ),
    )


def _member_bases(m: Member, index: TypeIndex) -> frozenset[str] | None:
    return index.bases(m.type_tokens) if m.type_tokens else None


# ---------------------------------------------------------------------------------------------
# rewriting


def _member_name(name: str) -> str:
    return name if _IDENT.fullmatch(name) else f'"{name}"'


def _declaration(name: str, f: ContractField) -> str:
    return f"{_member_name(name)}{'?' if f.optional else ''}: {f.ts_type}"


def rewrite(text: str, drifts: Sequence[Drift]) -> str | None:
    """`text` with one interface edited so the drifts are gone; None when that cannot be done safely.

    All drifts must be about the same interface. Renamed members keep their line (and type, when
    it fits); extra members are removed with the comment lines just above them; missing fields are
    inserted after the member of the field before them in the contract. Everything else is kept
    byte for byte. The result is parsed again and must declare exactly the expected members.
    """
    if not drifts:
        return text
    iface = drifts[0].interface
    contract = drifts[0].contract
    if any(d.interface is not iface for d in drifts):
        raise ValueError("rewrite edits one interface at a time")
    edits: list[tuple[int, int, str]] = []
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    inline = text.count("\n", iface.open_brace, iface.close_brace) == 0
    own = [m for m in iface.members if m.kind == "property" and m.name]
    sep = Counter(m.separator for m in own).most_common(1)[0][0] if own else ";"
    indent = _indent(text, own[0].start, starts) if own else _indent(text, iface.close_brace, starts) + "  "
    _, comments = tokenize(text, iface.path)
    for d in drifts:
        m, f = d.member, d.field
        if d.kind in ("renamed", "type") and m is not None and f is not None and d.expected_name:
            if d.kind == "renamed":
                edits.append((*m.name_span, _member_name(d.expected_name) + ("?" if f.optional else "")))
            if m.type_span and (
                d.kind == "type" or (d.ts_bases and f.accepts is not None and not d.ts_bases & f.accepts)
            ):
                edits.append((*m.type_span, f.ts_type))
        elif d.kind == "extra" and m is not None:
            edits.append(_removal(text, m, own, comments, starts, inline))
    inserts: dict[int, list[str]] = {}
    members_of: dict[str, Member] = {}  # field name → the member that will carry it
    for m in own:
        found = next((d for d in drifts if d.member is m), None)
        if found is not None and found.kind == "extra":
            continue
        name = found.expected_name if found is not None and found.kind == "renamed" else m.name
        for f in contract.fields:
            if name in {n for x in (f.name, *f.aliases) for n in (x, camel(x))}:
                members_of.setdefault(f.name, m)
    for d in (d for d in drifts if d.kind == "missing" and d.field is not None and d.expected_name):
        assert d.field is not None and d.expected_name is not None
        decl = _declaration(d.expected_name, d.field)
        at, chunk = _insertion(
            decl, d.field, contract, members_of, iface, text, starts, (inline, sep, indent), comments
        )
        inserts.setdefault(at, []).append(chunk)
    for at, chunks in inserts.items():
        edits.append((at, at, "".join(chunks)))
    edits.sort(key=lambda e: (e[0], e[1]))
    for (_, a2, _), (b1, _, _) in itertools.pairwise(edits):
        if b1 < a2:
            return None  # overlapping edits: nothing sane to write
    out = text
    for start, end, new in reversed(edits):
        out = out[:start] + new + out[end:]
    return out if _still_valid(out, iface, drifts, contract) else None


def _indent(text: str, offset: int, starts: Sequence[int]) -> str:
    line_start = text.rfind("\n", 0, offset) + 1
    m = re.match(r"[ \t]*", text[line_start:offset])
    return m.group() if m else ""


def _line_of(offset: int, starts: Sequence[int]) -> int:
    """0-based line of an offset."""
    lo, hi = 0, len(starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts[mid] <= offset:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _line_end(text: str, starts: Sequence[int], line: int) -> int:
    """Offset after line `line` (0-based) and its newline."""
    return starts[line + 1] if line + 1 < len(starts) else len(text)


def _only_on_lines(text: str, start: int, end: int) -> bool:
    """Nothing but whitespace (and a trailing comment) shares the lines of [start, end)."""
    before = text[text.rfind("\n", 0, start) + 1 : start]
    nl = text.find("\n", end)
    after = text[end : len(text) if nl < 0 else nl]
    return not before.strip() and (not after.strip() or after.strip().startswith("//"))


def _attached_comment_start(text: str, m: Member, comments: Sequence[Comment], starts: Sequence[int]) -> int:
    """Offset where the comments directly above a member begin (its own start when there are none)."""
    start = m.start
    line = _line_of(m.start, starts) + 1  # 1-based
    for c in sorted(comments, key=lambda c: -c.start):
        if c.end > start:
            continue
        if c.end_line != line - 1 or text[text.rfind("\n", 0, c.start) + 1 : c.start].strip():
            break
        between = text[c.end : start]
        if between.strip():
            break
        start, line = c.start, c.line
    return start


def _removal(
    text: str, m: Member, own: Sequence[Member], comments: Sequence[Comment], starts: Sequence[int], inline: bool
) -> tuple[int, int, str]:
    if not inline and _only_on_lines(text, m.start, m.sep_end):
        first = _line_of(_attached_comment_start(text, m, comments, starts), starts)
        last = _line_of(m.sep_end, starts)
        return starts[first], _line_end(text, starts, last), ""
    end = m.sep_end
    while end < len(text) and text[end] in " \t":
        end += 1
    return m.start, end, ""


def _insertion(
    decl: str,
    f: ContractField,
    contract: Contract,
    members_of: dict[str, Member],
    iface: Interface,
    text: str,
    starts: Sequence[int],
    layout: tuple[bool, str, str],
    comments: Sequence[Comment],
) -> tuple[int, str]:
    """Where a missing field goes (after the member of the field before it in the contract), and the text."""
    inline, sep, indent = layout
    order = [x.name for x in contract.fields]
    k = order.index(f.name)
    before = next((m for n in reversed(order[:k]) if (m := members_of.get(n)) is not None), None)
    after = next((m for n in order[k + 1 :] if (m := members_of.get(n)) is not None), None)
    if inline:
        if before is not None:
            return before.sep_end, f" {decl}{before.separator}" if before.separator else f"{sep or ';'} {decl}"
        if after is not None:
            return after.start, f"{decl}{sep or ';'} "
        return iface.open_brace + 1, f" {decl}{sep or ';'}"
    line = f"{indent}{decl}{sep}\n"
    if before is not None:
        return _line_end(text, starts, _line_of(before.sep_end, starts)), line
    if after is not None:
        return starts[_line_of(_attached_comment_start(text, after, comments, starts), starts)], line
    return starts[_line_of(iface.close_brace, starts)], line


def _still_valid(out: str, iface: Interface, drifts: Sequence[Drift], contract: Contract) -> bool:
    try:
        parsed = parse_typescript(out, iface.path)
    except ReadProblem:
        return False
    same = [i for i in parsed.interfaces if i.name == iface.name]
    if len(same) != 1:
        return False
    got = [m.name for m in same[0].members if m.kind == "property"]
    want: list[str | None] = []
    for m in iface.members:
        if m.kind != "property":
            continue
        d = next((d for d in drifts if d.member is m), None)
        if d is not None and d.kind == "extra":
            continue
        want.append(d.expected_name if d is not None and d.kind == "renamed" else m.name)
    want += [d.expected_name for d in drifts if d.kind == "missing"]
    return sorted(n or "" for n in got) == sorted(n or "" for n in want)
