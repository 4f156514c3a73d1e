"""`/openapi/v3` documents for the served group/versions, generated from the schema.py type tree.

kubectl 1.32 reads them in two places, so these are what must be right:
- `kubectl apply` (client-side) finds the PATCH operation whose
  `x-kubernetes-group-version-kind` is the object's, checks its requestBody accepts
  `application/strategic-merge-patch+json`, then computes the patch from the
  component schema whose `x-kubernetes-group-version-kind` list holds that GVK,
  following `allOf[0].$ref` and reading `x-kubernetes-patch-merge-key`/`-strategy`
  on each property. A property missing from the schema makes it warn and fall back.
- `--validate=strict` (QueryParamVerifierV3) looks for a `fieldValidation` query
  parameter listed on that PATCH operation itself; path-level parameters do not count.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from typing import Any

import kubernetes.client.models as _models
import orjson

from sandbox import schema
from sandbox.resources import RESOURCES, ResourceType, in_group_version

_REF = "#/components/schemas/"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1"
_SPECIAL = {
    schema.TIME: f"{_META}.Time",
    schema.MICRO_TIME: f"{_META}.MicroTime",
    schema.QUANTITY: "io.k8s.apimachinery.pkg.api.resource.Quantity",
    schema.INT_OR_STRING: "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
}
# `object`-typed fields that are named types on a real server.
_ANY_REFS = {
    ("V1ManagedFieldsEntry", "fieldsV1"): f"{_META}.FieldsV1",
    ("V1WatchEvent", "object"): "io.k8s.apimachinery.pkg.runtime.RawExtension",
}
_SPECIAL_SCHEMAS: dict[str, dict[str, Any]] = {
    f"{_META}.Time": {"description": "Time is an RFC 3339 date-time.", "type": "string", "format": "date-time"},
    f"{_META}.MicroTime": {
        "description": "MicroTime is an RFC 3339 date-time with microseconds.",
        "type": "string",
        "format": "date-time",
    },
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {
        "description": "Quantity is a fixed-point number with an optional SI or binary suffix (100m, 1Gi).",
        "type": "string",
    },
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
        "description": "IntOrString holds an int32 or a string.",
        "format": "int-or-string",
        "oneOf": [{"type": "integer"}, {"type": "string"}],
    },
    f"{_META}.FieldsV1": {"description": "FieldsV1 is a set of fields in a trie, in JSON format.", "type": "object"},
    f"{_META}.Patch": {"description": "Patch is the body of a PATCH request.", "type": "object"},
    "io.k8s.apimachinery.pkg.runtime.RawExtension": {
        "description": "RawExtension holds an embedded object.",
        "type": "object",
    },
}
_PATCH_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)
_RESPONSE_TYPES = ("application/json", "application/yaml")
_STREAM_TYPES = ("application/json", "application/json;stream=watch", "application/yaml")


# --------------------------------------------------------------------------- the index


def _api_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _served_group_versions() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for rt in RESOURCES:
        if (rt.group, rt.version) not in out:
            out.append((rt.group, rt.version))
    return out


@cache
def document_hash(group: str, version: str) -> str | None:
    """The hash in a document's `serverRelativeURL`: sha512 of its bytes, as the API server uses."""
    doc = document(group, version)
    return hashlib.sha512(doc).hexdigest().upper() if doc is not None else None


def index(base_url_path: str = "/openapi/v3") -> dict[str, Any]:
    """`GET /openapi/v3`: where each served group/version's document lives, with a cache-busting hash."""
    paths = {}
    for group, version in _served_group_versions():
        api_path = _api_path(group, version)
        paths[api_path] = {"serverRelativeURL": f"{base_url_path}/{api_path}?hash={document_hash(group, version)}"}
    return {"paths": paths}


# --------------------------------------------------------------------------- component schemas


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": _REF + name}


@cache
def _descriptions(type_name: str) -> dict[str, str]:
    """Field descriptions by JSON name, taken from the client models' property docstrings."""
    cls = getattr(_models, type_name, None)
    out: dict[str, str] = {}
    for attr, json_name in getattr(cls, "attribute_map", {}).items():
        doc = getattr(getattr(cls, attr, None), "__doc__", None) or ""
        parts = [p.strip() for p in doc.split("\n\n")]
        text = parts[1] if len(parts) > 2 and not parts[1].startswith(":return:") else ""
        out[json_name] = re.sub(r"\s*# noqa: E501$", "", text)
    return out


