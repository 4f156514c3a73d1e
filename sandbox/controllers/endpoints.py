"""The endpoints controller: every Service with a selector gets an Endpoints object listing its pods.

Ready pods go to `addresses`, the others (with an IP, not terminal) to `notReadyAddresses`;
ports are resolved per pod (named targetPorts from the container ports); subsets are
repacked and sorted as Kubernetes' RepackSubsets does, and the last-change-trigger-time
annotation follows the same rule as the real trigger-time tracker. It also keeps the
`default/kubernetes` Service and its Endpoints, which the API server maintains on a cluster.

Pods are cached per namespace from the store's change feed, so a pod update costs a
look at that namespace's selectors, not a scan of every pod.
"""

from __future__ import annotations

import contextlib
from typing import Any

from sandbox.controllers import podtemplate as pt
from sandbox.controllers.base import Context, Controller, Key
from sandbox.errors import APIError
from sandbox.resources import ResourceType, by_kind

SERVICE: ResourceType = by_kind("v1", "Service")  # type: ignore[assignment]
ENDPOINTS: ResourceType = by_kind("v1", "Endpoints")  # type: ignore[assignment]
NAMESPACE: ResourceType = by_kind("v1", "Namespace")  # type: ignore[assignment]
POD = pt.POD
COMPONENT = "endpoint-controller"
MANAGED_BY = "endpoints.kubernetes.io/managed-by"
TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
HEADLESS = "service.kubernetes.io/headless"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
MAX_CAPACITY = 1000

API_SERVICE: Key = ("default", "kubernetes")
API_CLUSTER_IP = "10.96.0.1"
API_ENDPOINT_IP = "172.16.0.2"  # where a GKE control plane's private endpoint usually sits
API_PORT = 443


