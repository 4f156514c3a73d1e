"""Unified diffs for review: of repository files (`unified`) and of live objects rendered as YAML (`object_diff`).

The surprising parts:

- `unified` marks a missing final newline the way git does (`\\ No newline at end of file`),
  so every diff pitstop shows also applies with `git apply`.
- `object_diff` never shows a Secret value: `data`/`stringData` values become `<redacted>`
  whatever the caller passes, so a diff of a Secret shows which keys change, nothing more.
- Objects render like `kubectl get -o yaml` minus the noise: server-set fields, `status`
  and the last-applied annotation are dropped; `apiVersion, kind, metadata, spec` lead,
  `metadata` starts with `name, namespace, labels, annotations`, other keys are sorted.
"""

from __future__ import annotations

import difflib
import io
import re
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarstring import LiteralScalarString, SingleQuotedScalarString

REDACTED = "<redacted>"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_DROPPED_METADATA = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink")
_TOP_ORDER = ("apiVersion", "kind", "metadata", "spec")
_METADATA_ORDER = ("name", "namespace", "labels", "annotations")
_SECRET_FIELDS = ("data", "stringData")
# strings YAML 1.1 readers (kubectl's among them) take for booleans or null: quoted so nobody misreads them
_AMBIGUOUS = re.compile(r"(?i:y|n|yes|no|on|off|true|false|null|~)")
NO_NEWLINE = "\\ No newline at end of file\n"


def _range(start: int, length: int) -> str:
    """A hunk range as diff writes it: `3` for one line, `3,0` after line 3 when empty."""
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


def _hunk_lines(prefix: str, lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        if line.endswith("\n"):
            out.append(prefix + line)
        else:
            out += [prefix + line + "\n", NO_NEWLINE]
    return out


def unified(before: str | None, after: str, path: str, *, context: int = 3) -> str:
    """A unified diff of a file from `before` (None: a new file) to `after`, "" when they are equal.

    Headers are git's: `--- a/PATH` / `+++ b/PATH`, `--- /dev/null` for a new file.
    """
    if before == after:
        return ""
    old = [] if before is None else before.splitlines(keepends=True)
    new = after.splitlines(keepends=True)
    out = [f"--- {'/dev/null' if before is None else 'a/' + path}\n", f"+++ b/{path}\n"]
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{_range(i1, i2 - i1)} +{_range(j1, j2 - j1)} @@\n")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                out += _hunk_lines(" ", old[a1:a2])
                continue
            out += _hunk_lines("-", old[a1:a2])
            out += _hunk_lines("+", new[b1:b2])
    return "".join(out)


# --- objects ------------------------------------------------------------------------------------


def _ordered(mapping: Mapping[str, Any], first: tuple[str, ...]) -> dict[str, Any]:
    keys = [k for k in first if k in mapping] + sorted((k for k in mapping if k not in first), key=str)
    return {k: mapping[k] for k in keys}


def _styled(value: Any) -> Any:
    """Plain data with every mapping's keys sorted and strings styled for reading."""
    if isinstance(value, Mapping):
        return {k: _styled(v) for k, v in _ordered(value, ()).items()}
    if isinstance(value, list | tuple):
        return [_styled(v) for v in value]
    if isinstance(value, str):
        if "\n" in value and not any(line != line.rstrip() for line in value.split("\n")):
            return LiteralScalarString(value)
        if _AMBIGUOUS.fullmatch(value):
            return SingleQuotedScalarString(value)
    return value


def for_review(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object as a reviewer should see it: no server noise, Secret values redacted, keys ordered."""
    out = dict(obj)
    out.pop("status", None)
    meta = dict(out.get("metadata") or {})
    for key in _DROPPED_METADATA:
        meta.pop(key, None)
    if isinstance(meta.get("annotations"), Mapping):
        annotations = {k: v for k, v in meta["annotations"].items() if k != LAST_APPLIED}
        if annotations:
            meta["annotations"] = annotations
        else:
            del meta["annotations"]
    if "metadata" in out:
        out["metadata"] = meta
    if out.get("kind") == "Secret":
        for key in _SECRET_FIELDS:
            if isinstance(out.get(key), Mapping):
                out[key] = dict.fromkeys(out[key], REDACTED)
            elif key in out:
                out[key] = REDACTED
    styled: dict[str, Any] = _styled(out)
    if "metadata" in styled:
        styled["metadata"] = {**_ordered(styled["metadata"], _METADATA_ORDER)}
    return _ordered(styled, _TOP_ORDER)


class _Representer(RoundTripRepresenter):
    """Round-trip output, except that null is written `null` (kubectl's way), not left empty."""

    def represent_none(self, data: None) -> Any:
        return self.represent_scalar("tag:yaml.org,2002:null", "null")


_Representer.add_representer(type(None), _Representer.represent_none)


def to_yaml(obj: Mapping[str, Any]) -> str:
    """`for_review(obj)` as block-style YAML."""
    y = YAML(typ="rt")
    y.default_flow_style = False
    y.width = 1 << 16
    y.indent(mapping=2, sequence=4, offset=2)
    y.Representer = _Representer
    buf = io.StringIO()
    y.dump(for_review(obj), buf)
    return buf.getvalue()


def object_diff(before: Mapping[str, Any] | None, after: Mapping[str, Any], label: str) -> str:
    """A unified diff of two versions of a live object, rendered as YAML (see `for_review`).

    `label` names the object in the headers (`deployment/coditect-worker`); `before` None
    renders a creation. Secrets show key names only, even when given values.
    """
    return unified(None if before is None else to_yaml(before), to_yaml(after), label)
