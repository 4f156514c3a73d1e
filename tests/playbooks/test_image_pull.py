"""image-pull beyond the demo's wrong registry: tag typos, private registries, bad references, CronJobs."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from diagnostics.findings import LivePlan, LiveTarget
from sandbox.registry import credentials
from tests.conftest import wait_for
from tests.playbooks.demo import Demo
from tests.playbooks.drill import changed_lines, diagnose, in_namespace, start_drill, wait_for_reason

PULL_FAILING = ("ErrImagePull", "ImagePullBackOff")
AUTH_HOST = "registry.acme.io"
API_MANIFEST = """\
# the API, as deployed to the typo namespace
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: typo
spec:
  replicas: 2
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: "europe-docker.pkg.dev/acme/shop/api:v1.0.7-staging"  # bumped by CI
"""


@pytest.fixture
def registry(sandbox_factory, tmp_path, monkeypatch, capsys) -> Demo:  # type: ignore[no-untyped-def]
    d = start_drill("private-registry", sandbox_factory, tmp_path, monkeypatch, capsys)
    for ns in ("typo", "auth", "nocreds", "cron", "hub", "expired"):
        wait_for_reason(d.rs, ns, *PULL_FAILING)
    wait_for_reason(d.rs, "invalid", "InvalidImageName")
    wait_for_reason(d.rs, "local", "ErrImageNeverPull")
    return d


def findings(d: Demo, ns: str) -> list[dict[str, Any]]:
    return in_namespace(d.findings("image-pull"), ns)


def apply(d: Demo, ns: str, verify_timeout: float = 20) -> list[tuple[str, str]]:
    code, out, err = d.pitstop(
        "-n", ns, "--playbook", "image-pull", "--apply", "--yes", "--verify-timeout", str(verify_timeout), "-o", "json"
    )
    assert code in (0, 1), err
    return [(a["result"], a["verification"]) for a in json.loads(out)["applied"]]


def create_pull_secret(d: Demo, ns: str, name: str, host: str) -> str:
    """A kubernetes.io/dockerconfigjson Secret holding the sandbox registry's credentials for `host`."""
    user, password = credentials(host)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    config = {"auths": {host: {"username": user, "password": password, "auth": auth}}}
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()},
    }
    store = d.rs.sb.store
    d.rs.read(lambda: store.create(store.rt("v1", "Secret"), secret))
    return password


def test_a_tag_typo_gets_the_nearest_existing_tags_live_and_in_the_manifest(registry: Demo):
    (registry.repo / "k8s").mkdir()
    (registry.repo / "k8s" / "api.yaml").write_text(API_MANIFEST)
    [f] = findings(registry, "typo")
    assert f["title"] == "Tag v1.0.7-staging of europe-docker.pkg.dev/acme/shop/api does not exist"
    assert "the nearest are v1.0.6-staging, v1.0.5-staging" in f["explanation"]
    assert any(e["kind"] == "condition" and "Back-off pulling image" in e["text"] for e in f["evidence"]) or any(
        e["kind"] == "condition" and "ErrImagePull" in e["text"] for e in f["evidence"]
    )
    live, file = f["fixes"]
    assert live["title"] == "Use tag v1.0.6-staging" and live["risk"] == "low"
    assert live["target"] == {"type": "live", "kind": "Deployment", "namespace": "typo", "name": "api"}
    assert changed_lines(live["diff"]) == [
        "- - image: europe-docker.pkg.dev/acme/shop/api:v1.0.7-staging",
        "+ - image: europe-docker.pkg.dev/acme/shop/api:v1.0.6-staging",
    ]
    assert file["target"] == {"type": "file", "path": "k8s/api.yaml"}
    assert changed_lines(file["diff"]) == [
        '- image: "europe-docker.pkg.dev/acme/shop/api:v1.0.7-staging" # bumped by CI',
        '+ image: "europe-docker.pkg.dev/acme/shop/api:v1.0.6-staging" # bumped by CI',
    ]
    assert apply(registry, "typo") == [("applied", "verified")]
    wait_for(lambda: registry.ready("api", "typo"), what="the api pods pulling v1.0.6-staging")


def test_a_private_registry_gets_the_existing_pull_secret_and_then_pulls(registry: Demo):
    password = create_pull_secret(registry, "auth", "acme-pull", AUTH_HOST)
    [f] = findings(registry, "auth")
    assert f["title"] == f"{AUTH_HOST} needs credentials"
    assert "Secret acme-pull in auth has credentials for it" in f["explanation"]
    assert any("no basic auth credentials" in e["text"] for e in f["evidence"])
    [live] = f["fixes"]
    assert live["title"] == "Pull with Secret acme-pull"
    assert [line for line in changed_lines(live["diff"]) if line.startswith("+")] == [
        "+ imagePullSecrets:",
        "+ - name: acme-pull",
    ]
    assert password not in json.dumps(f)
    assert apply(registry, "auth") == [("applied", "verified")]
    wait_for(lambda: registry.ready("gateway", "auth"), what="the gateway pods pulling with the Secret")


