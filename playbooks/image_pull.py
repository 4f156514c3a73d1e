"""image-pull: containers that cannot pull their image, with the registry's own answer.

The registry is asked directly. A missing image is looked for under the same name and
tag on the other registries the cluster pulls from (an image pushed to Artifact Registry
but referenced on gcr.io), then among the repository's tags (a typo). A registry that
wants credentials gets an `imagePullSecrets` entry naming an existing pull Secret for it.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

from diagnostics import imageref
from diagnostics.findings import Evidence, Finding, Fix, ObjectRef, Severity, finding_id
from diagnostics.fixes import containers, template_fixes
from playbooks.base import Context
from playbooks.evidence import owner_ref, pod_events, top_level_groups, waiting_states

ID = "image-pull"
PULL_REASONS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")


def _image_of(pod: dict[str, Any], container: str) -> str | None:
    spec = pod.get("spec") or {}
    for c in containers(spec):
        if c.get("name") == container:
            return str(c.get("image"))
    return None


def cluster_images(ctx: Context) -> list[imageref.ImageRef]:
    """Every image the cluster's pods run or try to run."""
    out: dict[str, imageref.ImageRef] = {}
    for pod in ctx.snapshot.list("Pod"):
        for c in containers(pod.get("spec") or {}):
            try:
                ref = imageref.parse(str(c.get("image")))
            except imageref.InvalidReference:
                continue
            out.setdefault(ref.canonical, ref)
    return list(out.values())


def cluster_hosts(images: list[imageref.ImageRef]) -> list[str]:
    """Registry hosts the cluster already pulls from, most used first."""
    counts: dict[str, int] = {}
    for ref in images:
        counts[ref.host] = counts.get(ref.host, 0) + 1
    return sorted(counts, key=lambda h: (-counts[h], h))


MakeFinding = Callable[..., Finding]


def _set_image(container: str, image: str) -> Callable[[MutableMapping[str, Any]], None]:
    def change(ps: MutableMapping[str, Any]) -> None:
        for c in containers(ps):
            if c.get("name") == container:
                c["image"] = image

    return change


def _set_pull_policy(container: str, policy: str) -> Callable[[MutableMapping[str, Any]], None]:
    def change(ps: MutableMapping[str, Any]) -> None:
        for c in containers(ps):
            if c.get("name") == container:
                c["imagePullPolicy"] = policy

    return change


def _add_pull_secret(name: str) -> Callable[[MutableMapping[str, Any]], None]:
    def change(ps: MutableMapping[str, Any]) -> None:
        ps.setdefault("imagePullSecrets", [])
        if all(s.get("name") != name for s in ps["imagePullSecrets"]):
            ps["imagePullSecrets"].append({"name": name})

    return change


