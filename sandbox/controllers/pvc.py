"""Dynamic provisioning: a claim binds to a fresh volume of its StorageClass, or says why it cannot.

The sandbox has GKE's two classes, `standard` and `standard-rwo` (the default). A claim
naming another class stays Pending with the persistent-volume controller's warning,
repeated on its 15 s resync as on a cluster; `storageClassName: ""` asks for a pre-made
volume, which the sandbox never has.
"""

from __future__ import annotations

from typing import Any

from sandbox.controllers.base import Controller, Key
from sandbox.resources import ResourceType, by_kind

PVC: ResourceType = by_kind("v1", "PersistentVolumeClaim")  # type: ignore[assignment]
STORAGE_CLASSES = frozenset({"standard", "standard-rwo"})
DEFAULT_CLASS = "standard-rwo"
PROVISIONER = "pd.csi.storage.gke.io"
PROVISIONER_COMPONENT = f"{PROVISIONER}_gke-sandbox-csi-controller"
COMPONENT = "persistentvolume-controller"
RESYNC = 15.0


class PersistentVolumeClaimController(Controller):
    name = "pvc"

    def initial_keys(self) -> list[Key]:
        return [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in self.store.list(PVC)]

    def on_change(self, type_: str, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if rt is PVC and type_ != "DELETED" and not _bound(obj):
            self.enqueue((obj["metadata"]["namespace"], obj["metadata"]["name"]))

    def reconcile(self, key: Key) -> None:
        ns, name = key
        pvc = self.store.get(PVC, ns, name)
        if pvc is None or _bound(pvc):
            return
        spec = pvc.get("spec") or {}
        cls = spec.get("storageClassName")
        if cls == "":
            self.recorder.record(
                pvc,
                "Normal",
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set",
                component=COMPONENT,
            )
            self.requeue_after(key, RESYNC)
            return
        if cls is not None and cls not in STORAGE_CLASSES:
            self.recorder.record(
                pvc,
                "Warning",
                "ProvisioningFailed",
                f'storageclass.storage.k8s.io "{cls}" not found',
                component=COMPONENT,
            )
            self.requeue_after(key, RESYNC)
            return
        volume = f"pvc-{pvc['metadata']['uid']}"
        self.recorder.record(
            pvc,
            "Normal",
            "Provisioning",
            f'External provisioner is provisioning volume for claim "{ns}/{name}"',
            component=PROVISIONER_COMPONENT,
        )

        def bind(o: dict[str, Any]) -> None:
            o.setdefault("spec", {})["volumeName"] = volume
            ann = o["metadata"].setdefault("annotations", {})
            ann["pv.kubernetes.io/bind-completed"] = "yes"
            ann["pv.kubernetes.io/bound-by-controller"] = "yes"
            ann["volume.beta.kubernetes.io/storage-provisioner"] = PROVISIONER
            ann["volume.kubernetes.io/storage-provisioner"] = PROVISIONER

        bound = self.store.mutate(PVC, ns, name, bind)
        if bound is None:
            return
        status: dict[str, Any] = {"phase": "Bound"}
        modes = (bound.get("spec") or {}).get("accessModes")
        if modes:
            status["accessModes"] = list(modes)
        storage = (((bound.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
        if storage is not None:
            status["capacity"] = {"storage": storage}
        self.store.mutate(PVC, ns, name, lambda o: o.__setitem__("status", status), subresource="status")
        self.recorder.record(
            bound,
            "Normal",
            "ProvisioningSucceeded",
            f"Successfully provisioned volume {volume}",
            component=PROVISIONER_COMPONENT,
        )


def _bound(pvc: dict[str, Any]) -> bool:
    return (pvc.get("status") or {}).get("phase") == "Bound" and bool((pvc.get("spec") or {}).get("volumeName"))
