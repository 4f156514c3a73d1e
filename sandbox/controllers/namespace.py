"""What every namespace of a real cluster holds: ServiceAccount `default` and ConfigMap `kube-root-ca.crt`.

The serviceaccount controller and the root-ca-cert-publisher recreate them when deleted,
and the publisher puts the bundle back when someone edits it; so does this controller.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from sandbox.controllers.base import Context, Controller, Key
from sandbox.errors import APIError
from sandbox.resources import ResourceType, by_kind

NAMESPACE: ResourceType = by_kind("v1", "Namespace")  # type: ignore[assignment]
SERVICE_ACCOUNT: ResourceType = by_kind("v1", "ServiceAccount")  # type: ignore[assignment]
CONFIG_MAP: ResourceType = by_kind("v1", "ConfigMap")  # type: ignore[assignment]

ROOT_CA = "kube-root-ca.crt"
ROOT_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as "
    "the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of "
    "Kubernetes clusters."
)


def _fake_ca_pem() -> str:
    """A PEM block shaped like the cluster CA (it is not a certificate anyone can use)."""
    body = b"".join(hashlib.sha512(f"pitstop-sandbox-ca-{i}".encode()).digest() for i in range(12))
    b64 = base64.b64encode(b"\x30\x82\x02\xfc" + body[:760]).decode()
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


CA_PEM = _fake_ca_pem()


class NamespaceController(Controller):
    name = "namespace"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._seen: set[str] = set()  # namespaces whose objects were made once; later re-creations are dated now

    def initial_keys(self) -> list[Key]:
        return [("", ns["metadata"]["name"]) for ns in self.store.list(NAMESPACE)]

    def on_change(self, type_: str, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        meta = obj["metadata"]
        if rt is NAMESPACE:
            if type_ == "DELETED":
                self._seen.discard(meta["name"])
            else:
                self.enqueue(("", meta["name"]))
        elif rt is SERVICE_ACCOUNT:
            if type_ == "DELETED" and meta["name"] == "default":
                self.enqueue(("", meta.get("namespace", "")))
        elif (
            rt is CONFIG_MAP
            and meta["name"] == ROOT_CA
            and (type_ == "DELETED" or obj.get("data") != {"ca.crt": CA_PEM})
        ):
            self.enqueue(("", meta.get("namespace", "")))

    def reconcile(self, key: Key) -> None:
        name = key[1]
        ns = self.store.get(NAMESPACE, "", name)
        if (
            ns is None
            or (ns.get("status") or {}).get("phase") == "Terminating"
            or ns["metadata"].get("deletionTimestamp")
        ):
            return
        # first time round the objects date from the namespace, as they would on a cluster
        created = None if name in self._seen else ns["metadata"].get("creationTimestamp")
        self._seen.add(name)
        if self.store.get(SERVICE_ACCOUNT, name, "default") is None:
            self._create(SERVICE_ACCOUNT, {"metadata": {"name": "default", "namespace": name}}, created)
        cm = self.store.get(CONFIG_MAP, name, ROOT_CA)
        if cm is None:
            self._create(
                CONFIG_MAP,
                {
                    "metadata": {
                        "name": ROOT_CA,
                        "namespace": name,
                        "annotations": {"kubernetes.io/description": ROOT_CA_DESCRIPTION},
                    },
                    "data": {"ca.crt": CA_PEM},
                },
                created,
            )
        elif cm.get("data") != {"ca.crt": CA_PEM}:
            self.store.mutate(CONFIG_MAP, name, ROOT_CA, lambda o: o.__setitem__("data", {"ca.crt": CA_PEM}))

    def _create(self, rt: ResourceType, obj: dict[str, Any], created: str | None) -> None:
        try:
            self.store.create(rt, obj, creation_timestamp=created)
        except APIError as e:
            if e.code != 409:
                raise
