"""Patch semantics of the API server, as pure functions over JSON dicts.

JSON merge patch (RFC 7386), JSON patch (RFC 6902), Kubernetes strategic merge
patch, and server-side apply with `metadata.managedFields` bookkeeping. None of
the functions mutate their inputs. Error messages follow the Go libraries the
API server uses (apimachinery `strategicpatch`, evanphx/json-patch,
structured-merge-diff), because clients show them to users verbatim.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

import jsonpatch
import jsonpointer

from sandbox import schema
from sandbox.resources import by_kind

JSON = Any


class PatchError(ValueError):
    """A patch that cannot be applied. `code` is the HTTP status the API server answers with."""

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.code = code


def _copy(value: JSON) -> JSON:
    """Deep copy of JSON data (much faster than `copy.deepcopy` for dicts and lists)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _equal(a: JSON, b: JSON) -> bool:
    """JSON equality: unlike `==`, `true` is not `1`."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if _number(a) and _number(b):
        return bool(a == b)
    return type(a) is type(b) and bool(a == b)


def _number(v: JSON) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _go(value: JSON) -> str:
    """Go's `%v` of a decoded JSON value, for error messages (`map[name:x]`, `[a b]`, `<nil>`)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go(v) for v in value) + "]"
    return str(value)


def _go_type(value: JSON) -> str:
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if _number(value):
        return "float64"
    return "<nil>"


# --------------------------------------------------------------------------- JSON merge patch