def test_a_private_registry_without_any_pull_secret_for_it_says_to_create_one(registry: Demo):
    [f] = findings(registry, "nocreds")
    assert f["title"] == f"{AUTH_HOST} needs credentials"
    assert f"No kubernetes.io/dockerconfigjson Secret in nocreds has credentials for {AUTH_HOST}" in f["explanation"]
    assert "kubectl create secret docker-registry" in f["explanation"]
    assert f["fixes"] == [], "the Secret for ghcr.io is no use for registry.acme.io"
    assert "PITSTOP-SEEDED-SECRET" not in json.dumps(f)


def test_a_docker_hub_pull_secret_is_found_under_its_index_docker_io_name(registry: Demo):
    create_pull_secret(registry, "hub", "hub-pull", "https://index.docker.io/v1/")  # what kubectl writes by default
    [f] = findings(registry, "hub")
    assert f["title"] == "docker.io needs credentials"
    [live] = f["fixes"]
    assert live["title"] == "Pull with Secret hub-pull"
    assert apply(registry, "hub") == [("applied", "verified")]
    wait_for(lambda: registry.ready("billing", "hub"), what="billing pulling from Docker Hub with the Secret")


def test_a_listed_pull_secret_the_registry_refuses_is_not_offered_again(registry: Demo):
    [f] = findings(registry, "expired")
    assert f["title"] == f"{AUTH_HOST} refuses the pull Secret's credentials"
    assert "already name acme-pull" in f["explanation"] and "wrong or expired" in f["explanation"]
    assert f["fixes"] == []
    assert "PITSTOP-SEEDED-SECRET" not in json.dumps(f)


def test_an_image_the_kubelet_may_not_pull_gets_a_pull_policy_fix(registry: Demo):
    [f] = findings(registry, "local")
    assert f["title"] == "europe-docker.pkg.dev/acme/shop/api:v1.0.6-staging is not on the node and may not be pulled"
    assert any("is not present with pull policy of Never" in e["text"] for e in f["evidence"])
    [live] = f["fixes"]
    assert changed_lines(live["diff"]) == ["- imagePullPolicy: Never", "+ imagePullPolicy: IfNotPresent"]
    assert apply(registry, "local") == [("applied", "verified")]
    wait_for(lambda: registry.ready("api", "local"), what="the api pulled and running")


def test_an_image_reference_containerd_cannot_parse_is_a_finding(registry: Demo):
    [f] = findings(registry, "invalid")
    assert f["title"] == "Invalid image reference 'europe-docker.pkg.dev/acme/Shop/Checkout:1.0'"
    assert "must be lowercase" in f["explanation"]
    assert any("InvalidImageName" in e["text"] for e in f["evidence"])
    assert f["fixes"] == []


def test_a_cronjobs_failing_pull_is_reported_and_fixed_on_the_cronjob_template(registry: Demo):
    [f] = findings(registry, "cron")
    assert f["object"] == {"kind": "CronJob", "namespace": "cron", "name": "nightly-report"}
    assert f["title"] == "Tag 2024.05.2 of europe-docker.pkg.dev/acme/shop/reports does not exist"
    [finding] = diagnose(registry.rs, registry.repo, "image-pull", "cron")
    [fix] = finding.fixes
    assert isinstance(fix.target, LiveTarget) and isinstance(fix.plan, LivePlan)
    assert (fix.target.kind, fix.plan.mode) == ("CronJob", "replace")
    after = fix.plan.after["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert after["containers"][0]["image"] == "europe-docker.pkg.dev/acme/shop/reports:2024.05.1"
    assert "template" not in fix.plan.after["spec"], "a CronJob has no spec.template"
    assert changed_lines(fix.diff) == [
        "- image: europe-docker.pkg.dev/acme/shop/reports:2024.05.2",
        "+ image: europe-docker.pkg.dev/acme/shop/reports:2024.05.1",
    ]
    # the Job already running keeps the old template: the fix says so and how to get past it
    assert "kubectl create job --from=cronjob/nightly-report" in fix.notes

    [(result, _verification)] = apply(registry, "cron", verify_timeout=1)  # not resolved while the old Job runs
    assert result == "applied"
    cron = registry.rs.get("batch/v1", "CronJob", "cron", "nightly-report")
    assert cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":2024.05.1")
    store = registry.rs.sb.store
    for job in registry.rs.list("batch/v1", "Job", "cron"):
        registry.rs.read(lambda j=job: store.delete(store.rt("batch/v1", "Job"), "cron", j["metadata"]["name"]))
    wait_for(lambda: not findings(registry, "cron"), what="the finding gone with the old Job")


def test_images_that_pull_are_not_findings(registry: Demo):
    wait_for(lambda: registry.ready("api", "healthy"), what="the healthy api running")
    report = registry.report("--playbook", "image-pull")
    assert not in_namespace(report["findings"], "healthy")
    namespaces = {f["object"]["namespace"] for f in report["findings"]}
    assert namespaces == {"typo", "auth", "nocreds", "invalid", "cron", "hub", "expired", "local"}
