"""dependency-missing: settings that point at an in-cluster service that is not there, or not ready.

Every top-level workload's containers are read for URLs (`redis://redis:6379/0`) and
`host:port` values (`db:5432`) in their env and in the ConfigMaps they load (envFrom,
configMapKeyRef, and one-line values of mounted ConfigMaps), plus bare hosts in `*_HOST`
variables. A host is an in-cluster service name when it has one label (`redis`, the
workload's own namespace), two labels whose second is a namespace (`redis.cache`), or the
`NAME.NS.svc[.DOMAIN]` form (any cluster domain; a StatefulSet pod's `redis-0.redis.NS.svc…`
names Service redis). Other dotted names, IPs and localhost are external and left alone.

A dependency is missing when no Service of that name exists in its namespace, or when the
Service has no ready endpoint (no Endpoints address, a selector that matches no pod, pods
none of which is ready). ExternalName Services count as there. Values of env vars that come
from Secrets are never read (the snapshot holds Secret key names only), and only the host
and port of a value are shown, never the value: a URL can carry a password.

One finding per missing Service. Its object is that Service (kind Service, in the namespace
the host names), not the first workload it blocks: the id then stays the same whichever
workloads point at it, the finding goes away exactly when the Service is deployed, and it
names what must be deployed. Every blocked workload is named in the evidence as
`Kind namespace/name` (which is how `playbooks.links` ties a crash-loop finding to this one),
with the env var or ConfigMap key that points at the host and, when the cluster is there to
ask, the line of its pods' logs that says the connection failed. There is no automatic fix:
what to deploy is a decision for the operator; the explanation says what and where.

Severity: error when a workload that points at it is failing or not running yet; a warning
when every one of them runs (or ran) fine without it for now, such as a CronJob whose
command never connects — the setting still points at nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from diagnostics.findings import Evidence, Finding, ObjectRef, Severity, finding_id
from diagnostics.fixes import TEMPLATE_PATH
from diagnostics.snapshot import Snapshot, selector_matches
from playbooks.base import Context
from playbooks.evidence import owner_ref

ID = "dependency-missing"
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")
LOG_PODS = 2  # pods read per blocked workload: they share a template, and a log read costs a request
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")  # what a Service name (and so its DNS label) may be
_HOST_PORT = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})(?P<rest>/\S*)?$")
_BARE_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
_IMAGE_VAR = re.compile(r"IMAGE", re.IGNORECASE)
_HOST_VAR = re.compile(r"(?:^|_)HOST$")  # DB_HOST=postgres: a bare host, its port in DB_PORT
_SPLIT = re.compile(r"[\s;]+")
_URL_LIST = re.compile(r",(?=[A-Za-z][A-Za-z0-9+.-]*://)")  # commas inside a URL separate its hosts
_FAILURE_WORDS = re.compile(
    r"connect|resolv|refused|not known|unreachable|timed? ?out|no such host|enotfound|econnrefused|getaddrinfo"
    r"|name resolution|could not translate",
    re.IGNORECASE,
)
# what usually serves a port or scheme: only to make the example in the explanation concrete
_SERVERS: dict[str, tuple[str, int]] = {
    "redis": ("redis:7", 6379),
    "rediss": ("redis:7", 6379),
    "postgres": ("postgres:16", 5432),
    "postgresql": ("postgres:16", 5432),
    "mysql": ("mysql:8", 3306),
    "mongodb": ("mongo:7", 27017),
    "amqp": ("rabbitmq:3", 5672),
    "memcache": ("memcached:1.6", 11211),
    "nats": ("nats:2", 4222),
}
_PORT_SERVERS = {port: image for image, port in _SERVERS.values()} | {9092: "apache/kafka:3.8.0"}
_DEFAULT_PORTS = {scheme: port for scheme, (_, port) in _SERVERS.items()} | {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Pointer:
    """A setting of a workload that points at an in-cluster host."""

    workload: ObjectRef
    where: str  # "env REDIS_URL of container backend", "ConfigMap app key CACHE (envFrom of container api)"
    host: str  # as written: redis, redis.cache.svc.cluster.local
    port: int | None
    scheme: str
    service: str
    namespace: str


@dataclass(frozen=True, slots=True)
class Health:
    """How a workload is doing: its pods failing, not running yet, running fine, or not meant to run now."""

    state: Literal["failing", "waiting", "healthy", "idle"]
    detail: str
    failing_pods: tuple[tuple[dict[str, Any], str, bool], ...] = ()  # (pod, container, previous instance?)


@dataclass
class Dependency:
    namespace: str
    service: str
    pointers: list[Pointer] = field(default_factory=list)


# --- reading the workloads' settings --------------------------------------------------------------


def _template(workload: Mapping[str, Any]) -> Mapping[str, Any]:
    """The pod spec inside a workload, read-only (snapshot objects are shared: nothing is created in them)."""
    cur: Any = workload
    for key in TEMPLATE_PATH.get(str(workload.get("kind")), ("spec", "template", "spec")):
        cur = cur.get(key) if isinstance(cur, Mapping) else None
        if cur is None:
            return {}
    return cur if isinstance(cur, Mapping) else {}


def _values(snap: Snapshot, ns: str, spec: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(variable or key name, value, where) for every setting a container sees, as the kubelet resolves env.

    envFrom first, then env, a later name replacing an earlier one (env wins over envFrom, as
    in the kubelet). Secret-backed values are not in the snapshot and are skipped.
    """
    for c in (*(spec.get("initContainers") or ()), *(spec.get("containers") or ())):
        cname = c.get("name", "?")
        seen: dict[str, tuple[str, str]] = {}
        for src in c.get("envFrom") or ():
            ref = src.get("configMapRef") or {}
            cm = snap.get("ConfigMap", ns, ref.get("name") or "") if ref.get("name") else None
            for key, value in ((cm or {}).get("data") or {}).items():
                name = f"{src.get('prefix') or ''}{key}"
                seen[name] = (str(value), f"ConfigMap {ref['name']} key {key} (envFrom of container {cname})")
            if src.get("secretRef"):  # a Secret's names could shadow ConfigMap ones; values unknown
                secret = snap.get("Secret", ns, (src["secretRef"] or {}).get("name") or "")
                for key in (secret or {}).get("data") or {}:
                    seen.pop(f"{src.get('prefix') or ''}{key}", None)
        for env in c.get("env") or ():
            name = str(env.get("name") or "")
            vf = env.get("valueFrom") or {}
            ref = vf.get("configMapKeyRef") or {}
            if "value" in env:
                seen[name] = (str(env.get("value") or ""), f"env {name} of container {cname}")
            elif ref.get("name") and ref.get("key"):
                cm = snap.get("ConfigMap", ns, ref["name"])
                value = ((cm or {}).get("data") or {}).get(ref["key"])
                if value is None:
                    seen.pop(name, None)
                else:
                    seen[name] = (
                        str(value),
                        f"env {name} of container {cname} (ConfigMap {ref['name']} key {ref['key']})",
                    )
            else:  # secretKeyRef, fieldRef…: nothing to read here, and it hides what envFrom set
                seen.pop(name, None)
        env_ports = {n: v for n, (v, _) in seen.items()}
        for name, (value, where) in seen.items():
            yield name, value, where
            if _HOST_VAR.search(name) and value and "://" not in value and not _HOST_PORT.match(value.strip()):
                port = env_ports.get(name[: -len("HOST")] + "PORT", "")
                if port.strip().isdigit():
                    yield name, f"{value.strip()}:{port.strip()}", where
                else:
                    yield name, f"{value.strip()}:", where  # a bare host: no port to tell
    for vol in spec.get("volumes") or ():
        sources = [vol.get("configMap")] + [
            s.get("configMap") for s in (vol.get("projected") or {}).get("sources") or ()
        ]
        for src in sources:
            cm = snap.get("ConfigMap", ns, src.get("name") or "") if src and src.get("name") else None
            for key, value in ((cm or {}).get("data") or {}).items():
                text = str(value).strip()
                if text and "\n" not in text:  # a one-line value; files (configs, scripts) are not parsed
                    yield key, text, f"ConfigMap {src['name']} key {key} (volume {vol.get('name')})"


