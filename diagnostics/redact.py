"""Secret values stop here: what is left of a Secret once it enters pitstop.

Everything that reads Secrets from the cluster (the client's get/list/watch, the watch cache,
one-shot snapshots) passes them through `redact` before anything else sees them, so no
value reaches the TUI, a report, a diff, the journal or a log. Only what playbooks need
survives: key names (`secret-missing` compares them) and, for image pull Secrets, the
registry hosts they hold credentials for (`image-pull` matches them against images).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
DOCKER_TYPES = {"kubernetes.io/dockerconfigjson": ".dockerconfigjson", "kubernetes.io/dockercfg": ".dockercfg"}


def is_secret(obj: dict[str, Any]) -> bool:
    return obj.get("kind") == "Secret" and obj.get("apiVersion", "v1") == "v1"


def redact(obj: dict[str, Any]) -> dict[str, Any]:
    """A Secret reduced to key names (a new dict); any other object returned as is, uncopied.

    `data` keeps every key of `data` and `stringData` with the value None, `stringData`
    is gone, and so are the last-applied annotation and `managedFields` (both can hold
    values). A docker config Secret gains `pitstop.registryHosts`: the hosts of its auths.
    """
    if not is_secret(obj) or _already_redacted(obj):
        return obj
    raw_data, raw_string_data = obj.get("data"), obj.get("stringData")
    data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
    string_data: dict[str, Any] = raw_string_data if isinstance(raw_string_data, dict) else {}
    out = {k: v for k, v in obj.items() if k not in ("data", "stringData", "metadata")}
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        clean = {k: v for k, v in meta.items() if k != "managedFields"}
        annotations = meta.get("annotations")
        if isinstance(annotations, dict) and LAST_APPLIED in annotations:
            clean["annotations"] = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
        out["metadata"] = clean
    out["data"] = dict.fromkeys([*data, *(k for k in string_data if k not in data)])
    key = DOCKER_TYPES.get(str(obj.get("type", "")))
    if key is not None:
        out["pitstop"] = {"registryHosts": _registry_hosts(key, data.get(key), string_data.get(key))}
    return out


def _already_redacted(obj: dict[str, Any]) -> bool:
    meta = obj.get("metadata") or {}
    data = obj.get("data")
    return (
        "stringData" not in obj
        and "managedFields" not in meta
        and LAST_APPLIED not in (meta.get("annotations") or {})
        and isinstance(data, dict)
        and all(v is None for v in data.values())
        and (obj.get("type") not in DOCKER_TYPES or "pitstop" in obj)
    )


def registry_host(server: str) -> str:
    """`https://index.docker.io/v1/` → `index.docker.io`; `Gcr.io` → `gcr.io`."""
    host = server.strip()
    if "://" in host:
        host = host.split("://", 1)[1]
    return host.split("/", 1)[0].lower()


def _registry_hosts(key: str, encoded: Any, plain: Any) -> list[str]:
    """The hosts of a docker config; the decoded credentials are dropped at once."""
    raw: bytes | None = None
    if isinstance(encoded, str):
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raw = None
    elif isinstance(plain, str):
        raw = plain.encode()
    if raw is None:
        return []
    try:
        config = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(config, dict):
        return []
    auths = config.get("auths") if key == ".dockerconfigjson" else config
    if not isinstance(auths, dict):
        return []
    return sorted({registry_host(str(server)) for server in auths if str(server).strip()})
