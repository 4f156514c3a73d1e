"""The kubelet of every simulated node: pods bound to a node are pulled, configured, started and watched.

Each pod is a small state machine kept in memory (`_Pod`, one `_Container` per
container) and advanced by `reconcile` whenever its next step falls due on the fast
clock. Every pass renders the whole pod status from that state and writes it only when
it changed, so a healthy pod costs one or two status writes.

What a real node does, and the sandbox repeats:

- image pulls follow `imagePullPolicy`, with the registry's verdict from
  `sandbox.registry.pull_result`; failures back off 10s doubling to 300s
  (ErrImagePull, then ImagePullBackOff), and each node remembers what it pulled;
- env from Secrets/ConfigMaps is resolved at container creation; a missing object or
  key is CreateContainerConfigError, retried every sync (10s);
- a missing secret/configMap volume keeps the pod in ContainerCreating with FailedMount;
- what a started container does comes from `runtime.decide`; exits restart with the
  CrashLoopBackOff back-off (first restart at once, then 10s doubling to 300s), each run
  a new log instance so `--previous` shows the one before.

Event texts and ordering are those of the 1.32 kubelet (`pkg/kubelet/images`,
`pkg/kubelet/kuberuntime`); dockerconfigjson Secrets are decoded here only, to learn
which registry hosts a pod holds credentials for, and never logged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import ipaddress
import json
import math
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sandbox import registry
from sandbox.controllers import runtime
from sandbox.controllers.base import Context, Controller, Key
from sandbox.controllers.scheduler import milli, node_ready, whole
from sandbox.resources import ResourceType

COMPONENT = "kubelet"
ADMIT_DELAY = 0.3  # between binding and the kubelet's first look
SANDBOX_DELAY = 0.5  # creating the pod sandbox and its network
NEXT_CONTAINER_GAP = 0.3  # between one init container finishing and the next starting
SYNC_RETRY = 10.0  # the pod worker's back-off after a failed sync
REPORT_BACKOFF = 2.0  # ErrImagePull turns into ImagePullBackOff on the next sync
RESTART_DELAY = 1.0  # an exited container is looked at again after the next PLEG relist
BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
BACKOFF_RESET = 2 * BACKOFF_MAX  # flowcontrol.Backoff forgets an entry idle for twice the cap
MOUNT_RETRY_INITIAL = 0.5
MOUNT_RETRY_MAX = 122.0  # the volume manager's cap (2m2s)
_EPSILON_REAL = 0.005  # seconds of wall time a timer may fire early

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_EXPANSION = re.compile(r"\$\(([^)]*)\)|\$\$")


# --- per-pod state ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Container:
    name: str
    spec: dict[str, Any]
    init: bool
    sidecar: bool
    field_path: str
    begun: bool = False  # eligible to start (init order satisfied)
    step: str = "pull"  # pull | pulling | create | running | exited | backoff | done
    due: float | None = None  # simulated time of the next step, None when idle
    waiting: tuple[str, str] | None = None  # (reason, message) when not the default
    running_since: str | None = None
    terminated: dict[str, Any] | None = None
    last_terminated: dict[str, Any] | None = None
    ready: bool = False
    ready_at: float | None = None
    started: bool = False
    ever_started: bool = False
    restart_count: int = 0
    container_id: str = ""
    image: str = ""
    image_id: str = ""
    pull: registry.PullResult | None = None
    pull_seconds: float = 0.0
    pull_backoff: float = 0.0
    pull_backoff_at: float = 0.0
    pull_error: str = ""
    crash_backoff: float = 0.0
    crash_backoff_at: float = 0.0
    exited_at: float = 0.0
    nag_at: float | None = None  # next BackOff event while waiting out a back-off
    outcome: runtime.Outcome | None = None


@dataclass(slots=True)
class _Pod:
    uid: str
    namespace: str
    name: str
    node: str
    containers: list[_Container]
    start_time: str = ""
    sandbox: bool = False
    sandbox_due: float = 0.0
    mount_retry: float = 0.0
    ip: str = ""
    host_ip: str = ""
    terminal: bool = False
    waits_for_config: bool = False
    conditions: dict[str, tuple[str, str]] = field(default_factory=dict)  # type -> (status, lastTransitionTime)

    @property
    def init(self) -> list[_Container]:
        return [c for c in self.containers if c.init]

    @property
    def regular(self) -> list[_Container]:
        return [c for c in self.containers if not c.init]


class _Network:
    """A view of Services and Endpoints for `runtime.decide` (DNS names as cluster DNS resolves them)."""

    def __init__(self, kubelet: Kubelet) -> None:
        self.k = kubelet

    def reachable(self, host: str, namespace: str) -> runtime.Reachability:
        k = self.k
        host = host.lower().rstrip(".")
        if runtime.is_ip(host) or host == "localhost":
            return "ok"
        labels = host.split(".")
        for suffix in (["svc", "cluster", "local"], ["svc"]):
            if len(labels) > len(suffix) + 1 and labels[-len(suffix) :] == suffix:
                svc_ns = labels[: -len(suffix)]
                return self._service(svc_ns[-2], svc_ns[-1])
        if len(labels) == 1:
            return self._service(labels[0], namespace)
        if len(labels) == 2 and k.store.get(k.namespaces_rt, "", labels[1]) is not None:
            return self._service(labels[0], labels[1])
        return "ok"  # outside the cluster: the sandbox cannot tell, so it lets the connection succeed

    def _service(self, name: str, namespace: str) -> runtime.Reachability:
        k = self.k
        svc = k.store.get(k.services_rt, namespace, name)
        if svc is None:
            return "unknown_host"
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName":
            return "ok"
        ep = k.store.get(k.endpoints_rt, namespace, name)
        ready = any(s.get("addresses") for s in (ep or {}).get("subsets") or ())
        if ready:
            return "ok"
        return "unknown_host" if spec.get("clusterIP") == "None" else "refused"


class Kubelet(Controller):
    name = "kubelet"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        rt = self.store.rt
        self.pods_rt: ResourceType = rt("v1", "Pod")
        self.nodes_rt: ResourceType = rt("v1", "Node")
        self.secrets_rt: ResourceType = rt("v1", "Secret")
        self.configmaps_rt: ResourceType = rt("v1", "ConfigMap")
        self.services_rt: ResourceType = rt("v1", "Service")
        self.endpoints_rt: ResourceType = rt("v1", "Endpoints")
        self.namespaces_rt: ResourceType = rt("v1", "Namespace")
        self.logs = ctx.logs
        self._runs: dict[Key, _Pod] = {}
        self._by_node: dict[str, set[Key]] = {}
        self._images: dict[str, dict[str, str]] = {}  # node -> image reference -> imageID
        self._ips: dict[str, tuple[list[str], set[str]]] = {}  # node -> (free pool, in use)
        self._network = _Network(self)

    # --- watching -------------------------------------------------------------------------

    def initial_keys(self) -> Iterable[Key]:
        for pod in self.store.list(self.pods_rt):
            if (pod.get("spec") or {}).get("nodeName"):
                yield _key(pod)

    def on_change(self, type_: str, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if rt is self.pods_rt:
            key = _key(obj)
            if type_ == "DELETED":
                self._forget(key, obj["metadata"].get("uid", ""))
                return
            node = (obj.get("spec") or {}).get("nodeName")
            if not node:
                return
            if (
                old is None
                or (old.get("spec") or {}).get("nodeName") != node
                or old["metadata"].get("uid") != obj["metadata"].get("uid")
            ):
                self._by_node.setdefault(node, set()).add(key)
                self.enqueue(key)
        elif rt is self.secrets_rt or rt is self.configmaps_rt:
            # the kubelet's secret and configmap managers see the change; blocked pods retry now
            ns = obj["metadata"].get("namespace", "")
            waiting = [(k, r) for k, r in self._runs.items() if r.waits_for_config and k[0] == ns]
            if not waiting:
                return
            now = self._now()
            for key, run in waiting:
                if not run.sandbox:
                    run.sandbox_due = min(run.sandbox_due, now)
                for c in run.containers:
                    if c.waiting and c.waiting[0] == "CreateContainerConfigError":
                        c.due = now
                self.enqueue(key)
        elif rt is self.nodes_rt and type_ != "DELETED" and node_ready(obj) and (old is None or not node_ready(old)):
            for key in sorted(self._by_node.get(obj["metadata"]["name"], ())):
                self.enqueue(key)

    def _forget(self, key: Key, uid: str) -> None:
        run = self._runs.get(key)
        if run is not None and (not uid or run.uid == uid):
            del self._runs[key]
            self._release_ip(run)
            self._by_node.get(run.node, set()).discard(key)
        self.logs.forget(*key)

    # --- the pod worker -------------------------------------------------------------------

    def reconcile(self, key: Key) -> None:
        pod = self.store.get(self.pods_rt, *key)
        if pod is None:
            return
        meta, spec = pod["metadata"], pod.get("spec") or {}
        node = spec.get("nodeName")
        run = self._runs.get(key)
        if run is not None and run.uid != meta.get("uid"):
            self._release_ip(run)
            del self._runs[key]
            self.logs.forget(*key)
            run = None
        if not node:
            return
        node_obj = self.store.get(self.nodes_rt, "", node)
        if node_obj is None or not node_ready(node_obj):
            return  # an unreachable node reports nothing; its pods stay as they were
        now = self._now()
        if run is None:
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                return
            run = self._runs[key] = self._new_run(pod, node_obj, now)
            self._by_node.setdefault(node, set()).add(key)
            self.requeue_after(key, ADMIT_DELAY + SANDBOX_DELAY)
            return
        if run.terminal:
            return
        self._sync(pod, run, node_obj, now)
        self._write(pod, run)
        due = self._next_due(run)
        if due is not None:
            self.requeue_after(key, max(due - now, 0.0) + 0.001)

    def _new_run(self, pod: dict[str, Any], node: dict[str, Any], now: float) -> _Pod:
        spec = pod.get("spec") or {}
        meta = pod["metadata"]
        containers = [
            _Container(
                name=c["name"],
                spec=c,
                init=True,
                sidecar=c.get("restartPolicy") == "Always",
                field_path=f"spec.initContainers{{{c['name']}}}",
                image=c.get("image", ""),
            )
            for c in spec.get("initContainers") or ()
        ] + [
            _Container(
                name=c["name"],
                spec=c,
                init=False,
                sidecar=False,
                field_path=f"spec.containers{{{c['name']}}}",
                image=c.get("image", ""),
            )
            for c in spec.get("containers") or ()
        ]
        return _Pod(
            uid=meta.get("uid", ""),
            namespace=meta.get("namespace", ""),
            name=meta["name"],
            node=node["metadata"]["name"],
            containers=containers,
            start_time=self.clock.stamp(),
            sandbox_due=now + ADMIT_DELAY + SANDBOX_DELAY,
            host_ip=_host_ip(node),
        )

    def _sync(self, pod: dict[str, Any], run: _Pod, node: dict[str, Any], now: float) -> None:
        if not run.sandbox:
            if run.sandbox_due > now + self._eps():
                return
            problem = self._mount_problem(pod)
            if problem is not None:
                volume, err = problem
                run.waits_for_config = True
                self._event(
                    pod, run, "Warning", "FailedMount", f'MountVolume.SetUp failed for volume "{volume}" : {err}'
                )
                run.mount_retry = min(run.mount_retry * 2, MOUNT_RETRY_MAX) if run.mount_retry else MOUNT_RETRY_INITIAL
                run.sandbox_due = now + run.mount_retry
                return
            run.sandbox = True
            run.waits_for_config = False
            run.ip = self._allocate_ip(run.node, node)
        gate_open = True
        for i, c in enumerate(run.init):
            if not gate_open:
                break
            if not c.begun:
                c.begun, c.due = True, now + (NEXT_CONTAINER_GAP if i else 0.0)
            self._advance(pod, run, c, now)
            done = c.ever_started if c.sidecar else (c.step == "done" and _exit_code(c) == 0)
            if not done:
                gate_open = False
        if gate_open:
            for c in run.regular:
                if not c.begun:
                    c.begun, c.due = True, now + (NEXT_CONTAINER_GAP if run.init else 0.0)
                self._advance(pod, run, c, now)
        run.waits_for_config = any(c.waiting and c.waiting[0] == "CreateContainerConfigError" for c in run.containers)

    def _advance(self, pod: dict[str, Any], run: _Pod, c: _Container, now: float) -> None:
        eps = self._eps()
        for _ in range(12):
            if c.nag_at is not None and c.nag_at <= now + eps and c.step == "backoff":
                self._crash_backoff_event(pod, run, c)
                c.nag_at = now + SYNC_RETRY
            if c.due is None or c.due > now + eps:
                return
            step = c.step
            if step == "pull":
                self._ensure_image(pod, run, c, now)
            elif step == "pulling":
                self._finish_pull(pod, run, c, now)
            elif step == "create":
                self._start(pod, run, c, now)
            elif step == "running":
                self._running(pod, run, c, now)
            elif step == "exited":
                self._after_exit(pod, run, c, now)
            elif step == "backoff":
                c.crash_backoff = min(c.crash_backoff * 2, BACKOFF_MAX)
                c.crash_backoff_at = now
                c.nag_at = None
                self._restart(c, now)
            else:
                c.due = None

    # --- images ---------------------------------------------------------------------------

    def _ensure_image(self, pod: dict[str, Any], run: _Pod, c: _Container, now: float) -> None:
        image = c.spec.get("image", "")
        verdict = registry.pull_result(self.ctx.scenario.registries, image, self._pull_secret_hosts(pod))
        if verdict.status == "invalid_name":
            self._event(pod, run, "Warning", "InspectFailed", verdict.message, c)
            self._event(pod, run, "Warning", "Failed", "Error: InvalidImageName", c)
            c.waiting, c.due = ("InvalidImageName", verdict.message), now + SYNC_RETRY
            return
        policy = c.spec.get("imagePullPolicy") or _default_pull_policy(image)
        on_node = self._images.setdefault(run.node, {})
        present = verdict.reference in on_node
        if policy != "Always" and present:
            self._event(pod, run, "Normal", "Pulled", f'Container image "{image}" already present on machine', c)
            c.image, c.image_id = verdict.reference, on_node[verdict.reference]
            c.step, c.due = "create", now
            return
        if policy == "Never":
            msg = f'Container image "{image}" is not present with pull policy of Never'
            self._event(pod, run, "Warning", "ErrImageNeverPull", msg, c)
            self._event(pod, run, "Warning", "Failed", "Error: ErrImageNeverPull", c)
            c.waiting, c.due = ("ErrImageNeverPull", msg), now + SYNC_RETRY
            return
        if c.pull_backoff and now - c.pull_backoff_at < c.pull_backoff - self._eps():
            msg = f'Back-off pulling image "{image}"'
            self._event(pod, run, "Normal", "BackOff", msg, c)
            self._event(pod, run, "Warning", "Failed", "Error: ImagePullBackOff", c)
            c.waiting = ("ImagePullBackOff", f"{msg}: ErrImagePull: {c.pull_error}")
            c.due = min(c.pull_backoff_at + c.pull_backoff, now + SYNC_RETRY)
            return
        self._event(pod, run, "Normal", "Pulling", f'Pulling image "{image}"', c)
        c.pull, c.pull_seconds = verdict, _pull_seconds(verdict)
        c.step, c.due = "pulling", now + c.pull_seconds

    def _finish_pull(self, pod: dict[str, Any], run: _Pod, c: _Container, now: float) -> None:
        verdict, image = c.pull, c.spec.get("image", "")
        assert verdict is not None
        c.pull = None
        if verdict.status == "ok":
            took = _go_duration(c.pull_seconds)
            size = _image_size(verdict)
            self._event(
                pod,
                run,
                "Normal",
                "Pulled",
                f'Successfully pulled image "{image}" in {took} ({took} including waiting). Image size: {size} bytes.',
                c,
            )
            image_id = f"{verdict.host}/{verdict.repository}@{verdict.resolved_digest}"
            self._images.setdefault(run.node, {})[verdict.reference] = image_id
            c.image, c.image_id = verdict.reference, image_id
            c.step, c.due = "create", now
            return
        self._event(pod, run, "Warning", "Failed", f'Failed to pull image "{image}": {verdict.message}', c)
        expired = not c.pull_backoff or now - c.pull_backoff_at > BACKOFF_RESET
        c.pull_backoff = BACKOFF_INITIAL if expired else min(c.pull_backoff * 2, BACKOFF_MAX)
        c.pull_backoff_at, c.pull_error = now, verdict.message
        self._event(pod, run, "Warning", "Failed", "Error: ErrImagePull", c)
        c.waiting = ("ErrImagePull", verdict.message)
        c.step, c.due = "pull", now + REPORT_BACKOFF

    def _pull_secret_hosts(self, pod: dict[str, Any]) -> set[str]:
        """Registry hosts for which the pod's imagePullSecrets hold credentials the registry accepts."""
        ns = pod["metadata"].get("namespace", "")
        hosts: set[str] = set()
        for ref in (pod.get("spec") or {}).get("imagePullSecrets") or ():
            secret = self.store.get(self.secrets_rt, ns, (ref or {}).get("name", ""))
            if secret is None:
                continue
            for host, password in _docker_credentials(secret):
                if password and password == registry.credentials(host)[1]:
                    hosts.add(host)
        return hosts

    # --- configuration --------------------------------------------------------------------

    def _mount_problem(self, pod: dict[str, Any]) -> tuple[str, str] | None:
        ns = pod["metadata"].get("namespace", "")
        for vol in (pod.get("spec") or {}).get("volumes") or ():
            if "secret" in vol:
                src = vol.get("secret") or {}
                name, optional = src.get("secretName", ""), bool(src.get("optional"))
                obj = self.store.get(self.secrets_rt, ns, name)
                if obj is None:
                    if optional:
                        continue
                    return vol["name"], f'secret "{name}" not found'
                data = {**(obj.get("data") or {}), **(obj.get("stringData") or {})}
                for item in src.get("items") or ():
                    if item.get("key") not in data and not optional:
                        return vol["name"], f"references non-existent secret key: {item.get('key')}"
            elif "configMap" in vol:
                src = vol.get("configMap") or {}
                name, optional = src.get("name", ""), bool(src.get("optional"))
                obj = self.store.get(self.configmaps_rt, ns, name)
                if obj is None:
                    if optional:
                        continue
                    return vol["name"], f'configmap "{name}" not found'
                data = {**(obj.get("data") or {}), **(obj.get("binaryData") or {})}
                for item in src.get("items") or ():
                    if item.get("key") not in data and not optional:
                        return vol["name"], f"configmap references non-existent config key: {item.get('key')}"
        return None

    def _environment(self, pod: dict[str, Any], run: _Pod, c: _Container) -> tuple[dict[str, str], str | None]:
        """The container's environment as the kubelet builds it (makeEnvironmentVariables), or its error."""
        ns = pod["metadata"].get("namespace", "")
        env: dict[str, str] = {}
        secrets_seen: dict[str, dict[str, Any]] = {}
        maps_seen: dict[str, dict[str, Any]] = {}
        for source in c.spec.get("envFrom") or ():
            prefix = source.get("prefix") or ""
            if source.get("configMapRef") is not None:
                ref, kind = source["configMapRef"], "configMap"
                obj = self._config_map(ns, ref.get("name", ""), maps_seen)
                missing = f'configmap "{ref.get("name", "")}" not found'
            elif source.get("secretRef") is not None:
                ref, kind = source["secretRef"], "secret"
                obj = self._secret(ns, ref.get("name", ""), secrets_seen)
                missing = f'secret "{ref.get("name", "")}" not found'
            else:
                continue
            if obj is None:
                if ref.get("optional"):
                    continue
                return env, missing
            invalid = []
            for k, v in obj.items():
                name = prefix + k
                if not _ENV_NAME.match(name):
                    invalid.append(name)
                    continue
                env[name] = v
            if invalid:
                self._event(
                    pod,
                    run,
                    "Warning",
                    "InvalidEnvironmentVariableNames",
                    f"Keys [{', '.join(sorted(invalid))}] from the EnvFrom {kind} {ns}/{ref.get('name', '')} were "
                    "skipped since they are considered invalid environment variable names.",
                )
        for var in c.spec.get("env") or ():
            name = var.get("name", "")
            value = var.get("value") or ""
            source = var.get("valueFrom")
            if value:
                value = _expand(value, env)
            elif source:
                if source.get("fieldRef"):
                    value = self._field_value(pod, run, source["fieldRef"].get("fieldPath", ""))
                elif source.get("resourceFieldRef"):
                    value = _resource_value(c.spec, source["resourceFieldRef"])
                elif source.get("configMapKeyRef"):
                    ref = source["configMapKeyRef"]
                    cm_name, key = ref.get("name", ""), ref.get("key", "")
                    obj = self._config_map(ns, cm_name, maps_seen)
                    if obj is None:
                        if ref.get("optional"):
                            continue
                        return env, f'configmap "{cm_name}" not found'
                    if key not in obj:
                        if ref.get("optional"):
                            continue
                        return env, f"couldn't find key {key} in ConfigMap {ns}/{cm_name}"
                    value = obj[key]
                elif source.get("secretKeyRef"):
                    ref = source["secretKeyRef"]
                    s_name, key = ref.get("name", ""), ref.get("key", "")
                    obj = self._secret(ns, s_name, secrets_seen)
                    if obj is None:
                        if ref.get("optional"):
                            continue
                        return env, f'secret "{s_name}" not found'
                    if key not in obj:
                        if ref.get("optional"):
                            continue
                        return env, f"couldn't find key {key} in Secret {ns}/{s_name}"
                    value = obj[key]
            env[name] = value
        return env, None

    def _secret(self, ns: str, name: str, seen: dict[str, dict[str, Any]]) -> dict[str, str] | None:
        if name in seen:
            return seen[name]
        obj = self.store.get(self.secrets_rt, ns, name)
        if obj is None:
            return None
        values = {k: _b64text(v) for k, v in (obj.get("data") or {}).items()}
        values.update({k: str(v) for k, v in (obj.get("stringData") or {}).items()})
        seen[name] = values
        return values

    def _config_map(self, ns: str, name: str, seen: dict[str, dict[str, Any]]) -> dict[str, str] | None:
        if name in seen:
            return seen[name]
        obj = self.store.get(self.configmaps_rt, ns, name)
        if obj is None:
            return None
        values = {k: str(v) for k, v in (obj.get("data") or {}).items()}
        values.update({k: _b64text(v) for k, v in (obj.get("binaryData") or {}).items()})
        seen[name] = values
        return values

    def _field_value(self, pod: dict[str, Any], run: _Pod, path: str) -> str:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        simple = {
            "metadata.name": meta.get("name", ""),
            "metadata.namespace": meta.get("namespace", ""),
            "metadata.uid": meta.get("uid", ""),
            "spec.nodeName": spec.get("nodeName", ""),
            "spec.serviceAccountName": spec.get("serviceAccountName", ""),
            "status.hostIP": run.host_ip,
            "status.hostIPs": run.host_ip,
            "status.podIP": run.ip,
            "status.podIPs": run.ip,
        }
        if path in simple:
            return str(simple[path])
        m = re.fullmatch(r"metadata\.(labels|annotations)(?:\['([^']*)'\])?", path)
        if m:
            items = meta.get(m.group(1)) or {}
            if m.group(2) is not None:
                return str(items.get(m.group(2), ""))
            return "\n".join(f'{k}="{v}"' for k, v in sorted(items.items()))
        return ""

    # --- running --------------------------------------------------------------------------

    def _start(self, pod: dict[str, Any], run: _Pod, c: _Container, now: float) -> None:
        env, err = self._environment(pod, run, c)
        if err is not None:
            self._event(pod, run, "Warning", "Failed", f"Error: {err}", c)
            c.waiting = ("CreateContainerConfigError", err)
            c.step, c.due = "pull", now + SYNC_RETRY
            return
        spec = pod.get("spec") or {}
        command = [*(c.spec.get("command") or ()), *(c.spec.get("args") or ())]
        c.outcome = runtime.decide(
            image=c.spec.get("image", ""),
            container=c.name,
            command=[_expand(str(a), env) for a in command],
            env=env,
            namespace=run.namespace,
            behaviours=self.ctx.scenario.behaviours,
            cluster=self._network,
            finishes=(c.init and not c.sidecar) or spec.get("restartPolicy", "Always") != "Always",
        )
        c.container_id = "containerd://" + secrets.token_hex(32)
        self._event(pod, run, "Normal", "Created", f"Created container {c.name}", c)
        self._event(pod, run, "Normal", "Started", f"Started container {c.name}", c)
        self.logs.start(run.namespace, run.name, c.name)
        if c.terminated is not None:
            c.last_terminated = c.terminated
        c.waiting, c.terminated = None, None
        c.running_since, c.started, c.ever_started = self.clock.stamp(), True, True
        if c.outcome.kind == "run":
            self._write_lines(run, c, c.outcome.lines)
            probe = c.spec.get("readinessProbe")
            if probe and not c.init:
                c.ready, c.ready_at = False, now + float(probe.get("initialDelaySeconds") or 0) + 1.0
                c.step, c.due = "running", c.ready_at
            else:
                c.ready, c.ready_at = not c.init or c.sidecar, None
                c.step, c.due = "running", None
        else:
            if c.outcome.exit_code == 0:
                gap = min(runtime.LOG_LINE_GAP, c.outcome.after / (len(c.outcome.lines) + 1))
                self._write_lines(run, c, c.outcome.lines, gap)
            c.ready = False
            c.step, c.due = "running", now + c.outcome.after

    def _write_lines(self, run: _Pod, c: _Container, lines: tuple[str, ...], gap: float = runtime.LOG_LINE_GAP) -> None:
        """The first line now, the rest `gap` simulated seconds apart, as a working program prints them."""
        if not lines:
            return
        self.logs.write(run.namespace, run.name, c.name, lines[0])
        inst = self.logs.instance(run.namespace, run.name, c.name)
        for i, line in enumerate(lines[1:], start=1):
            self.clock.call_later(gap * i, self._late_line, run.namespace, run.name, c.name, inst, line)

    def _late_line(self, ns: str, pod: str, container: str, inst: Any, line: str) -> None:
        if self.logs.instance(ns, pod, container) is inst and inst is not None and not inst.finished:
            self.logs.write(ns, pod, container, line)

    def _running(self, pod: dict[str, Any], run: _Pod, c: _Container, now: float) -> None:
        outcome = c.outcome
        if outcome is None or outcome.kind == "run":
            if c.ready_at is not None:
                c.ready, c.ready_at = True, None
            c.due = None
            return
        if outcome.exit_code != 0:
            for line in outcome.lines:
                self.logs.write(run.namespace, run.name, c.name, line)
        self.logs.finish(run.namespace, run.name, c.name)
        c.terminated = {
            "exitCode": outcome.exit_code,
            "reason": outcome.reason,
            "startedAt": c.running_since,
            "finishedAt": self.clock.stamp(),
            "containerID": c.container_id,
        }
        c.running_since, c.started, c.ready, c.exited_at = None, False, False, now
        policy = (pod.get("spec") or {}).get("restartPolicy", "Always")
        if c.sidecar:
            restart = True
        elif c.init:
            restart = outcome.exit_code != 0 and policy != "Never"
        else:
            restart = policy == "Always" or (policy == "OnFailure" and outcome.exit_code != 0)
        if not restart:
            c.step, c.due = "done", None
            if c.init and outcome.exit_code == 0:
                c.ready = True
            return
        c.step, c.due = "exited", now + RESTART_DELAY

    def _after_exit(self, pod: dict[str, Any], run: _Pod, c: _Container, now: float) -> None:
        """Restart at once the first time, otherwise wait out the back-off in CrashLoopBackOff."""
        if not c.crash_backoff or now - c.crash_backoff_at > BACKOFF_RESET:
            c.crash_backoff, c.crash_backoff_at = BACKOFF_INITIAL, now
            self._restart(c, now)
            return
        c.last_terminated, c.terminated = c.terminated, None
        c.waiting = (
            "CrashLoopBackOff",
            f"back-off {_go_duration(c.crash_backoff)} restarting failed container={c.name} "
            f"pod={run.name}_{run.namespace}({run.uid})",
        )
        self._crash_backoff_event(pod, run, c)
        c.step, c.due = "backoff", c.exited_at + c.crash_backoff
        c.nag_at = now + SYNC_RETRY

    def _crash_backoff_event(self, pod: dict[str, Any], run: _Pod, c: _Container) -> None:
        self._event(
            pod,
            run,
            "Warning",
            "BackOff",
            f"Back-off restarting failed container {c.name} in pod {run.name}_{run.namespace}({run.uid})",
            c,
        )

    def _restart(self, c: _Container, now: float) -> None:
        # the exited container stays the current one until its successor is created
        c.restart_count += 1
        c.step, c.due = "pull", now

    # --- status ---------------------------------------------------------------------------

    def _write(self, pod: dict[str, Any], run: _Pod) -> None:
        status = self._render(pod, run)
        if status == pod.get("status"):
            return
        meta = pod["metadata"]
        ref = {"name": meta["name"], "namespace": meta.get("namespace"), "resourceVersion": meta.get("resourceVersion")}
        self.store.update(self.pods_rt, {"metadata": ref, "status": status}, subresource="status")
        if status.get("phase") in ("Succeeded", "Failed"):
            run.terminal = True

    def _render(self, pod: dict[str, Any], run: _Pod) -> dict[str, Any]:
        now = self.clock.stamp()
        current = pod.get("status") or {}
        init_statuses = [self._container_status(pod, run, c) for c in run.init]
        statuses = [self._container_status(pod, run, c) for c in run.regular]
        phase = _phase(pod, init_statuses, statuses, run)
        conds = self._conditions(pod, run, phase, init_statuses, statuses, now)
        status: dict[str, Any] = {"conditions": conds, "containerStatuses": statuses}
        if run.host_ip:
            status["hostIP"] = run.host_ip
            status["hostIPs"] = [{"ip": run.host_ip}]
        if init_statuses:
            status["initContainerStatuses"] = init_statuses
        status["phase"] = phase
        if run.ip:
            status["podIP"] = run.ip
            status["podIPs"] = [{"ip": run.ip}]
        if current.get("qosClass"):
            status["qosClass"] = current["qosClass"]
        status["startTime"] = run.start_time
        for k in ("nominatedNodeName", "resize", "resourceClaimStatuses"):
            if k in current:
                status[k] = current[k]
        return status

    def _container_status(self, pod: dict[str, Any], run: _Pod, c: _Container) -> dict[str, Any]:
        last = c.last_terminated
        if c.running_since is not None:
            state: dict[str, Any] = {"running": {"startedAt": c.running_since}}
        elif c.waiting is not None and c.terminated is not None:
            state = {"waiting": {"reason": c.waiting[0], **({"message": c.waiting[1]} if c.waiting[1] else {})}}
            last = c.terminated
        elif c.terminated is not None:
            state = {"terminated": dict(c.terminated)}
        else:
            reason, message = c.waiting or (
                "PodInitializing" if (pod.get("spec") or {}).get("initContainers") else "ContainerCreating",
                "",
            )
            state = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
        out: dict[str, Any] = {
            "containerID": c.container_id,
            "image": c.image,
            "imageID": c.image_id,
            "lastState": {"terminated": dict(last)} if last else {},
            "name": c.name,
            "ready": c.ready,
            "restartCount": c.restart_count,
            "started": c.started,
            "state": state,
        }
        if not c.container_id:
            del out["containerID"]
        mounts = [
            {
                "mountPath": m.get("mountPath", ""),
                "name": m.get("name", ""),
                **({"readOnly": True, "recursiveReadOnly": "Disabled"} if m.get("readOnly") else {}),
            }
            for m in c.spec.get("volumeMounts") or ()
        ]
        if mounts:
            out["volumeMounts"] = mounts
        return out

    def _conditions(
        self,
        pod: dict[str, Any],
        run: _Pod,
        phase: str,
        init_statuses: list[dict[str, Any]],
        statuses: list[dict[str, Any]],
        now: str,
    ) -> list[dict[str, Any]]:
        terminal = phase in ("Succeeded", "Failed")
        terminal_reason = "PodCompleted" if phase == "Succeeded" else "PodFailed"
        wanted: list[tuple[str, str, str, str]] = []  # type, status, reason, message
        wanted.append(("PodReadyToStartContainers", "True" if run.sandbox and not terminal else "False", "", ""))
        # Initialized
        incomplete = [
            s["name"]
            for c, s in zip(run.init, init_statuses, strict=True)
            if not (s.get("started") if c.sidecar else s.get("ready"))
        ]
        any_regular_started = any(c.ever_started for c in run.regular)
        if phase == "Succeeded":
            wanted.append(("Initialized", "True", "PodCompleted", ""))
        elif incomplete and not any_regular_started:
            wanted.append(
                (
                    "Initialized",
                    "False",
                    "ContainersNotInitialized",
                    f"containers with incomplete status: [{' '.join(incomplete)}]",
                )
            )
        else:
            wanted.append(("Initialized", "True", "", ""))
        # Ready / ContainersReady
        unready = [s["name"] for c, s in zip(run.init, init_statuses, strict=True) if c.sidecar and not s["ready"]]
        unready += [s["name"] for s in statuses if not s["ready"]]
        if terminal:
            ready = ("False", terminal_reason, "")
        elif unready:
            ready = ("False", "ContainersNotReady", f"containers with unready status: [{' '.join(unready)}]")
        else:
            ready = ("True", "", "")
        wanted.append(("Ready", *ready))
        wanted.append(("ContainersReady", *ready))
        out: list[dict[str, Any]] = []
        existing = {c.get("type"): c for c in (pod.get("status") or {}).get("conditions") or ()}
        for type_, status, reason, message in wanted:
            prev = run.conditions.get(type_)
            if prev is None and type_ in existing and existing[type_].get("status") == status:
                prev = (status, existing[type_].get("lastTransitionTime", now))
            when = prev[1] if prev is not None and prev[0] == status else now
            run.conditions[type_] = (status, when)
            cond: dict[str, Any] = {"lastProbeTime": None, "lastTransitionTime": when, "status": status, "type": type_}
            if reason:
                cond["reason"] = reason
            if message:
                cond["message"] = message
            out.append(cond)
        scheduled = existing.get("PodScheduled")
        if scheduled is None or scheduled.get("status") != "True":
            when = run.conditions.setdefault("PodScheduled", ("True", now))[1]
            scheduled = {"lastProbeTime": None, "lastTransitionTime": when, "status": "True", "type": "PodScheduled"}
        out.append(scheduled)
        mine = {"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"}
        out += [c for t, c in existing.items() if t not in mine]
        return out

    # --- helpers --------------------------------------------------------------------------

    def _event(
        self, pod: dict[str, Any], run: _Pod, type_: str, reason: str, message: str, c: _Container | None = None
    ) -> None:
        self.recorder.record(
            pod, type_, reason, message, component=COMPONENT, host=run.node, field_path=c.field_path if c else ""
        )

    def _now(self) -> float:
        return asyncio.get_running_loop().time() * self.clock.speed

    def _eps(self) -> float:
        return _EPSILON_REAL * self.clock.speed

    def _next_due(self, run: _Pod) -> float | None:
        if run.terminal:
            return None
        dues = [c.due for c in run.containers if c.due is not None]
        dues += [c.nag_at for c in run.containers if c.nag_at is not None and c.step == "backoff"]
        if not run.sandbox:
            dues.append(run.sandbox_due)
        return min(dues) if dues else None

    def _allocate_ip(self, node_name: str, node: dict[str, Any]) -> str:
        pool = self._ips.get(node_name)
        if pool is None:
            cidr = (node.get("spec") or {}).get("podCIDR") or "10.244.0.0/24"
            try:
                net = ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                net = ipaddress.ip_network("10.244.0.0/24")
            hosts = [str(h) for h in net.hosts()][1:]  # .1 is the bridge
            hosts.reverse()
            pool = self._ips[node_name] = (hosts, set())
        free, used = pool
        ip = free.pop() if free else f"10.255.{len(used) // 250}.{len(used) % 250 + 2}"
        used.add(ip)
        return ip

    def _release_ip(self, run: _Pod) -> None:
        pool = self._ips.get(run.node)
        if pool is not None and run.ip in pool[1]:
            pool[1].discard(run.ip)
            pool[0].insert(0, run.ip)  # reused last, as IPAM does