def _gvk_list(group: str, version: str, kind: str) -> list[dict[str, str]]:
    return [{"group": group, "kind": kind, "version": version}]


def _kind_gvks() -> dict[str, list[dict[str, str]]]:
    """Top-level kinds (and their lists) by model name: these carry `x-kubernetes-group-version-kind`."""
    out: dict[str, list[dict[str, str]]] = {}
    for rt in RESOURCES:
        for kind in (rt.kind, rt.list_kind):
            model = schema.type_of(rt.api_version, kind)
            if model:
                out[model] = _gvk_list(rt.group, rt.version, kind)
    out["V1Scale"] = _gvk_list("autoscaling", "v1", "Scale")
    out["V1Status"] = _gvk_list("", "v1", "Status")
    return out


def _value_schema(owner: str, f: schema.Field, *, element: bool) -> dict[str, Any]:
    """The schema of a field's value (or of one list element / map value when `element`)."""
    name = f.type_name
    if schema.is_model(name):
        return _ref(schema.openapi_name(name))
    if name in _SPECIAL:
        return _ref(_SPECIAL[name])
    if f.shape == "any" or name == schema.ANY:
        ref = _ANY_REFS.get((owner, f.json_name))
        return _ref(ref) if ref else {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    out: dict[str, Any] = {"type": name}
    if name == schema.INTEGER:
        out["format"] = schema.integer_format(owner, f.json_name)
    elif name == schema.NUMBER:
        out["format"] = "double"
    if element:
        out["default"] = 0 if name in (schema.INTEGER, schema.NUMBER) else False if name == schema.BOOLEAN else ""
    return out


def _property(owner: str, f: schema.Field, description: str) -> dict[str, Any]:
    """One property, shaped like the real server's: `$ref`s wrapped in `allOf`, list/patch metadata alongside."""
    if f.shape == "list":
        items = _value_schema(owner, f, element=True)
        if "$ref" in items:
            items = {"allOf": [items], "default": {}}
        out: dict[str, Any] = {"type": "array", "items": items}
        out["x-kubernetes-list-type"] = f.list_type or "atomic"
        if f.list_type == "map":
            out["x-kubernetes-list-map-keys"] = list(f.list_map_keys)
    elif f.shape == "map":
        out = {"type": "object", "additionalProperties": _value_schema(owner, f, element=True)}
        if f.atomic:
            out["x-kubernetes-map-type"] = "atomic"
    else:
        value = _value_schema(owner, f, element=False)
        out = {"allOf": [value]} if "$ref" in value else value
    if description:
        out["description"] = description
    if f.merge_key:
        out["x-kubernetes-patch-merge-key"] = f.merge_key
    if f.strategy:
        out["x-kubernetes-patch-strategy"] = f.strategy
    return dict(sorted(out.items()))


def _model_schema(type_name: str, gvks: dict[str, list[dict[str, str]]]) -> dict[str, Any]:
    descriptions = _descriptions(type_name)
    props = {
        name: _property(type_name, f, descriptions.get(name, ""))
        for name, f in sorted(schema.fields(type_name).items())
    }
    out: dict[str, Any] = {"properties": props, "type": "object"}
    if type_name in gvks:
        out["x-kubernetes-group-version-kind"] = gvks[type_name]
    if type_name in schema.ATOMIC_STRUCTS:
        out["x-kubernetes-map-type"] = "atomic"
    return out


def _schemas(roots: list[str]) -> dict[str, Any]:
    gvks = _kind_gvks()
    out: dict[str, Any] = {}
    for name in schema.closure(roots):
        out[schema.openapi_name(name)] = _model_schema(name, gvks)
    out.update(_SPECIAL_SCHEMAS)
    return dict(sorted(out.items()))


# --------------------------------------------------------------------------- paths and operations


def _param(name: str, kind: str, description: str, *, where: str = "query", required: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "in": where, "name": name}
    if required:
        out["required"] = True
    out["schema"] = {"type": kind, "uniqueItems": True}
    return out


_PRETTY = _param("pretty", "string", "If 'true', then the output is pretty printed.")
_DRY_RUN = _param("dryRun", "string", "When present, modifications are not persisted. Valid value: All.")
_FIELD_MANAGER = _param("fieldManager", "string", "The name of the actor making these changes.")
_FIELD_VALIDATION = _param(
    "fieldValidation",
    "string",
    "How to handle unknown or duplicate fields in the request: Ignore, Warn (the default) or Strict.",
)
_FORCE = _param("force", "boolean", "Re-acquire fields owned by other managers in an apply request.")
_LIST_PARAMS = [
    _param("allowWatchBookmarks", "boolean", "Ask for BOOKMARK events on a watch."),
    _param("continue", "string", "The continue token of a previous list page."),
    _param("fieldSelector", "string", "Restrict the returned objects by their fields."),
    _param("labelSelector", "string", "Restrict the returned objects by their labels."),
    _param("limit", "integer", "The maximum number of objects in one page."),
    _param("resourceVersion", "string", "The resource version to list or watch from."),
    _param("resourceVersionMatch", "string", "How resourceVersion applies to a list."),
    _param("sendInitialEvents", "boolean", "Start a watch with the current state as ADDED events."),
    _param("timeoutSeconds", "integer", "Timeout for the list or watch call."),
    _param("watch", "boolean", "Watch for changes instead of listing."),
]
_DELETE_PARAMS = [
    _DRY_RUN,
    _param("gracePeriodSeconds", "integer", "Seconds before the object is deleted."),
    _param("orphanDependents", "boolean", "Deprecated: use propagationPolicy."),
    _param("propagationPolicy", "string", "Garbage collection of dependents: Orphan, Background or Foreground."),
]
_LOG_PARAMS = [
    _param("container", "string", "The container to stream logs of."),
    _param("follow", "boolean", "Follow the log stream."),
    _param("insecureSkipTLSVerifyBackend", "boolean", "Skip verifying the kubelet's serving certificate."),
    _param("limitBytes", "integer", "Bytes of log to return at most."),
    _param("previous", "boolean", "Logs of the previous, terminated container."),
    _param("sinceSeconds", "integer", "Only logs newer than this many seconds."),
    _param("tailLines", "integer", "Lines from the end of the log to show."),
    _param("timestamps", "boolean", "Prefix every line with an RFC 3339 timestamp."),
]


def _pascal(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[.\-]", text) if part)


def _responses(
    ref: str | None, codes: tuple[str, ...] = ("200",), media: tuple[str, ...] = _RESPONSE_TYPES
) -> dict[str, Any]:
    described = {"200": "OK", "201": "Created", "202": "Accepted"}
    out: dict[str, Any] = {}
    for code in codes:
        body = {"schema": _ref(ref)} if ref else {"schema": {"type": "string"}}
        out[code] = {"content": {m: body for m in media}, "description": described[code]}
    out["401"] = {"description": "Unauthorized"}
    return out


def _operation(
    action: str,
    op_id: str,
    description: str,
    gvk: dict[str, str],
    tag: str,
    *,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    responses: dict[str, Any],
) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "operationId": op_id}
    if params:
        out["parameters"] = params
    if body:
        out["requestBody"] = body
    out["responses"] = responses
    out["tags"] = [tag]
    out["x-kubernetes-action"] = action
    out["x-kubernetes-group-version-kind"] = gvk
    return out


def _body(ref: str, media: tuple[str, ...] = ("*/*",)) -> dict[str, Any]:
    return {"content": {m: {"schema": _ref(ref)} for m in media}, "required": True}


def _resource_paths(rt: ResourceType) -> dict[str, dict[str, Any]]:
    """Every path kubectl or the client library may ask about for one resource type."""
    model = schema.type_of(rt.api_version, rt.kind)
    list_model = schema.type_of(rt.api_version, rt.list_kind)
    if model is None or list_model is None:
        return {}
    ref, list_ref = schema.openapi_name(model), schema.openapi_name(list_model)
    gvk = {"group": rt.group, "kind": rt.kind, "version": rt.version}
    tag = f"{rt.group or 'core'}_{rt.version}".replace(".", "_")
    ident = _pascal(rt.group or "core") + _pascal(rt.version)
    scope = "Namespaced" if rt.namespaced else ""
    prefix = f"/{_api_path(rt.group, rt.version)}"
    base = f"{prefix}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{prefix}/{rt.plural}"
    ns_param = _param("namespace", "string", "object name and auth scope", where="path", required=True)
    name_param = _param("name", "string", f"name of the {rt.kind}", where="path", required=True)
    scope_params = [ns_param] if rt.namespaced else []
    verbs = set(rt.verbs)
    out: dict[str, dict[str, Any]] = {}

    collection: dict[str, Any] = {}
    if "list" in verbs:
        collection["get"] = _operation(
            "list",
            f"list{ident}{scope}{rt.kind}",
            f"list or watch objects of kind {rt.kind}",
            gvk,
            tag,
            params=_LIST_PARAMS,
            responses=_responses(list_ref, media=_STREAM_TYPES),
        )
    if "create" in verbs:
        collection["post"] = _operation(
            "post",
            f"create{ident}{scope}{rt.kind}",
            f"create a {rt.kind}",
            gvk,
            tag,
            params=[_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION],
            body=_body(ref),
            responses=_responses(ref, ("200", "201", "202")),
        )
    if "deletecollection" in verbs:
        collection["delete"] = _operation(
            "deletecollection",
            f"delete{ident}Collection{scope}{rt.kind}",
            f"delete collection of {rt.kind}",
            gvk,
            tag,
            params=_LIST_PARAMS[1:-1] + _DELETE_PARAMS,
            body={"content": {"*/*": {"schema": _ref(f"{_META}.DeleteOptions")}}},
            responses=_responses(f"{_META}.Status"),
        )
    if collection:
        out[base] = {**collection, "parameters": [*scope_params, _PRETTY]}

    item: dict[str, Any] = {}
    if "get" in verbs:
        item["get"] = _operation(
            "get", f"read{ident}{scope}{rt.kind}", f"read the specified {rt.kind}", gvk, tag, responses=_responses(ref)
        )
    if "update" in verbs:
        item["put"] = _operation(
            "put",
            f"replace{ident}{scope}{rt.kind}",
            f"replace the specified {rt.kind}",
            gvk,
            tag,
            params=[_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION],
            body=_body(ref),
            responses=_responses(ref, ("200", "201")),
        )
    if "patch" in verbs:
        item["patch"] = _patch_operation(
            f"patch{ident}{scope}{rt.kind}", f"partially update the specified {rt.kind}", gvk, tag, ref
        )
    if "delete" in verbs:
        item["delete"] = _operation(
            "delete",
            f"delete{ident}{scope}{rt.kind}",
            f"delete a {rt.kind}",
            gvk,
            tag,
            params=_DELETE_PARAMS,
            body={"content": {"*/*": {"schema": _ref(f"{_META}.DeleteOptions")}}},
            responses=_responses(f"{_META}.Status", ("200", "202")),
        )
    item_params = [name_param, *scope_params, _PRETTY]
    if item:
        out[f"{base}/{{name}}"] = {**item, "parameters": item_params}
    out.update(_subresource_paths(rt, base, ident, scope, gvk, tag, ref, item_params))

    if rt.namespaced and "list" in verbs:
        out[f"{prefix}/{rt.plural}"] = {
            "get": _operation(
                "list",
                f"list{ident}{rt.kind}ForAllNamespaces",
                f"list or watch objects of kind {rt.kind}",
                gvk,
                tag,
                responses=_responses(list_ref, media=_STREAM_TYPES),
            ),
            "parameters": [*_LIST_PARAMS, _PRETTY],
        }
    if "watch" in verbs:
        watch_base = base.replace(prefix, f"{prefix}/watch", 1)
        event = _responses(f"{_META}.WatchEvent", media=_STREAM_TYPES)
        out[watch_base] = {
            "get": _operation(
                "watchlist",
                f"watch{ident}{scope}{rt.kind}List",
                f"watch changes to a list of {rt.kind}",
                gvk,
                tag,
                responses=event,
            ),
            "parameters": [*_LIST_PARAMS, *scope_params, _PRETTY],
        }
        out[f"{watch_base}/{{name}}"] = {
            "get": _operation(
                "watch", f"watch{ident}{scope}{rt.kind}", f"watch changes to a {rt.kind}", gvk, tag, responses=event
            ),
            "parameters": [*_LIST_PARAMS, name_param, *scope_params, _PRETTY],
        }
    return out


def _patch_operation(op_id: str, description: str, gvk: dict[str, str], tag: str, ref: str) -> dict[str, Any]:
    """A PATCH operation: the one kubectl inspects for strategic-merge support and `fieldValidation`."""
    return _operation(
        "patch",
        op_id,
        description,
        gvk,
        tag,
        params=[_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION, _FORCE],
        body=_body(f"{_META}.Patch", _PATCH_TYPES),
        responses=_responses(ref, ("200", "201")),
    )


def _subresource_paths(
    rt: ResourceType,
    base: str,
    ident: str,
    scope: str,
    gvk: dict[str, str],
    tag: str,
    ref: str,
    item_params: list[dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    writes = [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION]
    for sub in rt.subresources:
        suffix = _pascal(sub)
        path = f"{base}/{{name}}/{sub}"
        if sub in ("status", "scale"):
            target_gvk, target = gvk, ref
            if sub == "scale":
                target_gvk = {"group": "autoscaling", "kind": "Scale", "version": "v1"}
                target = schema.openapi_name("V1Scale")
            out[path] = {
                "get": _operation(
                    "get",
                    f"read{ident}{scope}{rt.kind}{suffix}",
                    f"read {sub} of the specified {rt.kind}",
                    target_gvk,
                    tag,
                    responses=_responses(target),
                ),
                "patch": _patch_operation(
                    f"patch{ident}{scope}{rt.kind}{suffix}",
                    f"partially update {sub} of the specified {rt.kind}",
                    target_gvk,
                    tag,
                    target,
                ),
                "put": _operation(
                    "put",
                    f"replace{ident}{scope}{rt.kind}{suffix}",
                    f"replace {sub} of the specified {rt.kind}",
                    target_gvk,
                    tag,
                    params=writes,
                    body=_body(target),
                    responses=_responses(target, ("200", "201")),
                ),
                "parameters": item_params,
            }
        elif sub == "log":
            out[path] = {
                "get": _operation(
                    "get",
                    f"read{ident}{scope}{rt.kind}Log",
                    f"read log of the specified {rt.kind}",
                    gvk,
                    tag,
                    responses=_responses(None, media=("text/plain", "application/json")),
                ),
                "parameters": [*_LOG_PARAMS, *item_params],
            }
        elif sub == "finalize":
            out[path] = {
                "put": _operation(
                    "put",
                    f"replace{ident}{scope}{rt.kind}Finalize",
                    f"replace finalize of the specified {rt.kind}",
                    gvk,
                    tag,
                    params=writes,
                    body=_body(ref),
                    responses=_responses(ref, ("200", "201")),
                ),
                "parameters": item_params,
            }
    return out


# --------------------------------------------------------------------------- the documents


@cache
def document(group: str, version: str) -> bytes | None:
    """The OpenAPI v3 document of one served group/version (orjson bytes), or None if not served."""
    resources = in_group_version(group, version)
    if not resources:
        return None
    paths: dict[str, Any] = {}
    roots: list[str] = []
    for rt in resources:
        paths.update(_resource_paths(rt))
        roots += [
            m for m in (schema.type_of(rt.api_version, rt.kind), schema.type_of(rt.api_version, rt.list_kind)) if m
        ]
        if "scale" in rt.subresources and "V1Scale" not in roots:
            roots.append("V1Scale")
    roots += ["V1Status", "V1DeleteOptions", "V1WatchEvent"]
    doc = {
        "components": {"schemas": _schemas(roots)},
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "openapi": "3.0.0",
        "paths": dict(sorted(paths.items())),
    }
    return orjson.dumps(doc)