def merge_patch(target: JSON, patch: JSON) -> JSON:
    """RFC 7386 JSON merge patch: objects merge, `null` deletes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return _copy(patch)
    out = _copy(target) if isinstance(target, dict) else {}
    _merge_into(out, patch)
    return out


def _merge_into(out: dict[str, JSON], patch: dict[str, JSON]) -> None:
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            current = out.get(key)
            if not isinstance(current, dict):
                current = out[key] = {}
            _merge_into(current, value)
        else:
            out[key] = _copy(value)


# --------------------------------------------------------------------------- JSON patch


def json_patch(target: dict[str, JSON], ops: list[JSON]) -> dict[str, JSON]:
    """RFC 6902 JSON patch. Raises PatchError worded like evanphx/json-patch, naming the failing op."""
    if not isinstance(ops, list):
        raise PatchError(f"json: cannot unmarshal {_json_kind(ops)} into Go value of type jsonpatch.Patch")
    doc = _copy(target)
    for op in ops:
        doc = _apply_op(doc, op)
    return cast(dict[str, JSON], doc)


def _json_kind(value: JSON) -> str:
    return {dict: "object", str: "string", bool: "bool"}.get(type(value), "number" if _number(value) else "null")


def _apply_op(doc: JSON, op: JSON) -> JSON:
    if not isinstance(op, dict):
        raise PatchError(f"json: cannot unmarshal {_json_kind(op)} into Go value of type jsonpatch.Operation")
    kind = op.get("op")
    if kind not in ("add", "remove", "replace", "move", "copy", "test"):
        raise PatchError(f"Unexpected kind: {kind if isinstance(kind, str) else 'unknown'}", 422)
    if not isinstance(op.get("path"), str):
        raise PatchError("operation missing path field: missing value", 422)
    if kind in ("move", "copy") and not isinstance(op.get("from"), str):
        raise PatchError("operation, missing from field: missing value", 422)
    if kind in ("add", "replace", "test") and "value" not in op:
        raise PatchError("operation, missing value field: missing value", 422)
    try:
        return jsonpatch.JsonPatch([op]).apply(doc, in_place=True)
    except jsonpatch.JsonPatchTestFailed:
        raise PatchError(f"testing value {op['path']} failed: test failed", 422) from None
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as err:
        raise PatchError(_op_failure(doc, op), 422) from err


def _op_failure(doc: JSON, op: dict[str, JSON]) -> str:
    """The evanphx/json-patch message for an op that does not apply to `doc`."""
    kind, path = op["op"], op["path"]
    parent, _, key = path.rpartition("/")
    parent_exists = _resolves(doc, parent)
    if kind in ("move", "copy") and not _resolves(doc, op["from"]):
        return f"{kind} operation does not apply: doc is missing from path: {op['from']}: missing value"
    if not parent_exists:
        if kind in ("add", "remove"):
            return f'{kind} operation does not apply: doc is missing path: "{path}": missing value'
        if kind == "test":
            return f"test operation does not apply: is missing path: {path}: missing value"
        return f"{kind} operation does not apply: doc is missing destination path: {path}: missing value"
    if isinstance(_resolve(doc, parent), list):
        return f"error in {kind} for path: '{path}': Unable to access invalid index: {key}: invalid index referenced"
    if kind == "remove":
        return f"error in remove for path: '{path}': Unable to remove nonexistent key: {key}: missing value"
    if kind == "replace":
        return f"replace operation does not apply: doc is missing key: {path}: missing value"
    return f"error in {kind} for path: '{path}': missing value"


def _resolve(doc: JSON, pointer: str) -> JSON:
    return jsonpointer.resolve_pointer(doc, pointer)


def _resolves(doc: JSON, pointer: str) -> bool:
    try:
        _resolve(doc, pointer)
    except (jsonpointer.JsonPointerException, TypeError, ValueError):
        return False
    return True


# --------------------------------------------------------------------------- strategic merge patch

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_FROM = "$deleteFromPrimitiveList"
_SET_ORDER = "$setElementOrder"
_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class _Meta:
    """Where a value sits in the schema: its model (if any) and whether it is a map of them."""

    type_name: str | None
    is_map: bool = False

    def lookup(self, key: str) -> tuple[_Meta, str, str]:
        """(schema of `key`'s value or list element, patch strategy without retainKeys, merge key)."""
        if self.is_map:
            return _Meta(self.type_name), "", ""
        f = schema.field(self.type_name, key) if self.type_name else None
        if f is None:
            return _NO_SCHEMA, "", ""
        element = f.type_name if schema.is_model(f.type_name) else None
        return _Meta(element, f.shape == "map"), _without_retain_keys(f.strategy), f.merge_key or ""


_NO_SCHEMA = _Meta(None)


def _without_retain_keys(strategy: str | None) -> str:
    parts = [p for p in (strategy or "").split(",") if p and p != "retainKeys"]
    if len(parts) > 1:
        raise PatchError(f"unexpected patch strategy: {strategy}", 500)
    return parts[0] if parts else ""


def strategic_merge_patch(
    target: dict[str, JSON], patch: dict[str, JSON], api_version: str, kind: str
) -> dict[str, JSON]:
    """Kubernetes strategic merge patch, as the API server applies it.

    Lists with a merge key merge by key; new items land in front of the live
    ones unless `$setElementOrder/<field>` orders them (apimachinery's rule).
    Lists without a merge key are replaced; primitive lists with strategy merge
    are unioned. Kinds with no schema fall back to JSON merge patch.
    """
    root = schema.type_of(api_version, kind)
    if root is None:
        return cast(dict[str, JSON], merge_patch(target, patch))
    if not isinstance(patch, dict) or not isinstance(target, dict):
        raise PatchError("invalid JSON document")
    return _merge_map(_copy(target), _copy(patch), _Meta(root))


def _merge_map(original: dict[str, JSON] | None, patch: dict[str, JSON], meta: _Meta) -> dict[str, JSON]:
    """apimachinery's mergeMap: both arguments are private copies and may be changed."""
    if _DIRECTIVE in patch:
        directive = patch.pop(_DIRECTIVE)
        if directive == "replace":
            return cast(dict[str, JSON], _remove_directives(patch))
        if directive == "delete":
            return {}
        if directive != "merge":
            patch[_DIRECTIVE] = directive
            raise PatchError(f"unknown patch type: {_go(directive)} in map: {_go(patch)}", 500)
    if original is None:
        original = {}
    _apply_retain_keys(original, patch)
    _merge_ordered_lists(original, patch, meta)
    deletions = [k for k in patch if k.startswith(_DELETE_FROM)]
    for key in [k for k in patch if not k.startswith(_DELETE_FROM)]:
        _merge_key(original, key, patch[key], meta, delete_list=False)
    for key in deletions:
        _merge_key(original, _directive_target(key, _DELETE_FROM), patch[key], meta, delete_list=True)
    return original


def _merge_key(original: dict[str, JSON], key: str, value: JSON, meta: _Meta, *, delete_list: bool) -> None:
    if value is None:
        original.pop(key, None)
        return
    if key not in original or _container(original[key]) != _container(value):
        if not delete_list:
            kept = _remove_directives(_discard_nulls(value))
            if kept is _MISSING:
                original.pop(key, None)
            else:
                original[key] = kept
        return
    current = original[key]
    sub, strategy, merge_key = meta.lookup(key)
    if isinstance(value, dict) and strategy == "replace":
        kept = _remove_directives(value)
        if kept is _MISSING:
            original.pop(key, None)
        else:
            original[key] = kept
    elif isinstance(value, dict):
        original[key] = _merge_map(current, value, sub)
    elif isinstance(value, list):
        original[key] = _merge_list_field(current, value, sub, strategy, merge_key, delete_list)
    else:
        original[key] = value


def _container(value: JSON) -> str:
    return "map" if isinstance(value, dict) else "list" if isinstance(value, list) else "scalar"


def _directive_target(key: str, prefix: str) -> str:
    head, sep, tail = key.partition("/")
    if not sep or head != prefix:
        if prefix == _DELETE_FROM:
            raise PatchError("invalid patch format of primitive list")
        raise PatchError("invalid patch format of setElementOrder list")
    return tail


def _apply_retain_keys(original: dict[str, JSON], patch: dict[str, JSON]) -> None:
    """`$retainKeys`: drop every key of the live map not listed (how a volume switches its source)."""
    if _RETAIN_KEYS not in patch:
        return
    retain = patch.pop(_RETAIN_KEYS)
    if not isinstance(retain, list) or not all(isinstance(k, str) for k in retain):
        raise PatchError("invalid patch format of retainKeys")
    keep = set(retain)
    for key, value in patch.items():
        if value is None or key.startswith((_DELETE_FROM, _SET_ORDER)):
            continue
        if key not in keep:
            raise PatchError("invalid patch format of retainKeys")
    for key in [k for k in original if k not in keep]:
        del original[key]


def _merge_ordered_lists(original: dict[str, JSON], patch: dict[str, JSON], meta: _Meta) -> None:
    """`$setElementOrder/<field>`: merge that field's list, then order it as the directive says."""
    for directive in [k for k in patch if k.startswith(_SET_ORDER)]:
        order = patch.pop(directive)
        if not isinstance(order, list):
            raise PatchError(f"expected a []interface {{}}, but received a {_go_type(order)}", 500)
        key = _directive_target(directive, _SET_ORDER)
        live, patched = original.get(key, _MISSING), patch.get(key, _MISSING)
        for value in (live, patched):
            if value is not _MISSING and not isinstance(value, list):
                raise PatchError(f"expected a []interface {{}}, but received a {_go_type(value)}", 500)
        sub, strategy, merge_key = meta.lookup(key)
        if patched is not _MISSING:
            _check_order_matches_patch(patched, order, merge_key)
        if live is _MISSING and patched is _MISSING:
            continue
        if patched is _MISSING:
            merged = live
        elif live is _MISSING:
            merged = _remove_directives(patched)
        else:
            merged = _merge_list_field(live, patched, sub, strategy, merge_key, False)
        items = (live if live is not _MISSING else []) + (patched if patched is not _MISSING else [])
        if items:
            maps = _element_kind(items) == "map"
            in_order, server_only = _partition(merged, order, merge_key if maps else None)
            server_order = live if live is not _MISSING else []
            if maps and patched is not _MISSING and strategy == "merge":
                server_order = _aliased_live_order(server_order, patched, merge_key)
            merged = _normalize_order(in_order, server_only, order, server_order, merge_key if maps else None)
        original[key] = merged
        patch.pop(key, None)


def _aliased_live_order(live: list[JSON], patched: list[JSON], merge_key: str) -> list[JSON]:
    """The live list as apimachinery sees it when it orders a `$setElementOrder` merge.

    Go's mergeSlice deletes and appends in the live slice's own backing array, so
    the "live order" consulted afterwards has deleted items shifted out (the
    last slot left stale) and appended items written into the freed slots. This
    replays that, because it decides where server-only items land on a real cluster.
    """
    view = list(live)
    length = len(view)
    replaced = False
    for item in patched:
        if not isinstance(item, dict) or _DIRECTIVE not in item:
            continue
        if item[_DIRECTIVE] == "replace":
            replaced = True
        elif item[_DIRECTIVE] == "delete" and merge_key in item:
            while (
                at := next((i for i in range(length) if _matches(view[i], merge_key, item[merge_key])), None)
            ) is not None:
                view[at : length - 1] = view[at + 1 : length]
                length -= 1
    if replaced:
        return view
    for item in patched:
        if not isinstance(item, dict) or _DIRECTIVE in item or merge_key not in item:
            continue
        if any(_matches(v, merge_key, item[merge_key]) for v in view[:length]):
            continue
        if length >= len(view):
            break
        view[length] = item
        length += 1
    return view


def _check_order_matches_patch(patched: list[JSON], order: list[JSON], merge_key: str) -> None:
    """The patch list must be a subsequence of the `$setElementOrder` list (deletions aside)."""
    items = (
        [p for p in patched if not (isinstance(p, dict) and p.get(_DIRECTIVE) == "delete")] if merge_key else patched
    )
    i = j = 0
    while i < len(items) and j < len(order):
        if isinstance(items[i], dict) and _DIRECTIVE in items[i]:
            i += 1
            continue
        if _same_key(items[i], order[j], merge_key):
            i += 1
        j += 1
    if i < len(items):
        raise PatchError(
            f"The order in patch list:\n{_go(patched)}\n doesn't match {_SET_ORDER} list:\n{_go(order)}\n", 500
        )


def _same_key(left: JSON, right: JSON, merge_key: str) -> bool:
    if not merge_key:
        return _equal(left, right)
    for side in (left, right):
        if not isinstance(side, dict):
            raise PatchError(f"expected a map[string]interface {{}}, but received a {_go_type(side)}", 500)
        if merge_key not in side:
            raise _no_merge_key(side, merge_key)
    return _equal(left[merge_key], right[merge_key])


def _no_merge_key(item: JSON, merge_key: str) -> PatchError:
    return PatchError(f"map: {_go(item)} does not contain declared merge key: {merge_key}", 500)


def _element_kind(items: list[JSON]) -> str:
    """The one container kind of a list's elements; apimachinery refuses mixed lists and lists of lists."""
    kinds = {_container(v) if v is not None else "null" for v in items}
    if "list" in kinds:
        raise PatchError("lists of lists are not supported", 422)
    scalar_types = {type(v) for v in items if _container(v) == "scalar"}
    if len(kinds) > 1 or len({int if t is float else t for t in scalar_types}) > 1:
        raise PatchError(f"list element types are not identical: {_go(items)}", 500)
    return kinds.pop()


def _merge_list_field(
    live: list[JSON], patched: list[JSON], sub: _Meta, strategy: str, merge_key: str, delete_list: bool
) -> list[JSON]:
    if strategy == "merge" or delete_list:
        return _merge_list(live, patched, sub, merge_key, delete_list)
    return cast(list[JSON], _remove_directives(patched))


def _merge_list(live: list[JSON], patched: list[JSON], sub: _Meta, merge_key: str, delete_list: bool) -> list[JSON]:
    """apimachinery's mergeSlice: by merge key for maps, as a set for primitives."""
    if not live and not patched:
        return live
    maps = _element_kind(live + patched) == "map"
    if not maps:
        if delete_list:
            return [v for v in live if not any(_equal(v, d) for d in patched)]
        merged = _dedupe(live + patched)
        in_patch, server_only = _partition(merged, patched, None)
        return _normalize_order(in_patch, server_only, patched, live, None)
    if not merge_key:
        raise PatchError(f"cannot merge lists without merge key for {sub.type_name or 'Struct'}", 500)
    live, patched = _apply_list_directives(live, patched, merge_key)
    merged = _merge_items(live, patched, merge_key, sub)
    in_patch, server_only = _partition(merged, patched, merge_key)
    return _normalize_order(in_patch, server_only, patched, live, merge_key)


def _dedupe(items: list[JSON]) -> list[JSON]:
    out: list[JSON] = []
    for item in items:
        if not any(_equal(item, seen) for seen in out):
            out.append(item)
    return out


def _apply_list_directives(live: list[JSON], patched: list[JSON], merge_key: str) -> tuple[list[JSON], list[JSON]]:
    """Items with `$patch`: `delete` removes the live item, `replace` makes the rest the whole list."""
    rest: list[JSON] = []
    replace = False
    for item in patched:
        directive = item.get(_DIRECTIVE, _MISSING)
        if directive is _MISSING:
            rest.append(item)
        elif directive == "delete":
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            live = [v for v in live if not _matches(v, merge_key, item[merge_key])]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            rest.append({k: v for k, v in item.items() if k != _DIRECTIVE})
        else:
            raise PatchError(f"unknown patch type: {_go(directive)} in map: {_go(item)}", 500)
    if replace:
        return [_remove_directives(_discard_nulls(v)) for v in rest], []
    return live, rest


def _matches(item: JSON, merge_key: str, value: JSON) -> bool:
    if not isinstance(item, dict):
        raise PatchError(f"value for key {merge_key} is not a map", 500)
    return merge_key in item and _equal(item[merge_key], value)


def _merge_items(live: list[JSON], patched: list[JSON], merge_key: str, sub: _Meta) -> list[JSON]:
    merged = list(live)
    for item in patched:
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        at = next((i for i, v in enumerate(merged) if _matches(v, merge_key, item[merge_key])), None)
        if at is None:
            merged.append(_remove_directives(_discard_nulls(item)))
        else:
            merged[at] = _merge_map(merged[at], item, sub)
    return merged


def _key_of(item: JSON, merge_key: str | None) -> JSON:
    return item.get(merge_key) if merge_key is not None and isinstance(item, dict) else item


def _index(items: list[JSON], item: JSON, merge_key: str | None) -> int:
    wanted = _key_of(item, merge_key)
    return next((i for i, v in enumerate(items) if _equal(_key_of(v, merge_key), wanted)), -1)


def _partition(merged: list[JSON], by: list[JSON], merge_key: str | None) -> tuple[list[JSON], list[JSON]]:
    """Split `merged` into the items present in `by` and the server-only rest, keeping order."""
    if merge_key is not None:
        for item in merged:
            if not isinstance(item, dict) or merge_key not in item:
                raise _no_merge_key(item, merge_key)
    inside = [v for v in merged if _index(by, v, merge_key) >= 0]
    outside = [v for v in merged if _index(by, v, merge_key) < 0]
    return inside, outside


def _normalize_order(
    patch_items: list[JSON],
    server_only: list[JSON],
    patch_order: list[JSON],
    server_order: list[JSON],
    merge_key: str | None,
) -> list[JSON]:
    """apimachinery's normalizeElementOrder: patch items in patch order, server items in live order, interleaved."""
    patch_items = _sorted_by(patch_items, patch_order, merge_key)
    server_only = _sorted_by(server_only, server_order, merge_key)
    return _interleave(server_only, patch_items, server_order, merge_key)


def _sorted_by(items: list[JSON], order: list[JSON], merge_key: str | None) -> list[JSON]:
    """Stable sort by position in `order`; items it does not list keep their place at the end."""
    positions = [_index(order, v, merge_key) for v in items]
    ranked = sorted(range(len(items)), key=lambda i: (positions[i] < 0, positions[i]))
    return [items[i] for i in ranked]


def _interleave(left: list[JSON], right: list[JSON], server_order: list[JSON], merge_key: str | None) -> list[JSON]:
    """apimachinery's mergeSortedSlice: a left item goes first only if both are live and it was earlier.

    So items new to the live list are placed before the remaining live items.
    """
    out: list[JSON] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li, ri = _index(server_order, left[i], merge_key), _index(server_order, right[j], merge_key)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def _remove_directives(value: JSON) -> JSON:
    """A new value without SMP directives; a map carrying `$patch` disappears (returns `_MISSING`)."""
    if isinstance(value, dict):
        if _DIRECTIVE in value:
            return _MISSING
        out = {}
        for key, child in value.items():
            if key == _RETAIN_KEYS or key.startswith((_SET_ORDER, _DELETE_FROM)):
                continue
            kept = _remove_directives(child)
            if kept is not _MISSING:
                out[key] = kept
        return out
    if isinstance(value, list):
        return [kept for kept in (_remove_directives(v) for v in value) if kept is not _MISSING]
    return value


def _discard_nulls(value: JSON) -> JSON:
    if isinstance(value, dict):
        return {k: _discard_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_discard_nulls(v) for v in value]
    return value


# --------------------------------------------------------------------------- server-side apply
#
# A field set is a set of paths; a path is a tuple of FieldsV1 path elements:
# `f:<field>`, `k:{"name":"x"}` (list-map item), `v:"x"` (set item), `i:0` (index).

Path = tuple[str, ...]

# What apimachinery's stripMeta manager never records as owned.
_STRIPPED: frozenset[Path] = frozenset(
    {("f:apiVersion",), ("f:kind",), ("f:metadata",)}
    | {
        ("f:metadata", f"f:{name}")
        for name in (
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        )
    }
)
# List-map keys the API server defaults when an item omits them.
_KEY_DEFAULTS = {"protocol": "TCP"}


@dataclass(frozen=True, slots=True)
class _Type:
    """Server-side apply's view of a node: a struct, a map, a list (atomic, set or map) or a leaf."""

    kind: str  # struct | map | list | leaf | deduced
    name: str | None = None  # struct: model; map/list: element type
    atomic: bool = False
    list_type: str = "atomic"
    keys: tuple[str, ...] = ()


_LEAF = _Type("leaf")
_DEDUCED = _Type("deduced")  # no schema: maps granular, lists atomic, like structured-merge-diff's deduced type
_DEDUCED_VALUES = "*"  # element type name of a deduced map


def _element_type(name: str | None) -> _Type:
    if name == _DEDUCED_VALUES:
        return _DEDUCED
    if name and schema.is_model(name):
        return _Type("struct", name, name in schema.ATOMIC_STRUCTS)
    return _LEAF


def _field_type(f: schema.Field) -> _Type:
    if f.shape == "list":
        return _Type("list", f.type_name, f.atomic, f.list_type or "atomic", f.list_map_keys)
    if f.shape == "map":
        return _Type("map", f.type_name, f.atomic)
    if f.shape == "object":
        return _Type("struct", f.type_name, f.atomic)
    return _LEAF


def _child_type(t: _Type, key: str) -> _Type | None:
    """The type of `key` under a struct or map; None when a struct does not declare it."""
    if t.kind == "map":
        return _element_type(t.name)
    if t.kind == "deduced":
        return _DEDUCED
    f = schema.field(t.name, key) if t.name else None
    return _field_type(f) if f else None


def _resolve_type(t: _Type, value: JSON) -> _Type:
    if t.kind == "deduced":
        return _Type("map", _DEDUCED_VALUES) if isinstance(value, dict) else _LEAF
    return t


def _root_type(api_version: str, kind: str) -> _Type:
    root = schema.type_of(api_version, kind)
    return _Type("struct", root) if root else _DEDUCED


def _pe_json(value: JSON) -> str:
    """JSON as Go's encoder writes it into FieldsV1 keys (compact, sorted keys, HTML-escaped)."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _item_element(t: _Type, item: JSON, path: Path, index: int) -> str:
    """The path element naming a list item: `k:{...}` in list maps, `v:...` in sets."""
    if t.list_type == "set":
        return "v:" + _pe_json(item)
    if not isinstance(item, dict):
        raise _SchemaError(path, f"element {index}: expected map, got {_go(item)}")
    key: dict[str, JSON] = {}
    for name in t.keys:
        if name in item and item[name] is not None:
            key[name] = item[name]
        elif name in _KEY_DEFAULTS:
            key[name] = _KEY_DEFAULTS[name]
        else:
            raise _SchemaError(
                path,
                f'element {index}: associative list with keys has an element that omits key field "{name}"'
                " (and doesn't have default value)",
            )
    return "k:" + _pe_json(key)


@dataclass(slots=True)
class _SchemaError(Exception):
    path: Path
    message: str

    def __str__(self) -> str:
        return f"{path_string(self.path)}: {self.message}"


def path_string(path: Path) -> str:
    """A field path as apply conflicts print it: `.spec.containers[name="app"].image`."""
    out = []
    for pe in path:
        kind, body = pe[:2], pe[2:]
        if kind == "f:":
            out.append("." + body)
        elif kind == "k:":
            key = json.loads(body)
            out.append("[" + ",".join(f"{k}={_go_string(v)}" for k, v in key.items()) + "]")
        elif kind == "v:":
            out.append(f"[={_go_string(json.loads(body))}]")
        else:
            out.append(f"[{body}]")
    return "".join(out)


def _go_string(value: JSON) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return _go(value)


def _collect(value: JSON, t: _Type, path: Path, out: set[Path], unknown: list[_SchemaError] | None) -> None:
    """structured-merge-diff's ToFieldSet: the leaves, list items and map entries `value` sets."""
    t = _resolve_type(t, value)
    if t.kind == "leaf" or t.atomic or value is None:
        if path:
            out.add(path)
        return
    if t.kind in ("struct", "map"):
        if not isinstance(value, dict):
            out.add(path)
            return
        for key, child in value.items():
            here = (*path, f"f:{key}")
            child_type = _child_type(t, key)
            if child_type is None:
                if unknown is not None:
                    unknown.append(_SchemaError(here, "field not declared in schema"))
                child_type = _DEDUCED
            _collect(child, child_type, here, out, unknown)
            if child is None or child == {} or t.kind == "map":
                out.add(here)
        return
    if not isinstance(value, list):
        out.add(path)
        return
    element = _element_type(t.name)
    seen: set[str] = set()
    for i, item in enumerate(value):
        pe = _item_element(t, item, path, i)
        if pe in seen:
            if unknown is not None:
                unknown.append(_SchemaError(path, f"duplicate entries for key {path_string((pe,))}"))
            continue
        seen.add(pe)
        _collect(item, element, (*path, pe), out, unknown)
        out.add((*path, pe))


def _items_by_element(t: _Type, items: list[JSON], path: Path) -> dict[str, JSON]:
    out: dict[str, JSON] = {}
    for i, item in enumerate(items):
        out.setdefault(_item_element(t, item, path, i), item)
    return out


def _ssa_merge(live: JSON, applied: JSON, t: _Type, path: Path) -> JSON:
    """structured-merge-diff's merge: the applied value wins, granular parts merge."""
    if live is _MISSING:
        return _copy(applied)
    t = _resolve_type(t, applied)
    if t.kind == "leaf" or t.atomic or applied is None:
        return _copy(applied)
    if t.kind in ("struct", "map"):
        if not isinstance(live, dict) or not isinstance(applied, dict):
            return _copy(applied)
        out = _copy(live)
        for key, value in applied.items():
            merged = _ssa_merge(live.get(key, _MISSING), value, _child_type(t, key) or _DEDUCED, (*path, f"f:{key}"))
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
        return out
    if not isinstance(live, list) or not isinstance(applied, list):
        return _copy(applied)
    return _merge_list_items(live, applied, t, path)


def _merge_list_items(live: list[JSON], applied: list[JSON], t: _Type, path: Path) -> list[JSON]:
    """Merge associative lists in structured-merge-diff's order: applied order, live-only items kept near."""
    element = _element_type(t.name)
    lhs = [(_item_element(t, v, path, i), v) for i, v in enumerate(live)]
    rhs = [(_item_element(t, v, path, i), v) for i, v in enumerate(applied)]
    lhs_seen: dict[str, JSON] = {}
    for pe, v in lhs:  # a key duplicated in the live list is replaced, not merged
        lhs_seen[pe] = _MISSING if pe in lhs_seen else v
    rhs_seen = {pe: v for pe, v in reversed(rhs)}
    shared = [pe for pe, _ in rhs if pe in lhs_seen]
    next_shared = shared.pop(0) if shared else None
    done: set[str] = set()
    out: list[JSON] = []

    def take(pe: str) -> None:
        done.add(pe)
        out.append(_ssa_merge(lhs_seen.get(pe, _MISSING), rhs_seen[pe], element, (*path, pe)))

    li = ri = 0
    while li < len(lhs) or ri < len(rhs):
        if li < len(lhs) and ri < len(rhs):
            pe = lhs[li][0]
            if pe == rhs[ri][0]:
                take(pe)
                li, ri = li + 1, ri + 1
                next_shared = shared.pop(0) if shared else None
                continue
            if pe in rhs_seen and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < len(lhs):
            pe, value = lhs[li]
            if pe not in rhs_seen:
                out.append(_copy(value))
                li += 1
                continue
            if pe in done:
                li += 1
        if ri < len(rhs):
            pe = rhs[ri][0]
            take(pe)
            ri += 1
            if next_shared == pe:
                next_shared = shared.pop(0) if shared else None
    return out


@dataclass(slots=True)
class _Comparison:
    added: set[Path] = field(default_factory=set)
    modified: set[Path] = field(default_factory=set)
    removed: set[Path] = field(default_factory=set)


def _empty(value: JSON) -> bool:
    return value is _MISSING or value is None or value == {} or value == []


def _compare(old: JSON, new: JSON, t: _Type, path: Path, out: _Comparison) -> None:
    """structured-merge-diff's Compare: leaves added/modified/removed, plus added/removed containers."""
    old = _MISSING if old is None else old
    new = _MISSING if new is None else new
    if old is _MISSING and new is _MISSING:
        return
    t = _resolve_type(t, new if new is not _MISSING else old)
    same_shape = old is _MISSING or new is _MISSING or _container(old) == _container(new)
    if t.kind == "leaf" or t.atomic or not same_shape or (_empty(old) and _empty(new)) or _is_scalar(old, new):
        if old is _MISSING:
            out.added.add(path)
        elif new is _MISSING:
            out.removed.add(path)
        elif not _equal(old, new):
            out.modified.add(path)
        return
    if t.kind in ("struct", "map"):
        lhs, rhs = old if old is not _MISSING else {}, new if new is not _MISSING else {}
        for key in dict.fromkeys([*lhs, *rhs]):
            child = _child_type(t, key) or _DEDUCED
            _compare(lhs.get(key, _MISSING), rhs.get(key, _MISSING), child, (*path, f"f:{key}"), out)
    else:
        lhs = _items_by_element(t, old if old is not _MISSING else [], path)
        rhs = _items_by_element(t, new if new is not _MISSING else [], path)
        element = _element_type(t.name)
        for pe in dict.fromkeys([*lhs, *rhs]):
            _compare(lhs.get(pe, _MISSING), rhs.get(pe, _MISSING), element, (*path, pe), out)
    if path and old is _MISSING:
        out.added.add(path)
    elif path and new is _MISSING:
        out.removed.add(path)


def _is_scalar(old: JSON, new: JSON) -> bool:
    value = new if new is not _MISSING else old
    return _container(value) == "scalar"


def _remove_path(obj: JSON, path: Path, t: _Type) -> None:
    """Delete the field or list item at `path` if it is there."""
    node, node_type = obj, t
    for depth, pe in enumerate(path):
        last = depth == len(path) - 1
        node_type = _resolve_type(node_type, node)
        if pe.startswith("f:"):
            if not isinstance(node, dict) or pe[2:] not in node:
                return
            if last:
                del node[pe[2:]]
                return
            node, node_type = node[pe[2:]], _child_type(node_type, pe[2:]) or _DEDUCED
            continue
        if not isinstance(node, list):
            return
        at = _find_item(node, pe, node_type, path[:depth])
        if at is None:
            return
        if last:
            del node[at]
            return
        node, node_type = node[at], _element_type(node_type.name)


def _find_item(items: list[JSON], pe: str, t: _Type, path: Path) -> int | None:
    if pe.startswith("i:"):
        index = int(pe[2:])
        return index if 0 <= index < len(items) else None
    for i, item in enumerate(items):
        try:
            if _item_element(t, item, path, i) == pe:
                return i
        except _SchemaError:
            continue
    return None


def _named_ancestors(path: Path) -> Iterable[Path]:
    """The prefixes of `path` that end in a named field (structured-merge-diff's EnsureNamedFieldsAreMembers)."""
    for end in range(1, len(path)):
        if path[end - 1].startswith("f:"):
            yield path[:end]


def _with_prefixes(paths: Iterable[Path]) -> set[Path]:
    """`paths` and all their prefixes: `p in _with_prefixes(s)` asks whether `s` claims `p` or anything below it."""
    out: set[Path] = set()
    for p in paths:
        for end in range(1, len(p) + 1):
            out.add(p[:end])
    return out


# --------------------------------------------------------------------------- managedFields


@dataclass(slots=True)
class _Managed:
    """One managedFields entry and the field set it owns."""

    entry: dict[str, JSON]
    fields: set[Path]
    changed: bool = False

    @property
    def identity(self) -> tuple[str, str, str, str]:
        """How the API server tells managers apart: Apply entries ignore their apiVersion."""
        operation = self.entry.get("operation", "")
        api_version = self.entry.get("apiVersion", "") if operation != "Apply" else ""
        return self.entry.get("manager", ""), operation, api_version, self.entry.get("subresource", "")

    def describe(self) -> str:
        """apimachinery's printManager: `"kubectl" using apps/v1` for updaters, `"kubectl"` for appliers."""
        manager, operation, api_version, subresource = self.identity
        text = json.dumps(manager, ensure_ascii=False)
        if subresource:
            text += f" with subresource {json.dumps(subresource)}"
        if operation == "Update":
            text += f" using {api_version}"
        return text

    def sort_key(self) -> str:
        manager, operation, api_version, subresource = self.identity
        parts = {"manager": manager, "operation": operation, "apiVersion": api_version, "subresource": subresource}
        return json.dumps({k: v for k, v in parts.items() if v}, separators=(",", ":"))


def _decode_fields(tree: JSON, prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    if not isinstance(tree, dict):
        return out
    for key, sub in tree.items():
        if key == ".":
            if prefix:
                out.add(prefix)
            continue
        here = (*prefix, _canonical_element(key))
        if sub:
            out |= _decode_fields(sub, here)
        else:
            out.add(here)
    return out


def _canonical_element(pe: str) -> str:
    if pe.startswith(("k:", "v:")):
        try:
            return pe[:2] + _pe_json(json.loads(pe[2:]))
        except ValueError:
            return pe
    return pe


_RANK = {"f:": 0, "k:": 1, "v:": 2, "i:": 3}


def _element_order(pe: str) -> tuple[int, str]:
    return _RANK.get(pe[:2], 4), pe


def _encode_fields(paths: set[Path]) -> dict[str, JSON]:
    """A field set as FieldsV1 JSON: `{"f:spec": {"f:replicas": {}}}`, `"."` marking owned parents."""
    trie: dict[str, Any] = {}
    members: set[Path] = set(paths)
    for p in paths:
        node = trie
        for pe in p:
            node = node.setdefault(pe, {})
    return _emit(trie, (), members)


def _emit(node: dict[str, Any], prefix: Path, members: set[Path]) -> dict[str, JSON]:
    out: dict[str, JSON] = {}
    for pe in sorted(node, key=_element_order):
        here = (*prefix, pe)
        children = _emit(node[pe], here, members)
        if children and here in members:
            children = {".": {}, **children}
        out[pe] = children
    return out


def _decode_managers(entries: JSON) -> list[_Managed]:
    out: list[_Managed] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or (not entry.get("manager") and not entry.get("operation")):
            continue
        fields = _decode_fields(entry.get("fieldsV1") or {})
        out.append(_Managed({k: v for k, v in entry.items() if k != "fieldsV1"}, fields))
    return out


def _encode_managers(managers: list[_Managed]) -> list[dict[str, JSON]]:
    """Entries in the API server's order: Apply before Update, then by time, manager, apiVersion."""
    live = [m for m in managers if m.fields]
    live.sort(
        key=lambda m: (
            m.entry.get("operation", ""),
            str(m.entry.get("time", ""))[:19],
            m.entry.get("manager", ""),
            m.entry.get("apiVersion", ""),
            m.entry.get("subresource", ""),
        )
    )
    out: list[dict[str, JSON]] = []
    for m in live:
        entry: dict[str, JSON] = {k: m.entry[k] for k in ("manager", "operation", "apiVersion", "time") if k in m.entry}
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = _encode_fields(m.fields)
        if m.entry.get("subresource"):
            entry["subresource"] = m.entry["subresource"]
        out.append(entry)
    return out


def _strip(paths: set[Path]) -> set[Path]:
    return {p for p in paths if p not in _STRIPPED}


def _reset_filter(api_version: str, kind: str, subresource: str | None) -> Any:
    """Which paths a request may own: the main resource never owns `status`, `/status` owns only it."""
    rt = by_kind(api_version, kind)
    has_status = rt is not None and "status" in rt.subresources
    if subresource == "status":
        return lambda p: bool(p) and p[0] == "f:status"
    if has_status and subresource is None:
        return lambda p: not p or p[0] != "f:status"
    return lambda p: True


class ApplyConflict(Exception):
    """Server-side apply touched fields another manager owns with a different value.

    `conflicts` is `[(manager, ".spec.replicas"), ...]`; `causes` are the Status
    causes the API server attaches (`reason: FieldManagerConflict`).
    """

    def __init__(self, conflicts: list[tuple[_Managed, Path]]) -> None:
        self.conflicts: list[tuple[str, str]] = [(m.entry.get("manager", ""), path_string(p)) for m, p in conflicts]
        self.causes: list[dict[str, str]] = [
            {"reason": "FieldManagerConflict", "message": f"conflict with {m.describe()}", "field": path_string(p)}
            for m, p in conflicts
        ]
        super().__init__(_conflict_message(conflicts))


def _conflict_message(conflicts: list[tuple[_Managed, Path]]) -> str:
    if len(conflicts) == 1:
        manager, path = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {manager.describe()}: {path_string(path)}"
    lines: list[str] = []
    seen: list[_Managed] = []
    for manager, _ in conflicts:
        if not any(manager is s for s in seen):
            seen.append(manager)
    for manager in seen:
        lines.append(f"conflicts with {manager.describe()}:")
        lines.extend(f"- {path_string(p)}" for m, p in conflicts if m is manager)
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


def _path_order(path: Path) -> tuple[tuple[int, str], ...]:
    return tuple(_element_order(pe) for pe in path)


def _gvk_string(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    return f"{group}/{version}, Kind={kind}"


def apply_patch(
    live: dict[str, JSON] | None,
    applied: dict[str, JSON],
    api_version: str,
    kind: str,
    manager: str,
    force: bool,
    now: str,
    subresource: str | None = None,
) -> dict[str, JSON]:
    """Server-side apply: merge `applied` into `live` and record `manager`'s ownership.

    Fields the manager applied last time but left out now are removed unless
    someone else also owns them. Changing a field another manager owns raises
    ApplyConflict unless `force`, which takes the field over. An object with no
    managedFields gets a `before-first-apply` owner of everything first, as on a
    real cluster. `status` in the applied config is ignored on the main resource.
    """
    t = _root_type(api_version, kind)
    accept = _reset_filter(api_version, kind, subresource)
    base = _copy(live) if live else {}
    managers = _decode_managers((base.get("metadata") or {}).pop("managedFields", None))
    config = _copy(applied)
    (config.get("metadata") or {}).pop("managedFields", None)
    if subresource is None and not accept(("f:status",)):
        config.pop("status", None)
    elif subresource == "status":  # only status is writable there
        config = {k: v for k, v in config.items() if k in ("apiVersion", "kind", "metadata", "status")}
    if live and not managers:
        owned: set[Path] = set()
        _collect(base, t, (), owned, None)
        first = _Managed(
            {"manager": "before-first-apply", "operation": "Update", "apiVersion": api_version, "time": now}, set()
        )
        first.fields = {p for p in _strip(owned) if accept(p)}
        managers.append(first)

    unknown: list[_SchemaError] = []
    applied_set: set[Path] = set()
    try:
        _collect(config, t, (), applied_set, unknown)
    except _SchemaError as err:
        unknown.append(err)
    if unknown:
        raise PatchError(_typed_patch_error(config, api_version, kind, unknown), 500)

    identity = (manager, "Apply", "", subresource or "")
    me = next((m for m in managers if m.identity == identity), None)
    others = [m for m in managers if m is not me]
    comparison = _Comparison()
    try:
        merged: dict[str, JSON] = _ssa_merge(base, config, t, ())
        _prune(merged, t, me.fields if me else set(), applied_set, others)
        _compare(base, merged, t, (), comparison)
    except _SchemaError as err:  # the live object itself is malformed
        raise PatchError(f"failed to merge config: {err}", 500) from None
    touched = comparison.added | comparison.modified
    conflicts = sorted(
        ((m, p) for m in others for p in m.fields & touched if accept(p)),
        key=lambda mp: (mp[0].sort_key(), _path_order(mp[1])),
    )
    if conflicts and not force:
        raise ApplyConflict(conflicts)
    for m in others:
        lost = (m.fields & touched) | (m.fields & comparison.removed)
        if lost:
            m.fields -= lost
            m.changed = True
    entry: dict[str, JSON] = {"manager": manager, "operation": "Apply", "apiVersion": api_version, "time": now}
    if subresource:
        entry["subresource"] = subresource
    mine = _Managed(entry, {p for p in _strip(applied_set) if accept(p)}, True)
    merged.setdefault("metadata", {})["managedFields"] = _encode_managers([*others, mine])
    if not merged["metadata"]["managedFields"]:
        del merged["metadata"]["managedFields"]
    return merged


def _typed_patch_error(config: dict[str, JSON], api_version: str, kind: str, errors: list[_SchemaError]) -> str:
    meta = config.get("metadata") or {}
    where = f"{meta.get('namespace', '')}/{meta.get('name', '')}; {_gvk_string(api_version, kind)}"
    body = str(errors[0]) if len(errors) == 1 else "errors:\n" + "\n".join(f"  {e}" for e in errors)
    return f"failed to create typed patch object ({where}): {body}"


def _prune(merged: dict[str, JSON], t: _Type, last: set[Path], applied: set[Path], others: list[_Managed]) -> None:
    """Remove what this manager applied before and nobody (itself included) still claims."""
    if not last:
        return
    claimed = _with_prefixes(applied)
    for m in others:
        claimed |= _with_prefixes(m.fields)
    candidates = set(last)
    for p in last:
        candidates.update(_named_ancestors(p))
    for path in sorted(candidates, key=len):
        if path not in claimed:
            _remove_path(merged, path, t)


def record_update(
    old: dict[str, JSON] | None,
    new: dict[str, JSON],
    api_version: str,
    kind: str,
    manager: str,
    now: str,
    subresource: str | None,
) -> dict[str, JSON]:
    """`new` with an `Update` managedFields entry for `manager` owning what it changed.

    Ownership moves to `manager` for every field it added or changed (others
    lose those), and removed fields leave every owner. The existing entries come
    from `new.metadata.managedFields` when present (the API server lets a client
    reset them with `[]`), else from `old`. As on a real cluster, an object that
    was never tracked stays untracked on update; creates are always tracked.
    """
    t = _root_type(api_version, kind)
    accept = _reset_filter(api_version, kind, subresource)
    out: dict[str, JSON] = _copy(new)
    meta = out.setdefault("metadata", {})
    old_copy = _copy(old) if old else None
    old_entries = (old_copy or {}).get("metadata", {}).pop("managedFields", None) if old_copy else None
    given = meta.pop("managedFields", _MISSING)
    if subresource or given is _MISSING or given is None:
        managers = _decode_managers(old_entries)
    elif given == [] or given == [{}]:
        managers = []
    else:
        managers = _decode_managers(given) or _decode_managers(old_entries)
    if not managers and old is not None and (old.get("metadata") or {}).get("uid"):
        return out

    # Top-level structs (spec, status) exist as zero values in Go, so they are never "added" themselves.
    before = {k: {} for k, v in out.items() if isinstance(v, dict)} | (old_copy or {})
    comparison = _Comparison()
    try:
        _compare(before, out, t, (), comparison)
    except _SchemaError:  # like the API server, never fail a write over bookkeeping: drop it instead
        return out
    touched = {p for p in _strip(comparison.added | comparison.modified) if accept(p)}
    removed = comparison.removed
    identity = (manager, "Update", api_version, subresource or "")
    me = next((m for m in managers if m.identity == identity), None)
    for m in managers:
        lost = m.fields & (touched | removed)
        if lost:
            m.fields -= lost
            m.changed = True
    if touched:
        if me is None:
            entry: dict[str, JSON] = {"manager": manager, "operation": "Update", "apiVersion": api_version}
            if subresource:
                entry["subresource"] = subresource
            me = _Managed(entry, set())
            managers.append(me)
        me.fields |= touched
        me.entry["time"] = now
    encoded = _encode_managers(managers)
    if encoded:
        meta["managedFields"] = encoded
    return out
