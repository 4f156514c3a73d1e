"""Third-party playbooks as a plugin package would ship them, for the `pitstop.playbooks` entry-point tests."""

from __future__ import annotations

from diagnostics.findings import Finding, ObjectRef, finding_id
from playbooks.base import Context


class HelmReleaseStuck:
    """Reports every Helm release Secret whose name says it is pending (a stuck `helm upgrade`)."""

    id = "helm-release-stuck"
    title = "Helm releases stuck in a pending state"
    kinds = ("Secret",)
    uses_repo = False
    uses_registry = False

    async def run(self, ctx: Context) -> list[Finding]:
        out = []
        for s in ctx.snapshot.list("Secret"):
            labels = s["metadata"].get("labels") or {}
            if s.get("type") == "helm.sh/release.v1" and str(labels.get("status", "")).startswith("pending"):
                ref = ObjectRef("Secret", s["metadata"]["name"], s["metadata"].get("namespace"))
                out.append(
                    Finding(
                        id=finding_id(self.id, ref, "pending"),
                        playbook=self.id,
                        severity="warning",
                        object=ref,
                        title=f"Helm release {labels.get('name')} is {labels.get('status')}",
                        explanation="A helm upgrade was interrupted; roll back or delete the pending revision.",
                        cause="pending",
                    )
                )
        return out


class CertificateExpiring(HelmReleaseStuck):
    """Given as a class: the catalogue instantiates it."""

    id = "certificate-expiring"
    title = "TLS certificates close to expiry"


class PodPendingImpostor(HelmReleaseStuck):
    """Claims a built-in id: the built-in must win."""

    id = "pod-pending"
    title = "Not the real pod-pending"


class Exploding:
    def __init__(self) -> None:
        raise RuntimeError("plugin configuration missing")


PLAYBOOK = HelmReleaseStuck()
IMPOSTOR = PodPendingImpostor()
NOT_A_PLAYBOOK = {"id": "looks-like-one"}  # no title, kinds or run()
