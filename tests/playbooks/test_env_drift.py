"""env-drift: a Job that lacks what its Deployment has (I2), a settings module the repository does not have (I3),
and the repository's .env.example against the cluster — names only."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, cast

import pytest

from diagnostics.dotenv import names as dotenv_names
from diagnostics.findings import Finding
from diagnostics.logs import Logs
from diagnostics.repo import Repository
from diagnostics.snapshot import Snapshot
from playbooks.base import Context
from playbooks.env_drift import PLAYBOOK
from tests.conftest import wait_for
from tests.playbooks.demo import NS as DEMO_NS
from tests.playbooks.demo import Demo
from tests.playbooks.drill import changed_lines
from tests.playbooks.logfakes import NS, FakeLogs, logs, meta

IMAGE = "registry.example/shop/api:1.4.0"
SECRET_KEY = {"name": "SHOP_SECRET_KEY", "valueFrom": {"secretKeyRef": {"name": "shop-secrets", "key": "secret-key"}}}
DB_PASSWORD = {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "shop-secrets", "key": "db-password"}}}
SETTINGS = {"name": "DJANGO_SETTINGS_MODULE", "value": "shop.settings.production"}
SECRET_KEY_LINE = "django.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty."
MIGRATION = "coditect-backend-migration"


def api(env: list[dict[str, Any]] | None = None, **container: Any) -> dict[str, Any]:
    c = {"name": "api", "image": IMAGE, "env": env if env is not None else [SETTINGS, SECRET_KEY, DB_PASSWORD]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta("shop-api", "uid-shop-api", resourceVersion="7"),
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{**c, **container}]}}},
    }


def job(name: str, env: list[dict[str, Any]], image: str = IMAGE, **container: Any) -> dict[str, Any]:
    c = {"name": "migrate", "image": image, "command": ["python", "manage.py", "migrate"], "env": env, **container}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta(name, f"uid-{name}", resourceVersion="9"),
        "spec": {"backoffLimit": 2, "template": {"spec": {"restartPolicy": "Never", "containers": [c]}}},
    }


def secret(name: str = "shop-secrets", *keys: str) -> dict[str, Any]:
    keys = keys or ("secret-key", "db-password", "db-password-rotated")
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta(name, f"uid-{name}"), "data": dict.fromkeys(keys)}


def failed_pod(owner: dict[str, Any], name: str = "shop-api-migrate-x1") -> dict[str, Any]:
    cs = {"name": "migrate", "restartCount": 0, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(name, f"uid-{name}", owner),
        "spec": {"containers": [{"name": "migrate"}]},
        "status": {"phase": "Failed", "containerStatuses": [cs]},
    }


def run(objects: list[dict[str, Any]], reader: FakeLogs | None = None, root: Path | None = None) -> list[Finding]:
    """The playbook over these objects, with fake logs and a repository at `root` (its manifests included)."""
    repo = Repository(root) if root is not None else None
    ctx = Context(Snapshot.from_objects("test", objects), repo=repo, repo_root=root, logs=cast(Any, reader))
    return asyncio.run(PLAYBOOK.run(ctx))


def by_cause(findings: list[Finding]) -> dict[str, Finding]:
    return {f.cause: f for f in findings}


def visible(findings: list[Finding]) -> str:
    """Everything a report shows of the findings: texts, evidence, fix titles, notes and diffs."""
    parts: list[str] = []
    for f in findings:
        parts += [f.title, f.explanation, *(e.text for e in f.evidence), *(e.source for e in f.evidence)]
        parts += [t for x in f.fixes for t in (x.title, x.notes, x.diff)]
    return "\n".join(parts)


def django_repo(root: Path) -> Path:
    """A repository with the Django project under backend/ (settings package shop/settings/)."""
    (root / "backend" / "shop" / "settings").mkdir(parents=True)
    (root / "backend" / "manage.py").write_text("import os\n")
    for f in ("shop/__init__.py", "shop/settings/__init__.py", "shop/settings/base.py"):
        (root / "backend" / f).write_text("")
    (root / "backend" / "shop" / "settings" / "production.py").write_text(
        'import os\nSECRET_KEY = os.environ.get("SHOP_SECRET_KEY", "")\n'
    )
    (root / "backend" / "shop" / "wsgi.py").write_text("application = None\n")
    return root


# --- I2: a Job that lacks what its Deployment has -------------------------------------------------------


def test_a_migration_job_lacking_the_deployments_secret_key_is_found_before_it_runs(tmp_path: Path):
    migrate = job("shop-api-migrate", [SETTINGS, DB_PASSWORD])
    [f] = run([api(), migrate, secret()])
    assert (f.severity, f.cause, f.object.kind, f.object.name) == (
        "warning",
        "env-missing:SHOP_SECRET_KEY",
        "Job",
        "shop-api-migrate",
    )
    assert f.title == "Job shop-api-migrate lacks SHOP_SECRET_KEY, which Deployment shop-api sets"
    assert "is named after and runs the same image as Deployment shop-api" in f.explanation
    assert "from Secret shop-secrets key secret-key" in f.explanation
    assert any(e.text == "Deployment shop-api container api: SHOP_SECRET_KEY from Secret shop-secrets key secret-key"
               for e in f.evidence)  # fmt: skip
    [live] = f.fixes
    assert "delete and recreate the Job" in live.title
    # inserted where the Deployment has it: after DJANGO_SETTINGS_MODULE, with the same valueFrom
    assert live.plan.after["spec"]["template"]["spec"]["containers"][0]["env"] == [SETTINGS, SECRET_KEY, DB_PASSWORD]  # type: ignore[union-attr]


def test_the_log_saying_the_program_needs_it_makes_it_an_error():
    migrate = job("shop-api-migrate", [SETTINGS, DB_PASSWORD])
    reader = FakeLogs({("shop-api-migrate-x1", False): logs("Traceback (most recent call last):", SECRET_KEY_LINE)})
    [f] = run([api(), migrate, secret(), failed_pod(migrate)], reader)
    assert f.severity == "error"
    assert any(e.kind == "log" and e.text == SECRET_KEY_LINE for e in f.evidence)
    assert f'Its log says: "{SECRET_KEY_LINE}"' in f.explanation
    assert ("shop-api-migrate-x1", "migrate", False) in reader.calls


@pytest.mark.parametrize(
    "line",
    [
        "KeyError: 'SHOP_SECRET_KEY'",
        "RuntimeError: the SHOP_SECRET_KEY environment variable is not set",
        "error: required environment variable SHOP_SECRET_KEY",
    ],
)
def test_other_ways_a_program_says_it_needs_a_name_count_too(line: str):
    migrate = job("shop-api-migrate", [SETTINGS, DB_PASSWORD])
    reader = FakeLogs({("shop-api-migrate-x1", False): logs(line)})
    [f] = run([api(), migrate, secret(), failed_pod(migrate)], reader)
    assert f.severity == "error" and any(e.kind == "log" and e.text == line for e in f.evidence)


def test_a_log_about_another_setting_does_not_make_it_an_error():
    migrate = job("shop-api-migrate", [SETTINGS, DB_PASSWORD])
    reader = FakeLogs({("shop-api-migrate-x1", False): logs("KeyError: 'STRIPE_API_KEY'")})
    [f] = run([api(), migrate, secret(), failed_pod(migrate)], reader)
    assert f.severity == "warning"


@pytest.mark.parametrize(
    ("read", "said"),
    [
        (Logs(()), "the log is empty: the program printed nothing before it exited"),
        (Logs((), "forbidden"), "logs not read: forbidden"),
    ],
)
def test_empty_or_unreadable_logs_leave_a_warning_and_say_why(read: Logs, said: str):
    migrate = job("shop-api-migrate", [SETTINGS, DB_PASSWORD])
    [f] = run([api(), migrate, secret(), failed_pod(migrate)], FakeLogs({("shop-api-migrate-x1", False): read}))
    assert f.severity == "warning"
    assert any(e.kind == "log" and e.text == said for e in f.evidence)


def test_a_cronjob_running_the_same_image_is_compared_and_fixed_on_its_job_template():
    report = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": meta("nightly", "uid-nightly", resourceVersion="3"),
        "spec": {"schedule": "0 2 * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": [
            {"name": "report", "image": "registry.example/shop/api:1.3.9", "env": [SETTINGS]}]}}}}},
    }  # fmt: skip
    found = by_cause(run([api(), report, secret()]))
    assert set(found) == {"env-missing:SHOP_SECRET_KEY", "env-missing:DB_PASSWORD"}
    f = found["env-missing:DB_PASSWORD"]
    assert "CronJob shop/nightly runs the same image as Deployment shop-api" in f.explanation
    [live] = f.fixes
    env = live.plan.after["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]  # type: ignore[union-attr]
    assert env[-1] == DB_PASSWORD


def test_a_name_read_from_another_secret_key_is_drift_and_gets_the_deployments_reference():
    rotated = {
        "name": "DB_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "shop-secrets", "key": "db-password-rotated"}},
    }
    [f] = run([api(), job("shop-api-migrate", [SETTINGS, SECRET_KEY, rotated]), secret()])
    assert (f.cause, f.severity) == ("env-ref:DB_PASSWORD", "warning")
    assert "from Secret shop-secrets key db-password-rotated" in f.title
    [live] = f.fixes
    assert changed_lines(live.diff) == ["- key: db-password-rotated", "+ key: db-password"]


def test_a_missing_envfrom_is_one_finding_not_one_per_key():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("shop-config", "uid-cm"),
          "data": {"DB_HOST": "10.0.0.3", "DB_PORT": "5432"}}  # fmt: skip
    dep = api(envFrom=[{"configMapRef": {"name": "shop-config"}}])
    [f] = run([dep, job("shop-api-migrate", [SETTINGS, SECRET_KEY, DB_PASSWORD]), secret(), cm])
    assert f.cause == "envfrom-missing:ConfigMap/shop-config"
    assert "(DB_HOST, DB_PORT)" in f.explanation and "10.0.0.3" not in f.explanation
    [live] = f.fixes
    assert live.plan.after["spec"]["template"]["spec"]["containers"][0]["envFrom"] == [  # type: ignore[union-attr]
        {"configMapRef": {"name": "shop-config"}}
    ]


def test_jobs_that_match_or_do_not_belong_with_the_deployment_are_quiet():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("shop-config", "uid-cm"),
          "data": {"SHOP_SECRET_KEY": "x"}}  # fmt: skip
    same = job("shop-api-migrate", [SETTINGS, SECRET_KEY, DB_PASSWORD, {"name": "EXTRA", "value": "1"}])
    via_envfrom = job("shop-api-seed", [SETTINGS, DB_PASSWORD], envFrom=[{"configMapRef": {"name": "shop-config"}}])
    other = job("backup", [], image="registry.example/tools/pg-backup:16")  # another image, another name
    done = job("shop-api-migrate-old", [])
    done["status"] = {"conditions": [{"type": "Complete", "status": "True"}]}
    # the wrong key is secret-missing's finding (I1), not drift
    broken = {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "shop-secrets", "key": "db_password"}}}
    typo = job("shop-api-typo", [SETTINGS, SECRET_KEY, broken])
    assert run([api(), same, via_envfrom, other, done, typo, secret(), cm]) == []


def test_odd_templates_never_break_the_playbook():
    odd = [
        api(env=None, envFrom=None),
        job("shop-api-a", None),  # type: ignore[arg-type]
        job("shop-api-b", [{"name": "X", "valueFrom": None}, "junk", {"value": "no name"}], envFrom=[{}, None]),
        job("shop-api-c", [], image=""),
        {"kind": "Job", "metadata": {"name": "bare", "namespace": NS}, "spec": {"template": {"spec": None}}},
        {"kind": "CronJob", "metadata": {"name": "cj", "namespace": NS}, "spec": None},
        {"kind": "Pod", "metadata": {"name": "p", "namespace": NS}, "spec": {"containers": [None, {"env": {}}]}},
    ]
    found = run(odd)
    assert all(f.object.name.startswith("shop-api") for f in found)


# --- I3: a settings module the repository does not have -------------------------------------------------


def test_a_settings_module_that_is_not_in_the_repository_gets_the_one_that_is(tmp_path: Path):
    repo = django_repo(tmp_path)
    wrong = {"name": "DJANGO_SETTINGS_MODULE", "value": "shopfront.settings.production"}
    migrate = job("shop-api-migrate", [wrong, SECRET_KEY, DB_PASSWORD])
    [f] = run([api(), migrate, secret()], root=_with_manifest(repo))
    assert (f.cause, f.severity) == ("env-value:DJANGO_SETTINGS_MODULE", "warning")
    assert f.title == "DJANGO_SETTINGS_MODULE names shopfront.settings.production, which does not exist"
    assert "No module named 'shopfront'" in f.explanation
    assert "The repository has shop.settings.production (backend/shop/settings/production.py)." in f.explanation
    live, file = f.fixes
    assert changed_lines(live.diff) == ["- value: shopfront.settings.production", "+ value: shop.settings.production"]
    assert file.target.path == "k8s/migrate.yaml"  # type: ignore[union-attr]


def test_the_module_not_found_log_makes_it_an_error(tmp_path: Path):
    repo = django_repo(tmp_path)
    wrong = {"name": "DJANGO_SETTINGS_MODULE", "value": "shopfront.settings.production"}
    migrate = job("shop-api-migrate", [wrong, SECRET_KEY, DB_PASSWORD])
    line = "ModuleNotFoundError: No module named 'shopfront'"
    reader = FakeLogs({("shop-api-migrate-x1", False): logs("Traceback (most recent call last):", line)})
    [f] = run([api(), migrate, secret(), failed_pod(migrate)], reader, root=_with_manifest(repo))
    assert f.severity == "error" and any(e.kind == "log" and e.text == line for e in f.evidence)


def test_a_wrong_submodule_and_a_module_attribute_value_are_corrected_too(tmp_path: Path):
    repo = django_repo(tmp_path)
    dep = api(env=[{"name": "DJANGO_SETTINGS_MODULE", "value": "shop.settings.prod"},
                   {"name": "WSGI_MODULE", "value": "shop.wsgy:application"}])  # fmt: skip
    found = by_cause(run([dep], root=_with_manifest(repo)))
    assert "No module named 'shop.settings.prod'" in found["env-value:DJANGO_SETTINGS_MODULE"].explanation
    assert found["env-value:DJANGO_SETTINGS_MODULE"].fixes[0].title.endswith("to shop.settings.production")
    assert found["env-value:WSGI_MODULE"].fixes[0].title == "Set WSGI_MODULE to shop.wsgi:application"


def test_modules_that_exist_or_resemble_nothing_in_the_repository_are_not_findings(tmp_path: Path):
    repo = django_repo(tmp_path)
    dep = api(env=[SETTINGS, {"name": "CELERY_CONFIG_MODULE", "value": "celeryconfig"}])
    assert run([dep], root=_with_manifest(repo)) == []


def test_without_a_repository_the_deployments_value_is_the_reference():
    wrong = {"name": "DJANGO_SETTINGS_MODULE", "value": "shopfront.settings.production"}
    [f] = run([api(), job("shop-api-migrate", [wrong, SECRET_KEY, DB_PASSWORD]), secret()])
    assert f.title == (
        "DJANGO_SETTINGS_MODULE is shopfront.settings.production, not shop.settings.production as in the workload "
        "it belongs with"
    )
    assert f.fixes[0].title.startswith("Set DJANGO_SETTINGS_MODULE to shop.settings.production")


def test_a_repository_file_that_does_not_parse_changes_nothing(tmp_path: Path):
    repo = django_repo(tmp_path)
    (repo / "backend" / "shop" / "settings" / "broken.py").write_bytes(b"def (:\n\xff\xfe")
    migrate = job("shop-api-migrate", [SETTINGS, DB_PASSWORD])
    [f] = run([api(), migrate, secret()], root=_with_manifest(repo))
    assert f.cause == "env-missing:SHOP_SECRET_KEY"
    assert any(e.text == "backend/shop/settings/production.py:2 reads SHOP_SECRET_KEY" for e in f.evidence)


# --- .env / .env.example: names only ------------------------------------------------------------------------

SEEDED = "PITSTOP-DOTENV-VALUE-3f9a"


def test_dotenv_names_are_read_without_their_values():
    text = (
        "# comment\n"
        f"export SHOP_SECRET_KEY={SEEDED}\n"
        f'PRIVATE_KEY="-----BEGIN KEY-----\n{SEEDED}\nNOT_A_NAME=inside the value\n-----END KEY-----"\n'
        "EMPTY=\n"
        "  SPACED = 1\n"
        "not a line\n"
        f"QUOTED='{SEEDED}' # trailing\n"
    )
    assert dotenv_names(text) == ["SHOP_SECRET_KEY", "PRIVATE_KEY", "EMPTY", "SPACED", "QUOTED"]


def _dotenv_repo(root: Path, name: str = ".env.example") -> Path:
    names = ["DJANGO_SETTINGS_MODULE", "SHOP_SECRET_KEY", "DB_HOST", "DJANGO_DEBUG"]
    (root / name).write_text("".join(f"{n}={SEEDED}\n" for n in names))
    return root


def test_names_the_cluster_sets_and_the_example_lacks_are_added_to_it_names_only(tmp_path: Path):
    repo = _dotenv_repo(tmp_path)
    dep = api(env=[SETTINGS, SECRET_KEY, DB_PASSWORD, {"name": "DB_HOST", "value": "db"}])
    found = by_cause(run([dep, secret()], root=_with_manifest(repo)))
    undocumented, unset = found["dotenv-undocumented:.env.example"], found["dotenv-unset:.env.example"]
    assert undocumented.severity == unset.severity == "info"
    assert undocumented.object.kind == "File" and undocumented.object.name == ".env.example"
    assert "DB_PASSWORD (shop-api)" in undocumented.explanation
    assert "DJANGO_DEBUG (not set by shop-api)" in unset.explanation and not unset.fixes
    [fix] = undocumented.fixes
    assert changed_lines(fix.diff) == ["+DB_PASSWORD="]
    assert SEEDED not in visible(list(found.values())), "a value of the .env file leaked"


def test_a_developers_own_env_file_is_compared_but_never_edited(tmp_path: Path):
    repo = _dotenv_repo(tmp_path, ".env")
    dep = api(env=[SETTINGS, SECRET_KEY, DB_PASSWORD, {"name": "DB_HOST", "value": "db"}])
    found = by_cause(run([dep, secret()], root=_with_manifest(repo)))
    assert not found["dotenv-undocumented:.env"].fixes
    assert SEEDED not in visible(list(found.values()))


def test_a_dotenv_file_that_cannot_be_read_or_describes_another_app_is_skipped(tmp_path: Path):
    (tmp_path / ".env.example").write_bytes(b"SHOP_SECRET_KEY=\xff\xfe\n")  # not UTF-8
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / ".env.example").write_text("MKDOCS_SITE_URL=\nMKDOCS_THEME=\nANALYTICS_ID=\n")
    assert run([api(), secret()], root=_with_manifest(tmp_path)) == []


def _with_manifest(root: Path) -> Path:
    """The repository with the Job's manifest in k8s/, for the file fixes."""
    (root / "k8s").mkdir(exist_ok=True)
    (root / "k8s" / "migrate.yaml").write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: shop-api-migrate\n  namespace: shop\nspec:\n"
        "  template:\n    spec:\n      containers:\n        - name: migrate\n          image: " + IMAGE + "\n"
        "          env:\n            - name: DJANGO_SETTINGS_MODULE\n              value: shopfront.settings.production\n"
    )
    return root