class EndpointsController(Controller):
    name = "endpoints"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._pods: dict[str, dict[str, dict[str, Any]]] = {}  # namespace -> pod name -> pod
        self._selectors: dict[str, dict[str, dict[str, str]]] = {}  # namespace -> service name -> selector
        self._triggers: dict[
            Key, tuple[str, dict[str, tuple[str, str]]]
        ] = {}  # service -> (service trigger, pod name -> trigger)
        for pod in self.store.list(POD):
            self._pods.setdefault(pod["metadata"]["namespace"], {})[pod["metadata"]["name"]] = pod
        for svc in self.store.list(SERVICE):
            self._remember_service("ADDED", svc)

    # --- watching --------------------------------------------------------------------------

    def initial_keys(self) -> list[Key]:
        keys = {API_SERVICE}
        keys.update((o["metadata"]["namespace"], o["metadata"]["name"]) for o in self.store.list(SERVICE))
        # Endpoints left without a Service are deleted on start, as the real controller does
        keys.update((o["metadata"]["namespace"], o["metadata"]["name"]) for o in self.store.list(ENDPOINTS))
        return sorted(keys)

    def on_change(self, type_: str, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if rt is POD:
            self._on_pod(type_, obj, old)
        elif rt is SERVICE:
            self._remember_service(type_, obj)
            self.enqueue((obj["metadata"]["namespace"], obj["metadata"]["name"]))
        elif rt is ENDPOINTS:
            key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
            if type_ == "DELETED" or key == API_SERVICE:
                self.enqueue(key)
        elif rt is NAMESPACE and obj["metadata"]["name"] == API_SERVICE[0] and type_ == "ADDED":
            self.enqueue(API_SERVICE)

    def _remember_service(self, type_: str, svc: dict[str, Any]) -> None:
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        selectors = self._selectors.setdefault(ns, {})
        selector = (svc.get("spec") or {}).get("selector")
        if type_ == "DELETED" or selector is None or (svc.get("spec") or {}).get("type") == "ExternalName":
            selectors.pop(name, None)
        else:
            selectors[name] = dict(selector)

    def _on_pod(self, type_: str, pod: dict[str, Any], old: dict[str, Any] | None) -> None:
        ns, name = pod["metadata"].get("namespace", ""), pod["metadata"]["name"]
        cache = self._pods.setdefault(ns, {})
        if type_ == "DELETED":
            cache.pop(name, None)
        else:
            cache[name] = pod
        if type_ == "MODIFIED" and old is not None and _signature(old) == _signature(pod):
            return
        labels = pod["metadata"].get("labels") or {}
        old_labels = (old or {}).get("metadata", {}).get("labels") or {}
        for svc_name, selector in self._selectors.get(ns, {}).items():
            if _matches(selector, labels) or (old is not None and _matches(selector, old_labels)):
                self.enqueue((ns, svc_name))

    # --- reconciling -----------------------------------------------------------------------

    def reconcile(self, key: Key) -> None:
        if key == API_SERVICE:
            self._api_service()
            return
        ns, name = key
        svc = self.store.get(SERVICE, ns, name)
        if svc is None:
            self._triggers.pop(key, None)
            ep = self.store.get(ENDPOINTS, ns, name)
            if ep is not None and LEADER_ANNOTATION not in (ep["metadata"].get("annotations") or {}):
                with contextlib.suppress(APIError):  # gone already
                    self.store.delete(ENDPOINTS, ns, name)
            return
        spec = svc.get("spec") or {}
        selector = spec.get("selector")
        if spec.get("type") == "ExternalName" or selector is None:
            return
        pods = [p for p in self._pods.get(ns, {}).values() if _matches(selector, p["metadata"].get("labels") or {})]
        trigger = self._trigger_time(key, svc, pods)
        subsets = _subsets(svc, pods)
        current = self.store.get(ENDPOINTS, ns, name)
        labels = dict(svc["metadata"].get("labels") or {})
        labels[MANAGED_BY] = COMPONENT
        if spec.get("clusterIP") in (None, "", "None"):
            labels[HEADLESS] = ""
        total = sum(len(s.get("addresses") or ()) + len(s.get("notReadyAddresses") or ()) for s in subsets)
        if (
            current is not None
            and (current.get("subsets") or []) == subsets
            and (current["metadata"].get("labels") or {}) == labels
            and (OVER_CAPACITY in (current["metadata"].get("annotations") or {})) == (total > MAX_CAPACITY)
        ):
            return
        annotations = dict((current or {}).get("metadata", {}).get("annotations") or {})
        if trigger:
            annotations[TRIGGER_TIME] = trigger
        else:
            annotations.pop(TRIGGER_TIME, None)
        if total > MAX_CAPACITY:
            subsets = _truncate(subsets)
            annotations[OVER_CAPACITY] = "truncated"
        else:
            annotations.pop(OVER_CAPACITY, None)
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
        }
        if annotations:
            body["metadata"]["annotations"] = annotations
        if subsets:
            body["subsets"] = subsets
        try:
            if current is None:
                self.store.create(ENDPOINTS, body)
            else:
                body["metadata"] = {**current["metadata"], "labels": labels, "annotations": annotations}
                if not annotations:
                    body["metadata"].pop("annotations")
                self.store.update(ENDPOINTS, body)
        except APIError as e:
            reason, what = (
                ("FailedToCreateEndpoint", f"Failed to create endpoint for service {ns}/{name}")
                if current is None
                else ("FailedToUpdateEndpoint", f"Failed to update endpoint {ns}/{name}")
            )
            self.recorder.record(body, "Warning", reason, f"{what}: {e.message}", component=COMPONENT)

    def _trigger_time(self, key: Key, svc: dict[str, Any], pods: list[dict[str, Any]]) -> str:
        """The oldest change (pod readiness flip, or the Service's creation) not yet reflected; "" when none."""
        last_svc, last_pods = self._triggers.get(key, ("", {}))
        svc_time = svc["metadata"].get("creationTimestamp") or ""
        now_pods: dict[str, tuple[str, str]] = {}
        earliest = ""
        for p in pods:
            ready = pt.condition(p, "Ready") or {}
            t = ready.get("lastTransitionTime") or ""
            if not t:
                continue
            # the status too: on the fast clock a pod can turn ready within the second its condition appeared
            state = (t, str(ready.get("status")))
            now_pods[p["metadata"]["name"]] = state
            before = last_pods.get(p["metadata"]["name"], ("", ""))
            if state != before and t >= before[0] and (not earliest or t < earliest):
                earliest = t
        if svc_time > last_svc and (not earliest or svc_time < earliest):
            earliest = svc_time
        self._triggers[key] = (svc_time, now_pods)
        return earliest

    def _api_service(self) -> None:
        """The `kubernetes` Service and its Endpoints, as the API server keeps them."""
        ns, name = API_SERVICE
        namespace = self.store.get(NAMESPACE, "", ns)
        if namespace is None:
            return
        created = namespace["metadata"].get("creationTimestamp")
        if self.store.get(SERVICE, ns, name) is None:
            svc = {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {
                    "clusterIP": API_CLUSTER_IP,
                    "ports": [{"name": "https", "port": API_PORT, "protocol": "TCP", "targetPort": API_PORT}],
                    "sessionAffinity": "None",
                    "type": "ClusterIP",
                },
            }
            try:
                self.store.create(SERVICE, svc, creation_timestamp=created)
            except APIError as e:
                if e.code != 409:
                    raise
        want = [
            {"addresses": [{"ip": API_ENDPOINT_IP}], "ports": [{"name": "https", "port": API_PORT, "protocol": "TCP"}]}
        ]
        labels = {"endpointslice.kubernetes.io/skip-mirror": "true"}
        ep = self.store.get(ENDPOINTS, ns, name)
        if ep is None:
            body = {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {"name": name, "namespace": ns, "labels": labels},
                "subsets": want,
            }
            try:
                self.store.create(ENDPOINTS, body, creation_timestamp=created)
            except APIError as e:
                if e.code != 409:
                    raise
        elif ep.get("subsets") != want or (ep["metadata"].get("labels") or {}) != labels:

            def fix(o: dict[str, Any]) -> None:
                o["subsets"] = want
                o["metadata"]["labels"] = labels

            self.store.mutate(ENDPOINTS, ns, name, fix)


