"""The bundled scenarios: `empty`, and `demo` with its repository (incidents I1-I10).

The sandbox's kubelet and scheduler are tested elsewhere; these tests pin the
*data*: that the demo's objects, behaviours and repository really carry each
incident of shared/INCIDENTS.md, that the healthy workloads have nothing wrong
with them, and that the repository's migrations say what Django itself says.
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from sandbox.scenario import Behaviour, Scenario, available, load

NS = "coditect-staging"
SECRET_KEYS = {"db-user", "database-password", "db-name", "django-secret-key"}
SEEDED = "PITSTOP-SEEDED-SECRET"
ALLOWED_SETTINGS = "license_platform.settings.production"
PLACEHOLDERS = ("name", "value", "host", "port", "module_root")
KIND_RANK = {
    "Namespace": 0,
    "Secret": 1,
    "ConfigMap": 1,
    "ServiceAccount": 1,
    "Service": 2,
    "Deployment": 3,
    "Job": 4,
    "CronJob": 5,
}


# ---------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def demo() -> Scenario:
    return load("demo")


@pytest.fixture(scope="module")
def repo(demo: Scenario) -> Path:
    assert demo.repo is not None
    return demo.repo


def obj(scenario: Scenario, kind: str, name: str, namespace: str | None = NS) -> dict[str, Any]:
    found = [
        o
        for o in scenario.objects
        if o["kind"] == kind and o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace
    ]
    assert len(found) == 1, f"{kind} {namespace}/{name}: {len(found)} objects"
    return found[0]


def pod_spec(o: dict[str, Any]) -> dict[str, Any]:
    if o["kind"] == "CronJob":
        return o["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return o["spec"]["template"]["spec"]


def workloads(scenario: Scenario) -> list[dict[str, Any]]:
    return [o for o in scenario.objects if o["kind"] in ("Deployment", "Job", "CronJob")]


def container(o: dict[str, Any]) -> dict[str, Any]:
    [c] = pod_spec(o)["containers"]
    return c


def secret_keys(scenario: Scenario, name: str, namespace: str = NS) -> set[str]:
    s = obj(scenario, "Secret", name, namespace)
    return set(s.get("data", {})) | set(s.get("stringData", {}))


def resolve_env(scenario: Scenario, c: dict[str, Any], namespace: str = NS) -> dict[str, str]:
    """The environment a kubelet would build; raises KeyError for a missing Secret/ConfigMap key."""
    env: dict[str, str] = {}
    for source in c.get("envFrom", []):
        env.update(obj(scenario, "ConfigMap", source["configMapRef"]["name"], namespace)["data"])
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
            continue
        ref = e["valueFrom"]["secretKeyRef"]
        if ref["key"] not in secret_keys(scenario, ref["name"], namespace):
            raise KeyError(f"couldn't find key {ref['key']} in Secret {namespace}/{ref['name']}")
        env[e["name"]] = f"<{ref['name']}/{ref['key']}>"
    return env


def behaviour_for(scenario: Scenario, c: dict[str, Any]) -> Behaviour | None:
    command = " ".join(c.get("command", []) + c.get("args", []))
    for b in scenario.behaviours:
        if fnmatch.fnmatchcase(c["image"], b.image) and (b.command_contains is None or b.command_contains in command):
            return b
    return None


def first_failure(b: Behaviour, env: dict[str, str], services: set[str]) -> str | None:
    """The env name whose check fails first (requires_env, env_one_of, connects), or None."""
    for name in b.requires_env:
        if not env.get(name):
            return name
    for name, allowed in b.env_one_of.items():
        if env.get(name) not in allowed:
            return name
    for name in b.connects:
        if urlsplit(env.get(name, "")).hostname not in services:
            return name
    return None


def services(scenario: Scenario, namespace: str = NS) -> set[str]:
    return {
        o["metadata"]["name"]
        for o in scenario.objects
        if o["kind"] == "Service" and o["metadata"].get("namespace") == namespace
    }


def quantity(value: str) -> float:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for suffix, factor in units.items():
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value)


def failure_text(b: Behaviour, name: str, env: dict[str, str]) -> str:
    value = env.get(name, "")
    url = urlsplit(value) if "://" in value else None
    return b.failures[name].format(
        name=name,
        value=value,
        host=url.hostname if url else "",
        port=url.port if url else "",
        module_root=value.split(".")[0],
    )


# ---------------------------------------------------------------- loading


def test_both_bundled_scenarios_load_by_name() -> None:
    assert {"demo", "empty"} <= set(available())
    assert load("empty").name == "empty"
    assert load("demo").name == "demo"


def test_empty_is_three_ready_nodes_and_nothing_else() -> None:
    empty = load("empty")
    assert [n.name for n in empty.nodes] == ["sandbox-node-1", "sandbox-node-2", "sandbox-node-3"]
    for n in empty.nodes:
        assert n.ready and not n.taints
        assert n.allocatable == {"cpu": "4", "memory": "16Gi", "pods": "110"}
        assert n.labels["kubernetes.io/hostname"] == n.name
    assert empty.objects == () and empty.behaviours == () and empty.registries.hosts == {}
    assert empty.repo is None and empty.github == {}


def test_demo_nodes_are_one_gke_pool_in_three_zones(demo: Scenario) -> None:
    assert len(demo.nodes) == 3
    for n in demo.nodes:
        assert n.ready and not n.taints
        assert n.labels["cloud.google.com/gke-nodepool"] == "primary-node-pool"
        assert n.labels["kubernetes.io/hostname"] == n.name
        assert n.labels["node.kubernetes.io/instance-type"] == "e2-standard-4"
        assert n.allocatable == {"cpu": "3920m", "memory": "13Gi", "pods": "110"}
    assert len({n.labels["topology.kubernetes.io/zone"] for n in demo.nodes}) == 3


def test_demo_objects_are_well_formed_and_in_apply_order(demo: Scenario) -> None:
    first = demo.objects[0]
    assert (first["kind"], first["metadata"]["name"]) == ("Namespace", NS)
    ranks = [KIND_RANK[o["kind"]] for o in demo.objects]
    assert ranks == sorted(ranks), "Namespace, then Secret/ConfigMap/SA, Services, Deployments, Job, CronJob"
    keys = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in demo.objects]
    assert len(keys) == len(set(keys))
    for o in demo.objects[1:]:
        assert o["metadata"]["namespace"] in (NS, "kube-system")
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", o["metadata"]["name"])
    names = {(k, n) for k, _, n in keys}
    assert {
        ("Deployment", "coditect-backend"),
        ("Deployment", "coditect-worker"),
        ("Deployment", "coditect-frontend"),
        ("Deployment", "coditect-docs"),
        ("Deployment", "coredns"),
        ("Service", "kube-dns"),
        ("Job", "coditect-backend-migration"),
        ("CronJob", "coditect-nightly-report"),
        ("ConfigMap", "backend-config"),
        ("ServiceAccount", "coditect-backend"),
        ("Secret", "backend-secrets"),
    } <= names


def test_every_container_requests_cpu_and_memory(demo: Scenario) -> None:
    for o in workloads(demo):
        for c in pod_spec(o)["containers"]:
            assert {"cpu", "memory"} <= set(c["resources"]["requests"]), f"{o['kind']} {o['metadata']['name']}"


def test_references_resolve_except_the_seeded_secret_key(demo: Scenario) -> None:
    for o in workloads(demo):
        ns = o["metadata"]["namespace"]
        spec = pod_spec(o)
        if "serviceAccountName" in spec:
            obj(demo, "ServiceAccount", spec["serviceAccountName"], ns)
        for v in spec.get("volumes", []):
            obj(demo, "ConfigMap", v["configMap"]["name"], ns)
        if o["metadata"]["name"] == "coditect-backend-migration":
            with pytest.raises(
                KeyError, match="couldn't find key db-password in Secret coditect-staging/backend-secrets"
            ):
                resolve_env(demo, container(o), ns)
        else:
            resolve_env(demo, container(o), ns)


def test_secret_has_the_catalogue_keys_and_seeded_values(demo: Scenario, repo: Path) -> None:
    s = obj(demo, "Secret", "backend-secrets")
    assert set(s["data"]) == SECRET_KEYS
    values = [base64.b64decode(v).decode() for v in s["data"].values()]
    assert all(v.startswith(SEEDED) for v in values)
    for path in repo.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert SEEDED not in text, path
            assert not any(v in text for v in values), path
    manifests = [d for f in (repo / "k8s").rglob("*.yaml") for d in yaml.safe_load_all(f.read_text()) if d]
    assert not any(d["kind"] == "Secret" for d in manifests), "secrets never live in the repository"


# ---------------------------------------------------------------- incidents in the cluster objects


def test_i1_migration_job_reads_a_key_the_secret_does_not_have(demo: Scenario) -> None:
    job = obj(demo, "Job", "coditect-backend-migration")
    refs = {e["valueFrom"]["secretKeyRef"]["key"] for e in container(job)["env"] if "valueFrom" in e}
    assert "db-password" in refs and "db-password" not in secret_keys(demo, "backend-secrets")
    assert "python manage.py migrate" in " ".join(container(job)["command"])


def test_i2_the_deployment_has_exactly_one_env_var_the_job_lacks(demo: Scenario) -> None:
    deployment = container(obj(demo, "Deployment", "coditect-backend"))
    job = container(obj(demo, "Job", "coditect-backend-migration"))
    missing = {e["name"] for e in deployment["env"]} - {e["name"] for e in job["env"]}
    assert missing == {"DJANGO_SECRET_KEY"}
    [entry] = [e for e in deployment["env"] if e["name"] == "DJANGO_SECRET_KEY"]
    assert entry["valueFrom"]["secretKeyRef"] == {"name": "backend-secrets", "key": "django-secret-key"}
    assert job["envFrom"] == deployment["envFrom"]


def test_i3_job_names_a_settings_module_the_repository_does_not_have(demo: Scenario, repo: Path) -> None:
    job = container(obj(demo, "Job", "coditect-backend-migration"))
    [value] = [e["value"] for e in job["env"] if e["name"] == "DJANGO_SETTINGS_MODULE"]
    assert value == "coditect_license.settings.production"
    assert not (repo / "backend" / "coditect_license").exists()
    assert (repo / "backend/license_platform/settings/production.py").is_file()
    for name in ("coditect-backend", "coditect-worker"):
        env = container(obj(demo, "Deployment", name))["env"]
        assert {"name": "DJANGO_SETTINGS_MODULE", "value": ALLOWED_SETTINGS} in env


def test_i4_worker_selects_a_node_pool_no_node_is_in(demo: Scenario) -> None:
    worker = obj(demo, "Deployment", "coditect-worker")
    selector = pod_spec(worker)["nodeSelector"]
    assert selector == {"cloud.google.com/gke-nodepool": "default-pool"}
    admits = [n for n in demo.nodes if all(n.labels.get(k) == v for k, v in selector.items())]
    assert admits == []
    assert {n.labels["cloud.google.com/gke-nodepool"] for n in demo.nodes} == {"primary-node-pool"}
    assert worker["spec"]["replicas"] == 2


def test_all_pods_fit_once_scheduling_is_fixed(demo: Scenario) -> None:
    """Nothing is Pending for lack of resources: I4 is the only scheduling failure."""
    cpu = memory = 0.0
    for o in workloads(demo):
        replicas = o["spec"].get("replicas", 1)
        for c in pod_spec(o)["containers"]:
            requests = c["resources"]["requests"]
            assert quantity(requests["cpu"]) <= quantity("3920m") and quantity(requests["memory"]) <= quantity("13Gi")
            cpu += replicas * quantity(requests["cpu"])
            memory += replicas * quantity(requests["memory"])
    assert cpu < quantity("3920m") and memory < quantity("13Gi"), "everything would fit even on one node"


def test_i5_frontend_image_exists_only_in_artifact_registry(demo: Scenario) -> None:
    frontend = obj(demo, "Deployment", "coditect-frontend")
    assert container(frontend)["image"] == "gcr.io/coditect-cloud-infra/frontend:v1.0.6-staging"
    assert frontend["spec"]["replicas"] == 2
    hosts = demo.registries.hosts
    assert "coditect-cloud-infra/frontend" not in hosts["gcr.io"].images
    assert not any("frontend" in repo for repo in hosts["gcr.io"].images)
    assert "v1.0.6-staging" in hosts["us-central1-docker.pkg.dev"].images["coditect-cloud-infra/coditect/frontend"]


def test_every_other_image_exists_in_its_declared_registry(demo: Scenario) -> None:
    for o in workloads(demo):
        image = container(o)["image"]
        if o["metadata"]["name"] == "coditect-frontend":
            continue
        host, _, rest = image.partition("/")
        repo_name, _, tag = rest.rpartition(":")
        assert tag in demo.registries.hosts[host].images[repo_name], image
        assert not demo.registries.hosts[host].auth


def test_i9_backend_points_redis_url_at_a_service_that_does_not_exist(demo: Scenario) -> None:
    backend = obj(demo, "Deployment", "coditect-backend")
    assert {"name": "REDIS_URL", "value": "redis://redis:6379/0"} in container(backend)["env"]
    assert "redis" not in services(demo)
    assert backend["spec"]["replicas"] == 2
    assert behaviour_for(demo, container(backend)).connects == ("REDIS_URL",)


# ---------------------------------------------------------------- how the behaviours play out


def test_each_container_meets_the_behaviour_meant_for_it(demo: Scenario) -> None:
    expected = {
        "coditect-backend-migration": "migrate",
        "coditect-nightly-report": "send_nightly_report",
        "coditect-backend": "*/coditect/backend:*",
        "coditect-worker": "*/coditect/worker:*",
        "coditect-frontend": "*/coditect/frontend:*",
        "coditect-docs": "*/coditect/docs:*",
        "coredns": "registry.k8s.io/coredns/coredns:*",
    }
    for o in workloads(demo):
        if o["metadata"]["name"] == "coditect-frontend":
            continue  # its image cannot be pulled (I5); the fixed reference is checked below
        b = behaviour_for(demo, container(o))
        assert b is not None
        assert expected[o["metadata"]["name"]] in (b.command_contains, b.image)
    right_frontend = {"image": "us-central1-docker.pkg.dev/coditect-cloud-infra/coditect/frontend:v1.0.6-staging"}
    assert behaviour_for(demo, right_frontend).image == "*/coditect/frontend:*"


def test_migration_job_fails_i1_then_i2_then_i3_then_completes(demo: Scenario) -> None:
    job = copy.deepcopy(container(obj(demo, "Job", "coditect-backend-migration")))
    deployment = container(obj(demo, "Deployment", "coditect-backend"))
    b = behaviour_for(demo, job)
    assert b.command_contains == "migrate" and b.completes is True and b.connects == ()
    with pytest.raises(KeyError):
        resolve_env(demo, job)  # I1: CreateContainerConfigError

    job["env"] = [  # fix I1
        {**e, "valueFrom": {"secretKeyRef": {"name": "backend-secrets", "key": "database-password"}}}
        if e["name"] == "DB_PASSWORD"
        else e
        for e in job["env"]
    ]
    env = resolve_env(demo, job)
    assert first_failure(b, env, services(demo)) == "DJANGO_SECRET_KEY"  # I2
    text = failure_text(b, "DJANGO_SECRET_KEY", env)
    assert text.startswith("Traceback (most recent call last):\n")
    assert text.endswith("\ndjango.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty.")

    env["DJANGO_SECRET_KEY"] = resolve_env(demo, deployment)["DJANGO_SECRET_KEY"]  # fix I2
    assert first_failure(b, env, services(demo)) == "DJANGO_SETTINGS_MODULE"  # I3
    text = failure_text(b, "DJANGO_SETTINGS_MODULE", env)
    assert text.endswith("\nModuleNotFoundError: No module named 'coditect_license'")

    env["DJANGO_SETTINGS_MODULE"] = ALLOWED_SETTINGS  # fix I3
    assert first_failure(b, env, services(demo)) is None
    assert b.logs[:3] == (
        "Operations to perform:",
        "  Apply all migrations: admin, auth, contenttypes, licenses, sessions, tenants, users",
        "Running migrations:",
    )
    assert "  Applying licenses.0001_initial... OK" in b.logs


def test_backend_crash_loops_on_redis_until_a_redis_service_exists(demo: Scenario) -> None:
    backend = container(obj(demo, "Deployment", "coditect-backend"))
    b = behaviour_for(demo, backend)
    env = resolve_env(demo, backend)
    assert b.completes is False
    assert first_failure(b, env, services(demo)) == "REDIS_URL"
    text = failure_text(b, "REDIS_URL", env)
    assert text.endswith(
        "\nredis.exceptions.ConnectionError: Error -2 connecting to redis:6379. Name or service not known."
    )
    assert first_failure(b, env, services(demo) | {"redis"}) is None


def test_healthy_workloads_pass_every_check(demo: Scenario) -> None:
    healthy = [
        obj(demo, "Deployment", "coditect-docs"),
        obj(demo, "Deployment", "coredns", "kube-system"),
        obj(demo, "CronJob", "coditect-nightly-report"),
        obj(demo, "Deployment", "coditect-worker"),  # healthy once scheduled (I4)
    ]
    for o in healthy:
        ns = o["metadata"]["namespace"]
        b = behaviour_for(demo, container(o))
        assert first_failure(b, resolve_env(demo, container(o), ns), services(demo, ns)) is None, o["metadata"]["name"]
    report = behaviour_for(demo, container(obj(demo, "CronJob", "coditect-nightly-report")))
    assert report.completes is True and report.connects == ()
    assert obj(demo, "CronJob", "coditect-nightly-report")["spec"]["schedule"] == "0 2 * * *"


def test_failure_texts_use_only_documented_placeholders(demo: Scenario) -> None:
    for b in demo.behaviours:
        for name, text in b.failures.items():
            assert name in b.requires_env or name in b.env_one_of or name in b.connects
            stripped = re.sub(r"\{(" + "|".join(PLACEHOLDERS) + r")\}", "", text)
            assert "{" not in stripped and "}" not in stripped, f"{b.image} {name}"
            assert text.startswith("Traceback (most recent call last):\n")


# ---------------------------------------------------------------- the repository


def test_k8s_staging_files_are_the_cluster_objects(demo: Scenario, repo: Path) -> None:
    files = sorted((repo / "k8s/staging").glob("*.yaml"))
    assert {f.name for f in files} == {
        f"{n}.yaml"
        for n in (
            "namespace",
            "backend-deployment",
            "worker-deployment",
            "frontend-deployment",
            "docs-deployment",
            "migration-job",
            "nightly-report-cronjob",
            "services",
            "backend-config",
        )
    }
    multi = 0
    for f in files:
        text = f.read_text()
        assert "#" in text, f"{f.name} should explain itself in comments"
        docs = [d for d in yaml.safe_load_all(text) if d]
        multi += len(docs) > 1
        for d in docs:
            live = obj(demo, d["kind"], d["metadata"]["name"], d["metadata"].get("namespace"))
            assert d == live, f"{f.name}: {d['kind']} {d['metadata']['name']} differs from demo.yaml"
            if d["kind"] in ("Deployment", "Job", "CronJob"):
                for key in ("image", "env", "envFrom", "command"):
                    assert container(d).get(key) == container(live).get(key)
                assert pod_spec(d).get("nodeSelector") == pod_spec(live).get("nodeSelector")
    assert multi >= 1


def test_repository_is_plain_files_only(repo: Path) -> None:
    for path in repo.rglob("*"):
        assert not path.is_symlink(), path
        assert path.name != "__pycache__" and path.suffix != ".pyc", path
    for name in (
        ".env",
        ".env.example",
        "README.md",
        ".github/workflows/ci.yml",
        ".github/workflows/deploy-staging.yml",
        "backend/Dockerfile",
        "frontend/Dockerfile",
        "frontend/package.json",
        "frontend/tsconfig.json",
    ):
        assert (repo / name).is_file(), name


def test_env_files_name_what_the_deployment_sets(demo: Scenario, repo: Path) -> None:
    backend = container(obj(demo, "Deployment", "coditect-backend"))
    wanted = {e["name"] for e in backend["env"]} | set(obj(demo, "ConfigMap", "backend-config")["data"]) - {
        "CSRF_TRUSTED_ORIGINS"
    }
    for name in (".env", ".env.example"):
        keys = {
            line.split("=", 1)[0]
            for line in (repo / name).read_text().splitlines()
            if line and not line.startswith("#")
        }
        assert wanted <= keys, f"{name} lacks {wanted - keys}"


def test_workflows_are_ci_and_an_approved_staging_deploy(repo: Path) -> None:
    ci = yaml.safe_load((repo / ".github/workflows/ci.yml").read_text())
    deploy = yaml.safe_load((repo / ".github/workflows/deploy-staging.yml").read_text())
    assert ci["name"] == "CI" and {"push", "pull_request"} <= set(ci[True])
    assert deploy["name"] == "Deploy staging"
    assert deploy["jobs"]["deploy"]["environment"] == "staging"
    assert deploy["env"]["IMAGE_PREFIX"] == "us-central1-docker.pkg.dev/coditect-cloud-infra/coditect"
    steps = {step.get("name"): step.get("run", "") for step in deploy["jobs"]["deploy"]["steps"]}
    assert steps["Apply manifests"] == "kubectl -n coditect-staging apply -f k8s/staging/"
    assert "job/coditect-backend-migration" in steps["Run migrations"]
    build = " ".join(step.get("run", "") for step in deploy["jobs"]["build"]["steps"])
    assert all(f"$IMAGE_PREFIX/{image}:$TAG" in build for image in ("backend", "worker", "frontend", "docs"))


def test_migrations_look_generated_by_django(repo: Path) -> None:
    files = sorted((repo / "backend").glob("*/migrations/0*.py"))
    assert len(files) == 12
    for f in files:
        text = f.read_text()
        assert re.match(r"# Generated by Django 5\.2 on \d{4}-\d{2}-\d{2} \d{2}:\d{2}\n\n", text), f
        assert "from django.db import migrations" in text and "class Migration(migrations.Migration):" in text
    licenses = sorted(p.stem for p in (repo / "backend/licenses/migrations").glob("0*.py"))
    assert [n for n in licenses if n.startswith("0002_")] == [
        "0002_add_renewal_fields",
        "0002_phase1_step2_license_seats",
    ]
    assert licenses[-1] == "0006_phase1_step6_license_sessions"
    tenants_initial = (repo / "backend/tenants/migrations/0001_initial.py").read_text()
    assert "migrations.swappable_dependency(settings.AUTH_USER_MODEL)" in tenants_initial


def test_i6_user_type_names_two_fields_the_model_does_not_have(repo: Path) -> None:
    models = (repo / "backend/users/models.py").read_text()
    assert "full_name = models.CharField" in models and "company_name = models.CharField" in models
    types = (repo / "frontend/src/types/index.ts").read_text()
    user = re.search(r"export interface User \{(.*?)\n\}", types, re.S).group(1)
    fields = re.findall(r"^\s+(\w+)\??:", user, re.M)
    assert fields[:4] == ["id", "email", "name", "company"]
    assert "fullName" not in fields and "companyName" not in fields
    license_ = re.search(r"export interface License \{(.*?)\n\}", types, re.S).group(1)
    assert "expiresAt" in license_ and "autoRenew" in license_  # the camelCase convention everywhere else
    assert (repo / "frontend/src/components/UserMenu.tsx").read_text().count("user.company") >= 1


ORACLE = textwrap.dedent(
    """
    import json
    import django
    django.setup()
    from django.apps import apps
    from django.db.migrations.autodetector import MigrationAutodetector
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.questioner import NonInteractiveMigrationQuestioner
    from django.db.migrations.state import ProjectState

    loader = MigrationLoader(None, ignore_no_migrations=True)
    detector = MigrationAutodetector(
        loader.project_state(), ProjectState.from_apps(apps), NonInteractiveMigrationQuestioner(dry_run=True)
    )
    changes = detector.changes(graph=loader.graph)
    print(json.dumps({
        "conflicts": loader.detect_conflicts(),
        "changes": [
            [app, type(op).__name__, getattr(op, "model_name", None), op.name]
            for app, migrations in changes.items() for migration in migrations for op in migration.operations
        ],
    }))
    """
)


def test_i7_and_i8_what_django_itself_says_about_the_migrations(repo: Path, tmp_path: Path) -> None:
    pytest.importorskip("django")
    (tmp_path / "oracle_settings.py").write_text(
        textwrap.dedent(
            f"""
            SECRET_KEY = "oracle-only"
            INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "users", "tenants", "licenses"]
            DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": {str(tmp_path / "db.sqlite3")!r}}}}}
            AUTH_USER_MODEL = "users.User"
            DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
            USE_TZ = True
            """
        )
    )
    backend = repo / "backend"
    caches_before = set(backend.rglob("__pycache__"))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(backend)]),
        "DJANGO_SETTINGS_MODULE": "oracle_settings",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", ORACLE], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["conflicts"] == {"licenses": ["0002_add_renewal_fields", "0006_phase1_step6_license_sessions"]}
    assert result["changes"] == [["tenants", "AddField", "organization", "stripe_customer_id"]]
    assert set(backend.rglob("__pycache__")) == caches_before, "the oracle must not write bytecode into the demo repo"
