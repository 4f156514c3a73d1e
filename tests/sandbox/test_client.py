"""The kubernetes Python client, unchanged, against the sandbox: list, watch, bookmarks, 410, patch, 409, dry run."""

from __future__ import annotations

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from tests.conftest import RunningSandbox, wait_for


def api(rs: RunningSandbox) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(rs.kubeconfig))


def configmap(name: str, value: str = "1") -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": value}}


def test_list_pages_with_limit_and_continue(empty_sandbox):
    core = client.CoreV1Api(api(empty_sandbox))
    for i in range(7):
        core.create_namespaced_config_map("default", configmap(f"cm-{i}"))
    first = core.list_namespaced_config_map("default", limit=3)
    names = [c.metadata.name for c in first.items]
    token = first.metadata._continue
    assert len(names) == 3 and token and first.metadata.remaining_item_count == 5  # 7 + kube-root-ca.crt
    while token:
        page = core.list_namespaced_config_map("default", limit=3, _continue=token)
        names += [c.metadata.name for c in page.items]
        token = page.metadata._continue
    assert names == sorted(names) and set(names) >= {f"cm-{i}" for i in range(7)} and len(names) == len(set(names))


def test_watch_from_resource_version_gets_changes_and_bookmarks(sandbox_factory):
    rs = sandbox_factory("empty", bookmark_interval=0.2)
    core = client.CoreV1Api(api(rs))
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", configmap("watched"))
    core.patch_namespaced_config_map("watched", "default", {"data": {"k": "2"}})
    seen, bookmarks = [], 0
    w = watch.Watch()
    for ev in w.stream(
        core.list_namespaced_config_map, "default", resource_version=rv, allow_watch_bookmarks=True, timeout_seconds=5
    ):
        if ev["type"] == "BOOKMARK":
            bookmarks += 1
            assert int(ev["raw_object"]["metadata"]["resourceVersion"]) >= int(rv)
        else:
            seen.append((ev["type"], ev["object"].metadata.name, ev["object"].data))
        if bookmarks and len(seen) >= 2:
            w.stop()
    assert seen[:2] == [("ADDED", "watched", {"k": "1"}), ("MODIFIED", "watched", {"k": "2"})]
    assert bookmarks >= 1


def test_watch_from_a_compacted_version_is_410_gone(sandbox_factory):
    rs = sandbox_factory("empty", watch_window=20)
    core = client.CoreV1Api(api(rs))
    old = core.list_namespaced_config_map("default").metadata.resource_version
    for i in range(30):
        core.create_namespaced_config_map("default", configmap(f"churn-{i}"))
    with pytest.raises(ApiException) as exc:
        for _ in watch.Watch().stream(
            core.list_namespaced_config_map, "default", resource_version=old, timeout_seconds=2
        ):
            pass
    assert exc.value.status == 410
    assert "too old resource version" in str(exc.value.reason) + str(exc.value.body)


def test_stale_resource_version_is_409_conflict(empty_sandbox):
    core = client.CoreV1Api(api(empty_sandbox))
    created = core.create_namespaced_config_map("default", configmap("stale"))
    core.patch_namespaced_config_map("stale", "default", {"data": {"k": "2"}})
    created.data = {"k": "3"}
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("stale", "default", created)
    assert exc.value.status == 409
    body = exc.value.body if isinstance(exc.value.body, str) else exc.value.body.decode()
    assert (
        'Operation cannot be fulfilled on configmaps \\"stale\\": the object has been modified; '
        "please apply your changes to the latest version and try again"
    ) in body
    assert core.read_namespaced_config_map("stale", "default").data == {"k": "2"}


def test_patch_with_resource_version_precondition(empty_sandbox):
    core = client.CoreV1Api(api(empty_sandbox))
    rv = core.create_namespaced_config_map("default", configmap("guarded")).metadata.resource_version
    patched = core.patch_namespaced_config_map(
        "guarded", "default", {"metadata": {"resourceVersion": rv}, "data": {"k": "2"}}
    )
    assert patched.data == {"k": "2"}
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_config_map(
            "guarded", "default", {"metadata": {"resourceVersion": rv}, "data": {"k": "3"}}
        )
    assert exc.value.status == 409
    assert core.read_namespaced_config_map("guarded", "default").data == {"k": "2"}


def test_dry_run_stores_nothing(empty_sandbox):
    core = client.CoreV1Api(api(empty_sandbox))
    apps = client.AppsV1Api(api(empty_sandbox))
    before = core.list_namespaced_config_map("default").metadata.resource_version
    out = core.create_namespaced_config_map("default", configmap("ghost"), dry_run="All")
    assert out.metadata.name == "ghost" and out.metadata.uid
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_config_map("ghost", "default")
    assert exc.value.status == 404
    core.create_namespaced_config_map("default", configmap("real"))
    core.patch_namespaced_config_map("real", "default", {"data": {"k": "dry"}}, dry_run="All")
    assert core.read_namespaced_config_map("real", "default").data == {"k": "1"}
    core.delete_namespaced_config_map("real", "default", dry_run="All")
    assert core.read_namespaced_config_map("real", "default").data == {"k": "1"}
    assert apps.list_namespaced_deployment("default").items == []
    after = core.list_namespaced_config_map("default").metadata.resource_version
    assert int(after) == int(before) + 1, "only the one real create bumped the resourceVersion"


def test_label_and_field_selectors(empty_sandbox):
    core = client.CoreV1Api(api(empty_sandbox))
    for name, tier in (("a", "web"), ("b", "db"), ("c", "web")):
        cm = configmap(name)
        cm["metadata"]["labels"] = {"tier": tier}
        core.create_namespaced_config_map("default", cm)
    web = core.list_namespaced_config_map("default", label_selector="tier=web")
    assert [c.metadata.name for c in web.items] == ["a", "c"]
    notweb = core.list_namespaced_config_map("default", label_selector="tier in (db),tier!=web")
    assert [c.metadata.name for c in notweb.items] == ["b"]
    by_name = core.list_namespaced_config_map("default", field_selector="metadata.name=c")
    assert [c.metadata.name for c in by_name.items] == ["c"]
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_config_map("default", field_selector="spec.nothing=x")
    assert exc.value.status == 400


def test_namespace_delete_cascades(empty_sandbox):
    core = client.CoreV1Api(api(empty_sandbox))
    core.create_namespace({"metadata": {"name": "temp"}})
    core.create_namespaced_config_map("temp", configmap("x"))
    core.delete_namespace("temp")
    wait_for(lambda: not empty_sandbox.list("v1", "ConfigMap", "temp"), what="configmaps gone with the namespace")
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map("temp", configmap("y"))
    assert exc.value.status == 404
