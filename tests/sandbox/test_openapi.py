"""`/openapi/v3` documents: what kubectl 1.32's apply and field validation read from them."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from sandbox import openapi
from sandbox.resources import RESOURCES
from tests.sandbox.test_schema import MANIFESTS

GROUP_VERSIONS = [("", "v1"), ("apps", "v1"), ("batch", "v1")]
PATCH_TYPES = {
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
}
REF = "#/components/schemas/"


def doc(group: str, version: str) -> dict[str, Any]:
    raw = openapi.document(group, version)
    assert raw is not None
    return json.loads(raw)


def operations(d: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, verb, op) for path, item in d["paths"].items() for verb, op in item.items() if verb != "parameters"]


def test_index_points_at_each_group_version_with_its_hash() -> None:
    paths = openapi.index()["paths"]
    assert set(paths) == {"api/v1", "apis/apps/v1", "apis/batch/v1"}
    for group, version in GROUP_VERSIONS:
        api_path = f"apis/{group}/{version}" if group else f"api/{version}"
        url = paths[api_path]["serverRelativeURL"]
        assert url == f"/openapi/v3/{api_path}?hash={openapi.document_hash(group, version)}"
    assert openapi.index("/prefix/openapi/v3")["paths"]["api/v1"]["serverRelativeURL"].startswith(
        "/prefix/openapi/v3/api/v1?hash="
    )


def test_documents_are_openapi_3_and_unknown_group_versions_have_none() -> None:
    for group, version in GROUP_VERSIONS:
        d = doc(group, version)
        assert d["openapi"] == "3.0.0" and d["paths"] and d["components"]["schemas"]
    assert openapi.document("example.com", "v1") is None
    assert openapi.document("apps", "v1beta1") is None


@pytest.mark.parametrize(("group", "version"), GROUP_VERSIONS)
def test_every_patch_operation_is_what_kubectl_checks(group: str, version: str) -> None:
    patches = [(path, op) for path, verb, op in operations(doc(group, version)) if verb == "patch"]
    assert patches
    for path, op in patches:
        params = {(p["name"], p["in"]) for p in op["parameters"]}
        assert {
            ("fieldValidation", "query"),
            ("dryRun", "query"),
            ("fieldManager", "query"),
            ("force", "query"),
        } <= params, path
        assert set(op["requestBody"]["content"]) == PATCH_TYPES, path
        assert op["x-kubernetes-action"] == "patch"
        assert set(op["x-kubernetes-group-version-kind"]) == {"group", "version", "kind"}


@pytest.mark.parametrize("rt", RESOURCES, ids=lambda rt: rt.group_resource)
def test_kubectl_finds_a_strategic_merge_patch_for_every_served_kind(rt: Any) -> None:
    """kubectl's gvkSupportsPatchOpenAPIV3 and buildStrategicMergePatchFromOpenAPIV3, step by step."""
    d = doc(rt.group, rt.version)
    gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    ops = [op for _, verb, op in operations(d) if verb == "patch" and op["x-kubernetes-group-version-kind"] == gvk]
    assert ops and all("application/strategic-merge-patch+json" in op["requestBody"]["content"] for op in ops)
    kinds = [s for s in d["components"]["schemas"].values() if gvk in s.get("x-kubernetes-group-version-kind", [])]
    assert len(kinds) == 1


@pytest.mark.parametrize(("group", "version"), GROUP_VERSIONS)
def test_every_ref_resolves(group: str, version: str) -> None:
    d = doc(group, version)
    schemas = d["components"]["schemas"]
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(d)
    assert refs
    missing = {r for r in refs if not r.startswith(REF) or r.removeprefix(REF) not in schemas}
    assert not missing


def test_schemas_carry_the_real_servers_extensions() -> None:
    schemas = doc("apps", "v1")["components"]["schemas"]
    deployment = schemas["io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    assert deployment["properties"]["spec"]["allOf"] == [{"$ref": REF + "io.k8s.api.apps.v1.DeploymentSpec"}]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["items"]["allOf"] == [{"$ref": REF + "io.k8s.api.core.v1.Container"}]
    assert (containers["x-kubernetes-patch-merge-key"], containers["x-kubernetes-patch-strategy"]) == ("name", "merge")
    assert (containers["x-kubernetes-list-type"], containers["x-kubernetes-list-map-keys"]) == ("map", ["name"])
    ports = schemas["io.k8s.api.core.v1.Container"]["properties"]["ports"]
    assert ports["x-kubernetes-list-map-keys"] == ["containerPort", "protocol"]
    volumes = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["volumes"]
    assert volumes["x-kubernetes-patch-strategy"] == "merge,retainKeys"
    assert (
        schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]["x-kubernetes-patch-strategy"]
        == "retainKeys"
    )
    assert schemas["io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"]["x-kubernetes-map-type"] == "atomic"
    limits = schemas["io.k8s.api.core.v1.ResourceRequirements"]["properties"]["limits"]
    assert limits["additionalProperties"] == {"$ref": REF + "io.k8s.apimachinery.pkg.api.resource.Quantity"}
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"
    assert schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Time"] == {
        "description": "Time is an RFC 3339 date-time.",
        "format": "date-time",
        "type": "string",
    }


def _patch_meta_walk(value: dict[str, Any], node: dict[str, Any], schemas: dict[str, Any], path: str) -> list[str]:
    """Replays strategicpatch.PatchMetaFromOpenAPIV3 over a manifest; returns the lookups that would fail."""

    def resolve(sub: dict[str, Any]) -> dict[str, Any]:
        if sub.get("allOf"):
            sub = sub["allOf"][0]
        ref = sub.get("$ref")
        return schemas[ref.removeprefix(REF)] if ref else sub

    failures: list[str] = []
    for key, child in value.items():
        if not isinstance(child, dict | list):
            continue  # kubectl only looks up maps and lists
        props = node.get("properties") or {}
        if key not in props:
            failures.append(f"{path}.{key}")
            continue
        sub = props[key]
        if isinstance(child, list):
            element = resolve(sub.get("items", {}))
            for item in child:
                if isinstance(item, dict):
                    failures += _patch_meta_walk(item, element, schemas, f"{path}.{key}[]")
        elif "additionalProperties" not in sub:
            failures += _patch_meta_walk(child, resolve(sub), schemas, f"{path}.{key}")
    return failures


@pytest.mark.parametrize("kind", sorted(MANIFESTS))
def test_kubectl_can_look_up_patch_metadata_for_every_field_of_real_manifests(kind: str) -> None:
    obj = yaml.safe_load(MANIFESTS[kind])
    group, _, version = obj["apiVersion"].rpartition("/")
    schemas = doc(group, version)["components"]["schemas"]
    gvk = {"group": group, "version": version, "kind": kind}
    [root] = [s for s in schemas.values() if gvk in s.get("x-kubernetes-group-version-kind", [])]
    assert _patch_meta_walk(obj, root, schemas, "") == []
