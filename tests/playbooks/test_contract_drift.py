"""contract-drift: the frontend's TypeScript interfaces against the Django models and serializers (incident I6)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from diagnostics.apply import Applier
from diagnostics.findings import Finding, ObjectRef
from diagnostics.journal import Journal
from diagnostics.snapshot import Snapshot
from playbooks.base import Context
from playbooks.catalog import all_playbooks
from playbooks.contract_drift import PLAYBOOK
from playbooks.runner import Outcome, run_one
from tests.playbooks.demo import Demo
from tests.playbooks.drill import changed_lines

DEMO_REPO = Path(__file__).resolve().parents[2] / "sandbox" / "scenarios" / "demo-repo"
TYPES = "frontend/src/types/index.ts"


def run(root: Path, focus: ObjectRef | None = None) -> Outcome:
    ctx = Context(Snapshot.from_objects("test", []), repo_root=root, focus=focus)
    return asyncio.run(run_one(PLAYBOOK, ctx))


def findings(root: Path) -> list[Finding]:
    outcome = run(root)
    assert outcome.status in ("ok", "findings"), outcome.error
    return list(outcome.findings)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the demo repository (Django backend, React frontend) to break and fix."""
    root = tmp_path / "repo"
    shutil.copytree(DEMO_REPO, root)
    return root


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new))


def test_contract_drift_is_registered_as_a_repository_playbook():
    pb = all_playbooks()["contract-drift"]
    assert pb is PLAYBOOK and pb.kinds == () and pb.uses_repo


# --- true cases --------------------------------------------------------------------------------


def test_user_fields_renamed_in_the_frontend_are_found_per_field_with_both_locations(repo: Path):
    found = findings(repo)
    assert sorted(f.title for f in found) == [
        "Interface User declares company; the API sends companyName instead",
        "Interface User declares name; the API sends fullName instead",
    ]
    by_title = {f.title.split(";")[0]: f for f in found}
    name = by_title["Interface User declares name"]
    assert name.severity == "error" and name.object == ObjectRef("File", TYPES)
    places = {(e.location.path, e.location.line) for e in name.evidence if e.location}
    assert places == {(TYPES, 14), ("backend/users/models.py", 9), ("backend/users/serializers.py", 11)}
    assert "full_name = models.CharField(max_length=150, blank=True)" in " ".join(e.text for e in name.evidence)
    assert "camelCase" in name.explanation
    company = by_title["Interface User declares company"]
    assert {(e.location.path, e.location.line) for e in company.evidence if e.location} >= {
        (TYPES, 15),
        ("backend/users/models.py", 10),
    }
    # one fix regenerates the interface; it rides on one finding, the other points at it
    [carrier] = [f for f in found if f.fixes]
    [other] = [f for f in found if not f.fixes]
    assert other.related == (carrier.id,) and carrier.related == (other.id,)
    [fix] = carrier.fixes
    assert fix.target.path == TYPES and not fix.target.create
    assert changed_lines(fix.diff) == [
        "- name: string;",
        "- company: string;",
        "+ fullName?: string;",
        "+ companyName?: string;",
    ]


def test_applying_the_fix_clears_every_field_and_undo_restores_the_file(repo: Path, tmp_path: Path):
    before = (repo / TYPES).read_bytes()
    [carrier] = [f for f in findings(repo) if f.fixes]
    applier = Applier(None, Journal(tmp_path / "journal.jsonl"), "test", repo)
    result = asyncio.run(applier.apply(carrier, carrier.fixes[0]))
    assert result.result == "applied", result.message
    assert run(repo, focus=carrier.object).status == "ok"
    assert "export interface Organization {" in (repo / TYPES).read_text()  # the rest of the file is kept
    undone = asyncio.run(applier.undo(str(result.journal_id)))
    assert undone.result == "applied", undone.message
    assert (repo / TYPES).read_bytes() == before
    assert len(findings(repo)) == 2


def test_a_field_the_serializer_adds_and_a_wrong_type_are_found(repo: Path):
    edit(repo, "backend/licenses/serializers.py", '"renewal_period_days",', '"renewal_period_days",\n"created_by",')
    edit(repo, TYPES, "  seats: number;", "  seats: string;")
    found = {f.cause.split(":")[0]: f for f in findings(repo) if "License" in f.title}
    missing, wrong = found["missing"], found["type"]
    assert missing.title == "Interface License lacks createdBy, which the API sends"
    assert {(e.location.path, e.location.line) for e in missing.evidence if e.location} >= {
        ("backend/licenses/models.py", 38),
        ("backend/licenses/serializers.py", 27),
    }
    assert wrong.title == "Interface License types seats as string; the API sends number"
    [fix] = next(f for f in (missing, wrong) if f.fixes).fixes
    assert changed_lines(fix.diff) == [
        "- seats: string;",
        "+ seats: number;",
        "+ createdBy?: number;",
    ]


# --- near misses -------------------------------------------------------------------------------


def test_interfaces_that_agree_under_the_camel_case_convention_do_not_fire(repo: Path):
    edit(repo, TYPES, "  name: string;\n  company: string;", "  fullName: string;\n  companyName: string;")
    assert run(repo).status == "ok"


