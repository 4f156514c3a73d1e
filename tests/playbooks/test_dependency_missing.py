"""dependency-missing: settings pointing at in-cluster services that are not deployed or not ready (I9)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, cast

import pytest

from diagnostics.findings import Finding, ObjectRef, finding_id
from diagnostics.logs import Logs
from diagnostics.snapshot import Snapshot
from playbooks import links
from playbooks.base import Context
from playbooks.crash_loop import PLAYBOOK as CRASH_LOOP
from playbooks.dependency_missing import PLAYBOOK, endpoints_in, service_of
from playbooks.runner import run_one
from tests.conftest import wait_for
from tests.playbooks.demo import NS as DEMO_NS
from tests.playbooks.demo import Demo
from tests.playbooks.logfakes import (
    NS,
    REDIS_LINE,
    FakeLogs,
    container,
    crash_status,
    deployment,
    logs,
    meta,
    pod,
    replicaset,
    run,
)
from tests.sandbox.kube import Kubectl

# --- reading values and hosts --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("redis://redis:6379/0", [("redis", "redis", 6379)]),
        ("redis://:s3cret@redis:6379/0", [("redis", "redis", 6379)]),
        ("postgres://app@db.shop.svc.cluster.local/app", [("postgres", "db.shop.svc.cluster.local", 5432)]),
        ("mongodb://mongo-0.mongo:27017,mongo-1.mongo:27017/app", [("mongodb", "mongo-0.mongo", 27017), ("mongodb", "mongo-1.mongo", 27017)]),
        ("kafka-0:9092,kafka-1:9092", [("", "kafka-0", 9092), ("", "kafka-1", 9092)]),
        ("billing:8080", [("", "billing", 8080)]),
        ("[::1]:6379", [("", "::1", 6379)]),
        ("http://$(API_HOST):8080", []),
        ("sqlite:///db.sqlite3", []),
        ("api.staging.coditect.example,coditect-backend", []),  # ALLOWED_HOSTS: names, not connections
        ("INFO", []),
        ("redis:99999", []),  # not a port
        ("", []),
        ("http://[broken", []),
    ],
)  # fmt: skip
def test_urls_and_host_ports_are_read_from_a_value(value: str, found: list[tuple[str, str, int | None]]):
    assert list(endpoints_in(value)) == found


@pytest.mark.parametrize(
    ("host", "service"),
    [
        ("redis", ("redis", NS)),
        ("Redis.", ("redis", NS)),
        ("redis.cache", ("redis", "cache")),
        ("redis.cache.svc", ("redis", "cache")),
        ("redis.cache.svc.cluster.local", ("redis", "cache")),
        ("redis.cache.svc.corp.internal", ("redis", "cache")),  # any cluster domain
        ("redis-0.redis.cache.svc.cluster.local", ("redis", "cache")),  # a StatefulSet pod's name
        ("db.example.com", None),
        ("example.com", None),  # no namespace com
        ("10.42.0.3", None),
        ("::1", None),
        ("localhost", None),
        ("10", None),  # "10:30" is a time, not a host
        ("my_service", None),
    ],
)
def test_only_in_cluster_service_names_count(host: str, service: tuple[str, str] | None):
    assert service_of(host, NS, frozenset({NS, "cache"})) == service


# --- snapshot cases --------------------------------------------------------------------------------

URL = {"name": "REDIS_URL", "value": "redis://redis:6379/0"}


def crashing(name: str = "api", env: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    dep = deployment(name, [container("api", env=[URL] if env is None else env)])
    rs = replicaset(dep)
    return [dep, rs, pod(f"{name}-7d9f-0", rs, [crash_status()]), pod(f"{name}-7d9f-1", rs, [crash_status()])]


def redis_logs(name: str = "api") -> FakeLogs:
    return FakeLogs({(f"{name}-7d9f-0", True): logs("Booting worker", REDIS_LINE)})


def service(name: str = "redis", selector: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"ports": [{"port": 6379}], **spec}
    if selector is not None:
        body["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(name, f"uid-svc-{name}"), "spec": body}


def endpoints(name: str = "redis", ready: bool = True) -> dict[str, Any]:
    field = "addresses" if ready else "notReadyAddresses"
    subset = {
        field: [{"ip": "10.64.0.9", "targetRef": {"kind": "Pod", "name": f"{name}-0"}}],
        "ports": [{"port": 6379}],
    }
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta(name, f"uid-ep-{name}"), "subsets": [subset]}


def redis_pod(ready: bool) -> dict[str, Any]:
    p = pod("redis-0", None, [{"name": "redis", "ready": ready, "restartCount": 0, "state": {"running": {}}}])
    p["metadata"]["labels"] = {"app": "redis"}
    p["status"]["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
    return p


def texts(f: Finding) -> str:
    return "\n".join([f.title, f.explanation, *(f"{e.text} {e.source}" for e in f.evidence)])


def test_a_url_to_a_service_that_does_not_exist_is_found_with_its_setting_the_workload_and_the_log():
    [f] = run(PLAYBOOK, crashing(), redis_logs())
    assert (f.playbook, f.severity, f.fixes) == ("dependency-missing", "error", ())
    assert f.object == ObjectRef("Service", "redis", NS)
    assert f.cause == f"dependency-missing:{NS}/redis"
    assert f.title == f"Dependency not deployed: no Service redis in {NS}"
    assert f.explanation.startswith(f"Env REDIS_URL of container api of Deployment {NS}/api points at redis:6379")
    assert f"It blocks Deployment {NS}/api (2 of 2 pods in CrashLoopBackOff)." in f.explanation
    assert f"Deploy a Service named redis in {NS} on port 6379 with ready endpoints" in f.explanation
    assert f"kubectl -n {NS} expose deployment redis --port=6379" in f.explanation
    assert any(e.kind == "log" and e.text == REDIS_LINE and "(previous instance)" in e.source for e in f.evidence)
    assert any(e.text == "env REDIS_URL of container api points at redis:6379" for e in f.evidence)


def test_one_finding_per_missing_service_names_every_workload_it_blocks():
    objects = crashing("api") + crashing("web", [{"name": "CACHE", "value": "redis:6379"}])
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": meta("report", "uid-report"),
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [container("report", env=[URL])]}}}}},
    }
    bare = pod("debug", None, [{"name": "sh", "ready": False, "state": {"waiting": {"reason": "ContainerCreating"}}}])
    bare["spec"]["containers"][0]["env"] = [
        {"name": "REDIS_HOST", "value": "redis"},
        {"name": "REDIS_PORT", "value": "6379"},
    ]
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta("queue", "uid-queue"),
        "spec": {"replicas": 1, "template": {"spec": {"containers": [container("q", env=[URL])]}}},
    }
    [f] = run(PLAYBOOK, [*objects, cron, bare, sts], redis_logs())
    blocked = {e.source for e in f.evidence if e.text.startswith(("blocked:", "not running yet"))}
    assert blocked == {f"Deployment {NS}/api", f"Deployment {NS}/web", f"Pod {NS}/debug", f"StatefulSet {NS}/queue"}
    assert f"not running yet, also points at it: CronJob {NS}/report (it has not run yet)" not in texts(f)
    assert f"runs without it for now: CronJob {NS}/report (it has not run yet)" in texts(f)
    assert "env CACHE of container api points at redis:6379" in texts(f)
    assert "env REDIS_HOST of container sh points at redis:6379" in texts(f)


def test_configmap_values_loaded_by_envfrom_or_key_ref_count_and_env_wins_over_envfrom():
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta("settings", "uid-cm"),
        "data": {"CACHE_URL": "redis://cache:6379/1", "BROKER": "amqp://rabbit/", "SEARCH": "search:9200"},
    }
    env = [
        {"name": "SEARCH", "value": "https://search.example.com"},  # replaces the ConfigMap's SEARCH
        {"name": "QUEUE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "BROKER"}}},
    ]
    objects = crashing(env=env)
    objects[0]["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [{"configMapRef": {"name": "settings"}}]
    found = {f.object.name: f for f in run(PLAYBOOK, [*objects, cm], FakeLogs())}
    assert sorted(found) == ["cache", "rabbit"]
    assert "ConfigMap settings key CACHE_URL (envFrom of container api) points at cache:6379" in texts(found["cache"])
    assert "env QUEUE of container api (ConfigMap settings key BROKER) points at rabbit:5672" in texts(found["rabbit"])
    assert "rabbitmq:3" in found["rabbit"].explanation


def test_a_service_whose_selector_matches_no_pod_has_no_ready_endpoints():
    [f] = run(PLAYBOOK, [*crashing(), service(selector={"app": "redis"})], redis_logs())
    assert f.title == f"Dependency not ready: Service redis in {NS} has no ready endpoints"
    assert "its selector app=redis matches no pod" in f.explanation
    assert "Make Service redis in" in f.explanation and not f.fixes


def test_a_service_whose_pods_are_not_ready_has_no_ready_endpoints():
    objs = [*crashing(), service(selector={"app": "redis"}), endpoints(ready=False), redis_pod(ready=False)]
    [f] = run(PLAYBOOK, objs, redis_logs())
    assert "none of the 1 pod(s) its selector app=redis matches is ready" in f.explanation


def test_a_service_with_ready_endpoints_does_not_fire():
    objs = [*crashing(), service(selector={"app": "redis"}), endpoints(ready=True), redis_pod(ready=True)]
    assert run(PLAYBOOK, objs, redis_logs()) == []


def test_a_workload_pointing_at_its_own_service_is_not_blocked_by_it():
    objects = crashing(env=[URL, {"name": "SITE_URL", "value": "http://api:8000"}])
    objects[0]["spec"]["template"]["metadata"] = {"labels": {"app": "api"}}
    own = service("api", selector={"app": "api"})  # no ready endpoints: its pods crash on redis
    [f] = run(PLAYBOOK, [*objects, own], redis_logs())
    assert f.object.name == "redis"


def test_an_externalname_service_counts_as_there():
    assert run(PLAYBOOK, [*crashing(), service(type="ExternalName", externalName="redis.example.com")]) == []


def test_image_references_in_env_are_not_hosts():
    env = [{"name": "SIDECAR_IMAGE", "value": "redis:7"}, {"name": "worker_image", "value": "postgres:16"}]
    assert run(PLAYBOOK, crashing(env=env), redis_logs()) == []


@pytest.mark.parametrize(
    "value",
    [
        "postgres://app@db.example.com:5432/app",
        "https://api.stripe.com/v1",
        "10.42.0.3:5432",
        "redis://localhost:6379/0",
        "redis://redis.example:6379",  # two labels, no namespace example: outside the cluster
    ],
)
def test_external_hosts_do_not_fire(value: str):
    assert run(PLAYBOOK, crashing(env=[{"name": "URL", "value": value}]), redis_logs()) == []


def test_when_every_workload_runs_without_it_it_is_a_warning():
    dep = deployment("api", [container("api", env=[URL])])
    rs = replicaset(dep)
    ok = pod("api-7d9f-0", rs, [{"name": "api", "ready": True, "restartCount": 0, "state": {"running": {}}}])
    ok["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    [f] = run(PLAYBOOK, [dep, rs, ok], FakeLogs())
    assert f.severity == "warning"
    assert f"Nothing fails yet: Deployment {NS}/api (1 pod ready) runs without it." in f.explanation


def test_url_credentials_and_secret_backed_values_never_show():
    env = [
        {"name": "REDIS_URL", "value": "redis://:PITSTOP-SEEDED-SECRET-x@redis:6379/0"},
        {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}},
    ]
    [f] = run(PLAYBOOK, crashing(env=env), redis_logs())
    assert "PITSTOP-SEEDED-SECRET" not in texts(f) and "DATABASE_URL" not in texts(f)


# --- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reader",
    [
        None,  # no cluster to ask: statuses only
        FakeLogs(),  # the pods are gone
        FakeLogs({("api-7d9f-0", True): Logs(())}),  # empty log
        FakeLogs({("api-7d9f-0", True): Logs((), "forbidden")}),
        FakeLogs({("api-7d9f-0", True): logs("Traceback (most recent call last):", "KeyError: 'x'")}),
    ],
)
def test_without_a_readable_log_the_finding_stands_on_the_settings_and_statuses(reader: FakeLogs | None):
    [f] = run(PLAYBOOK, crashing(), reader)
    assert f.severity == "error" and not any(e.kind == "log" for e in f.evidence)
    assert f"It blocks Deployment {NS}/api" in f.explanation and "log:" not in f.explanation


def test_odd_objects_do_not_break_it():
    objects: list[dict[str, Any]] = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("empty", "uid-empty")},
        {"apiVersion": "v1", "kind": "Pod", "metadata": meta("loner", "uid-loner"), "spec": {}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("blank", "uid-blank"), "data": None},
        {"apiVersion": "v1", "kind": "Service", "metadata": meta("weird", "uid-weird"), "spec": None},
    ]
    env = [
        {"name": "A", "value": None},
        {"name": "B"},
        {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}},
        {"name": "D", "value": "http://:8080/"},
        {"name": "E", "value": "redis://redis:notaport/0"},
    ]
    odd = crashing(env=env)
    odd[0]["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [{"configMapRef": {"name": "blank"}}, {}]
    odd[0]["spec"]["template"]["spec"]["volumes"] = [{"name": "v", "configMap": {"name": "absent"}}, {"name": "w"}]
    [f] = run(PLAYBOOK, [*objects, *odd], FakeLogs())
    assert f.object.name == "redis" and "env E of container api points at redis" in texts(f)


# --- scope and links -------------------------------------------------------------------------------


def test_a_focused_rerun_sees_the_service_or_a_workload_it_blocks():
    snap = Snapshot.from_objects("test", crashing())
    for focus, count in (
        (ObjectRef("Service", "redis", NS), 1),
        (ObjectRef("Deployment", "api", NS), 1),
        (ObjectRef("Deployment", "other", NS), 0),
    ):
        assert len(asyncio.run(PLAYBOOK.run(Context(snap, focus=focus)))) == count


def test_the_crash_loop_on_the_blocked_deployment_is_explained_by_this_finding():
    objects, reader = crashing(), redis_logs()
    snap = Snapshot.from_objects("test", objects)
    ctx = Context(snap, logs=cast(Any, reader))
    found = [f for pb in (CRASH_LOOP, PLAYBOOK) for f in asyncio.run(run_one(pb, ctx)).findings]
    [crash] = [f for f in links.link(found) if f.playbook == "crash-loop"]
    [dep] = [f for f in found if f.playbook == "dependency-missing"]
    assert dep.id in crash.related and "Explained by: dependency-missing finding" in crash.explanation


def test_forbidden_endpoints_is_could_not_check_not_all_clear():
    snap = Snapshot.from_objects("test", crashing(), forbidden={"Endpoints"})
    outcome = asyncio.run(run_one(PLAYBOOK, Context(snap)))
    assert outcome.status == "error" and "forbidden to list Endpoints" in (outcome.error or "")


# --- the demo: I9 ----------------------------------------------------------------------------------

REDIS_SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: redis}
spec:
  selector: {app: redis}
  ports: [{port: 6379, targetPort: 6379}]
"""
REDIS_DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: redis}
spec:
  selector: {matchLabels: {app: redis}}
  template:
    metadata: {labels: {app: redis}}
    spec:
      containers: [{name: redis, image: "redis:7.4", ports: [{containerPort: 6379}]}]