def endpoints_in(value: str) -> Iterator[tuple[str, str, int | None]]:
    """(scheme, host, port) of each URL or host:port in a value; lists (`a:1,b:2`) and multi-host URLs count.

    `DB_HOST`-style bare hosts arrive as `host:` (no port). Values built from `$(VAR)` are skipped.
    """
    for token in _tokens(value):
        token = token.strip("'\"")
        if not token or "$(" in token or "{{" in token:
            continue
        if "://" in token:
            try:
                parts = urlsplit(token)
            except ValueError:  # an unbalanced [ in the host: no client could use it either
                continue
            netloc = parts.netloc.rpartition("@")[2]  # user:password@ is dropped here and never shown
            for hostport in netloc.split(","):
                host, port = _host_port(hostport)
                if host:
                    yield parts.scheme.lower(), host, port or _DEFAULT_PORTS.get(parts.scheme.lower())
            continue
        if token.endswith(":") and _BARE_HOST.match(token[:-1]):
            yield "", token[:-1], None
            continue
        m = _HOST_PORT.match(token)
        if m and not m["rest"] and 0 < int(m["port"]) < 65536:
            yield "", m["host"].strip("[]"), int(m["port"])


def _tokens(value: str) -> Iterator[str]:
    """The words of a value: URLs whole (`mongodb://a:1,b:2/db` is one), other lists split on commas."""
    for chunk in _SPLIT.split(value.strip()):
        yield from (_URL_LIST.split(chunk) if "://" in chunk else chunk.split(","))