# --- building subsets ------------------------------------------------------------------------


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _signature(pod: dict[str, Any]) -> tuple[Any, ...]:
    """What of a pod the Endpoints can depend on; other changes (most kubelet writes) are skipped."""
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    ports = [
        (c.get("ports") or [])
        for group in ("containers", "initContainers")
        for c in spec.get(group) or ()
        if isinstance(c, dict)
    ]
    return (
        meta.get("labels"),
        meta.get("deletionTimestamp"),
        spec.get("nodeName"),
        spec.get("hostname"),
        spec.get("subdomain"),
        status.get("podIP"),
        status.get("phase"),
        pt.is_ready(pod),
        (pt.condition(pod, "Ready") or {}).get("lastTransitionTime"),
        ports,
    )


def _find_port(pod: dict[str, Any], svc_port: dict[str, Any]) -> int | None:
    target = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(target, bool):
        return None
    if isinstance(target, int):
        return target
    if not isinstance(target, str) or not target:
        return None
    protocol = svc_port.get("protocol") or "TCP"
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or ()) + [
        c for c in spec.get("initContainers") or () if isinstance(c, dict) and c.get("restartPolicy") == "Always"
    ]
    for c in containers:
        for p in (c or {}).get("ports") or ():
            if p.get("name") == target and (p.get("protocol") or "TCP") == protocol:
                try:
                    return int(p.get("containerPort"))
                except (TypeError, ValueError):
                    return None
    return None


