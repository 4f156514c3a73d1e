"""The migration Job generated from a Deployment: what it copies, what it leaves out, what it refuses, where it goes."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from diagnostics import jobgen
from diagnostics.redact import redact
from diagnostics.repo import Repository
from diagnostics.snapshot import Snapshot

ROOT = Path(__file__).resolve().parents[2]
DEMO_REPO = ROOT / "sandbox" / "scenarios" / "demo-repo"
NS = "coditect-staging"


def demo_objects() -> list[dict[str, Any]]:
    scenario = yaml.safe_load((ROOT / "sandbox" / "scenarios" / "demo.yaml").read_text())
    return [redact(o) for o in scenario["objects"]]  # Secrets as the cache holds them: key names only


def snapshot(objects: list[dict[str, Any]], **kw: Any) -> Snapshot:
    return Snapshot.from_objects("test", objects, **kw)


@pytest.fixture
def repo(tmp_path: Path) -> Repository:
    shutil.copytree(DEMO_REPO, tmp_path / "repo")
    return Repository(tmp_path / "repo")


def backend(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "coditect-backend")


def the_container(job: dict[str, Any]) -> dict[str, Any]:
    [c] = job["spec"]["template"]["spec"]["containers"]
    return c


def changed_lines(diff: str) -> list[str]:
    return [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("---", "+++"))]


def deployment(**pod: Any) -> dict[str, Any]:
    """A small Deployment `api` in namespace `shop`; `pod` overrides its pod spec."""
    spec = {
        "serviceAccountName": "api",
        "containers": [
            {
                "name": "api",
                "image": "registry.example/shop/api:1.4.2",
                "command": ["gunicorn", "shop.wsgi"],
                "args": ["--workers", "4"],
                "ports": [{"containerPort": 8000}],
                "env": [{"name": "DJANGO_SETTINGS_MODULE", "value": "shop.settings"}],
            }
        ],
        **pod,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "shop", "labels": {"app.kubernetes.io/part-of": "shop"}},
        "spec": {
            "selector": {"matchLabels": {"app": "api"}},
            "template": {"metadata": {"labels": {"app": "api"}}, "spec": spec},
        },
    }


def shop(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "api", "namespace": "shop"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "api", "namespace": "shop"}, "data": {"db": None}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "api", "namespace": "shop"}, "data": {"a": "1"}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "media", "namespace": "shop"}},
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "other", "namespace": "shop"}},
        *extra,
    ]


# --- the demo ------------------------------------------------------------------------------------


def test_the_demo_backend_gives_a_job_with_every_env_entry_reference_and_setting_it_has(repo: Repository):
    objects = demo_objects()
    dep = backend(objects)
    result = jobgen.generate(dep, snapshot(objects), repo)
    assert isinstance(result, jobgen.GeneratedJob), result
    job = result.job
    app = dep["spec"]["template"]["spec"]["containers"][0]
    c = the_container(job)
    # I1-I3 cannot happen: the env (names, values, valueFrom) and envFrom are the Deployment's, entry for entry
    assert c["env"] == app["env"]
    assert c["envFrom"] == app["envFrom"]
    assert {
        "name": "DJANGO_SECRET_KEY",
        "valueFrom": {"secretKeyRef": {"name": "backend-secrets", "key": "django-secret-key"}},
    } in c["env"]
    assert c["image"] == app["image"] and c["resources"] == app["resources"]
    assert c["command"] == ["python", "manage.py", "migrate", "--noinput"]
    for left_out in ("ports", "readinessProbe", "livenessProbe", "args"):
        assert left_out not in c
    spec = job["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "coditect-backend" and spec["restartPolicy"] == "Never"
    assert (
        job["spec"]["backoffLimit"] == 2 and job["spec"]["ttlSecondsAfterFinished"] == jobgen.TTL_SECONDS_AFTER_FINISHED
    )
    assert job["metadata"]["labels"][jobgen.DEPLOYMENT_LABEL] == "coditect-backend"
    # the Service and the Deployment's selector never pick up the migration pod
    pod_labels = job["spec"]["template"]["metadata"]["labels"]
    assert pod_labels.get("app.kubernetes.io/name") != "coditect-backend"
    assert result.container == "backend"


def test_the_demo_job_replaces_the_broken_migration_manifest_with_a_minimal_diff(repo: Repository):
    objects = demo_objects()
    result = jobgen.generate(backend(objects), snapshot(objects), repo)
    assert isinstance(result, jobgen.GeneratedJob)
    # the existing migration Job of the Deployment gives the name and the file
    assert result.name == "coditect-backend-migration"
    assert result.path == "k8s/staging/migration-job.yaml"
    lines = changed_lines(result.diff)
    assert "-              value: coditect_license.settings.production" in lines  # I3
    assert "+              value: license_platform.settings.production" in lines
    assert "+            - name: DJANGO_SECRET_KEY" in lines  # I2
    assert "-                  key: db-password" in lines and "+                  key: database-password" in lines  # I1
    # comments and the untouched lines stay byte for byte
    assert result.plan.before is not None
    assert result.plan.after.startswith("# Applies Django migrations for a release.")
    assert "    app.kubernetes.io/component: migration\n" in result.plan.after
    assert yaml.safe_load(result.plan.after) == result.job
    assert any("already exists in coditect-staging" in n and "kubectl delete job" in n for n in result.notes)
    # once written, generating again changes nothing
    (repo.root / result.path).write_text(result.plan.after)
    again = jobgen.generate(backend(objects), snapshot(objects), Repository(repo.root))
    assert isinstance(again, jobgen.GeneratedJob) and again.diff == ""


def test_no_secret_value_reaches_the_job_its_file_or_its_diff(repo: Repository):
    objects = demo_objects()
    result = jobgen.generate(backend(objects), snapshot(objects), repo)
    assert isinstance(result, jobgen.GeneratedJob)
    for text in (result.plan.after, result.diff, repr(result.job), result.finding().explanation):
        assert "PITSTOP-SEEDED-SECRET" not in text and "UElUU1RPUC" not in text


def test_a_deployment_reading_a_missing_secret_key_is_refused_naming_that_key(repo: Repository):
    objects = demo_objects()
    dep = copy.deepcopy(backend(objects))
    env = dep["spec"]["template"]["spec"]["containers"][0]["env"]
    next(e for e in env if e["name"] == "DB_PASSWORD")["valueFrom"]["secretKeyRef"]["key"] = "db-password"
    before = (repo.root / "k8s/staging/migration-job.yaml").read_text()
    result = jobgen.generate(dep, snapshot(objects), repo)
    assert isinstance(result, jobgen.Refused)
    [problem] = result.problems
    assert (problem.kind, problem.name, problem.key) == ("Secret", "backend-secrets", "db-password")
    assert str(problem).startswith("couldn't find key db-password in Secret coditect-staging/backend-secrets")
    assert "env DB_PASSWORD" in str(problem) and "database-password" in str(problem)
    assert "pitstop --playbook secret-missing" in str(problem)
    assert (repo.root / "k8s/staging/migration-job.yaml").read_text() == before


# --- what is copied and what is not --------------------------------------------------------------


def test_args_are_dropped_and_the_command_is_the_one_given():
    job, _ = jobgen.build_job(deployment(), ["python", "manage.py", "migrate", "--database", "replica"], "api-migrate")
    c = the_container(job)
    assert c["command"] == ["python", "manage.py", "migrate", "--database", "replica"]
    assert "args" not in c and "ports" not in c
    assert c["env"] == [{"name": "DJANGO_SETTINGS_MODULE", "value": "shop.settings"}]


def test_only_the_app_container_and_its_volumes_come_along():
    dep = deployment(
        initContainers=[{"name": "wait-for-db", "image": "busybox"}],
        containers=[
            {"name": "cloud-sql-proxy", "image": "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2"},
            {
                "name": "api",
                "image": "registry.example/shop/api:1.4.2",
                "command": ["gunicorn"],
                "volumeMounts": [{"name": "media", "mountPath": "/media"}, {"name": "cfg", "mountPath": "/cfg"}],
            },
        ],
        volumes=[
            {"name": "media", "persistentVolumeClaim": {"claimName": "media"}},
            {"name": "cfg", "configMap": {"name": "api"}},
            {"name": "proxy-creds", "secret": {"secretName": "proxy-only"}},
        ],
    )
    result = jobgen.generate(dep, snapshot(shop()), None)
    assert isinstance(result, jobgen.GeneratedJob), result
    spec = result.job["spec"]["template"]["spec"]
    assert [c["image"] for c in spec["containers"]] == ["registry.example/shop/api:1.4.2"]
    assert "initContainers" not in spec
    assert [v["name"] for v in spec["volumes"]] == ["media", "cfg"]  # proxy-creds (missing Secret) is not needed
    assert any("container cloud-sql-proxy" in n and "init container wait-for-db" in n for n in result.notes)


def test_the_default_container_annotation_picks_the_app_container():
    dep = deployment(
        containers=[
            {"name": "envoy", "image": "envoyproxy/envoy:v1.30"},
            {"name": "web", "image": "registry.example/shop/web:2"},
        ]
    )
    assert jobgen.app_container(dep)["name"] == "envoy"  # type: ignore[index]
    dep["spec"]["template"]["metadata"]["annotations"] = {jobgen.DEFAULT_CONTAINER: "web"}
    assert jobgen.app_container(dep)["name"] == "web"  # type: ignore[index]
    dep["spec"]["template"]["metadata"]["annotations"] = {}
    dep["metadata"]["name"] = "shop-web"
    assert jobgen.app_container(dep)["name"] == "web"  # type: ignore[index]


def test_scheduling_and_security_settings_are_copied_and_anti_affinity_to_its_own_pods_is_dropped():
    own = {"labelSelector": {"matchLabels": {"app": "api"}}, "topologyKey": "kubernetes.io/hostname"}
    cache = {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "kubernetes.io/hostname"}
    node_affinity = {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "In", "values": ["app"]}]}]
        }
    }
    dep = deployment(
        nodeSelector={"pool": "app"},
        tolerations=[{"key": "dedicated", "operator": "Equal", "value": "app", "effect": "NoSchedule"}],
        imagePullSecrets=[{"name": "regcred"}],
        securityContext={"runAsNonRoot": True, "runAsUser": 1000},
        affinity={
            "nodeAffinity": node_affinity,
            "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [own]},
            "podAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 50, "podAffinityTerm": cache}]
            },
        },
        dnsPolicy="ClusterFirst",
        schedulerName="default-scheduler",
    )
    job, notes = jobgen.build_job(dep, jobgen.DEFAULT_COMMAND, "api-migrate")
    spec = job["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"pool": "app"}
    assert spec["tolerations"][0]["key"] == "dedicated"
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert spec["securityContext"] == {"runAsNonRoot": True, "runAsUser": 1000}
    assert spec["affinity"] == {
        "nodeAffinity": node_affinity,
        "podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 50, "podAffinityTerm": cache}]},
    }
    assert "dnsPolicy" not in spec and "schedulerName" not in spec  # server defaults are not written out
    assert any("Dropped 1 pod (anti-)affinity term" in n for n in notes)


def test_job_names_are_dns_labels_of_at_most_63_characters():
    long = "a" * 60 + ".b"
    name = jobgen.job_name(long)
    assert len(name) <= 63 and name.endswith("-migrate") and "." not in name and "--" not in name
    assert jobgen.job_name("coditect-backend") == "coditect-backend-migrate"
    assert jobgen.is_name("coditect-backend") and not jobgen.is_name("Coditect_Backend") and not jobgen.is_name("")


# --- checks ---------------------------------------------------------------------------------------


def test_missing_objects_and_configmap_keys_are_each_one_sentence_and_optional_ones_pass():
    dep = deployment()
    c = dep["spec"]["template"]["spec"]["containers"][0]
    c["envFrom"] = [{"secretRef": {"name": "api-extra"}}, {"configMapRef": {"name": "flags", "optional": True}}]
    c["env"] += [
        {"name": "LOG", "valueFrom": {"configMapKeyRef": {"name": "api", "key": "log-level"}}},
        {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "api", "key": "nope", "optional": True}}},
        {"name": "DB", "valueFrom": {"secretKeyRef": {"name": "api", "key": "db"}}},
    ]
    result = jobgen.generate(dep, snapshot(shop()), None)
    assert isinstance(result, jobgen.Refused)
    missing_key, missing_secret = result.problems
    assert (missing_key.kind, missing_key.name, missing_key.key) == ("ConfigMap", "api", "log-level")
    assert str(missing_key).startswith(
        "couldn't find key log-level in ConfigMap shop/api, which env LOG reads (its keys: a)"
    )
    assert (missing_secret.kind, missing_secret.name, missing_secret.key) == ("Secret", "api-extra", None)
    assert str(missing_secret).startswith('secret "api-extra" not found in namespace shop, which envFrom reads')
    for p in result.problems:
        assert p.message.count(". ") == 0  # one sentence each


def test_a_missing_service_account_or_claim_is_refused():
    dep = deployment(
        serviceAccountName="migrator",
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "gone"}}],
    )
    dep["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    result = jobgen.generate(dep, snapshot(shop()), None)
    assert isinstance(result, jobgen.Refused)
    assert [(p.kind, p.name) for p in result.problems] == [
        ("PersistentVolumeClaim", "gone"),
        ("ServiceAccount", "migrator"),
    ]


def test_secrets_it_may_not_read_are_a_could_not_check_note_never_an_all_clear():
    objects = [o for o in shop() if o["kind"] != "Secret"]
    dep = deployment()
    dep["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "DB", "valueFrom": {"secretKeyRef": {"name": "api", "key": "db"}}}
    )
    result = jobgen.generate(dep, snapshot(objects, forbidden=["Secret"]), None)
    assert isinstance(result, jobgen.GeneratedJob)
    assert (
        "Could not check 1 reference(s) to Secrets in shop (forbidden); the Job may still fail on them." in result.notes
    )


def test_a_deployment_without_containers_is_refused_in_one_sentence():
    dep = deployment(containers=[])
    result = jobgen.generate(dep, snapshot(shop()), None)
    assert isinstance(result, jobgen.Refused)
    assert str(result.problems[0]) == "Deployment shop/api has no container to copy; check its pod template"


# --- where it goes ----------------------------------------------------------------------------------


def test_without_a_migration_job_a_new_file_goes_next_to_the_deployment_manifest(repo: Repository):
    objects = [o for o in demo_objects() if o["kind"] != "Job"]
    (repo.root / "k8s/staging/migration-job.yaml").unlink()
    result = jobgen.generate(backend(objects), snapshot(objects), Repository(repo.root))
    assert isinstance(result, jobgen.GeneratedJob)
    assert result.name == "coditect-backend-migrate"
    assert result.path == "k8s/staging/coditect-backend-migrate.yaml"
    assert result.plan.before is None and result.diff.startswith(
        "--- /dev/null\n+++ b/k8s/staging/coditect-backend-migrate.yaml\n"
    )
    assert result.plan.after.startswith("# Runs python manage.py migrate --noinput once")
    assert "          command: [python, manage.py, migrate, --noinput]\n" in result.plan.after
    assert yaml.safe_load(result.plan.after) == result.job
    assert result.fix.target.create is True  # type: ignore[union-attr]


def test_without_the_deployment_manifest_the_file_goes_under_k8s_namespace(tmp_path: Path):
    result = jobgen.generate(deployment(), snapshot(shop()), Repository(tmp_path))
    assert isinstance(result, jobgen.GeneratedJob)
    assert result.path == "k8s/shop/api-migrate.yaml"


def test_a_file_in_the_way_that_is_not_the_job_is_refused_not_overwritten(tmp_path: Path):
    (tmp_path / "k8s/shop").mkdir(parents=True)
    (tmp_path / "k8s/shop/api-migrate.yaml").write_text("kind: Job\nmetadata: {name: [unclosed\n")
    result = jobgen.generate(deployment(), snapshot(shop()), Repository(tmp_path))
    assert isinstance(result, jobgen.Refused)
    [p] = result.problems
    assert p.kind == "File" and "k8s/shop/api-migrate.yaml already exists" in str(p)


def test_strings_kubectl_would_read_as_booleans_stay_strings(tmp_path: Path):
    dep = deployment()
    dep["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "DEBUG", "value": "off"})
    result = jobgen.generate(dep, snapshot(shop()), Repository(tmp_path))
    assert isinstance(result, jobgen.GeneratedJob)
    assert "value: 'off'" in result.plan.after
    assert yaml.safe_load(result.plan.after) == result.job  # PyYAML is a YAML 1.1 reader, like kubectl


def test_an_existing_migration_job_keeps_its_own_job_settings_comments_and_pod_annotations(tmp_path: Path):
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy/api-migration.yaml").write_text(
        "# run before every rollout\n"
        "apiVersion: batch/v1\n"
        "kind: Job\n"
        "metadata:\n"
        "  name: api-migration\n"
        "spec:\n"
        "  backoffLimit: 5  # flaky database at night\n"
        "  activeDeadlineSeconds: 600\n"
        "  template:\n"
        "    metadata:\n"
        "      annotations:\n"
        '        sidecar.istio.io/inject: "false"\n'
        "    spec:\n"
        "      restartPolicy: Never\n"
        "      containers:\n"
        "        - name: migrate\n"
        "          image: registry.example/shop/api:1.4.1\n"
        "          command: [python, manage.py, migrate]\n"
        "          args: [--fake-initial]\n"
    )
    (tmp_path / "deploy/kustomization.yaml").write_text("namespace: shop\nresources: [api-migration.yaml]\n")
    result = jobgen.generate(deployment(), snapshot(shop()), Repository(tmp_path))
    assert isinstance(result, jobgen.GeneratedJob), result
    assert result.path == "deploy/api-migration.yaml"
    after = result.plan.after
    assert after.startswith("# run before every rollout\n")
    assert "  backoffLimit: 5  # flaky database at night\n" in after and "  activeDeadlineSeconds: 600\n" in after
    assert "-          args: [--fake-initial]" in changed_lines(result.diff)
    assert 'sidecar.istio.io/inject: "false"' in after
    assert "namespace:" not in after  # the kustomization sets it
    job = yaml.safe_load(after)
    c = the_container(job)
    assert c["image"] == "registry.example/shop/api:1.4.2" and "args" not in c
    assert c["command"] == list(jobgen.DEFAULT_COMMAND)
    assert c["env"] == [{"name": "DJANGO_SETTINGS_MODULE", "value": "shop.settings"}]
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "api"