class ImagePull:
    id = ID
    title = "Images that cannot be pulled"
    kinds = ("Pod", "Event", "Secret")
    uses_repo = True
    uses_registry = True

    async def run(self, ctx: Context) -> list[Finding]:
        failing: list[tuple[dict[str, Any], str, dict[str, Any]]] = []
        for pod in ctx.snapshot.list("Pod"):
            for cname, waiting in waiting_states(pod):
                if waiting.get("reason") in PULL_REASONS:
                    failing.append((pod, cname, waiting))
        findings: list[Finding] = []
        by_pod = {id(p): [(c, w) for q, c, w in failing if q is p] for p, _, _ in failing}
        for owner, pods in top_level_groups(ctx.snapshot, [p for p, _, _ in failing]):
            ref = owner_ref(owner)
            if not ctx.in_scope(ref):
                continue
            done: set[str] = set()
            for pod in pods:
                for cname, waiting in by_pod[id(pod)]:
                    if cname in done:
                        continue
                    done.add(cname)
                    image = _image_of(pod, cname)
                    if image:
                        findings.append(await self._diagnose(ctx, owner, ref, pod, cname, image, waiting))
        return findings

    async def _diagnose(
        self,
        ctx: Context,
        owner: dict[str, Any],
        ref: ObjectRef,
        pod: dict[str, Any],
        cname: str,
        image: str,
        waiting: dict[str, Any],
    ) -> Finding:
        evidence = [
            Evidence(
                "condition",
                f"{waiting.get('reason')}: {waiting.get('message', '')}",
                f"container {cname} of Pod {pod['metadata'].get('namespace')}/{pod['metadata']['name']}",
            )
        ]
        evidence += [e for e in pod_events(ctx.snapshot, pod) if "pull" in e.text.lower()][-2:]
        cause = f"image:{cname}:{image}"
        fid = finding_id(ID, ref, cause)

        def finding(title: str, why: str, fixes: tuple[Fix, ...] = (), severity: Severity = "error") -> Finding:
            return Finding(
                id=fid,
                playbook=ID,
                severity=severity,
                object=ref,
                title=title,
                explanation=why,
                evidence=tuple(evidence),
                fixes=fixes,
                cause=cause,
            )

        try:
            wanted = imageref.parse(image)
        except imageref.InvalidReference as e:
            return finding(f"Invalid image reference {image!r}", f"Container {cname}: {e}")
        if waiting.get("reason") == "ErrImageNeverPull":  # the kubelet was told not to pull: no retry helps
            fixes = template_fixes(
                owner,
                _set_pull_policy(cname, "IfNotPresent"),
                title=f"Let container {cname} pull its image (imagePullPolicy: IfNotPresent)",
                risk="low",
                notes="imagePullPolicy: Never only works where the image was loaded onto the node by hand.",
                repo=ctx.repo,
                key=fid,
            )
            return finding(
                f"{image} is not on the node and may not be pulled",
                f"Container {cname} has imagePullPolicy: Never, so the kubelet only uses an image already on the "
                f"node, and {image} is not there. Manifests written for a local cluster (kind, minikube) often "
                "carry it; let the kubelet pull the image.",
                fixes,
            )
        if ctx.registry is None:
            return finding(
                f"Cannot pull {image}", f"Container {cname} cannot pull {image}: {waiting.get('message', '')}"
            )
        answer = await ctx.registry.manifest(wanted)
        evidence.append(Evidence("registry", answer.message, f"registry {wanted.host}"))
        if answer.status == "found":
            return finding(
                f"{image} exists now but the pull failed",
                f"The registry has {image}, yet container {cname} could not pull it; if the error "
                "mentions authorization the node lacks credentials, otherwise the next retry may succeed.",
                severity="warning",
            )
        if answer.status == "unreachable":
            return finding(
                f"Could not check {image}",
                f"The registry {wanted.host} did not answer: {answer.message}",
                severity="warning",
            )
        if answer.status == "unauthorized":
            return self._unauthorized(ctx, owner, ref, pod, wanted, finding, fid)
        if answer.status == "invalid":
            return finding(f"Invalid image reference {image!r}", answer.message)
        return await self._not_found(ctx, owner, ref, cname, wanted, finding, fid, evidence)

    def _unauthorized(
        self,
        ctx: Context,
        owner: dict[str, Any],
        ref: ObjectRef,
        pod: dict[str, Any],
        wanted: imageref.ImageRef,
        finding: MakeFinding,
        fid: str,
    ) -> Finding:
        ns = ref.namespace or "default"
        # hosts as Secrets name them: `https://index.docker.io/v1/` is docker.io, hosts ignore case
        have = [
            s["metadata"]["name"]
            for s in ctx.snapshot.list("Secret", ns)
            if any(
                imageref.is_same_registry(wanted.host, h) for h in (s.get("pitstop") or {}).get("registryHosts") or ()
            )
        ]
        listed = {str(s.get("name")) for s in (pod.get("spec") or {}).get("imagePullSecrets") or ()}
        usable = [name for name in have if name not in listed]
        why = f"The registry {wanted.host} requires credentials to pull {wanted}, and the pod presents none it accepts."
        if not usable:
            if have:  # the pod already presents them: adding them again changes nothing
                return finding(
                    f"{wanted.host} refuses the pull Secret's credentials",
                    why + f" Its imagePullSecrets already name {', '.join(have)}, so the registry refused those "
                    "credentials: they are wrong or expired. Renew the Secret (kubectl create secret "
                    "docker-registry … --dry-run=client -o yaml | kubectl apply -f -).",
                )
            return finding(
                f"{wanted.host} needs credentials",
                why
                + (
                    f" No kubernetes.io/dockerconfigjson Secret in {ns} has credentials for {wanted.host}: create one "
                    f"(kubectl create secret docker-registry …) and list it under imagePullSecrets."
                ),
            )
        fixes = template_fixes(
            owner,
            _add_pull_secret(usable[0]),
            title=f"Pull with Secret {usable[0]}",
            risk="low",
            notes=f"Secret {usable[0]} holds credentials for {wanted.host} (only its host names are read).",
            repo=ctx.repo,
            key=fid,
        )
        return finding(
            f"{wanted.host} needs credentials", why + f" Secret {usable[0]} in {ns} has credentials for it.", fixes
        )

    async def _not_found(
        self,
        ctx: Context,
        owner: dict[str, Any],
        ref: ObjectRef,
        cname: str,
        wanted: imageref.ImageRef,
        finding: MakeFinding,
        fid: str,
        evidence: list[Evidence],
    ) -> Finding:
        probe = ctx.registry
        assert probe is not None
        images = cluster_images(ctx)
        others = [h for h in cluster_hosts(images) if h != wanted.host]
        siblings = [i for i in images if i.host != wanted.host]  # where this team keeps its other images
        elsewhere = [r for r in await probe.find_elsewhere(wanted, others, siblings=siblings) if r.status == "found"]
        if elsewhere:
            hit = elsewhere[0]
            assert hit.ref is not None
            new = str(hit.ref)
            evidence.append(Evidence("registry", f"{new} exists (digest {hit.digest})", f"registry {hit.ref.host}"))
            fixes = template_fixes(
                owner,
                _set_image(cname, new),
                title=f"Use {new}",
                risk="low",
                notes=f"The same repository and tag exist on {hit.ref.host}"
                + (f" with digest {hit.digest}." if hit.digest else "."),
                repo=ctx.repo,
                key=fid,
            )
            return finding(
                f"{wanted} does not exist; it is on {hit.ref.host}",
                f"The registry {wanted.host} has no {wanted}. The same image was found at {new}: the "
                "reference points at the wrong registry.",
                fixes,
            )
        tags = await probe.tags(wanted.host, wanted.repository)
        if tags and wanted.tag:
            near = probe.nearest_tags(wanted.tag, tags)
            if near:
                new = str(wanted.with_tag(near[0]))
                fixes = template_fixes(
                    owner,
                    _set_image(cname, new),
                    title=f"Use tag {near[0]}",
                    risk="low",
                    notes="Nearest existing tags: " + ", ".join(near),
                    repo=ctx.repo,
                    key=fid,
                )
                return finding(
                    f"Tag {wanted.tag} of {wanted.host}/{wanted.repository} does not exist",
                    f"The repository exists but has no tag {wanted.tag}; the nearest are {', '.join(near)}.",
                    fixes,
                )
        return finding(
            f"{wanted} does not exist",
            f"The registry {wanted.host} has no {wanted}, and no other registry the cluster pulls from "
            f"({', '.join(others) or 'none'}) has it either. Push the image or correct the reference.",
        )


PLAYBOOK = ImagePull()