# --- pure helpers ------------------------------------------------------------------------------


def _key(obj: dict[str, Any]) -> Key:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def _host_ip(node: dict[str, Any]) -> str:
    for a in (node.get("status") or {}).get("addresses") or ():
        if a.get("type") == "InternalIP":
            return str(a.get("address", ""))
    return ""


def _exit_code(c: _Container) -> int | None:
    return c.terminated.get("exitCode") if c.terminated else None


def _default_pull_policy(image: str) -> str:
    """Always for `:latest` or untagged images, IfNotPresent otherwise (the API server's default)."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def _docker_credentials(secret: dict[str, Any]) -> list[tuple[str, str]]:
    """(host, password) pairs of a dockerconfigjson (or legacy dockercfg) Secret; never logged."""
    data = secret.get("data") or {}
    kind = secret.get("type")
    if kind == "kubernetes.io/dockerconfigjson":
        raw = data.get(".dockerconfigjson")
    elif kind == "kubernetes.io/dockercfg":
        raw = data.get(".dockercfg")
    else:
        return []
    try:
        doc = json.loads(base64.b64decode(raw or "", validate=False))
    except (ValueError, binascii.Error, TypeError):
        return []
    auths = doc.get("auths", {}) if kind == "kubernetes.io/dockerconfigjson" else doc
    out: list[tuple[str, str]] = []
    if not isinstance(auths, dict):
        return out
    for host, entry in auths.items():
        if not isinstance(entry, dict):
            continue
        password = entry.get("password") or ""
        if not password and entry.get("auth"):
            try:
                password = base64.b64decode(entry["auth"]).decode().partition(":")[2]
            except (ValueError, binascii.Error, UnicodeDecodeError):
                password = ""
        out.append((str(host), str(password)))
    return out


def _b64text(value: Any) -> str:
    try:
        return base64.b64decode(str(value)).decode("utf-8", "replace")
    except (ValueError, binascii.Error):
        return ""


def _expand(value: str, env: dict[str, str]) -> str:
    """`$(VAR)` references to variables defined earlier; `$$` escapes; unknown references stay as written."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)

    return _EXPANSION.sub(sub, value)