# --- the demo: I2 and I3 behind I1 -----------------------------------------------------------------------


def _job_findings(demo: Demo) -> dict[str, dict[str, Any]]:
    found = demo.findings("env-drift", "Job", MIGRATION)
    return {"I3" if "DJANGO_SETTINGS_MODULE" in f["title"] else "I2": f for f in found}


def _job_condition(demo: Demo) -> str | None:
    job = demo.rs.get("batch/v1", "Job", DEMO_NS, MIGRATION) or {}
    for c in job.get("status", {}).get("conditions") or ():
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return None


def _apply(demo: Demo) -> list[dict[str, Any]]:
    code, out, err = demo.pitstop("--playbook", "env-drift", "-n", DEMO_NS, "--apply", "--yes", "-o", "json")
    assert code in (0, 1), err
    return [a for a in json.loads(out)["applied"]]


def test_i2_and_i3_are_found_up_front_behind_i1_then_fixed_until_the_migration_completes_and_undone(demo: Demo):
    found = _job_findings(demo)
    i2, i3 = found["I2"], found["I3"]
    # up front: from the templates and the repository; the pod is stuck on I1, so no log yet
    assert i2["title"] == f"Job {MIGRATION} lacks DJANGO_SECRET_KEY, which Deployment coditect-backend sets"
    assert i2["severity"] == "warning"
    assert "Deployment coditect-backend container backend: DJANGO_SECRET_KEY from Secret backend-secrets key " \
        "django-secret-key" in [e["text"] for e in i2["evidence"]]  # fmt: skip
    assert any(e["kind"] == "condition" and "CreateContainerConfigError" in e["text"] for e in i2["evidence"])
    _live, file = i2["fixes"]
    assert file["target"] == {"type": "file", "path": "k8s/staging/migration-job.yaml"}
    assert changed_lines(file["diff"]) == [
        "+ - name: DJANGO_SECRET_KEY", "+ valueFrom:", "+ secretKeyRef:", "+ name: backend-secrets",
        "+ key: django-secret-key",
    ]  # fmt: skip
    assert i3["title"] == "DJANGO_SETTINGS_MODULE names coditect_license.settings.production, which does not exist"
    assert "No module named 'coditect_license'" in i3["explanation"]
    assert any(e["text"].startswith("backend/license_platform/settings/production.py") for e in i3["evidence"])
    assert changed_lines(i3["fixes"][0]["diff"]) == [
        "- value: coditect_license.settings.production",
        "+ value: license_platform.settings.production",
    ]
    healthy = {"coditect-docs", "coredns", "coditect-nightly-report", "coditect-backend", "coditect-worker"}
    assert not [f for f in demo.findings("env-drift") if f["object"]["name"] in healthy]

    # I1 fixed: the Job runs and fails on I2; its log makes I2 an error
    _code, out, err = demo.pitstop("--playbook", "secret-missing", "--apply", "--yes", "-o", "json")
    assert [(a["result"], a["verification"]) for a in json.loads(out)["applied"]] == [("applied", "verified")], err
    wait_for(lambda: _job_condition(demo) == "Failed", what="the migration Job failing on the missing SECRET_KEY")
    i2 = _job_findings(demo)["I2"]
    assert i2["severity"] == "error"
    assert any(e["kind"] == "log" and SECRET_KEY_LINE in e["text"] for e in i2["evidence"])

    # env-drift applied: I2 first (the error), I3's fix on the same Job is then stale
    applied = {a["finding_id"]: a for a in _apply(demo)}
    assert (applied[i2["id"]]["result"], applied[i2["id"]]["verification"]) == ("applied", "verified")
    assert applied[i3["id"]]["result"] == "refused" and "stale" in applied[i3["id"]]["message"]
    wait_for(lambda: _job_condition(demo) == "Failed", what="the migration Job failing on the settings module")
    i3 = _job_findings(demo)["I3"]
    assert i3["severity"] == "error" and "I2" not in _job_findings(demo)
    assert any(e["text"] == "ModuleNotFoundError: No module named 'coditect_license'" for e in i3["evidence"])

    # undo I2: the Job is back without the key, and so is the finding
    code, _out, err = demo.pitstop("undo", applied[i2["id"]]["journal_id"])
    assert code == 0, err
    assert "DJANGO_SECRET_KEY" not in {e["name"] for e in _migration_env(demo)}
    wait_for(lambda: "I2" in _job_findings(demo), what="I2 back after undo")

    # both again, one per run (a Job is recreated by each): the migration runs to completion
    [a] = [a for a in _apply(demo) if a["result"] == "applied" and a["finding_id"] != i3["id"]]
    assert a["verification"] == "verified"
    wait_for(lambda: "I2" not in _job_findings(demo), what="I2 gone")
    [a] = [a for a in _apply(demo) if a["finding_id"] == i3["id"]]
    assert (a["result"], a["verification"]) == ("applied", "verified")
    # the sandbox's migrate succeeds once I1-I3 are fixed: it does not model I7 (the repository's conflict)
    wait_for(lambda: _job_condition(demo) == "Complete", what="the migration Job completing")
    assert not demo.findings("env-drift", "Job", MIGRATION)

    # undo I3: the wrong settings module comes back
    code, _out, err = demo.pitstop("undo", a["journal_id"])
    assert code == 0, err
    assert {"name": "DJANGO_SETTINGS_MODULE", "value": "coditect_license.settings.production"} in _migration_env(demo)
    wait_for(lambda: "I3" in _job_findings(demo), what="I3 back after undo")


def _migration_env(demo: Demo) -> list[dict[str, Any]]:
    job = demo.rs.get("batch/v1", "Job", DEMO_NS, MIGRATION)
    return list(job["spec"]["template"]["spec"]["containers"][0]["env"])
