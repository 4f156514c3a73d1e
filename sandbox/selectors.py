"""Label and field selectors, parsed and matched as the API server does."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.errors import APIError, bad_request

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # =, !=, in, notin, exists, !
    values: frozenset[str]

    def matches(self, labels: Mapping[str, str]) -> bool:
        has = self.key in labels
        if self.op == "exists":
            return has
        if self.op == "!":
            return not has
        if self.op in ("=", "in"):
            return has and labels[self.key] in self.values
        # != and notin also match objects without the label, as Kubernetes does
        return not has or labels[self.key] not in self.values


LabelSelector = tuple[Requirement, ...]


def _split_top_level(s: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def parse_labels(selector: str) -> LabelSelector:
    """Parse `a=b,c!=d,e in (x,y),f notin (z),g,!h`; raise APIError 400 on bad syntax."""
    reqs: list[Requirement] = []
    if not selector.strip():
        return ()
    for raw in _split_top_level(selector):
        term = raw.strip()
        if not term:
            raise bad_request(f"unable to parse requirement: found '', expected: identifier in {selector!r}")
        m = re.fullmatch(r"(\S+?)\s+(in|notin)\s*\(([^)]*)\)", term)
        if m:
            values = frozenset(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append(Requirement(m.group(1), m.group(2), values))
            continue
        m = re.fullmatch(r"([^=!\s]+)\s*(==|=|!=)\s*(\S*)", term)
        if m:
            op = "!=" if m.group(2) == "!=" else "="
            value = m.group(3)
            if not _LABEL_VALUE.match(value) or len(value) > 63:
                raise bad_request(
                    f"unable to parse requirement: values[0][{m.group(1)}]: Invalid value: {value!r}: "
                    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                    "and must start and end with an alphanumeric character"
                )
            reqs.append(Requirement(m.group(1), op, frozenset([value])))
            continue
        if term.startswith("!") and re.fullmatch(r"![^\s=!(),]+", term):
            reqs.append(Requirement(term[1:], "!", frozenset()))
            continue
        if re.fullmatch(r"[^\s=!(),]+", term):
            reqs.append(Requirement(term, "exists", frozenset()))
            continue
        raise bad_request(f"unable to parse requirement: invalid label selector term {term!r}")
    return tuple(reqs)


def labels_match(sel: LabelSelector, labels: Mapping[str, str] | None) -> bool:
    labels = labels or {}
    return all(r.matches(labels) for r in sel)


def selector_from_label_selector(spec: Mapping[str, Any] | None) -> LabelSelector:
    """A `metav1.LabelSelector` (matchLabels + matchExpressions) as requirements; empty matches everything."""
    if not spec:
        return ()
    reqs = [Requirement(k, "=", frozenset([str(v)])) for k, v in (spec.get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for e in spec.get("matchExpressions") or ():
        reqs.append(Requirement(e["key"], ops[e["operator"]], frozenset(e.get("values") or ())))
    return tuple(reqs)


def format_label_selector(spec: Mapping[str, Any] | None) -> str:
    """`app=x,tier in (a,b)`: how `kubectl` and Scale status print a selector."""
    if not spec:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((spec.get("matchLabels") or {}).items())]
    for e in spec.get("matchExpressions") or ():
        op, key, vals = e["operator"], e["key"], ",".join(sorted(e.get("values") or ()))
        parts.append(
            {"In": f"{key} in ({vals})", "NotIn": f"{key} notin ({vals})", "Exists": key, "DoesNotExist": f"!{key}"}[op]
        )
    return ",".join(parts)


# --- field selectors -------------------------------------------------------------------------


def _path(*keys: str) -> Callable[[Mapping[str, Any]], str]:
    def get(obj: Mapping[str, Any]) -> str:
        cur: Any = obj
        for k in keys:
            if not isinstance(cur, Mapping):
                return ""
            cur = cur.get(k)
        if cur is None:
            return ""
        if isinstance(cur, bool):
            return "true" if cur else "false"
        return str(cur)

    return get


_COMMON = {"metadata.name": _path("metadata", "name"), "metadata.namespace": _path("metadata", "namespace")}

FIELDS: dict[str, dict[str, Callable[[Mapping[str, Any]], str]]] = {
    "pods": {
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.restartPolicy": _path("spec", "restartPolicy"),
        "spec.schedulerName": _path("spec", "schedulerName"),
        "spec.serviceAccountName": _path("spec", "serviceAccountName"),
        "spec.hostNetwork": _path("spec", "hostNetwork"),
        "status.phase": _path("status", "phase"),
        "status.podIP": _path("status", "podIP"),
        "status.nominatedNodeName": _path("status", "nominatedNodeName"),
    },
    "events": {
        "involvedObject.kind": _path("involvedObject", "kind"),
        "involvedObject.namespace": _path("involvedObject", "namespace"),
        "involvedObject.name": _path("involvedObject", "name"),
        "involvedObject.uid": _path("involvedObject", "uid"),
        "involvedObject.apiVersion": _path("involvedObject", "apiVersion"),
        "involvedObject.resourceVersion": _path("involvedObject", "resourceVersion"),
        "involvedObject.fieldPath": _path("involvedObject", "fieldPath"),
        "reason": _path("reason"),
        "reportingComponent": _path("reportingComponent"),
        "source": _path("source", "component"),
        "type": _path("type"),
    },
    "secrets": {"type": _path("type")},
    "nodes": {"spec.unschedulable": _path("spec", "unschedulable")},
    "namespaces": {"status.phase": _path("status", "phase")},
    "replicasets": {"status.replicas": _path("status", "replicas")},
    "jobs": {"status.successful": _path("status", "succeeded")},
}

FieldSelector = tuple[tuple[Callable[[Mapping[str, Any]], str], bool, str], ...]


def parse_fields(plural: str, selector: str) -> FieldSelector:
    """Parse `a=b,c!=d` for the resource; unknown fields are a 400 as on a real server."""
    out = []
    if not selector.strip():
        return ()
    known = {**_COMMON, **FIELDS.get(plural, {})}
    for term in selector.split(","):
        m = re.fullmatch(r"\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*", term)
        if not m:
            raise bad_request(f"invalid selector: '{selector}'; can't understand '{term}'")
        key, op, value = m.groups()
        getter = known.get(key)
        if getter is None:
            raise APIError(400, "BadRequest", f"field label not supported: {key}")
        out.append((getter, op == "!=", value))
    return tuple(out)


def fields_match(sel: FieldSelector, obj: Mapping[str, Any]) -> bool:
    return all((getter(obj) != value) if negate else (getter(obj) == value) for getter, negate, value in sel)