def _subsets(svc: dict[str, Any], pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    spec = svc.get("spec") or {}
    publish = bool(spec.get("publishNotReadyAddresses"))
    headless = spec.get("clusterIP") == "None"
    svc_ports = [p for p in spec.get("ports") or () if isinstance(p, dict)]
    svc_name, svc_ns = svc["metadata"]["name"], svc["metadata"]["namespace"]
    addresses: dict[tuple[str, str], dict[str, Any]] = {}
    by_port: dict[tuple[Any, ...] | None, dict[tuple[str, str], bool]] = {}
    ports_of: dict[tuple[Any, ...] | None, dict[str, Any] | None] = {}
    for pod in pods:
        meta, pspec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
        ip = status.get("podIP")
        if pt.is_terminal(pod) or not ip or (meta.get("deletionTimestamp") and not publish):
            continue
        addr: dict[str, Any] = {"ip": ip}
        if pspec.get("hostname") and pspec.get("subdomain") == svc_name and meta.get("namespace") == svc_ns:
            addr["hostname"] = pspec["hostname"]
        if pspec.get("nodeName"):
            addr["nodeName"] = pspec["nodeName"]
        addr["targetRef"] = {
            "kind": "Pod",
            "namespace": meta.get("namespace", ""),
            "name": meta["name"],
            "uid": meta.get("uid", ""),
        }
        akey = (ip, meta.get("uid", ""))
        addresses.setdefault(akey, addr)
        ready = publish or pt.is_ready(pod)
        entries: list[tuple[tuple[Any, ...] | None, dict[str, Any] | None]] = []
        if not svc_ports:
            if headless:
                entries.append((None, None))
        else:
            for sp in svc_ports:
                number = _find_port(pod, sp)
                if number is None:
                    continue
                port: dict[str, Any] = {}
                if sp.get("name"):
                    port["name"] = sp["name"]
                port["port"] = number
                port["protocol"] = sp.get("protocol") or "TCP"
                if sp.get("appProtocol"):
                    port["appProtocol"] = sp["appProtocol"]
                entries.append((tuple(sorted(port.items())), port))
        for pkey, port in entries:
            ports_of[pkey] = port
            seen = by_port.setdefault(pkey, {})
            if seen.get(akey, True):  # not ready trumps ready
                seen[akey] = ready
    groups: dict[frozenset[tuple[tuple[str, str], bool]], list[dict[str, Any]]] = {}
    for pkey, addrs in by_port.items():
        group = groups.setdefault(frozenset(addrs.items()), [])
        port = ports_of[pkey]
        if port is not None:
            group.append(port)
    subsets = []
    for addr_set, ports in groups.items():
        ready_keys = sorted(k for k, r in addr_set if r)
        not_ready_keys = sorted(k for k, r in addr_set if not r)
        subset: dict[str, Any] = {}
        if ready_keys:
            subset["addresses"] = [addresses[k] for k in ready_keys]
        if not_ready_keys:
            subset["notReadyAddresses"] = [addresses[k] for k in not_ready_keys]
        if ports:
            subset["ports"] = sorted(ports, key=lambda p: (p.get("name", ""), p["port"], p["protocol"]))
        subsets.append(subset)
    subsets.sort(key=_subset_order)
    return subsets


def _subset_order(subset: dict[str, Any]) -> tuple[Any, ...]:
    first = (subset.get("addresses") or subset.get("notReadyAddresses") or [{}])[0]
    return (first.get("ip", ""), tuple(p["port"] for p in subset.get("ports") or ()))


def _truncate(subsets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Kubernetes' truncateEndpoints: keep at most 1000 addresses, ready ones first, in proportion per subset."""
    total_ready = sum(len(s.get("addresses") or ()) for s in subsets)
    total_not_ready = sum(len(s.get("notReadyAddresses") or ()) for s in subsets)
    truncate_ready = total_ready > MAX_CAPACITY
    room = MAX_CAPACITY if truncate_ready else MAX_CAPACITY - total_ready
    total = total_ready if truncate_ready else total_not_ready
    left = room
    out = []
    for s in subsets:
        s = dict(s)
        field = "addresses" if truncate_ready else "notReadyAddresses"
        have = len(s.get(field) or ())
        take = min(-(-have * room // total) if total else 0, left)
        s[field] = (s.get(field) or [])[:take]
        if truncate_ready:
            s.pop("notReadyAddresses", None)
        left -= len(s[field])
        if not s[field]:
            del s[field]
        out.append(s)
    return out