def _resource_value(spec: dict[str, Any], ref: dict[str, Any]) -> str:
    res = spec.get("resources") or {}
    kind, _, name = (ref.get("resource") or "").partition(".")
    values = res.get(kind) or {}
    if kind == "requests" and name not in values:
        values = res.get("limits") or {}
    raw = values.get(name)
    if raw is None:
        return "0"
    divisor = ref.get("divisor") or "1"
    if name == "cpu":
        return str(max(1, math.ceil(milli(raw) / max(milli(divisor), 1))))
    return str(math.ceil(whole(raw) / max(whole(divisor), 1)))


def _pull_seconds(verdict: registry.PullResult) -> float:
    """How long a pull takes: failures answer fast, images take a second or three (deterministic per image)."""
    h = int(hashlib.sha256(verdict.image.encode()).hexdigest()[:8], 16)
    if verdict.status != "ok":
        return 0.3 + (h % 600) / 1000
    return 0.8 + (h % 2400) / 1000


def _image_size(verdict: registry.PullResult) -> int:
    """A plausible unpacked size, the same wherever the same build is pulled from (like its digest)."""
    identity = registry.build_identity(verdict.repository, verdict.tag or verdict.resolved_digest or "")
    h = int(hashlib.sha256(identity.encode()).hexdigest()[:12], 16)
    return 18_000_000 + h % 240_000_000


