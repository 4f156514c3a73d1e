"""Patch semantics: JSON merge, JSON patch, strategic merge and server-side apply, as a real API server does them."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from sandbox.patch import (
    ApplyConflict,
    PatchError,
    apply_patch,
    json_patch,
    merge_patch,
    record_update,
    strategic_merge_patch,
)

NOW = "2024-05-01T10:00:00.000000Z"
LATER = "2024-05-01T11:00:00.000000Z"


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "default", "labels": {"app": "api"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "api"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "api"}},
                "spec": {
                    "containers": [
                        {
                            "name": "api",
                            "image": "backend:v1.0.5",
                            "env": [{"name": "DJANGO_SETTINGS_MODULE", "value": "app.settings.production"}],
                            "ports": [{"containerPort": 8000}],
                        },
                        {"name": "proxy", "image": "envoy:1.29", "env": [{"name": "LOG_LEVEL", "value": "info"}]},
                    ],
                    "volumes": [{"name": "config", "configMap": {"name": "api-config"}}],
                },
            },
        },
    }


def smp(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    return strategic_merge_patch(target, patch, "apps/v1", "Deployment")


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


# --------------------------------------------------------------------------- strategic merge patch


def test_adding_a_missing_env_var_to_one_container_keeps_the_rest() -> None:
    live = deployment()
    patch = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "api", "env": [{"name": "DJANGO_SECRET_KEY", "value": "x"}]}]}
            }
        }
    }
    out = smp(live, patch)
    api, proxy = pod_spec(out)["containers"]
    assert [e["name"] for e in api["env"]] == ["DJANGO_SECRET_KEY", "DJANGO_SETTINGS_MODULE"]  # new items go first
    assert api["image"] == "backend:v1.0.5" and api["ports"] == [{"containerPort": 8000}]
    assert proxy == deployment()["spec"]["template"]["spec"]["containers"][1]
    assert live == deployment(), "inputs must not be mutated"


def test_patch_delete_removes_one_container() -> None:
    out = smp(deployment(), {"spec": {"template": {"spec": {"containers": [{"name": "proxy", "$patch": "delete"}]}}}})
    assert [c["name"] for c in pod_spec(out)["containers"]] == ["api"]


def test_set_element_order_decides_the_final_order() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "proxy"}, {"name": "migrate"}, {"name": "api"}],
                    "containers": [{"name": "migrate", "image": "backend:v1.0.6"}],
                }
            }
        }
    }
    out = smp(deployment(), patch)
    assert [c["name"] for c in pod_spec(out)["containers"]] == ["proxy", "migrate", "api"]


def test_kubectl_apply_swapping_containers_keeps_an_injected_sidecar_where_a_real_server_puts_it() -> None:
    live = deployment()
    pod_spec(live)["containers"] = [{"name": "api"}, {"name": "worker"}, {"name": "istio-proxy"}]
    patch = {  # what kubectl apply sends when the manifest goes from [api, worker] to [worker, metrics]
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "worker"}, {"name": "metrics"}],
                    "containers": [{"name": "metrics", "image": "exporter:1"}, {"$patch": "delete", "name": "api"}],
                }
            }
        }
    }
    out = smp(live, patch)
    assert [c["name"] for c in pod_spec(out)["containers"]] == ["worker", "istio-proxy", "metrics"]


def test_retain_keys_switches_a_volume_source() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/volumes": [{"name": "config"}],
                    "volumes": [
                        {
                            "$retainKeys": ["name", "secret"],
                            "configMap": None,
                            "name": "config",
                            "secret": {"secretName": "api-config"},
                        }
                    ],
                }
            }
        }
    }
    out = smp(deployment(), patch)
    assert pod_spec(out)["volumes"] == [{"name": "config", "secret": {"secretName": "api-config"}}]


def test_retain_keys_on_the_deployment_strategy_drops_rolling_update() -> None:
    out = smp(deployment(), {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}})
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_null_deletes_a_key_and_lists_without_merge_key_are_replaced() -> None:
    live = deployment()
    pod_spec(live)["containers"][0]["args"] = ["--workers=4", "--port=8000"]
    patch = {
        "spec": {
            "replicas": None,
            "template": {"spec": {"containers": [{"name": "api", "args": ["--port=9000"]}]}},
        }
    }
    out = smp(live, patch)
    assert "replicas" not in out["spec"]
    assert pod_spec(out)["containers"][0]["args"] == ["--port=9000"]


def test_primitive_merge_lists_union_and_delete_from_primitive_list() -> None:
    live = deployment()
    live["metadata"]["finalizers"] = ["example.com/a", "example.com/b"]
    out = smp(
        live, {"metadata": {"finalizers": ["example.com/c"], "$deleteFromPrimitiveList/finalizers": ["example.com/a"]}}
    )
    assert out["metadata"]["finalizers"] == ["example.com/c", "example.com/b"]


def test_patch_replace_on_a_list_and_on_a_map() -> None:
    patch = {
        "spec": {
            "strategy": {"$patch": "replace", "type": "Recreate"},
            "template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "busybox"}]}},
        }
    }
    out = smp(deployment(), patch)
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    assert pod_spec(out)["containers"] == [{"name": "only", "image": "busybox"}]


def test_service_ports_merge_by_port() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8000}]}}
    out = strategic_merge_patch(svc, {"spec": {"ports": [{"port": 80, "targetPort": 9000}]}}, "v1", "Service")
    assert out["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 9000}]


def test_kinds_without_a_schema_fall_back_to_merge_patch() -> None:
    widget = {"spec": {"items": [{"name": "a"}], "size": 1}}
    out = strategic_merge_patch(widget, {"spec": {"items": [{"name": "b"}]}}, "example.com/v1", "Widget")
    assert out == {"spec": {"items": [{"name": "b"}], "size": 1}}


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (
            {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}},
            "map: map[image:x] does not contain declared merge key: name",
        ),
        ({"spec": {"strategy": {"$patch": "bogus"}}}, "unknown patch type: bogus in map: map[$patch:bogus]"),
        ({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}, "invalid patch format of retainKeys"),
        ({"metadata": {"$deleteFromPrimitiveList": ["a"]}}, "invalid patch format of primitive list"),
    ],
)
def test_malformed_directives_are_rejected(patch: dict[str, Any], message: str) -> None:
    with pytest.raises(PatchError, match=f"^{re.escape(message)}$"):
        smp(deployment(), patch)


# --------------------------------------------------------------------------- merge patch and JSON patch


def test_merge_patch_null_deletes_and_objects_merge() -> None:
    target = {"metadata": {"labels": {"app": "api", "tier": "backend"}}, "spec": {"ports": [1, 2]}}
    out = merge_patch(target, {"metadata": {"labels": {"tier": None, "team": "payments"}}, "spec": {"ports": [3]}})
    assert out == {"metadata": {"labels": {"app": "api", "team": "payments"}}, "spec": {"ports": [3]}}
    assert target["metadata"]["labels"]["tier"] == "backend"


def test_json_patch_test_replace_remove() -> None:
    ops = [
        {"op": "test", "path": "/spec/replicas", "value": 2},
        {"op": "replace", "path": "/spec/replicas", "value": 5},
        {"op": "remove", "path": "/metadata/labels/app"},
    ]
    out = json_patch(deployment(), ops)
    assert out["spec"]["replicas"] == 5 and out["metadata"]["labels"] == {}


def test_json_patch_failures_name_the_path_like_the_api_server() -> None:
    with pytest.raises(PatchError) as err:
        json_patch(deployment(), [{"op": "test", "path": "/spec/replicas", "value": 3}])
    assert str(err.value) == "testing value /spec/replicas failed: test failed" and err.value.code == 422
    with pytest.raises(PatchError, match=re.escape("Unable to remove nonexistent key: paused: missing value")):
        json_patch(deployment(), [{"op": "remove", "path": "/spec/paused"}])
    with pytest.raises(PatchError, match="Unexpected kind: frobnicate"):
        json_patch(deployment(), [{"op": "frobnicate", "path": "/spec"}])


# --------------------------------------------------------------------------- server-side apply


def applied_config(replicas: int = 2) -> dict[str, Any]:
    cfg = deployment()
    cfg["spec"]["replicas"] = replicas
    return cfg


def entry(obj: dict[str, Any], manager: str) -> dict[str, Any]:
    return next(e for e in obj["metadata"]["managedFields"] if e["manager"] == manager)


def test_apply_create_records_fields_v1_like_a_real_server() -> None:
    obj = apply_patch(None, applied_config(), "apps/v1", "Deployment", "kubectl", False, NOW)
    [mf] = obj["metadata"]["managedFields"]
    assert {k: mf[k] for k in ("manager", "operation", "apiVersion", "time", "fieldsType")} == {
        "manager": "kubectl",
        "operation": "Apply",
        "apiVersion": "apps/v1",
        "time": NOW,
        "fieldsType": "FieldsV1",
    }
    fields = mf["fieldsV1"]
    assert "f:name" not in fields["f:metadata"], "metadata.name is never owned"
    assert fields["f:spec"]["f:selector"] == {}, "an atomic LabelSelector is owned whole"
    containers = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert containers['k:{"name":"api"}']["."] == {}
    assert containers['k:{"name":"api"}']["f:env"]['k:{"name":"DJANGO_SETTINGS_MODULE"}'] == {
        ".": {},
        "f:name": {},
        "f:value": {},
    }
    assert 'k:{"containerPort":8000,"protocol":"TCP"}' in containers['k:{"name":"api"}']["f:ports"]


def test_reapplying_without_a_field_removes_it() -> None:
    live = apply_patch(None, applied_config(), "apps/v1", "Deployment", "kubectl", False, NOW)
    cfg = applied_config()
    del pod_spec(cfg)["containers"][1]["env"]
    del cfg["metadata"]["labels"]
    out = apply_patch(live, cfg, "apps/v1", "Deployment", "kubectl", False, LATER)
    assert "env" not in pod_spec(out)["containers"][1]
    assert "labels" not in out["metadata"]
    assert entry(out, "kubectl")["time"] == LATER


def test_a_field_removed_by_one_applier_stays_when_another_owns_it() -> None:
    live = apply_patch(None, applied_config(), "apps/v1", "Deployment", "kubectl", False, NOW)
    labels_only = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "labels": {"app": "api"}}}
    live = apply_patch(live, labels_only, "apps/v1", "Deployment", "team-labeler", False, NOW)
    cfg = applied_config()
    del cfg["metadata"]["labels"]
    out = apply_patch(live, cfg, "apps/v1", "Deployment", "kubectl", False, LATER)
    assert out["metadata"]["labels"] == {"app": "api"}


def test_apply_conflicts_with_client_side_apply_and_force_takes_over() -> None:
    created = deployment()
    created["metadata"]["uid"] = "5b1c"
    live = record_update(None, created, "apps/v1", "Deployment", "kubectl-client-side-apply", NOW, None)
    with pytest.raises(ApplyConflict) as err:
        apply_patch(live, applied_config(replicas=4), "apps/v1", "Deployment", "kubectl", False, LATER)
    assert str(err.value) == (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas'
    )
    assert err.value.conflicts == [("kubectl-client-side-apply", ".spec.replicas")]
    assert err.value.causes == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
            "field": ".spec.replicas",
        }
    ]

    out = apply_patch(live, applied_config(replicas=4), "apps/v1", "Deployment", "kubectl", True, LATER)
    assert out["spec"]["replicas"] == 4
    assert "f:replicas" in entry(out, "kubectl")["fieldsV1"]["f:spec"]
    assert "f:replicas" not in entry(out, "kubectl-client-side-apply")["fieldsV1"]["f:spec"]


def test_applying_the_same_value_shares_ownership_without_conflict() -> None:
    live = record_update(None, deployment(), "apps/v1", "Deployment", "kubectl-client-side-apply", NOW, None)
    out = apply_patch(live, applied_config(replicas=2), "apps/v1", "Deployment", "kubectl", False, LATER)
    assert "f:replicas" in entry(out, "kubectl")["fieldsV1"]["f:spec"]
    assert "f:replicas" in entry(out, "kubectl-client-side-apply")["fieldsV1"]["f:spec"]


def test_several_conflicts_are_grouped_by_manager() -> None:
    live = apply_patch(None, applied_config(), "apps/v1", "Deployment", "kubectl", False, NOW)
    other = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "labels": {"app": "web"}}}
    other["spec"] = {"replicas": 9}
    with pytest.raises(ApplyConflict) as err:
        apply_patch(live, other, "apps/v1", "Deployment", "helm", False, LATER)
    assert str(err.value) == (
        'Apply failed with 2 conflicts: conflicts with "kubectl":\n- .metadata.labels.app\n- .spec.replicas'
    )


def test_an_object_never_applied_gets_a_before_first_apply_owner() -> None:
    live = deployment()
    live["metadata"]["uid"] = "5b1c"
    with pytest.raises(
        ApplyConflict, match=re.escape('conflict with "before-first-apply" using apps/v1: .spec.replicas')
    ):
        apply_patch(live, applied_config(replicas=3), "apps/v1", "Deployment", "kubectl", False, NOW)


def test_apply_rejects_fields_the_schema_does_not_declare() -> None:
    cfg = applied_config()
    cfg["spec"]["replicass"] = 3
    with pytest.raises(PatchError) as err:
        apply_patch(None, cfg, "apps/v1", "Deployment", "kubectl", False, NOW)
    assert str(err.value) == (
        "failed to create typed patch object (default/api; apps/v1, Kind=Deployment): "
        ".spec.replicass: field not declared in schema"
    )


def test_apply_ignores_status_on_the_main_resource() -> None:
    cfg = applied_config()
    cfg["status"] = {"replicas": 99}
    out = apply_patch(None, cfg, "apps/v1", "Deployment", "kubectl", False, NOW)
    assert "status" not in out and "f:status" not in entry(out, "kubectl")["fieldsV1"]


def test_finalizers_are_owned_as_set_items() -> None:
    cfg = applied_config()
    cfg["metadata"]["finalizers"] = ["example.com/cleanup"]
    out = apply_patch(None, cfg, "apps/v1", "Deployment", "kubectl", False, NOW)
    assert entry(out, "kubectl")["fieldsV1"]["f:metadata"]["f:finalizers"] == {'v:"example.com/cleanup"': {}}


# --------------------------------------------------------------------------- update bookkeeping


def test_an_update_owns_what_it_changed_and_takes_it_from_others() -> None:
    live = apply_patch(None, applied_config(), "apps/v1", "Deployment", "kubectl", False, NOW)
    live["metadata"]["uid"] = "5b1c"
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 5
    out = record_update(live, scaled, "apps/v1", "Deployment", "kubectl-scale", LATER, None)
    assert entry(out, "kubectl-scale")["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert entry(out, "kubectl-scale")["operation"] == "Update"
    assert "f:replicas" not in entry(out, "kubectl")["fieldsV1"]["f:spec"]


def test_a_status_update_is_recorded_under_its_subresource() -> None:
    live = apply_patch(None, applied_config(), "apps/v1", "Deployment", "kubectl", False, NOW)
    live["metadata"]["uid"] = "5b1c"
    new = copy.deepcopy(live)
    new["status"] = {"replicas": 2, "readyReplicas": 1}
    out = record_update(live, new, "apps/v1", "Deployment", "kube-controller-manager", LATER, "status")
    mf = entry(out, "kube-controller-manager")
    assert mf["subresource"] == "status"
    assert mf["fieldsV1"] == {"f:status": {"f:readyReplicas": {}, "f:replicas": {}}}


def test_an_update_that_changes_nothing_adds_no_entry() -> None:
    live = apply_patch(None, applied_config(), "apps/v1", "Deployment", "kubectl", False, NOW)
    live["metadata"]["uid"] = "5b1c"
    out = record_update(live, copy.deepcopy(live), "apps/v1", "Deployment", "kubectl-edit", LATER, None)
    assert [e["manager"] for e in out["metadata"]["managedFields"]] == ["kubectl"]


def test_objects_that_were_never_tracked_stay_untracked_on_update() -> None:
    live = deployment()
    live["metadata"]["uid"] = "5b1c"
    new = copy.deepcopy(live)
    new["spec"]["replicas"] = 3
    assert "managedFields" not in record_update(live, new, "apps/v1", "Deployment", "kubectl", NOW, None)["metadata"]