def test_a_snake_case_project_whose_interfaces_match_does_not_fire(repo: Path):
    text = (repo / TYPES).read_text()
    snake = {
        "isEmailVerified": "is_email_verified",
        "dateJoined": "date_joined",
        "billingEmail": "billing_email",
        "isActive": "is_active",
        "createdAt": "created_at",
        "joinedAt": "joined_at",
        "maxConcurrentSessions": "max_concurrent_sessions",
        "issuedAt": "issued_at",
        "expiresAt": "expires_at",
        "autoRenew": "auto_renew",
        "renewalPeriodDays": "renewal_period_days",
        "  name: string;\n  company: string;": "  full_name: string;\n  company_name: string;",
    }
    for old, new in snake.items():
        text = text.replace(old, new)
    (repo / TYPES).write_text(text)
    for settings in ("backend/license_platform/settings/base.py", "backend/requirements.txt"):
        (repo / settings).write_text((repo / settings).read_text().replace("camel", "plain"))
    assert run(repo).status == "ok"


def test_interfaces_without_a_model_and_subsets_of_a_model_without_serializer_do_not_fire(repo: Path):
    # Organization has no serializer: an interface with fewer fields is a fair subset
    edit(repo, TYPES, "  slug: string;\n", "")
    edit(
        repo,
        TYPES,
        "export interface Paginated<T>",
        "export interface Widget {\n  size: number;\n}\n\nexport interface Paginated<T>",
    )
    assert not [f for f in findings(repo) if "User" not in f.title]


# --- bad input ---------------------------------------------------------------------------------


def test_an_unparsable_models_file_is_reported_and_the_other_apps_are_still_checked(repo: Path):
    edit(repo, "backend/tenants/models.py", "class Membership(models.Model):", "class Membership(models.Model)")
    found = findings(repo)
    [broken] = [f for f in found if f.object == ObjectRef("File", "backend/tenants/models.py")]
    assert broken.title == "Could not check backend/tenants/models.py: line 28: expected ':'"
    assert broken.severity == "warning" and not broken.fixes
    assert "py_compile" in broken.explanation
    assert {f.title for f in found if f.object.name == TYPES} == {
        "Interface User declares company; the API sends companyName instead",
        "Interface User declares name; the API sends fullName instead",
    }


def test_a_types_file_that_is_not_text_or_not_typescript_is_reported_and_the_others_are_checked(repo: Path):
    (repo / "frontend/src/types/logo.ts").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (repo / "frontend/src/types/legacy.ts").write_bytes(b"// r\xe9sum\xe9 types\nexport interface A { a: string }\n")
    (repo / "frontend/src/types/broken.ts").write_text("export interface Broken {\n  a: string;\n")
    found = findings(repo)
    titles = {f.object.name: f.title for f in found if f.title.startswith("Could not check")}
    assert titles == {
        "frontend/src/types/logo.ts": "Could not check frontend/src/types/logo.ts: it is binary, not TypeScript text",
        "frontend/src/types/legacy.ts": "Could not check frontend/src/types/legacy.ts: line 1: it is not UTF-8 text (byte 0xe9)",
        "frontend/src/types/broken.ts": "Could not check frontend/src/types/broken.ts: line 1: '{' is never closed",
    }
    assert len([f for f in found if f.object.name == TYPES]) == 2


def test_no_repository_or_no_django_means_nothing_to_say(tmp_path: Path):
    assert asyncio.run(run_one(PLAYBOOK, Context(Snapshot.from_objects("t", [])))).status == "skipped"
    (tmp_path / "src/types").mkdir(parents=True)
    (tmp_path / "src/types/index.ts").write_text("export interface User { name: string }\n")
    (tmp_path / "src/types/broken.ts").write_text("export interface Broken {\n")
    assert run(tmp_path).status == "ok"


# --- the demo ----------------------------------------------------------------------------------


def test_frontend_backend_field_mismatch_is_found_fixed_and_undone(demo: Demo):
    found = demo.findings("contract-drift")
    assert {f["object"]["name"] for f in found} == {TYPES}  # Organization, Membership, License agree
    assert sorted(f["title"] for f in found) == [
        "Interface User declares company; the API sends companyName instead",
        "Interface User declares name; the API sends fullName instead",
    ]
    for f in found:
        paths = {e["source"]: e["text"] for e in f["evidence"]}
        assert paths["TypeScript interface User"].startswith(f"{TYPES}:1")
        assert paths["Django model users.User"].startswith("backend/users/models.py:")
    before = (demo.repo / TYPES).read_text()
    code, out, err = demo.pitstop("--playbook", "contract-drift", "--apply", "--yes", "-o", "json")
    [a] = json.loads(out)["applied"]
    assert (a["result"], a["verification"]) == ("applied", "verified"), err
    assert demo.findings("contract-drift") == []
    assert "  fullName?: string;\n  companyName?: string;\n" in (demo.repo / TYPES).read_text()
    code, out, err = demo.pitstop("undo", a["journal_id"])
    assert code == 0, err
    assert (demo.repo / TYPES).read_text() == before
    assert len(demo.findings("contract-drift")) == 2
