"""What the API server rejects, in its own words: 422 causes, 400 decode errors, quantities.

Every message here is the real server's (Kubernetes 1.32, apimachinery field errors): the
cause message is `Invalid value: "Foo_bar": a lowercase RFC 1123 subdomain must ...`, the
field is `metadata.name`, and `sandbox.errors.invalid` joins them as the server does.

Call order mirrors the real server: decode (`decode_error`, a 400), then defaulting
(`sandbox.defaults.apply_defaults`), then validation (`validate_create` / `validate_update`).
Validation expects defaulted objects, exactly as the real validators do.

Values inside messages are rendered the way Go's `%q` / `%#v` print them
(`map[string]string{"app":"web"}`, `v1.LabelSelector{...}`); large structs such as a pod
template are rendered compactly in that style rather than as Go's full dump.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_UP, Context, Decimal
from typing import Any

from sandbox.errors import Cause
from sandbox.resources import ResourceType

Obj = Mapping[str, Any]

# --- Go value rendering ---------------------------------------------------------------------

_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(text: str) -> str:
    """`strconv.Quote`: a double-quoted Go string literal with Go's escapes."""
    out = ['"']
    for ch in text:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def go_scalar(value: Any) -> str:
    """A scalar as a field error prints it: strings quoted, numbers and bools bare, nil as null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def go_string_map(value: Mapping[str, Any] | None) -> str:
    """`%#v` of a `map[string]string`: sorted keys, `(nil)` when absent."""
    if value is None:
        return "map[string]string(nil)"
    inner = ", ".join(f"{go_quote(str(k))}:{go_quote(str(value[k]))}" for k in sorted(value))
    return "map[string]string{" + inner + "}"


def go_string_list(value: Sequence[Any] | None) -> str:
    """`%#v` of a `[]string`."""
    if value is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(go_quote(str(v)) for v in value) + "}"


def go_label_selector(selector: Mapping[str, Any] | None) -> str:
    """`%#v` of a `metav1.LabelSelector` value, as immutability errors print `spec.selector`."""
    selector = selector or {}
    exprs = selector.get("matchExpressions")
    if exprs is None:
        rendered_exprs = "[]v1.LabelSelectorRequirement(nil)"
    else:
        parts = [
            f"v1.LabelSelectorRequirement{{Key:{go_quote(e.get('key', ''))}, "
            f"Operator:{go_quote(e.get('operator', ''))}, Values:{go_string_list(e.get('values'))}}}"
            for e in exprs
        ]
        rendered_exprs = "[]v1.LabelSelectorRequirement{" + ", ".join(parts) + "}"
    return (
        f"v1.LabelSelector{{MatchLabels:{go_string_map(selector.get('matchLabels'))}, "
        f"MatchExpressions:{rendered_exprs}}}"
    )


# Go type names for the pieces of a pod template, for the compact `%#v`-style rendering.
_GO_TYPES: dict[str, str] = {
    "metadata": "v1.ObjectMeta",
    "spec": "core.PodSpec",
    "containers": "core.Container",
    "initContainers": "core.Container",
    "env": "core.EnvVar",
    "envFrom": "core.EnvFromSource",
    "valueFrom": "&core.EnvVarSource",
    "secretKeyRef": "&core.SecretKeySelector",
    "configMapKeyRef": "&core.ConfigMapKeySelector",
    "fieldRef": "&core.ObjectFieldSelector",
    "ports": "core.ContainerPort",
    "resources": "core.ResourceRequirements",
    "volumeMounts": "core.VolumeMount",
    "volumes": "core.Volume",
    "tolerations": "core.Toleration",
    "securityContext": "&core.PodSecurityContext",
    "affinity": "&core.Affinity",
    "imagePullSecrets": "core.LocalObjectReference",
}
_GO_MAPS = {"labels", "annotations", "nodeSelector", "selector", "limits", "requests", "matchLabels"}
_GO_ACRONYMS = {"uid": "UID", "ip": "IP", "ips": "IPs", "dnsPolicy": "DNSPolicy", "dnsConfig": "DNSConfig"}


# Go struct field order of ObjectMeta, PodTemplateSpec, PodSpec and Container, for the compact rendering.
_FIELD_ORDER = (
    "name generateName namespace uid resourceVersion generation creationTimestamp deletionTimestamp "
    "labels annotations ownerReferences finalizers metadata spec volumes initContainers containers "
    "ephemeralContainers restartPolicy terminationGracePeriodSeconds activeDeadlineSeconds dnsPolicy "
    "nodeSelector serviceAccountName automountServiceAccountToken nodeName securityContext "
    "imagePullSecrets hostname subdomain affinity schedulerName tolerations hostAliases priorityClassName "
    "priority image command args workingDir ports envFrom env resources volumeMounts livenessProbe "
    "readinessProbe startupProbe lifecycle terminationMessagePath terminationMessagePolicy "
    "imagePullPolicy"
)
_GO_ORDER = {name: rank for rank, name in enumerate(_FIELD_ORDER.split())}


def _go_field(name: str) -> str:
    if name == "metadata":
        return "ObjectMeta"  # embedded struct: Go names the field after its type
    return _GO_ACRONYMS.get(name) or (name[:1].upper() + name[1:])


def go_compact(value: Any, type_name: str = "", key: str = "") -> str:
    """A compact Go-syntax rendering of a JSON value (`core.PodTemplateSpec{Spec:core.PodSpec{...}}`).

    Not Go's exact `%#v` dump (which lists every zero field and pointer address): only the
    fields that are set, in Go's field-name spelling, so the message stays readable.
    """
    if isinstance(value, Mapping):
        if key in _GO_MAPS:
            inner = ", ".join(f"{go_quote(str(k))}:{go_scalar(value[k])}" for k in sorted(value))
            return "map[string]string{" + inner + "}"
        keys = sorted((k for k, v in value.items() if v not in (None, "")), key=lambda k: _GO_ORDER.get(k, 999))
        fields = ", ".join(f"{_go_field(k)}:{go_compact(value[k], _GO_TYPES.get(k, ''), k)}" for k in keys)
        return f"{type_name or ''}{{{fields}}}"
    if isinstance(value, list):
        elem = _GO_TYPES.get(key, "")
        prefix = f"[]{elem.lstrip('&')}" if elem else ("[]string" if all(isinstance(v, str) for v in value) else "[]")
        return prefix + "{" + ", ".join(go_compact(v, elem.lstrip("&"), "") for v in value) + "}"
    return go_scalar(value)


# --- causes -----------------------------------------------------------------------------------


def required(path: str, detail: str = "") -> Cause:
    return Cause(path, "FieldValueRequired", "Required value" + (f": {detail}" if detail else ""))


def invalid(path: str, rendered_value: str, detail: str = "") -> Cause:
    """An `Invalid value` cause; `rendered_value` is already in Go form (see `go_scalar`)."""
    return Cause(path, "FieldValueInvalid", f"Invalid value: {rendered_value}" + (f": {detail}" if detail else ""))


def not_supported(path: str, value: Any, supported: Iterable[str]) -> Cause:
    quoted = ", ".join(go_quote(s) for s in supported)
    detail = f": supported values: {quoted}" if quoted else ""
    return Cause(path, "FieldValueNotSupported", f"Unsupported value: {go_scalar(value)}{detail}")


def forbidden(path: str, detail: str) -> Cause:
    return Cause(path, "FieldValueForbidden", "Forbidden" + (f": {detail}" if detail else ""))


def duplicate(path: str, value: Any) -> Cause:
    return Cause(path, "FieldValueDuplicate", f"Duplicate value: {go_scalar(value)}")


def not_found(path: str, value: Any) -> Cause:
    return Cause(path, "FieldValueNotFound", f"Not found: {go_scalar(value)}")


def too_long(path: str, max_bytes: int) -> Cause:
    return Cause(path, "FieldValueTooLong", f"Too long: may not be more than {max_bytes} bytes")


# --- string formats (apimachinery util/validation) -------------------------------------------

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _QUALIFIED_NAME_FMT + ")?"
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"

_DNS1123_LABEL = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN = re.compile(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL = re.compile(_DNS1035_LABEL_FMT)
_QUALIFIED_NAME = re.compile(_QUALIFIED_NAME_FMT)
_LABEL_VALUE = re.compile(_LABEL_VALUE_FMT)
_CONFIG_KEY = re.compile(_CONFIG_KEY_FMT)
_PORT_NAME_CHARS = re.compile("[-a-z0-9]+")


def regex_error(message: str, fmt: str, *examples: str) -> str:
    """`validation.RegexError`: the message, the examples and the regex, as the server words it."""
    if not examples:
        return f"{message} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _DNS1123_LABEL.fullmatch(value):
        if _DNS1123_SUBDOMAIN.fullmatch(value):
            errs.append("must not contain dots")
        else:
            errs.append(
                regex_error(
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                    "start and end with an alphanumeric character",
                    _DNS1123_LABEL_FMT,
                    "my-name",
                    "123-abc",
                )
            )
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append(max_len_error(253))
    if not _DNS1123_SUBDOMAIN.fullmatch(value):
        errs.append(
            regex_error(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                "must start and end with an alphanumeric character",
                _DNS1123_SUBDOMAIN_FMT,
                "example.com",
            )
        )
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _DNS1035_LABEL.fullmatch(value):
        errs.append(
            regex_error(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
                "character, and end with an alphanumeric character",
                _DNS1035_LABEL_FMT,
                "my-name",
                "abc-123",
            )
        )
    return errs


_QUALIFIED_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)


def is_qualified_name(value: str) -> list[str]:
    """`validation.IsQualifiedName`: `[prefix/]name` as label keys, annotation keys and finalizers use."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return [
            "a qualified name "
            + regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _QUALIFIED_NAME.fullmatch(name):
        errs.append(
            "name part " + regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def is_valid_label_value(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _LABEL_VALUE.fullmatch(value):
        errs.append(
            regex_error(
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
                "must start and end with an alphanumeric character",
                _LABEL_VALUE_FMT,
                "MyValue",
                "my_value",
                "12345",
            )
        )
    return errs


def is_config_map_key(value: str) -> list[str]:
    """Keys of ConfigMap and Secret data."""
    errs = []
    if len(value) > 253:
        errs.append(max_len_error(253))
    if not _CONFIG_KEY.fullmatch(value):
        errs.append(
            regex_error(
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                _CONFIG_KEY_FMT,
                "key.name",
                "KEY_NAME",
                "key-name",
            )
        )
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def is_valid_port_num(port: Any) -> list[str]:
    if isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535:
        return []
    return ["must be between 1 and 65535, inclusive"]


def is_valid_port_name(name: str) -> list[str]:
    errs = []
    if len(name) > 15:
        errs.append(max_len_error(15))
    if not _PORT_NAME_CHARS.fullmatch(name):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", name):
        errs.append("must contain at least one letter (a-z)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if name and (name[0] == "-" or name[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def _mask_trailing_dash(name: str) -> str:
    return name[:-2] + "a" if len(name) > 1 and name.endswith("-") else name


# --- names ------------------------------------------------------------------------------------

_LABEL_NAMED = {"Namespace", "StatefulSet"}


def _name_errors(rt: ResourceType, name: str, prefix: bool = False) -> list[str]:
    if prefix:
        name = _mask_trailing_dash(name)
    if rt.kind == "Service":
        return is_dns1035_label(name)
    if rt.kind in _LABEL_NAMED:
        return is_dns1123_label(name)
    return is_dns1123_subdomain(name)


def validate_name(rt: ResourceType, name: str) -> list[Cause]:
    """Causes for `metadata.name` of a `rt` object: subdomain, label or (Service) RFC 1035 label.

    Namespaces and StatefulSets need DNS-1123 labels, Services RFC 1035 labels, everything
    else DNS-1123 subdomains. An empty name is `Required value: name or generateName is required`.
    """
    if not name:
        return [required("metadata.name", "name or generateName is required")]
    return [invalid("metadata.name", go_quote(name), m) for m in _name_errors(rt, name)]


# --- metadata ---------------------------------------------------------------------------------

_STANDARD_FINALIZERS = {"kubernetes", "orphan", "foregroundDeletion"}
_ANNOTATIONS_LIMIT = 256 * 1024


def validate_labels(labels: Any, path: str) -> list[Cause]:
    """Label keys must be qualified names and values valid label values; the field is the map, not the key."""
    causes: list[Cause] = []
    if not isinstance(labels, Mapping):
        return causes
    for key in sorted(labels):
        causes += [invalid(path, go_quote(key), m) for m in is_qualified_name(key)]
        value = labels[key]
        text = value if isinstance(value, str) else str(value)
        causes += [invalid(path, go_quote(text), m) for m in is_valid_label_value(text)]
    return causes


def _validate_annotations(annotations: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if not isinstance(annotations, Mapping):
        return causes
    total = 0
    for key in sorted(annotations):
        causes += [invalid(path, go_quote(key), m) for m in is_qualified_name(key.lower())]
        total += len(key) + len(str(annotations[key] or ""))
    if total > _ANNOTATIONS_LIMIT:
        causes.append(too_long(path, _ANNOTATIONS_LIMIT))
    return causes


def _validate_owner_references(refs: Any) -> list[Cause]:
    causes: list[Cause] = []
    path = "metadata.ownerReferences"
    controller = ""
    for ref in refs or ():
        api_version = ref.get("apiVersion") or ""
        version = api_version.split("/")[-1] if api_version else ""
        if not version:
            causes.append(invalid(f"{path}.apiVersion", go_quote(api_version), "version must not be empty"))
        if not ref.get("kind"):
            causes.append(invalid(f"{path}.kind", go_quote(ref.get("kind") or ""), "kind must not be empty"))
        if not ref.get("name"):
            causes.append(invalid(f"{path}.name", go_quote(ref.get("name") or ""), "name must not be empty"))
        if not ref.get("uid"):
            causes.append(invalid(f"{path}.uid", go_quote(ref.get("uid") or ""), "uid must not be empty"))
        if ref.get("controller"):
            current = f"{ref.get('kind', '')}/{ref.get('name', '')}"
            if controller:
                causes.append(
                    invalid(
                        path,
                        go_compact(list(refs)),
                        f'Only one reference can have Controller set to true. Found "true" in references for '
                        f"{controller} and {current}",
                    )
                )
            else:
                controller = current
    return causes


def _validate_finalizers(finalizers: Any) -> list[Cause]:
    causes: list[Cause] = []
    for f in finalizers or ():
        causes += [invalid("metadata.finalizers", go_quote(f), m) for m in is_qualified_name(f)]
    for i, f in enumerate(finalizers or ()):
        if "/" not in f and f not in _STANDARD_FINALIZERS:
            causes.append(
                invalid(
                    f"metadata.finalizers[{i}]",
                    go_quote(f),
                    "name is neither a standard finalizer name nor is it fully qualified",
                )
            )
    return causes


def _validate_object_meta(rt: ResourceType, meta: Obj) -> list[Cause]:
    causes: list[Cause] = []
    generate = meta.get("generateName") or ""
    if generate:
        causes += [invalid("metadata.generateName", go_quote(generate), m) for m in _name_errors(rt, generate, True)]
    name = meta.get("name") or ""
    if name:
        causes += validate_name(rt, name)
    elif not generate:  # with generateName the store names the object before validating it
        causes += validate_name(rt, "")
    namespace = meta.get("namespace") or ""
    if rt.namespaced and namespace:
        causes += [invalid("metadata.namespace", go_quote(namespace), m) for m in is_dns1123_label(namespace)]
    generation = meta.get("generation")
    if isinstance(generation, int) and generation < 0:
        causes.append(invalid("metadata.generation", str(generation), "must be greater than or equal to 0"))
    causes += validate_labels(meta.get("labels"), "metadata.labels")
    causes += _validate_annotations(meta.get("annotations"), "metadata.annotations")
    causes += _validate_owner_references(meta.get("ownerReferences"))
    causes += _validate_finalizers(meta.get("finalizers"))
    return causes


def _validate_object_meta_update(new: Obj, old: Obj) -> list[Cause]:
    causes: list[Cause] = []
    if old.get("deletionTimestamp"):
        added = sorted(set(new.get("finalizers") or ()) - set(old.get("finalizers") or ()))
        if added:
            causes.append(
                forbidden(
                    "metadata.finalizers",
                    "no new finalizers can be added if the object is being deleted, found new finalizers "
                    + go_string_list(added),
                )
            )
    generation, old_generation = new.get("generation") or 0, old.get("generation") or 0
    if generation < old_generation:
        causes.append(invalid("metadata.generation", str(generation), "must not be decremented"))
    for key in ("name", "namespace", "uid", "creationTimestamp"):
        if (new.get(key) or "") != (old.get(key) or "") and new.get(key):
            causes.append(invalid(f"metadata.{key}", go_quote(str(new.get(key))), "field is immutable"))
    causes += validate_labels(new.get("labels"), "metadata.labels")
    causes += _validate_annotations(new.get("annotations"), "metadata.annotations")
    causes += _validate_owner_references(new.get("ownerReferences"))
    return causes


# --- quantities -------------------------------------------------------------------------------

QUANTITY_FORMAT_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
QUANTITY_SUFFIX_ERROR = "unable to parse quantity's suffix"

_DECIMAL_SUFFIXES = {"": 0, "n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXP = {v: k for k, v in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXP = {0: "", 1: "Ki", 2: "Mi", 3: "Gi", 4: "Ti", 5: "Pi", 6: "Ei"}
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_NANO = Decimal("1e-9")
_MILLI = Decimal("0.001")
_INT64_MAX = 2**63 - 1
_CTX = Context(prec=80, Emax=10_000, Emin=-10_000)


@dataclass(frozen=True, slots=True)
class Quantity:
    """A parsed Kubernetes quantity: its exact value, its format, and how the server writes it back."""

    value: Decimal
    format: str  # DecimalSI | BinarySI | DecimalExponent
    text: str  # the string the server stores and returns
    scale: int  # power of ten of the smallest unit the parsed value carried (for milli rounding)


def _scan_quantity(text: str) -> tuple[bool, str, str, str]:
    """Split `text` into (positive, numerator digits, denominator digits, suffix) like apimachinery's scanner."""
    positive, pos, end = True, 0, len(text)
    if text[:1] in ("-", "+"):
        positive = text[0] == "+"
        pos = 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "", ""
    start = pos
    while pos < end and text[pos].isdigit() and text[pos].isascii():
        pos += 1
    num = text[start:pos] or "0"
    denom = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos].isdigit() and text[pos].isascii():
            pos += 1
        denom = text[start:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end:
        if not (text[pos].isdigit() and text[pos].isascii()):
            raise ValueError(QUANTITY_FORMAT_ERROR)
        pos += 1
    return positive, num, denom, text[suffix_start:]


def _interpret_suffix(suffix: str) -> tuple[int, int, str]:
    """(base, exponent, format) for a quantity suffix."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], "DecimalSI"
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], "BinarySI"
    if len(suffix) > 1 and suffix[0] in "eE" and len(suffix) < 8:  # wider exponents overflow Go's int32 parse
        try:
            return 10, int(suffix[1:]), "DecimalExponent"
        except ValueError:
            pass
    raise ValueError(QUANTITY_SUFFIX_ERROR)


def _quantity_text(raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer() and abs(raw) < 1e15:
        return str(int(raw))
    return str(raw).strip()


def parse(raw: Any) -> Quantity:
    """Parse a quantity the way the API server decodes one (strings or JSON numbers).

    Raises ValueError with the server's own decode message. The `text` of the result is what
    the server writes back: the input when it is already canonical (`100m`, `1Gi`, `2e3`),
    otherwise the canonical form (`1.5Gi` becomes `1536Mi`, `1000m` becomes `1`).
    """
    text = _quantity_text(raw)
    if not text:
        raise ValueError(QUANTITY_FORMAT_ERROR)
    if text == "0":
        return Quantity(Decimal(0), "DecimalSI", "0", 0)
    positive, num, denom, suffix = _scan_quantity(text)
    base, exponent, fmt = _interpret_suffix(suffix)
    magnitude = Decimal(f"{num}.{denom}") if denom else Decimal(num)
    factor = _CTX.power(Decimal(10), exponent) if base == 10 else Decimal(2**exponent)
    value = _CTX.multiply(magnitude, factor)
    if not positive:
        value = -value
    if _keeps_original(num, denom, exponent, fmt):
        return Quantity(value, fmt, text, exponent - len(denom) if base == 10 else 0)
    if value.as_tuple().exponent < -9:  # type: ignore[operator]
        value = value.quantize(_NANO, rounding=ROUND_UP, context=_CTX)  # the server rounds up to nano units
    if fmt == "BinarySI" and abs(value) > _INT64_MAX:
        value = Decimal(_INT64_MAX).copy_sign(value)
    if fmt == "BinarySI" and 0 < abs(value) < 1:
        fmt = "DecimalSI"
    return Quantity(value, fmt, format_quantity(value, fmt), -9)


def _keeps_original(num: str, denom: str, exponent: int, fmt: str) -> bool:
    """Whether apimachinery's fast path keeps the caller's string verbatim (it is already canonical)."""
    if fmt == "BinarySI":
        if exponent < 0 or denom:
            return False
        precision = 15 - len(num) - int(exponent * 3 / 10) - 1
        value = int(num)
        return precision >= 0 and value << exponent <= _INT64_MAX and exponent % 10 == 0 and value & 0x07 != 0
    if 18 - (len(num) + len(denom)) < 0 or exponent - len(denom) < -9:
        return False
    shifted = num + denom
    return (exponent - len(denom)) % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"


def parse_quantity(raw: Any) -> Decimal:
    """The exact value of a Kubernetes quantity (`100m`, `1.5Gi`, `2e3`, `512Mi`, `1G`); ValueError if invalid."""
    return parse(raw).value


def format_quantity(value: Decimal, fmt: str = "DecimalSI") -> str:
    """The canonical string for `value` in `fmt` (DecimalSI, BinarySI or DecimalExponent), as the server prints it.

    Binary values below 1024 or with a fraction fall back to decimal SI, like the real server.
    """
    if value == 0:
        return "0"
    if fmt == "BinarySI":
        if -1024 < value < 1024 or value != value.to_integral_value(rounding=ROUND_UP):
            fmt = "DecimalSI"
        else:
            mantissa, power = int(value), 0
            while mantissa % 1024 == 0 and power < 6:
                mantissa //= 1024
                power += 1
            return f"{mantissa}{_BINARY_BY_EXP[power]}"
    sign, digits, exp = value.normalize(context=_CTX).as_tuple()
    mantissa = int("".join(map(str, digits)))
    exponent = int(exp)
    while exponent % 3:
        mantissa *= 10
        exponent -= 1
    rendered = f"{'-' if sign else ''}{mantissa}"
    if fmt == "DecimalExponent":
        return rendered + (f"e{exponent}" if exponent else "")
    if exponent in _DECIMAL_BY_EXP:
        return rendered + _DECIMAL_BY_EXP[exponent]
    return rendered + f"e{exponent}"


def canonical_quantity(raw: Any) -> str:
    """The quantity string the server stores for `raw`, after its milli round-up of resource lists.

    Values finer than a milli-unit are rounded up (`100u` becomes `1m`), as `SetDefaults_ResourceList` does.
    """
    q = parse(raw)
    if q.scale >= -3:
        return q.text
    rounded = q.value.quantize(_MILLI, rounding=ROUND_UP, context=_CTX)
    return format_quantity(rounded, q.format)


# --- decode (400) errors ----------------------------------------------------------------------


def _pod_specs(rt: ResourceType, obj: Obj) -> list[tuple[str, Obj]]:
    """(path, pod spec) pairs of an object: its own spec for Pods, its template's otherwise."""
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return []
    if rt.kind == "Pod":
        return [("spec", spec)]
    if rt.kind in ("Deployment", "ReplicaSet", "StatefulSet", "Job"):
        tmpl = (spec.get("template") or {}).get("spec")
        return [("spec.template.spec", tmpl)] if isinstance(tmpl, Mapping) else []
    if rt.kind == "CronJob":
        tmpl = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
        inner = tmpl.get("spec") if isinstance(tmpl, Mapping) else None
        return [("spec.jobTemplate.spec.template.spec", inner)] if isinstance(inner, Mapping) else []
    return []


def resource_lists(rt: ResourceType, obj: Obj) -> list[tuple[str, Mapping[str, Any]]]:
    """Every (path, resource list) of quantities in `obj`: container resources, overhead, PVC and node sizes."""
    found: list[tuple[str, Mapping[str, Any]]] = []

    def add(path: str, value: Any) -> None:
        if isinstance(value, Mapping):
            found.append((path, value))

    for path, spec in _pod_specs(rt, obj):
        for group in ("initContainers", "containers", "ephemeralContainers"):
            for i, c in enumerate(spec.get(group) or ()):
                res = c.get("resources") if isinstance(c, Mapping) else None
                if isinstance(res, Mapping):
                    add(f"{path}.{group}[{i}].resources.limits", res.get("limits"))
                    add(f"{path}.{group}[{i}].resources.requests", res.get("requests"))
        add(f"{path}.overhead", spec.get("overhead"))
    if rt.kind == "PersistentVolumeClaim":
        res = (obj.get("spec") or {}).get("resources") or {}
        add("spec.resources.limits", res.get("limits"))
        add("spec.resources.requests", res.get("requests"))
        add("status.capacity", (obj.get("status") or {}).get("capacity"))
    if rt.kind == "StatefulSet":
        for i, claim in enumerate((obj.get("spec") or {}).get("volumeClaimTemplates") or ()):
            res = ((claim or {}).get("spec") or {}).get("resources") or {}
            add(f"spec.volumeClaimTemplates[{i}].spec.resources.requests", res.get("requests"))
            add(f"spec.volumeClaimTemplates[{i}].spec.resources.limits", res.get("limits"))
    if rt.kind == "Node":
        status = obj.get("status") or {}
        add("status.capacity", status.get("capacity"))
        add("status.allocatable", status.get("allocatable"))
    return found


def base64_error(text: str) -> str | None:
    """Go's `illegal base64 data at input byte N` for a standard-encoding string, or None when it decodes.

    Go skips newlines, requires `=` padding, and reports the offset of the first bad byte.
    """
    data = text.encode("utf-8", "surrogatepass")
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    si, n = 0, len(data)
    while True:
        j = 0
        while j < 4:
            if si == n:
                if j == 0:
                    return None
                return f"illegal base64 data at input byte {si - j}"
            ch = data[si]
            si += 1
            if ch in alphabet:
                j += 1
                continue
            if ch in (10, 13):
                continue
            if ch != 61:  # '='
                return f"illegal base64 data at input byte {si - 1}"
            if j in (0, 1):
                return f"illegal base64 data at input byte {si - 1}"
            if j == 2:
                while si < n and data[si] in (10, 13):
                    si += 1
                if si == n:
                    return f"illegal base64 data at input byte {n}"
                if data[si] != 61:
                    return f"illegal base64 data at input byte {si - 1}"
                si += 1
            while si < n and data[si] in (10, 13):
                si += 1
            if si < n:
                return f"illegal base64 data at input byte {si}"
            return None


def decode_error(rt: ResourceType, obj: Obj) -> str | None:
    """The 400 BadRequest message the real server gives when it cannot even decode `obj`, else None.

    Covers unparsable quantities and Secret/ConfigMap values that are not base64, e.g.
    `Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 4`.
    """
    problem: str | None = None
    for _, values in resource_lists(rt, obj):
        for key in values:
            try:
                parse(values[key])
            except ValueError as err:
                problem = str(err)
                break
        if problem:
            break
    if problem is None and rt.kind in ("Secret", "ConfigMap"):
        field = "data" if rt.kind == "Secret" else "binaryData"
        for value in (obj.get(field) or {}).values():
            if not isinstance(value, str):
                continue
            problem = base64_error(value)
            if problem:
                break
    if problem is None:
        return None
    return f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {problem}'


# --- pod spec -----------------------------------------------------------------------------------

_STANDARD_RESOURCES = {"cpu", "memory", "ephemeral-storage", "storage", "pods", "services", "configmaps", "secrets"}
_CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_PORT_PROTOCOLS = ("SCTP", "TCP", "UDP")
_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _resource_name_errors(name: str, path: str) -> list[Cause]:
    causes = [invalid(path, go_quote(name), m) for m in is_qualified_name(name)]
    if causes:
        return causes
    if "/" not in name and name not in _STANDARD_RESOURCES and not name.startswith("hugepages-"):
        causes.append(invalid(path, go_quote(name), "must be a standard resource type or fully qualified"))
    if "/" not in name and name not in _CONTAINER_RESOURCES and not name.startswith("hugepages-"):
        causes.append(invalid(path, go_quote(name), "must be a standard resource for containers"))
    return causes


def _validate_resources(resources: Any, path: str) -> list[Cause]:
    """Names, non-negative quantities, and requests no greater than limits."""
    causes: list[Cause] = []
    if not isinstance(resources, Mapping):
        return causes
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    parsed: dict[str, Decimal] = {}
    for name in sorted(limits):
        key_path = f"{path}.limits[{name}]"
        causes += _resource_name_errors(name, key_path)
        q = _try_parse(limits[name])
        if q is not None:
            parsed[name] = q.value
            if q.value < 0:
                causes.append(invalid(key_path, go_quote(q.text), "must be greater than or equal to 0"))
    for name in sorted(requests):
        key_path = f"{path}.requests[{name}]"
        causes += _resource_name_errors(name, key_path)
        q = _try_parse(requests[name])
        if q is None:
            continue
        if q.value < 0:
            causes.append(invalid(key_path, go_quote(q.text), "must be greater than or equal to 0"))
        if name in parsed and q.value > parsed[name]:
            limit_text = _try_parse(limits[name])
            shown = limit_text.text if limit_text else str(limits[name])
            causes.append(
                invalid(f"{path}.requests", go_quote(q.text), f"must be less than or equal to {name} limit of {shown}")
            )
    return causes


def _try_parse(raw: Any) -> Quantity | None:
    try:
        return parse(raw)
    except ValueError:
        return None


_ENV_NAME_MSG = "a valid environment variable name must consist only of printable ASCII characters other than '='"


def _validate_env(env: Any, path: str) -> list[Cause]:
    """Env names (1.32's relaxed rule: printable ASCII but '='), and one well-formed `valueFrom` source."""
    causes: list[Cause] = []
    for i, var in enumerate(env or ()):
        p = f"{path}[{i}]"
        name = var.get("name") or ""
        if not name:
            causes.append(required(f"{p}.name"))
        elif any(not (" " <= ch <= "~") or ch == "=" for ch in name):
            causes.append(invalid(f"{p}.name", go_quote(name), _ENV_NAME_MSG))
        source = var.get("valueFrom")
        if not isinstance(source, Mapping):
            continue
        kinds = [
            k for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef") if source.get(k) is not None
        ]
        for ref_kind in ("configMapKeyRef", "secretKeyRef"):
            ref = source.get(ref_kind)
            if not isinstance(ref, Mapping):
                continue
            rp = f"{p}.valueFrom.{ref_kind}"
            ref_name = ref.get("name") or ""
            causes += [invalid(f"{rp}.name", go_quote(ref_name), m) for m in is_dns1123_subdomain(ref_name)]
            if not ref.get("key"):
                causes.append(required(f"{rp}.key"))
            else:
                causes += [invalid(f"{rp}.key", go_quote(ref["key"]), m) for m in is_config_map_key(ref["key"])]
        if not kinds:
            detail = "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"
            causes.append(invalid(f"{p}.valueFrom", '""', detail))
        elif var.get("value"):
            causes.append(invalid(f"{p}.valueFrom", '""', "may not be specified when `value` is not empty"))
        elif len(kinds) > 1:
            causes.append(invalid(f"{p}.valueFrom", '""', "may not have more than one field specified at a time"))
    return causes


def _validate_ports(ports: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    names: set[str] = set()
    for i, port in enumerate(ports or ()):
        p = f"{path}[{i}]"
        name = port.get("name") or ""
        if name:
            msgs = is_valid_port_name(name)
            if msgs:
                causes += [invalid(f"{p}.name", go_quote(name), m) for m in msgs]
            elif name in names:
                causes.append(duplicate(f"{p}.name", name))
            else:
                names.add(name)
        container_port = port.get("containerPort") or 0
        if not container_port:
            causes.append(required(f"{p}.containerPort"))
        else:
            causes += [
                invalid(f"{p}.containerPort", go_scalar(container_port), m) for m in is_valid_port_num(container_port)
            ]
        host_port = port.get("hostPort") or 0
        if host_port:
            causes += [invalid(f"{p}.hostPort", go_scalar(host_port), m) for m in is_valid_port_num(host_port)]
        protocol = port.get("protocol") or ""
        if protocol and protocol not in _PORT_PROTOCOLS:
            causes.append(not_supported(f"{p}.protocol", protocol, _PORT_PROTOCOLS))
    return causes


def _validate_container(c: Obj, path: str, volumes: set[str]) -> list[Cause]:
    """validateContainerCommon: name, image, termination policy, ports, env, mounts, pull policy, resources."""
    causes: list[Cause] = []
    name = c.get("name") or ""
    if not name:
        causes.append(required(f"{path}.name"))
    else:
        causes += [invalid(f"{path}.name", go_quote(name), m) for m in is_dns1123_label(name)]
    if not c.get("image"):
        causes.append(required(f"{path}.image"))
    policy = c.get("terminationMessagePolicy") or ""
    if policy and policy not in ("File", "FallbackToLogsOnError"):
        causes.append(not_supported(f"{path}.terminationMessagePolicy", policy, ("File", "FallbackToLogsOnError")))
    causes += _validate_ports(c.get("ports"), f"{path}.ports")
    causes += _validate_env(c.get("env"), f"{path}.env")
    mount_paths: set[str] = set()
    for i, mount in enumerate(c.get("volumeMounts") or ()):
        mp = f"{path}.volumeMounts[{i}]"
        mount_name = mount.get("name") or ""
        if not mount_name:
            causes.append(required(f"{mp}.name"))
        elif mount_name not in volumes:
            causes.append(not_found(f"{mp}.name", mount_name))
        mount_path = mount.get("mountPath") or ""
        if not mount_path:
            causes.append(required(f"{mp}.mountPath"))
        elif mount_path in mount_paths:
            causes.append(invalid(f"{mp}.mountPath", go_quote(mount_path), "must be unique"))
        mount_paths.add(mount_path)
    pull = c.get("imagePullPolicy") or ""
    if pull and pull not in _PULL_POLICIES:
        causes.append(not_supported(f"{path}.imagePullPolicy", pull, _PULL_POLICIES))
    causes += _validate_resources(c.get("resources"), f"{path}.resources")
    return causes


def _validate_volumes(volumes: Any, path: str) -> tuple[set[str], list[Cause]]:
    names: set[str] = set()
    causes: list[Cause] = []
    for i, vol in enumerate(volumes or ()):
        p = f"{path}[{i}]"
        name = vol.get("name") or ""
        sources = [k for k in vol if k != "name" and vol[k] is not None]
        if not sources:
            causes.append(required(p, "must specify a volume type"))
        elif len(sources) > 1:
            causes.append(forbidden(p, "may not specify more than 1 volume type"))
        if not name:
            causes.append(required(f"{p}.name"))
        else:
            causes += [invalid(f"{p}.name", go_quote(name), m) for m in is_dns1123_label(name)]
        if name in names:
            causes.append(duplicate(f"{p}.name", name))
        elif name:
            names.add(name)
    return names, causes


def _validate_tolerations(tolerations: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, t in enumerate(tolerations or ()):
        p = f"{path}[{i}]"
        key, operator = t.get("key") or "", t.get("operator") or ""
        value, effect = t.get("value") or "", t.get("effect") or ""
        if key:
            causes += [invalid(f"{p}.key", go_quote(key), m) for m in is_qualified_name(key)]
        if not key and operator != "Exists":
            causes.append(
                invalid(
                    f"{p}.operator",
                    go_quote(operator),
                    'operator must be Exists when `key` is empty, which means "match all values and all keys"',
                )
            )
        if t.get("tolerationSeconds") is not None and effect != "NoExecute":
            causes.append(
                invalid(f"{p}.effect", go_quote(effect), "effect must be 'NoExecute' when `tolerationSeconds` is set")
            )
        if operator in ("Equal", ""):
            msgs = is_valid_label_value(value)
            if msgs:
                causes.append(invalid(f"{p}.operator", go_quote(value), ";".join(msgs)))
        elif operator == "Exists":
            if value:
                causes.append(
                    invalid(
                        f"{p}.operator",
                        go_compact(t, "core.Toleration"),
                        "value must be empty when `operator` is 'Exists'",
                    )
                )
        else:
            causes.append(not_supported(f"{p}.operator", operator, ("Equal", "Exists")))
        if effect and effect not in _TAINT_EFFECTS:
            causes.append(not_supported(f"{p}.effect", effect, _TAINT_EFFECTS))
    return causes


def validate_pod_spec(spec: Obj, path: str = "spec") -> list[Cause]:
    """ValidatePodSpec essentials, in the real validator's order (containers before restartPolicy)."""
    causes: list[Cause] = []
    volumes, vol_causes = _validate_volumes(spec.get("volumes"), f"{path}.volumes")
    causes += vol_causes
    containers = spec.get("containers") or ()
    if not containers:
        causes.append(required(f"{path}.containers"))
    names: set[str] = set()
    for i, c in enumerate(containers):
        p = f"{path}.containers[{i}]"
        causes += _validate_container(c, p, volumes)
        name = c.get("name") or ""
        if name in names:
            causes.append(duplicate(f"{p}.name", name))
        else:
            names.add(name)
        if c.get("restartPolicy") is not None:
            causes.append(forbidden(f"{p}.restartPolicy", "may not be set for non-init containers"))
    for i, c in enumerate(spec.get("initContainers") or ()):
        p = f"{path}.initContainers[{i}]"
        causes += _validate_container(c, p, volumes)
        name = c.get("name") or ""
        if name in names:
            causes.append(duplicate(f"{p}.name", name))
        elif name:
            names.add(name)
    restart = spec.get("restartPolicy") or ""
    if restart and restart not in _RESTART_POLICIES:
        causes.append(not_supported(f"{path}.restartPolicy", restart, _RESTART_POLICIES))
    dns = spec.get("dnsPolicy") or ""
    if dns and dns not in _DNS_POLICIES:
        causes.append(not_supported(f"{path}.dnsPolicy", dns, _DNS_POLICIES))
    causes += validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    for i, secret in enumerate(spec.get("imagePullSecrets") or ()):
        if set(secret) - {"name"}:
            causes.append(
                invalid(
                    f"{path}.imagePullSecrets[{i}]",
                    go_compact(secret, "core.LocalObjectReference"),
                    "only name may be set",
                )
            )
    for field in ("serviceAccountName", "nodeName"):
        value = spec.get(field) or ""
        if value:
            causes += [invalid(f"{path}.{field}", go_quote(value), m) for m in is_dns1123_subdomain(value)]
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and not (1 <= deadline <= 2**31 - 1):
        causes.append(
            invalid(f"{path}.activeDeadlineSeconds", go_scalar(deadline), "must be between 1 and 2147483647, inclusive")
        )
    for field in ("hostname", "subdomain"):
        value = spec.get(field) or ""
        if value:
            causes += [invalid(f"{path}.{field}", go_quote(value), m) for m in is_dns1123_label(value)]
    causes += _validate_tolerations(spec.get("tolerations"), f"{path}.tolerations")
    priority_class = spec.get("priorityClassName") or ""
    if priority_class:
        causes += [
            invalid(f"{path}.priorityClassName", go_quote(priority_class), m)
            for m in is_dns1123_subdomain(priority_class)
        ]
    preemption = spec.get("preemptionPolicy")
    if preemption is not None and preemption not in ("PreemptLowerPriority", "Never"):
        causes.append(not_supported(f"{path}.preemptionPolicy", preemption, ("PreemptLowerPriority", "Never")))
    return causes


def validate_pod_template(template: Any, path: str) -> list[Cause]:
    """ValidatePodTemplateSpec: template labels and annotations, then the pod spec."""
    template = template if isinstance(template, Mapping) else {}
    meta = template.get("metadata") or {}
    causes = validate_labels(meta.get("labels"), f"{path}.labels")
    causes += _validate_annotations(meta.get("annotations"), f"{path}.annotations")
    causes += validate_pod_spec(template.get("spec") or {}, f"{path}.spec")
    return causes


# --- selectors ----------------------------------------------------------------------------------


def _validate_label_selector(selector: Obj, path: str) -> list[Cause]:
    causes = validate_labels(selector.get("matchLabels"), f"{path}.matchLabels")
    for i, expr in enumerate(selector.get("matchExpressions") or ()):
        p = f"{path}.matchExpressions[{i}]"
        op = expr.get("operator") or ""
        values = expr.get("values") or []
        if op in ("In", "NotIn"):
            if not values:
                causes.append(required(f"{p}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                causes.append(
                    forbidden(f"{p}.values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
                )
        else:
            causes.append(invalid(f"{p}.operator", go_quote(op), "not a valid selector operator"))
        key = expr.get("key") or ""
        causes += [invalid(f"{p}.key", go_quote(key), m) for m in is_qualified_name(key)]
        for j, v in enumerate(values):
            causes += [invalid(f"{p}.values[{j}]", go_quote(v), m) for m in is_valid_label_value(v)]
    return causes


def selector_matches(selector: Obj | None, labels: Mapping[str, str] | None) -> bool:
    """Whether a LabelSelector selects `labels` (an absent or empty selector selects everything)."""
    labels = labels or {}
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or ():
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or ()
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _selector_is_empty(selector: Obj) -> bool:
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


def _template_labels(spec: Obj) -> Any:
    return ((spec.get("template") or {}).get("metadata") or {}).get("labels")


def _nonnegative(spec: Obj, field: str, path: str) -> list[Cause]:
    value = spec.get(field)
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return [invalid(f"{path}.{field}", str(value), "must be greater than or equal to 0")]
    return []


def _selector_causes(spec: Obj, kind_word: str) -> list[Cause]:
    """Required selector, its syntax, and `empty selector is invalid for <kind>`."""
    selector = spec.get("selector")
    if selector is None:
        return [required("spec.selector")]
    causes = _validate_label_selector(selector, "spec.selector")
    if _selector_is_empty(selector):
        causes.append(
            invalid("spec.selector", go_label_selector(selector), f"empty selector is invalid for {kind_word}")
        )
    return causes


def _template_match_cause(spec: Obj, path: str = "spec.template.metadata.labels") -> list[Cause]:
    selector = spec.get("selector")
    if selector and not _selector_is_empty(selector) and not selector_matches(selector, _template_labels(spec)):
        return [invalid(path, go_string_map(_template_labels(spec)), "`selector` does not match template `labels`")]
    return []


# --- workloads ----------------------------------------------------------------------------------


def _replica_template_causes(spec: Obj, workload: str) -> list[Cause]:
    """ValidatePodTemplateSpecForReplicaSet: selector match, template, RestartPolicy Always."""
    causes = _template_match_cause(spec)
    causes += validate_pod_template(spec.get("template"), "spec.template")
    tspec = (spec.get("template") or {}).get("spec") or {}
    restart = tspec.get("restartPolicy") or "Always"  # unset defaults to Always
    if restart != "Always":
        causes.append(not_supported("spec.template.spec.restartPolicy", restart, ("Always",)))
    if tspec.get("activeDeadlineSeconds") is not None:
        causes.append(
            forbidden(
                "spec.template.spec.activeDeadlineSeconds", f"activeDeadlineSeconds in {workload} is not Supported"
            )
        )
    return causes


def _int_or_percent(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]+%", value):
        return int(value[:-1])
    return None


def go_int_or_string(value: Any) -> str:
    """`%#v` of an `intstr.IntOrString` (`intstr.IntOrString{Type:1, IntVal:0, StrVal:"25%"}`)."""
    if isinstance(value, str):
        return f"intstr.IntOrString{{Type:1, IntVal:0, StrVal:{go_quote(value)}}}"
    return f'intstr.IntOrString{{Type:0, IntVal:{value or 0}, StrVal:""}}'


_PERCENT_MSG = (
    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for "
    "validation is '[0-9]+%')"
)


def _validate_deployment_strategy(strategy: Obj) -> list[Cause]:
    """ValidateDeploymentStrategy; an absent type or rolling update is left for defaulting to fill."""
    causes: list[Cause] = []
    stype = strategy.get("type") or ""
    rolling = strategy.get("rollingUpdate")
    if not stype:
        return causes
    if stype == "Recreate":
        if rolling is not None:
            causes.append(
                forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")
            )
        return causes
    if stype != "RollingUpdate":
        rendered = (
            f"apps.DeploymentStrategy{{Type:{go_quote(stype)}, RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}}"
        )
        return [
            Cause(
                "spec.strategy",
                "FieldValueNotSupported",
                f'Unsupported value: {rendered}: supported values: "Recreate", "RollingUpdate"',
            )
        ]
    if not isinstance(rolling, Mapping) or "maxUnavailable" not in rolling or "maxSurge" not in rolling:
        return causes
    path = "spec.strategy.rollingUpdate"
    for field in ("maxUnavailable", "maxSurge"):
        value = rolling.get(field)
        if isinstance(value, str) and _int_or_percent(value) is None:
            causes.append(invalid(f"{path}.{field}", go_int_or_string(value), _PERCENT_MSG))
        elif isinstance(value, int) and value < 0:
            causes.append(invalid(f"{path}.{field}", str(value), "must be greater than or equal to 0"))
    if not _int_or_percent(rolling.get("maxUnavailable")) and not _int_or_percent(rolling.get("maxSurge")):
        causes.append(
            invalid(
                f"{path}.maxUnavailable",
                go_int_or_string(rolling.get("maxUnavailable")),
                "may not be 0 when `maxSurge` is 0",
            )
        )
    unavailable = rolling.get("maxUnavailable")
    if isinstance(unavailable, str) and (_int_or_percent(unavailable) or 0) > 100:
        causes.append(invalid(f"{path}.maxUnavailable", go_int_or_string(unavailable), "must not be greater than 100%"))
    return causes


def _validate_deployment_spec(spec: Obj) -> list[Cause]:
    causes = _nonnegative(spec, "replicas", "spec")
    causes += _selector_causes(spec, "deployment")
    causes += _replica_template_causes(spec, "ReplicaSet")
    causes += _validate_deployment_strategy(spec.get("strategy") or {})
    causes += _nonnegative(spec, "minReadySeconds", "spec")
    causes += _nonnegative(spec, "revisionHistoryLimit", "spec")
    deadline = spec.get("progressDeadlineSeconds")
    if isinstance(deadline, int):
        causes += _nonnegative(spec, "progressDeadlineSeconds", "spec")
        if deadline <= (spec.get("minReadySeconds") or 0):
            causes.append(
                invalid("spec.progressDeadlineSeconds", str(deadline), "must be greater than minReadySeconds")
            )
    return causes


def _validate_replicaset_spec(spec: Obj) -> list[Cause]:
    causes = _nonnegative(spec, "replicas", "spec")
    causes += _nonnegative(spec, "minReadySeconds", "spec")
    causes += _selector_causes(spec, "deployment")  # sic: the real ReplicaSet validator says "deployment"
    causes += _replica_template_causes(spec, "ReplicaSet")
    return causes


def _validate_statefulset_spec(spec: Obj) -> list[Cause]:
    causes: list[Cause] = []
    policy = spec.get("podManagementPolicy") or ""
    if policy and policy not in ("OrderedReady", "Parallel"):
        causes.append(invalid("spec.podManagementPolicy", go_quote(policy), "must be 'OrderedReady' or 'Parallel'"))
    strategy = spec.get("updateStrategy") or {}
    stype = strategy.get("type") or ""
    if not stype:
        pass
    elif stype == "OnDelete":
        if strategy.get("rollingUpdate") is not None:
            causes.append(
                invalid(
                    "spec.updateStrategy.rollingUpdate",
                    go_compact(strategy["rollingUpdate"], "&apps.RollingUpdateStatefulSetStrategy"),
                    "only allowed for updateStrategy 'RollingUpdate'",
                )
            )
    elif stype == "RollingUpdate":
        causes += _nonnegative(strategy.get("rollingUpdate") or {}, "partition", "spec.updateStrategy.rollingUpdate")
    else:
        causes.append(
            invalid(
                "spec.updateStrategy",
                go_compact(strategy, "apps.StatefulSetUpdateStrategy"),
                "must be 'RollingUpdate' or 'OnDelete'",
            )
        )
    causes += _nonnegative(spec, "replicas", "spec")
    causes += _nonnegative(spec, "minReadySeconds", "spec")
    causes += _selector_causes(spec, "statefulset")
    causes += _template_match_cause(spec)
    template = spec.get("template") or {}
    meta = template.get("metadata") or {}
    # the real StatefulSet validator checks only the template's labels and annotations, not its pod spec
    causes += validate_labels(meta.get("labels"), "spec.template.labels")
    causes += _validate_annotations(meta.get("annotations"), "spec.template.annotations")
    tspec = template.get("spec") or {}
    restart = tspec.get("restartPolicy") or "Always"  # unset defaults to Always
    if restart != "Always":
        causes.append(not_supported("spec.template.spec.restartPolicy", restart, ("Always",)))
    if tspec.get("activeDeadlineSeconds") is not None:
        causes.append(
            forbidden(
                "spec.template.spec.activeDeadlineSeconds", "activeDeadlineSeconds in StatefulSet is not Supported"
            )
        )
    return causes


def _validate_job_spec_common(spec: Obj, path: str) -> list[Cause]:
    """validateJobSpec: counts, completion mode, replacement policy, template, restart policy."""
    causes: list[Cause] = []
    for field in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"):
        causes += _nonnegative(spec, field, path)
    mode = spec.get("completionMode")
    if mode is not None and mode not in ("NonIndexed", "Indexed"):
        causes.append(not_supported(f"{path}.completionMode", mode, ("NonIndexed", "Indexed")))
    if mode == "Indexed" and spec.get("completions") is None:
        causes.append(required(f"{path}.completions", "when completion mode is Indexed"))
    replacement = spec.get("podReplacementPolicy")
    if replacement is not None and replacement not in ("Failed", "TerminatingOrFailed"):
        causes.append(not_supported(f"{path}.podReplacementPolicy", replacement, ("Failed", "TerminatingOrFailed")))
    causes += validate_pod_template(spec.get("template"), f"{path}.template")
    restart = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") or ""
    if restart in ("Always", ""):
        causes.append(required(f"{path}.template.spec.restartPolicy", 'valid values: "OnFailure", "Never"'))
    elif restart not in ("OnFailure", "Never"):
        causes.append(not_supported(f"{path}.template.spec.restartPolicy", restart, ("OnFailure", "Never")))
    elif spec.get("podFailurePolicy") is not None and restart != "Never":
        causes.append(
            invalid(
                f"{path}.template.spec.restartPolicy",
                go_quote(restart),
                'only "Never" is supported when podFailurePolicy is specified',
            )
        )
    return causes


def _validate_job_spec(spec: Obj) -> list[Cause]:
    causes = _validate_job_spec_common(spec, "spec")
    selector = spec.get("selector")
    if selector is None:
        if spec.get("manualSelector"):  # otherwise the server generates one
            causes.append(required("spec.selector"))
    else:
        causes += _validate_label_selector(selector, "spec.selector")
        if not selector_matches(selector, _template_labels(spec)):
            causes.append(
                invalid(
                    "spec.template.metadata.labels",
                    go_string_map(_template_labels(spec)),
                    "`selector` does not match template `labels`",
                )
            )
    return causes


def _has_label(meta: Obj, key: str, expected: str) -> list[Cause]:
    labels = meta.get("labels") or {}
    path = f"spec.template.metadata.labels[{key}]"
    if key not in labels:
        return [required(path, f"must be '{expected}'")]
    if labels[key] != expected:
        return [invalid(path, go_string_map(labels), f"must be '{expected}'")]
    return []


def _validate_generated_selector(job: Obj) -> list[Cause]:
    """With an auto-generated selector, the template must carry the job's uid and name labels."""
    spec = job.get("spec") or {}
    if spec.get("manualSelector") or spec.get("selector") is None:
        return []
    meta = job.get("metadata") or {}
    uid, name = meta.get("uid") or "", meta.get("name") or ""
    causes: list[Cause] = []
    if not uid:
        causes.append(required("metadata.uid"))
    tmeta = (spec.get("template") or {}).get("metadata") or {}
    causes += _has_label(tmeta, "controller-uid", uid)
    causes += _has_label(tmeta, "job-name", name)
    causes += _has_label(tmeta, "batch.kubernetes.io/controller-uid", uid)
    causes += _has_label(tmeta, "batch.kubernetes.io/job-name", name)
    expected = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }
    if not selector_matches(spec["selector"], expected):
        causes.append(invalid("spec.selector", go_label_selector(spec["selector"]), "`selector` not auto-generated"))
    return causes


_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 6))
_CRON_NAMES = {
    3: {
        m: i + 1
        for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))
    },
    4: {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))},
}
_CRON_DESCRIPTORS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


def cron_schedule_error(schedule: str) -> str | None:
    """The robfig/cron `ParseStandard` error for a schedule, or None when it parses."""
    if schedule.startswith("@"):
        if schedule in _CRON_DESCRIPTORS or schedule.startswith("@every "):
            return None
        return f"unrecognized descriptor: {schedule}"
    fields = schedule.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    for index, text in enumerate(fields):
        _, low, high = _CRON_FIELDS[index]
        names = _CRON_NAMES.get(index, {})
        for part in text.split(","):
            problem = _cron_range_error(part, low, high, names)
            if problem:
                return problem
    return None


def _cron_range_error(part: str, low: int, high: int, names: Mapping[str, int]) -> str | None:
    range_and_step = part.split("/")
    low_and_high = range_and_step[0].split("-")

    def number(text: str) -> int | str:
        if text.lower() in names:
            return names[text.lower()]
        if not re.fullmatch(r"[0-9]+", text):
            return f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax'
        return int(text)

    if low_and_high[0] in ("*", "?"):
        start, end = low, high
    else:
        first = number(low_and_high[0])
        if isinstance(first, str):
            return first
        start = end = first
        if len(low_and_high) == 2:
            second = number(low_and_high[1])
            if isinstance(second, str):
                return second
            end = second
        elif len(low_and_high) > 2:
            return f"too many hyphens: {part}"
    if len(range_and_step) == 2:
        step = number(range_and_step[1])
        if isinstance(step, str):
            return step
        if step == 0:
            return f"step of range should be a positive number: {part}"
    elif len(range_and_step) > 2:
        return f"too many slashes: {part}"
    if start < low:
        return f"beginning of range ({start}) below minimum ({low}): {part}"
    if end > high:
        return f"end of range ({end}) above maximum ({high}): {part}"
    if start > end:
        return f"beginning of range ({start}) beyond end of range ({end}): {part}"
    return None


def _validate_cronjob_spec(spec: Obj) -> list[Cause]:
    causes: list[Cause] = []
    schedule = spec.get("schedule") or ""
    if not schedule:
        causes.append(required("spec.schedule"))
    else:
        problem = cron_schedule_error(schedule)
        if problem:
            causes.append(invalid("spec.schedule", go_quote(schedule), problem))
        if "TZ" in schedule:
            causes.append(
                invalid(
                    "spec.schedule",
                    go_quote(schedule),
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                )
            )
    causes += _nonnegative(spec, "startingDeadlineSeconds", "spec")
    policy = spec.get("concurrencyPolicy") or ""
    if policy and policy not in ("Allow", "Forbid", "Replace"):
        causes.append(not_supported("spec.concurrencyPolicy", policy, ("Allow", "Forbid", "Replace")))
    job_template = spec.get("jobTemplate") or {}
    job_spec = job_template.get("spec") or {}
    causes += _validate_job_spec_common(job_spec, "spec.jobTemplate.spec")
    if job_spec.get("selector") is not None:
        causes.append(
            invalid(
                "spec.jobTemplate.spec.selector",
                go_label_selector(job_spec["selector"]),
                "`selector` will be auto-generated",
            )
        )
    if job_spec.get("manualSelector"):
        causes.append(not_supported("spec.jobTemplate.spec.manualSelector", True, ("nil", "false")))
    causes += _nonnegative(spec, "successfulJobsHistoryLimit", "spec")
    causes += _nonnegative(spec, "failedJobsHistoryLimit", "spec")
    return causes


# --- core kinds ---------------------------------------------------------------------------------

_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")


def _is_headless(spec: Obj) -> bool:
    return spec.get("clusterIP") == "None"


def _validate_service_spec(spec: Obj) -> list[Cause]:
    causes: list[Cause] = []
    stype = spec.get("type") or ""
    ports = spec.get("ports") or ()
    if not ports and not _is_headless(spec) and stype != "ExternalName":
        causes.append(required("spec.ports"))
    if stype == "ExternalName":
        if spec.get("clusterIPs"):
            causes.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        cname = (spec.get("externalName") or "").removesuffix(".")
        if cname:
            causes += [invalid("spec.externalName", go_quote(cname), m) for m in is_dns1123_subdomain(cname)]
        else:
            causes.append(required("spec.externalName"))
    names: set[str] = set()
    for i, port in enumerate(ports):
        p = f"spec.ports[{i}]"
        name = port.get("name") or ""
        if len(ports) > 1 and not name:
            causes.append(required(f"{p}.name"))
        elif name:
            causes += [invalid(f"{p}.name", go_quote(name), m) for m in is_dns1123_label(name)]
            if name in names:
                causes.append(duplicate(f"{p}.name", name))
            names.add(name)
        causes += [
            invalid(f"{p}.port", go_scalar(port.get("port", 0)), m) for m in is_valid_port_num(port.get("port", 0))
        ]
        protocol = port.get("protocol") or ""
        if protocol and protocol not in _PORT_PROTOCOLS:
            causes.append(not_supported(f"{p}.protocol", protocol, _PORT_PROTOCOLS))
        target = port.get("targetPort")
        if isinstance(target, str):
            if not target:
                causes.append(required(f"{p}.targetPort"))
            else:
                causes += [invalid(f"{p}.targetPort", go_quote(target), m) for m in is_valid_port_name(target)]
        elif target is not None:
            causes += [invalid(f"{p}.targetPort", go_scalar(target), m) for m in is_valid_port_num(target)]
    if spec.get("selector") is not None:
        causes += validate_labels(spec.get("selector"), "spec.selector")
    affinity = spec.get("sessionAffinity") or ""
    if affinity and affinity not in ("ClientIP", "None"):
        causes.append(not_supported("spec.sessionAffinity", affinity, ("ClientIP", "None")))
    if stype and stype not in _SERVICE_TYPES:
        causes.append(not_supported("spec.type", stype, _SERVICE_TYPES))
    return causes


def _validate_secret(obj: Obj) -> list[Cause]:
    causes: list[Cause] = []
    data = obj.get("data") or {}
    total = 0
    for key in sorted(data):
        causes += [invalid(f"data[{key}]", go_quote(key), m) for m in is_config_map_key(key)]
        total += len(data[key] or "") * 3 // 4
    if total > 1024 * 1024:
        causes.append(too_long("data", 1024 * 1024))
    stype = obj.get("type") or ""
    if stype == "kubernetes.io/dockerconfigjson":
        raw = data.get(".dockerconfigjson")
        if raw is None:
            causes.append(required("data[.dockerconfigjson]"))
        else:
            try:
                decoded = json.loads(base64.b64decode(raw))
                if not isinstance(decoded, dict):
                    raise ValueError("json: cannot unmarshal into map[string]interface {}")
            except (ValueError, binascii.Error) as err:
                causes.append(invalid("data[.dockerconfigjson]", go_quote("<secret contents redacted>"), str(err)))
    elif stype == "kubernetes.io/tls":
        for key in ("tls.key", "tls.crt"):
            if key not in data:
                causes.append(required(f"data[{key}]"))
    elif stype == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            causes.append(required("data[username]"))
            causes.append(required("data[password]"))
    elif stype == "kubernetes.io/ssh-auth" and "ssh-privatekey" not in data:
        causes.append(required("data[ssh-privatekey]"))
    return causes


def _validate_configmap(obj: Obj) -> list[Cause]:
    causes: list[Cause] = []
    data = obj.get("data") or {}
    binary = obj.get("binaryData") or {}
    for key in sorted(data):
        causes += [invalid(f"data[{key}]", go_quote(key), m) for m in is_config_map_key(key)]
    for key in sorted(binary):
        causes += [invalid(f"binaryData[{key}]", go_quote(key), m) for m in is_config_map_key(key)]
        if key in data:
            causes.append(invalid(f"binaryData[{key}]", go_quote(key), "duplicate of key present in data"))
    return causes


_ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")


def _validate_pvc_spec(spec: Obj, path: str = "spec") -> list[Cause]:
    causes: list[Cause] = []
    modes = spec.get("accessModes") or ()
    if not modes:
        causes.append(required(f"{path}.accessModes", "at least 1 access mode is required"))
    for mode in modes:
        if mode not in _ACCESS_MODES:
            causes.append(not_supported(f"{path}.accessModes", mode, _ACCESS_MODES))
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    storage_path = f"{path}.resources[storage]"
    if storage is None:
        causes.append(required(storage_path))
    else:
        q = _try_parse(storage)
        if q is not None and q.value <= 0:
            causes.append(invalid(storage_path, go_quote(q.text), "must be greater than zero"))
    mode = spec.get("volumeMode")
    if mode is not None and mode not in ("Block", "Filesystem"):
        causes.append(not_supported(f"{path}.volumeMode", mode, ("Block", "Filesystem")))
    return causes


def _mapping(value: Any) -> Obj:
    """`value` when it is a JSON object, else an empty one (malformed input is reported elsewhere)."""
    return value if isinstance(value, Mapping) else {}


def _spec_causes(rt: ResourceType, obj: Obj) -> list[Cause]:
    """Everything validated on both create and update, below the metadata."""
    spec = _mapping(obj.get("spec"))
    kind = rt.kind
    if kind == "Pod":
        causes = validate_pod_spec(spec)
        for i, c in enumerate(spec.get("containers") or ()):
            image = c.get("image") or ""
            if image and image != image.strip():
                causes.append(
                    invalid(
                        f"spec.containers[{i}].image", go_quote(image), "must not have leading or trailing whitespace"
                    )
                )
        return causes
    if kind == "Deployment":
        return _validate_deployment_spec(spec)
    if kind == "ReplicaSet":
        return _validate_replicaset_spec(spec)
    if kind == "StatefulSet":
        return _validate_statefulset_spec(spec)
    if kind == "Job":
        return _validate_job_spec(spec)
    if kind == "CronJob":
        return _validate_cronjob_spec(spec)
    if kind == "Service":
        return _validate_service_spec(spec)
    if kind == "Secret":
        return _validate_secret(obj)
    if kind == "ConfigMap":
        return _validate_configmap(obj)
    if kind == "PersistentVolumeClaim":
        return _validate_pvc_spec(spec)
    return []


def validate_create(rt: ResourceType, obj: Obj) -> list[Cause]:
    """The 422 causes the real server reports when creating `obj` (already defaulted); empty when valid.

    Metadata first (name or generateName, labels, annotations, owner references, finalizers),
    then the kind's spec in the real validator's order. A namespace on a cluster-scoped kind is
    ignored, as the server clears it before validating.
    """
    meta = _mapping(obj.get("metadata"))
    causes = _validate_object_meta(rt, meta)
    if rt.kind == "Job":
        causes += _validate_generated_selector(obj)
    causes += _spec_causes(rt, obj)
    if rt.kind == "CronJob" and len(meta.get("name") or "") > 52:
        causes.append(invalid("metadata.name", go_quote(meta["name"]), "must be no more than 52 characters"))
    return _dedupe(causes)


# --- updates ------------------------------------------------------------------------------------

_POD_UPDATE_MESSAGE = (
    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def _immutable(path: str, new: Any, old: Any, render: Any = go_compact) -> list[Cause]:
    if _normalized(new) == _normalized(old):
        return []
    return [invalid(path, render(new), "field is immutable")]


def _normalized(value: Any) -> Any:
    """JSON value with empty maps/lists and nulls dropped, so `{}` and absent compare equal (Go semantic equality)."""
    if isinstance(value, Mapping):
        out = {k: _normalized(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [], "")}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


def _pod_spec_masked(spec: Obj, old: Obj) -> dict[str, Any]:
    """`spec` with the fields a pod update may change replaced by the old values."""
    masked = dict(spec)
    for group in ("containers", "initContainers"):
        new_list = [dict(c) for c in spec.get(group) or ()]
        old_list = old.get(group) or ()
        for new_c, old_c in zip(new_list, old_list, strict=False):
            new_c["image"] = old_c.get("image")
        if new_list:
            masked[group] = new_list
    if old.get("activeDeadlineSeconds") is None or spec.get("activeDeadlineSeconds") is not None:
        masked["activeDeadlineSeconds"] = old.get("activeDeadlineSeconds")
    old_tolerations = [_normalized(t) for t in old.get("tolerations") or ()]
    new_tolerations = [_normalized(t) for t in spec.get("tolerations") or ()]
    if all(t in new_tolerations for t in old_tolerations):
        masked["tolerations"] = old.get("tolerations")
    grace = old.get("terminationGracePeriodSeconds")
    if grace is not None and grace < 0 and spec.get("terminationGracePeriodSeconds") == 1:
        masked["terminationGracePeriodSeconds"] = grace
    return masked


def _pod_spec_diff(old: Obj, new: Obj) -> str:
    """A short cmp.Diff-style listing of the changed top-level pod spec fields."""
    lines = ["  core.PodSpec{"]
    for key in sorted(set(old) | set(new)):
        before, after = _normalized(old.get(key)), _normalized(new.get(key))
        if before == after:
            continue
        field = _go_field(key)
        if before not in (None, {}, []):
            lines.append(f"- \t{field}: {go_compact(old.get(key), _GO_TYPES.get(key, ''), key)},")
        if after not in (None, {}, []):
            lines.append(f"+ \t{field}: {go_compact(new.get(key), _GO_TYPES.get(key, ''), key)},")
    lines.append("  }")
    return "\n".join(lines)


def _job_template_update(new_spec: Obj, old_spec: Obj, old_job: Obj) -> list[Cause]:
    """The Job template is immutable, except scheduling directives of a suspended job that never started."""
    template = new_spec.get("template") or {}
    old_template = old_spec.get("template") or {}
    suspended_unstarted = bool(new_spec.get("suspend")) and not (old_job.get("status") or {}).get("startTime")
    if suspended_unstarted:
        new_meta = template.get("metadata") or {}
        new_pod = template.get("spec") or {}
        old_meta = dict(old_template.get("metadata") or {})
        old_pod = dict(old_template.get("spec") or {})
        for key in ("labels", "annotations"):
            old_meta[key] = new_meta.get(key)
        for key in ("nodeSelector", "tolerations", "schedulingGates"):
            old_pod[key] = new_pod.get(key)
        node_affinity = (new_pod.get("affinity") or {}).get("nodeAffinity")
        old_pod["affinity"] = {**(old_pod.get("affinity") or {}), "nodeAffinity": node_affinity}
        old_template = {**old_template, "metadata": old_meta, "spec": old_pod}
    if _normalized(template) == _normalized(old_template):
        return []
    return [invalid("spec.template", go_compact(template, "core.PodTemplateSpec"), "field is immutable")]


def _service_update(new_spec: Obj, old_spec: Obj) -> list[Cause]:
    if "ExternalName" in (new_spec.get("type"), old_spec.get("type")):
        return []
    if _is_headless(new_spec) and _is_headless(old_spec):
        return []
    old_ips = list(old_spec.get("clusterIPs") or ([old_spec["clusterIP"]] if old_spec.get("clusterIP") else []))
    new_ips = list(new_spec.get("clusterIPs") or ([new_spec["clusterIP"]] if new_spec.get("clusterIP") else []))
    if not new_ips:
        return []  # an omitted clusterIP keeps the allocated one (the store carries it over)
    if not old_ips:
        return []
    for i, ip in enumerate(old_ips[: len(new_ips)]):
        if ip != new_ips[i]:
            return [invalid(f"spec.clusterIPs[{i}]", go_string_list(new_ips), "may not change once set")]
    return []


def _immutable_data(new: Obj, old: Obj, fields: Sequence[str]) -> list[Cause]:
    if not old.get("immutable"):
        return []
    causes: list[Cause] = []
    if not new.get("immutable"):
        causes.append(forbidden("immutable", "field is immutable when `immutable` is set"))
    for field in fields:
        if _normalized(new.get(field)) != _normalized(old.get(field)):
            causes.append(forbidden(field, "field is immutable when `immutable` is set"))
    return causes


def validate_update(rt: ResourceType, old: Obj, new: Obj) -> list[Cause]:
    """The 422 causes the real server reports when replacing `old` with `new` (defaulted); empty when valid.

    Besides validating `new` like a create, it enforces what may not change: a Deployment's or
    ReplicaSet's `spec.selector`, a Job's `spec.selector`, `spec.completions` and
    `spec.template` (only scheduling directives of a suspended, never-started Job may change),
    a Service's allocated cluster IPs, the data of an immutable Secret or ConfigMap, a Secret's
    type, and everything in a Pod spec but images, deadlines and added tolerations.
    """
    new_meta = _mapping(new.get("metadata"))
    old_meta = _mapping(old.get("metadata"))
    causes = _validate_object_meta_update(new_meta, old_meta)
    new_spec = _mapping(new.get("spec"))
    old_spec = _mapping(old.get("spec"))
    kind = rt.kind
    if kind == "Pod":
        causes += _spec_causes(rt, new)
        masked = _pod_spec_masked(new_spec, old_spec)
        if _normalized(masked) != _normalized(old_spec):
            causes.append(forbidden("spec", _POD_UPDATE_MESSAGE + "\n" + _pod_spec_diff(old_spec, masked)))
    elif kind in ("Deployment", "ReplicaSet"):
        causes += _spec_causes(rt, new)
        causes += _immutable("spec.selector", new_spec.get("selector"), old_spec.get("selector"), go_label_selector)
    elif kind == "StatefulSet":
        causes += _spec_causes(rt, new)
        allowed = (
            "replicas",
            "template",
            "updateStrategy",
            "minReadySeconds",
            "ordinals",
            "persistentVolumeClaimRetentionPolicy",
        )
        rest_new = {k: v for k, v in new_spec.items() if k not in allowed}
        rest_old = {k: v for k, v in old_spec.items() if k not in allowed}
        if _normalized(rest_new) != _normalized(rest_old):
            causes.append(
                forbidden(
                    "spec",
                    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                    "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                )
            )
    elif kind == "Job":
        causes += _validate_job_spec(new_spec)
        causes += _immutable("spec.completions", new_spec.get("completions"), old_spec.get("completions"), go_scalar)
        causes += _immutable("spec.selector", new_spec.get("selector"), old_spec.get("selector"), go_label_selector)
        causes += _job_template_update(new_spec, old_spec, old)
        causes += _immutable(
            "spec.completionMode", new_spec.get("completionMode"), old_spec.get("completionMode"), go_scalar
        )
    elif kind == "Service":
        causes += _service_update(new_spec, old_spec)
        causes += _spec_causes(rt, new)
    elif kind == "Secret":
        causes += _immutable("type", new.get("type"), old.get("type"), go_scalar)
        causes += _immutable_data(new, old, ("data",))
        causes += _spec_causes(rt, new)
    elif kind == "ConfigMap":
        causes += _immutable_data(new, old, ("data", "binaryData"))
        causes += _spec_causes(rt, new)
    elif kind == "PersistentVolumeClaim":
        causes += _spec_causes(rt, new)
        rest_new = {
            k: v for k, v in new_spec.items() if k not in ("resources", "volumeAttributesClassName", "volumeName")
        }
        rest_old = {
            k: v for k, v in old_spec.items() if k not in ("resources", "volumeAttributesClassName", "volumeName")
        }
        if _normalized(rest_new) != _normalized(rest_old):
            causes.append(
                forbidden(
                    "spec",
                    "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
                )
            )
    else:
        causes += _spec_causes(rt, new)
    return _dedupe(causes)


def _dedupe(causes: list[Cause]) -> list[Cause]:
    """Drop repeated causes, as the server's error aggregate drops repeated messages."""
    seen: set[tuple[str, str]] = set()
    out = []
    for c in causes:
        key = (c.field, c.message)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out
