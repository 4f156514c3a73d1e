"""The async client against the sandbox over real HTTPS with a bearer token: reads, writes, preconditions, failures."""

from __future__ import annotations

import dataclasses
import socket

import pytest

from diagnostics.kube import KubeClient, KubeError, Unreachable, resource, ssl_context
from diagnostics.kubeconfig import ClusterConfig, ConfigError, load
from sandbox.tls import make_serving_cert
from tests.conftest import wait_for

NS = "coditect-staging"


def configmap(name: str, namespace: str = "default", **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": data}


@pytest.fixture
def demo(sandbox_factory):
    return sandbox_factory("demo", clock_speed=100)


async def test_reads_the_demo_cluster(demo):
    async with KubeClient(load(str(demo.kubeconfig))) as kube:
        assert (await kube.version())["gitVersion"] == "v1.32.4"
        deploy = await kube.get("apps/v1", "Deployment", NS, "coditect-backend")
        assert deploy["kind"] == "Deployment" and deploy["spec"]["replicas"] == 2
        pods, rv = await kube.list("v1", "Pod", NS, label_selector="app.kubernetes.io/name=coditect-backend")
        assert len(pods) == 2 and int(rv) > 0
        assert all(p["kind"] == "Pod" and p["apiVersion"] == "v1" for p in pods)
        nodes, _ = await kube.list("v1", "Node", namespace=NS)  # cluster-scoped: the namespace does not apply
        assert len(nodes) == 3
        with pytest.raises(KubeError) as e:
            await kube.get("apps/v1", "Deployment", NS, "redis")
        assert e.value.not_found and str(e.value) == 'deployments.apps "redis" not found'


async def test_list_pages_through_continue_tokens(demo):
    async with KubeClient(load(str(demo.kubeconfig))) as kube:
        whole, _ = await kube.list("v1", "ConfigMap", None)
        paged, _ = await kube.list("v1", "ConfigMap", None, limit=2)
    assert len(whole) > 4
    assert [e["metadata"]["uid"] for e in paged] == [e["metadata"]["uid"] for e in whole]


async def test_field_selector_reads_a_pods_events(demo):
    async with KubeClient(load(str(demo.kubeconfig))) as kube:
        pods, _ = await kube.list("v1", "Pod", NS, label_selector="app.kubernetes.io/name=coditect-worker")
        name = pods[0]["metadata"]["name"]
        events, _ = await kube.list("v1", "Event", NS, field_selector=f"involvedObject.name={name}")
    assert events and {e["involvedObject"]["name"] for e in events} == {name}


async def test_create_replace_patch_delete_with_dry_run_and_preconditions(empty_sandbox):
    async with KubeClient(load(str(empty_sandbox.kubeconfig))) as kube:
        dry = await kube.create(configmap("settings", mode="a"), dry_run=True)
        assert dry["metadata"]["name"] == "settings"
        with pytest.raises(KubeError) as e:
            await kube.get("v1", "ConfigMap", "default", "settings")
        assert e.value.not_found  # the dry run left nothing behind

        created = await kube.create(configmap("settings", mode="a"))
        assert any(m["manager"] == "pitstop" for m in created["metadata"]["managedFields"])
        with pytest.raises(KubeError) as e:
            await kube.create(configmap("settings", mode="a"))
        assert e.value.already_exists and not e.value.conflict

        changed = dict(created, data={"mode": "b"})
        replaced = await kube.replace(changed)
        assert replaced["data"] == {"mode": "b"}

        with pytest.raises(KubeError) as e:
            await kube.replace(dict(created, data={"mode": "stale"}))  # still carries the old resourceVersion
        assert e.value.conflict and e.value.status == 409
        assert str(e.value) == (
            'Operation cannot be fulfilled on configmaps "settings": '
            "the object has been modified; please apply your changes to the latest version and try again"
        )
        with pytest.raises(ValueError, match=r"needs metadata\.resourceVersion"):
            await kube.replace(configmap("settings", mode="unconditional"))

        dry_patch = await kube.patch("v1", "ConfigMap", "default", "settings", {"data": {"mode": "c"}}, dry_run=True)
        assert dry_patch["data"]["mode"] == "c"
        assert (await kube.get("v1", "ConfigMap", "default", "settings"))["data"] == {"mode": "b"}
        merged = await kube.patch("v1", "ConfigMap", "default", "settings", {"data": {"extra": "1"}}, "merge")
        assert merged["data"] == {"mode": "b", "extra": "1"}
        jsoned = await kube.patch(
            "v1", "ConfigMap", "default", "settings", [{"op": "remove", "path": "/data/extra"}], "json"
        )
        assert jsoned["data"] == {"mode": "b"}

        uid = jsoned["metadata"]["uid"]
        with pytest.raises(KubeError) as e:
            await kube.delete("v1", "ConfigMap", "default", "settings", uid="00000000-wrong")
        assert e.value.conflict and "Precondition failed: UID in precondition" in str(e.value)
        with pytest.raises(KubeError) as e:
            await kube.delete(
                "v1", "ConfigMap", "default", "settings", resource_version=created["metadata"]["resourceVersion"]
            )
        assert e.value.conflict
        await kube.delete("v1", "ConfigMap", "default", "settings", uid=uid, dry_run=True)
        assert await kube.get("v1", "ConfigMap", "default", "settings")
        await kube.delete(
            "v1", "ConfigMap", "default", "settings", uid=uid, resource_version=jsoned["metadata"]["resourceVersion"]
        )
        with pytest.raises(KubeError) as e:
            await kube.get("v1", "ConfigMap", "default", "settings")
        assert e.value.not_found


async def test_strategic_patch_merges_containers_by_name(demo):
    async with KubeClient(load(str(demo.kubeconfig))) as kube:
        body = {"spec": {"template": {"spec": {"containers": [{"name": "worker", "image": "busybox:1.36"}]}}}}
        out = await kube.patch("apps/v1", "Deployment", NS, "coditect-worker", body, dry_run=True)
    containers = out["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1 and containers[0]["image"] == "busybox:1.36" and containers[0]["command"]


async def test_watch_from_a_list_sees_what_happens_next(empty_sandbox):
    async with KubeClient(load(str(empty_sandbox.kubeconfig))) as kube:
        _, rv = await kube.list("v1", "ConfigMap", "default")
        await kube.create(configmap("after-the-list"))
        async for kind, obj in kube.watch("v1", "ConfigMap", "default", rv, timeout_seconds=10):
            assert (kind, obj["metadata"]["name"], obj["kind"]) == ("ADDED", "after-the-list", "ConfigMap")
            break


async def test_watch_from_a_compacted_version_is_expired(sandbox_factory):
    rs = sandbox_factory("empty", watch_window=5)
    async with KubeClient(load(str(rs.kubeconfig))) as kube:
        _, rv = await kube.list("v1", "ConfigMap", "default")
        for i in range(12):
            await kube.create(configmap(f"churn-{i}"))
        with pytest.raises(KubeError) as e:
            async for _ in kube.watch("v1", "ConfigMap", "default", rv, timeout_seconds=10):
                pass
    assert e.value.expired and e.value.status == 410
    assert str(e.value).startswith(f"too old resource version: {rv}")


async def test_logs_of_the_crashing_backend(demo):
    pods = wait_for(
        lambda: [
            p
            for p in demo.list("v1", "Pod", NS)
            if p["metadata"]["name"].startswith("coditect-backend-")
            and not p["metadata"]["name"].startswith("coditect-backend-migration")
            and any(cs.get("restartCount", 0) >= 1 for cs in p["status"].get("containerStatuses", []))
        ],
        what="a restarted backend pod",
    )
    async with KubeClient(load(str(demo.kubeconfig))) as kube:
        text = await kube.logs(NS, pods[0]["metadata"]["name"], previous=True, tail_lines=5)
    assert "redis.exceptions.ConnectionError: Error -2 connecting to redis:6379. Name or service not known." in text
    assert len(text.splitlines()) <= 5


async def test_a_wrong_token_is_a_401_kube_error(empty_sandbox):
    cfg = dataclasses.replace(load(str(empty_sandbox.kubeconfig)), token="not-the-token")
    async with KubeClient(cfg) as kube:
        with pytest.raises(KubeError) as e:
            await kube.version()
    assert e.value.status == 401 and e.value.reason == "Unauthorized"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_an_unreachable_server_names_itself(empty_sandbox):
    server = f"https://127.0.0.1:{free_port()}"
    cfg = dataclasses.replace(load(str(empty_sandbox.kubeconfig)), server=server)
    async with KubeClient(cfg, request_timeout=5) as kube:
        with pytest.raises(Unreachable) as e:
            await kube.list("v1", "Pod")
    assert str(e.value) == f"cannot reach the Kubernetes API server at {server}: Connection refused"
    assert e.value.server == server


async def test_an_untrusted_certificate_is_unreachable_not_ignored(empty_sandbox):
    cfg = dataclasses.replace(load(str(empty_sandbox.kubeconfig)), ca_data=None)  # trust only the system store
    async with KubeClient(cfg) as kube:
        with pytest.raises(Unreachable) as e:
            await kube.version()
    assert str(e.value) == (
        f"cannot reach the Kubernetes API server at {empty_sandbox.sb.api_url}: "
        "TLS certificate verification failed (self-signed certificate)"
    )
    insecure = dataclasses.replace(cfg, insecure_skip_tls_verify=True)
    async with KubeClient(insecure) as kube:
        assert (await kube.version())["major"] == "1"


async def test_names_that_would_escape_the_url_path_are_refused(empty_sandbox):
    async with KubeClient(load(str(empty_sandbox.kubeconfig))) as kube:
        for bad in ("../secrets", "a/b", "..", ""):
            with pytest.raises(ValueError, match="is not a valid Kubernetes object name"):
                await kube.get("v1", "ConfigMap", "default", bad)


def test_the_resource_table_knows_the_workload_kinds():
    assert (
        resource("apps/v1", "DaemonSet").collection("kube-system") == "/apis/apps/v1/namespaces/kube-system/daemonsets"
    )
    assert resource("v1", "Node").collection("ignored") == "/api/v1/nodes"
    assert resource("batch/v1", "CronJob").item("ns", "nightly") == "/apis/batch/v1/namespaces/ns/cronjobs/nightly"
    with pytest.raises(ValueError, match="pitstop does not know the resource v1 Widget"):
        resource("v1", "Widget")


def test_client_certificates_load_from_data_and_bad_ones_are_config_errors():
    pair = make_serving_cert()
    cfg = ClusterConfig(
        context="c",
        cluster="c",
        user="admin",
        server="https://127.0.0.1:6443",
        namespace="default",
        ca_data=pair.cert_pem,
        client_certificate_data=pair.cert_pem,
        client_key_data=pair.key_pem,
    )
    assert ssl_context(cfg).verify_mode.name == "CERT_REQUIRED"
    other = make_serving_cert()
    with pytest.raises(ConfigError, match=r'^the client certificate or key of user "admin" cannot be loaded'):
        ssl_context(dataclasses.replace(cfg, client_key_data=other.key_pem))
    with pytest.raises(ConfigError, match=r'^the certificate authority of cluster "c" is not a PEM certificate'):
        ssl_context(dataclasses.replace(cfg, ca_data=b"not a certificate"))