"""


def _logged(demo: Demo) -> list[dict[str, Any]]:
    found = demo.findings("dependency-missing")
    return [f for f in found if any(e["kind"] == "log" for e in f["evidence"])]


def test_redis_not_deployed_blocks_the_backend_until_a_ready_redis_service_exists(demo: Demo, tmp_path: Path):
    [f] = wait_for(lambda: _logged(demo), what="the backend crash-looping on redis, with its log")
    assert f["object"] == {"kind": "Service", "namespace": DEMO_NS, "name": "redis"}
    assert (f["severity"], f["fixes"]) == ("error", [])  # nothing to apply: what to deploy is the operator's call
    redis = ObjectRef("Service", "redis", DEMO_NS)
    assert f["id"] == finding_id("dependency-missing", redis, f"dependency-missing:{DEMO_NS}/redis")
    assert f["title"] == f"Dependency not deployed: no Service redis in {DEMO_NS}"
    assert f"Env REDIS_URL of container backend of Deployment {DEMO_NS}/coditect-backend" in f["explanation"]
    assert f"It blocks Deployment {DEMO_NS}/coditect-backend" in f["explanation"]
    assert f"Deploy a Service named redis in {DEMO_NS} on port 6379 with ready endpoints" in f["explanation"]
    ev = [(e["kind"], e["text"], e["source"]) for e in f["evidence"]]
    assert any(
        k == "log" and t == REDIS_LINE and s.startswith(f"log of container backend of Pod {DEMO_NS}/coditect-backend-")
        for k, t, s in ev
    )
    assert (
        "object",
        "env REDIS_URL of container backend points at redis:6379",
        f"Deployment {DEMO_NS}/coditect-backend",
    ) in ev
    assert any(t.startswith(f"blocked: Deployment {DEMO_NS}/coditect-backend (") for _, t, _ in ev)
    # the nightly report runs without Redis: named as pointing at it, never as blocked
    assert any(t.startswith(f"runs without it for now: CronJob {DEMO_NS}/coditect-nightly-report") for _, t, _ in ev)
    assert not any(t.startswith("blocked:") and "nightly" in t for _, t, _ in ev)
    code, out, _ = demo.pitstop("--playbook", "dependency-missing", "-o", "json")
    assert code == 1 and "PITSTOP-SEEDED-SECRET" not in out
    assert json.loads(out)["playbooks"][0]["status"] == "findings"

    # a Service alone is not enough: it has no ready endpoints until something it selects runs
    kubectl = Kubectl(demo.rs, tmp_path / "kcache")
    kubectl("-n", DEMO_NS, "apply", "-f", "-", input=REDIS_SERVICE)
    [f] = wait_for(
        lambda: [g for g in demo.findings("dependency-missing") if "not ready" in g["title"]],
        what="the redis Service without endpoints",
    )
    assert "its selector app=redis matches no pod" in f["explanation"]

    kubectl("-n", DEMO_NS, "apply", "-f", "-", input=REDIS_DEPLOYMENT)
    wait_for(lambda: not demo.findings("dependency-missing"), what="the finding gone once redis is ready")
    wait_for(lambda: demo.ready("coditect-backend"), timeout=60, what="the backend up once redis answers")
    code, out, _ = demo.pitstop("--playbook", "dependency-missing", "-o", "json")
    assert code == 0 and json.loads(out)["playbooks"][0]["status"] == "ok"


def test_healthy_demo_workloads_get_no_dependency_finding(demo: Demo):
    found = wait_for(lambda: demo.findings("dependency-missing"), what="the redis finding")
    healthy = {"coditect-docs", "coredns", "coditect-nightly-report"}
    assert not [f for f in found if f["object"]["name"] in healthy]
    assert [f["object"]["name"] for f in found] == ["redis"]  # DB_HOST is an IP, the CSRF origin external