def _host_port(text: str) -> tuple[str, int | None]:
    if text.startswith("["):  # [::1]:6379
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
        return host, int(port) if port.isdigit() else None
    host, sep, port = text.rpartition(":")
    if sep:  # redis:notaport → redis, as a client reads it (and fails on the port, another problem)
        return host, int(port) if port.isdigit() else None
    return text, None


def service_of(host: str, namespace: str, namespaces: frozenset[str]) -> tuple[str, str] | None:
    """(Service name, namespace) a host resolves to inside the cluster; None for external names, IPs, localhost."""
    host = host.lower().rstrip(".")
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    if host == "localhost" or host.endswith(".localhost"):
        return None
    labels = host.split(".")
    if len(labels) == 1:
        found = (labels[0], namespace)
    elif len(labels) == 2 and labels[1] in namespaces:
        found = (labels[0], labels[1])
    elif "svc" in labels[2:]:
        i = labels.index("svc", 2)  # NAME.NS.svc[.DOMAIN], or POD.NAME.NS.svc… for a StatefulSet's pod
        found = (labels[i - 2], labels[i - 1])
    else:
        return None
    return found if all(_DNS1035.match(x) for x in found) else None


# --- how a Service and a workload are doing --------------------------------------------------------


def service_problem(snap: Snapshot, name: str, ns: str) -> str | None:
    """Why Service ns/name cannot take a connection, or None when it can (or is an ExternalName)."""
    svc = snap.get("Service", ns, name)
    if svc is None:
        return f"no Service {name} exists in namespace {ns}"
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return None
    ep = snap.get("Endpoints", ns, name)
    subsets = (ep or {}).get("subsets") or ()
    if any(s.get("addresses") for s in subsets):
        return None
    selector = spec.get("selector")
    not_ready = sum(len(s.get("notReadyAddresses") or ()) for s in subsets)
    if not selector:
        if not_ready:
            return f"Service {name} in {ns} has no selector and its {not_ready} endpoint address(es) are not ready"
        return f"Service {name} in {ns} has no selector and no Endpoints address: nothing receives its traffic"
    pods = [
        p for p in snap.list("Pod", ns) if selector_matches(selector, (p.get("metadata") or {}).get("labels") or {})
    ]
    wanted = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    if not pods:
        return f"Service {name} in {ns} has no ready endpoints: its selector {wanted} matches no pod"
    if ep is None and any(_pod_ready(p) for p in pods):
        return None  # no Endpoints object (yet, or read through EndpointSlices only): ready pods will serve it
    states = sorted({_pod_state(p) for p in pods})
    return (
        f"Service {name} in {ns} has no ready endpoints: none of the {len(pods)} pod(s) its selector {wanted} "
        f"matches is ready ({', '.join(states)})"
    )


def _serves(svc: Mapping[str, Any] | None, workload: Mapping[str, Any]) -> bool:
    """The Service selects the workload's own pods."""
    selector = ((svc or {}).get("spec") or {}).get("selector")
    if not selector or workload.get("metadata", {}).get("namespace") != (svc or {}).get("metadata", {}).get(
        "namespace"
    ):
        return False
    path = TEMPLATE_PATH.get(str(workload.get("kind")), ("spec", "template", "spec"))[:-1]
    cur: Any = workload
    for key in path:
        cur = cur.get(key) if isinstance(cur, Mapping) else None
    labels = ((cur or {}).get("metadata") or {}).get("labels") or {}
    return selector_matches(selector, labels)


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def _pod_state(pod: Mapping[str, Any]) -> str:
    status = pod.get("status") or {}
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            return str(waiting["reason"])
    return str(status.get("phase") or "not ready")