def _go_duration(seconds: float) -> str:
    """Go's time.Duration.String() of a duration truncated to milliseconds: `812ms`, `1.234s`, `2m40s`, `5m0s`."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, frac = divmod(rest, 1000)
    text = f"{secs}" + (f".{frac:03d}".rstrip("0") if frac else "") + "s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    if minutes:
        return f"{minutes}m{text}"
    return text


def _phase(pod: dict[str, Any], init_statuses: list[dict[str, Any]], statuses: list[dict[str, Any]], run: _Pod) -> str:
    """The kubelet's getPhase over the statuses just rendered."""
    spec = pod.get("spec") or {}
    policy = spec.get("restartPolicy", "Always")
    pending_init = failed_init = pending_sidecars = 0
    unknown = running = waiting = stopped = succeeded = 0
    for c, s in zip(run.init, init_statuses, strict=True):
        state, last = s["state"], s.get("lastState") or {}
        if c.sidecar:
            if "running" in state:
                running += 1
            elif "waiting" in state and "terminated" not in last:
                pending_sidecars += 1
                waiting += 1
            continue
        if "running" in state:
            pending_init += 1
        elif "terminated" in state:
            if state["terminated"]["exitCode"] != 0:
                failed_init += 1
        elif "terminated" in last:
            if last["terminated"]["exitCode"] != 0:
                failed_init += 1
        else:
            pending_init += 1
    for s in statuses:
        state, last = s["state"], s.get("lastState") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            if state["terminated"]["exitCode"] == 0:
                succeeded += 1
        elif "terminated" in last:
            stopped += 1
        else:
            waiting += 1
    if failed_init and policy == "Never":
        return "Failed"
    if pending_init or (pending_sidecars and running + stopped == 0):
        return "Pending"
    if waiting:
        return "Pending"
    if running and not unknown:
        return "Running"
    if not running and stopped and not unknown:
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"