def _failing_containers(pod: Mapping[str, Any]) -> list[tuple[str, bool, str]]:
    """(container, read the previous instance?, how it fails) for containers that crash or exited with an error."""
    status = pod.get("status") or {}
    out = []
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        last = (cs.get("lastState") or {}).get("terminated") or {}
        now = state.get("terminated") or {}
        name = str(cs.get("name", ""))
        if (state.get("waiting") or {}).get("reason") == "CrashLoopBackOff":
            out.append((name, True, "CrashLoopBackOff"))
        elif now.get("exitCode") not in (0, None):
            out.append((name, False, f"exited with code {now['exitCode']}"))
        elif state.get("running") is not None and not cs.get("ready") and last.get("exitCode"):
            out.append((name, True, "CrashLoopBackOff"))  # between two crashes: running again, not ready
    return out


def _conditions(obj: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    conds = (obj.get("status") or {}).get("conditions") or ()
    return {str(c.get("type")): c for c in conds if c.get("status") == "True"}


def health(snap: Snapshot, workload: dict[str, Any]) -> Health:
    kind = workload.get("kind")
    spec = workload.get("spec") or {}
    if kind == "CronJob":
        uid = workload["metadata"].get("uid")
        jobs = [
            j
            for j in snap.list("Job", workload["metadata"].get("namespace"))
            if (snap.owner(j) or {}).get("metadata", {}).get("uid") == uid
        ]
        jobs.sort(key=lambda j: str(j["metadata"].get("creationTimestamp") or ""))
        if jobs:
            last = health(snap, jobs[-1])
            return Health(last.state, f"last run {jobs[-1]['metadata']['name']} {last.detail}", last.failing_pods)
        if (workload.get("status") or {}).get("lastSuccessfulTime"):
            return Health("healthy", "last run succeeded")
        return Health("idle", "suspended" if spec.get("suspend") else "it has not run yet")
    if kind == "Job":
        conds = _conditions(workload)
        if "Complete" in conds:
            return Health("healthy", "completed")
        if "Failed" in conds:
            crashed = tuple((p, c, prev) for p in snap.pods_of(workload) for c, prev, _ in _failing_containers(p))
            return Health("failing", f"failed: {conds['Failed'].get('reason') or 'Failed'}", crashed)
    if kind in ("Deployment", "StatefulSet") and spec.get("replicas") == 0:
        return Health("idle", "scaled to zero")
    pods = [p for p in snap.pods_of(workload) if (p.get("status") or {}).get("phase") != "Succeeded" or kind == "Pod"]
    failing = tuple((p, c, prev) for p in pods for c, prev, _ in _failing_containers(p))
    if failing:
        n = len({id(p) for p, _, _ in failing})
        states = sorted({how for p in pods for _, _, how in _failing_containers(p)})
        return Health("failing", f"{n} of {_pods(len(pods))} in {' / '.join(states)}", failing)
    if not pods:
        return Health("waiting", "no pods yet")
    if all(_pod_ready(p) or (p.get("status") or {}).get("phase") == "Succeeded" for p in pods):
        done = kind in ("Job", "Pod") and all((p.get("status") or {}).get("phase") == "Succeeded" for p in pods)
        return Health("healthy", "completed" if done else f"{_pods(len(pods))} ready")
    states = sorted({_pod_state(p) for p in pods if not _pod_ready(p)})
    return Health("waiting", f"{_pods(len(pods))} not ready: {' / '.join(states)}")


def _pods(n: int) -> str:
    return f"{n} pod" if n == 1 else f"{n} pods"


# --- the playbook ---------------------------------------------------------------------------------


class DependencyMissing:
    id = ID
    title = "Settings that point at in-cluster services that are not deployed or not ready"
    kinds = ("Pod", "Service", "Endpoints", "ConfigMap", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
    uses_repo = False
    uses_registry = False

    async def run(self, ctx: Context) -> list[Finding]:
        snap = ctx.snapshot
        namespaces = frozenset(
            {o["metadata"]["name"] for o in snap.list("Namespace")}
            | {ns for objs in snap.objects.values() for ns, _ in objs if ns}
        )
        deps: dict[tuple[str, str], Dependency] = {}
        workloads: dict[ObjectRef, dict[str, Any]] = {}
        for kind in WORKLOADS:
            for obj in snap.list(kind):
                if snap.owner(obj) is not None:
                    continue  # owned objects are read through their owner's template
                ref = owner_ref(obj)
                ns = ref.namespace or "default"
                for pointer in self._pointers(snap, obj, ref, ns, namespaces):
                    dep = deps.setdefault((pointer.namespace, pointer.service), Dependency(*_key(pointer)))
                    if pointer not in dep.pointers:
                        dep.pointers.append(pointer)
                    workloads[ref] = obj
        found = []
        for (ns, name), dep in sorted(deps.items()):
            svc = ObjectRef("Service", name, ns)
            if not (ctx.in_scope(svc) or any(ctx.in_scope(p.workload) for p in dep.pointers)):
                continue
            problem = service_problem(snap, name, ns)
            # a workload behind the Service itself (SITE_URL=http://api:8000 in api) is not blocked by it
            dep.pointers = [
                p for p in dep.pointers if not _serves(snap.get("Service", ns, name), workloads[p.workload])
            ]
            if problem is not None and dep.pointers:
                found.append(self._finding(ctx, dep, svc, problem, workloads))
        return list(await asyncio.gather(*found))

    def _pointers(
        self, snap: Snapshot, obj: dict[str, Any], ref: ObjectRef, ns: str, namespaces: frozenset[str]
    ) -> Iterator[Pointer]:
        for name, value, where in _values(snap, ns, _template(obj)):
            if _IMAGE_VAR.search(name):
                continue  # WORKER_IMAGE=redis:7 is an image reference, not a host and port
            for scheme, host, port in endpoints_in(value):
                target = service_of(host, ns, namespaces)
                if target is not None:
                    yield Pointer(ref, where, host.lower().rstrip("."), port, scheme, target[0], target[1])

    async def _finding(
        self,
        ctx: Context,
        dep: Dependency,
        svc: ObjectRef,
        problem: str,
        workloads: Mapping[ObjectRef, dict[str, Any]],
    ) -> Finding:
        snap = ctx.snapshot
        missing = snap.get("Service", dep.namespace, dep.service) is None
        by_workload: dict[ObjectRef, list[Pointer]] = {}
        for p in dep.pointers:
            by_workload.setdefault(p.workload, []).append(p)
        states = {ref: health(snap, workloads[ref]) for ref in by_workload}
        failing = [ref for ref in by_workload if states[ref].state == "failing"]
        waiting = [ref for ref in by_workload if states[ref].state == "waiting"]
        fine = [ref for ref in by_workload if states[ref].state in ("healthy", "idle")]
        logs = await asyncio.gather(*(self._log_evidence(ctx, ref, states[ref], by_workload[ref]) for ref in failing))
        severity: Severity = "error" if failing or waiting else "warning"

        evidence = [Evidence("object", _capital(problem), str(svc))]
        if missing:
            others = sorted(o["metadata"]["name"] for o in snap.list("Service", dep.namespace))
            evidence.append(
                Evidence(
                    "object",
                    f"Services in {dep.namespace}: {', '.join(others) or 'none'}",
                    f"namespace {dep.namespace}",
                )
            )
        for label, refs in (
            ("blocked", failing),
            ("not running yet, also points at it", waiting),
            ("runs without it for now", fine),
        ):
            for ref in refs:
                evidence.append(Evidence("object", f"{label}: {ref} ({states[ref].detail})", str(ref)))
                evidence += [Evidence("object", f"{p.where} points at {_addr(p)}", str(ref)) for p in by_workload[ref]]
                if ref in failing:
                    evidence += logs[failing.index(ref)]

        # the settings of the workloads it stops come first; those that run without it are in the evidence
        shown = [p for p in dep.pointers if p.workload not in fine] or dep.pointers
        settings = list(dict.fromkeys(_setting(p) for p in shown))
        first = shown[0]
        port = next((p.port for p in shown if p.port), None)
        if missing:
            title = f"Dependency not deployed: no Service {dep.service} in {dep.namespace}"
            why = f"so the name {first.host} does not resolve and nothing can connect to it"
        else:
            title = f"Dependency not ready: Service {dep.service} in {dep.namespace} has no ready endpoints"
            why = "so connections to it are refused or time out"
        impact = ""
        if failing:
            impact += f" It blocks {_join([f'{r} ({states[r].detail})' for r in failing])}."
        if waiting:
            verbs = "points at it and is" if len(waiting) == 1 else "point at it and are"
            impact += f" {_join([f'{r} ({states[r].detail})' for r in waiting])} also {verbs} not running yet."
        if not failing and not waiting:
            verb = "runs" if len(fine) == 1 else "run"
            impact += f" Nothing fails yet: {_join([f'{r} ({states[r].detail})' for r in fine])} {verb} without it."
        quoted = next(((ref, e.text) for ref, lines in zip(failing, logs, strict=True) for e in lines), None)
        if quoted:
            line = quoted[1]
            impact += f' Pods of {quoted[0]} log: "{line}"' + ("" if line.endswith(".") else ".")
        verb = "points" if len(settings) == 1 else "point"
        explanation = (
            f"{_capital(_join(settings))} {verb} at {_addr(first)}, but {problem}, {why}.{impact} "
            + _way_out(snap, dep, missing, port, first.scheme, settings)
        )
        cause = f"{ID}:{dep.namespace}/{dep.service}"
        return Finding(
            id=finding_id(ID, svc, cause),
            playbook=ID,
            severity=severity,
            object=svc,
            title=title,
            explanation=explanation,
            evidence=tuple(evidence),
            fixes=(),
            cause=cause,
        )

    async def _log_evidence(
        self, ctx: Context, ref: ObjectRef, state: Health, pointers: list[Pointer]
    ) -> list[Evidence]:
        """The log line of a blocked workload's pods that names the host and a failed connection (first found)."""
        if ctx.logs is None or not state.failing_pods:
            return []
        names = {p.host for p in pointers} | {f"{p.service}:{p.port}" for p in pointers if p.port}
        pattern = re.compile(
            r"(?<![\w.-])(?:"
            + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
            + r")(?![\w-]|\.\w)",
            re.IGNORECASE,
        )
        pods_read: set[str] = set()
        for pod, container, previous in state.failing_pods:
            name = pod["metadata"]["name"]
            if name not in pods_read and len(pods_read) >= LOG_PODS:
                break
            pods_read.add(name)
            logs = await ctx.logs.tail(ref.namespace or "default", name, container, previous=previous)
            for line in reversed(logs.lines):
                if pattern.search(line) and _FAILURE_WORDS.search(line):
                    instance = " (previous instance)" if previous else ""
                    source = f"log of container {container} of Pod {ref.namespace}/{name}{instance}"
                    return [Evidence("log", line.strip(), source)]
        return []


def _key(p: Pointer) -> tuple[str, str]:
    return p.namespace, p.service


def _addr(p: Pointer) -> str:
    return f"{p.host}:{p.port}" if p.port else p.host


def _setting(p: Pointer) -> str:
    return f"{p.where} of {p.workload}"


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _way_out(snap: Snapshot, dep: Dependency, missing: bool, port: int | None, scheme: str, settings: list[str]) -> str:
    """What must be deployed, and where, said as an operator would."""
    ns, name = dep.namespace, dep.service
    on_port = f" on port {port}" if port else ""
    if not missing:
        return (
            f"Make Service {name} in {ns} reach ready pods{on_port}: start (or fix) the pods that serve it, "
            "or correct its selector so it matches them."
        )
    image = _SERVERS.get(scheme, ("", 0))[0] or (_PORT_SERVERS.get(port) if port else None)
    create_ns = (
        ""
        if ns in {o["metadata"]["name"] for o in snap.list("Namespace")} or not snap.has("Namespace")
        else (f" (create namespace {ns} first)")
    )
    text = f"Deploy a Service named {name} in {ns}{on_port} with ready endpoints{create_ns}"
    if image:
        expose = f" --port={port}" if port else ""
        text += (
            f", for example a {image.split(':')[0]} server: `kubectl -n {ns} create deployment {name} --image={image}"
            f"{expose}` then `kubectl -n {ns} expose deployment {name}{expose}`"
        )
    which = "that setting" if len(settings) == 1 else "those settings"
    return text + f"; or point {which} at a {name} that exists."


PLAYBOOK = DependencyMissing()
