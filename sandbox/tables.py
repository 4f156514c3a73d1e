"""`meta.k8s.io/v1` Table responses, cell for cell as the API server's printers build them.

`kubectl get` asks for `application/json;as=Table;v=v1;g=meta.k8s.io` and prints whatever
columns and cells come back, so every cell here follows the real server's printer for its
kind (Kubernetes 1.32): the pod STATUS reason logic, `5 (23s ago)` restarts, the Job STATUS
column, ages through a port of apimachinery's `HumanDuration`.

The server always renders the wide (priority 1) cells too; kubectl hides them unless `-o wide`.
Objects are the JSON dicts the store keeps; nothing here mutates them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sandbox.resources import ResourceType

Obj = Mapping[str, Any]
Cell = str | int
RowFn = Callable[[Obj, float], list[Cell]]

# --- ages -------------------------------------------------------------------------------------


def human_duration(seconds: float) -> str:
    """A duration as `kubectl` shows ages: `5s`, `3m2s`, `47h`, `2d3h`, `180d`, `2y41d`.

    Port of apimachinery's `duration.HumanDuration`: up to two units, coarser as the duration
    grows; under two minutes it is plain seconds. A clock skew of up to one second in the
    future reads `0s`; anything further ahead is `<invalid>`.
    """
    whole = int(seconds)  # Go truncates toward zero
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        s = whole % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


_STAMPS: dict[str, float | None] = {}


def _epoch(stamp: Any) -> float | None:
    """Seconds since the epoch for an RFC 3339 timestamp; None when absent or unparsable."""
    if not stamp or not isinstance(stamp, str):
        return None
    if stamp in _STAMPS:
        return _STAMPS[stamp]
    try:
        value: float | None = datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        value = None
    if len(_STAMPS) > 200_000:  # bound the cache; timestamps repeat a lot within one list
        _STAMPS.clear()
    _STAMPS[stamp] = value
    return value


def _since(stamp: Any, now: float) -> str:
    """`translateTimestampSince`: the age of a timestamp, `<unknown>` when it is unset."""
    at = _epoch(stamp)
    if at is None:
        return "<unknown>"
    return human_duration(now - at)


# --- small formatters shared by several kinds --------------------------------------------------


def _dig(obj: Obj, *path: str) -> Any:
    cur: Any = obj
    for key in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(key)
    return cur


def format_labels(labels: Mapping[str, str] | None) -> str:
    """`labels.FormatLabels`: `k=v` pairs sorted by key and comma-joined, `<none>` when empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def selector_string(selector: Mapping[str, Any] | None) -> str:
    """A LabelSelector as `labels.Selector.String()` renders it (`app=web,tier in (a,b)`).

    Surprise kept from the real server: a missing or empty selector renders as the empty string.
    """
    if not selector:
        return ""
    reqs: list[tuple[str, str]] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        reqs.append((key, f"{key}={value}"))
    for expr in selector.get("matchExpressions") or ():
        key = expr.get("key", "")
        op = expr.get("operator", "")
        values = ",".join(sorted(expr.get("values") or ()))
        if op == "In":
            reqs.append((key, f"{key} in ({values})"))
        elif op == "NotIn":
            reqs.append((key, f"{key} notin ({values})"))
        elif op == "Exists":
            reqs.append((key, key))
        elif op == "DoesNotExist":
            reqs.append((key, f"!{key}"))
    reqs.sort(key=lambda r: r[0])
    return ",".join(r[1] for r in reqs)


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    """`metav1.FormatLabelSelector`: like `selector_string` but `<none>` when empty."""
    return selector_string(selector) or "<none>"


def _containers_cells(pod_spec: Any) -> list[Cell]:
    """`layoutContainerCells`: container names and images, each comma-joined."""
    containers = (pod_spec or {}).get("containers") or ()
    return [",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)]


def _condition_true(conditions: Iterable[Mapping[str, Any]], ctype: str) -> bool:
    """True when the first condition of `ctype` has status True (the printers stop at the first)."""
    for c in conditions:
        if c.get("type") == ctype:
            return bool(c.get("status") == "True")
    return False


def _access_modes(modes: Iterable[str] | None) -> str:
    present = set(modes or ())
    short = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP"))
    return ",".join(abbr for mode, abbr in short if mode in present)


def _join_host_port(ip: str, port: Any) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


# --- column descriptions (the API's own field docs, as the real server sends them) ------------

_NAME = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources may allow "
    "a client to request the generation of an appropriate name automatically. Name is primarily intended for creation "
    "idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
_AGE = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed "
    "to be set in happens-before order across separate operations. Clients may not set this value. It is represented "
    "in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
_CONTAINERS = "Names of each container in the template."
_IMAGES = "Images referenced by each container in the template."
_READY_PODS = "Number of the pod with ready state"
_RS_SELECTOR = (
    "Selector is a label query over pods that should match the replica count. If the selector is empty, it is "
    "defaulted to the labels present on the pod template. Label keys and values that must match in order to be "
    "controlled by this replica set. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"
)
_JOB_SELECTOR = (
    "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"
)
_NODE_ADDRESSES = (
    "List of addresses reachable to the node. Queried from cloud provider, if available. More info: "
    "https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but "
    "the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should "
    "instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that "
    "addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be "
    "possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API "
    "(status.hostIP)."
)


def _col(name: str, type_: str, description: str, priority: int = 0, fmt: str = "") -> dict[str, Any]:
    return {"name": name, "type": type_, "format": fmt, "description": description, "priority": priority}


def _name_col() -> dict[str, Any]:
    return _col("Name", "string", _NAME, fmt="name")


def _age_col() -> dict[str, Any]:
    return _col("Age", "string", _AGE)


_COLUMNS: dict[str, list[dict[str, Any]]] = {
    "Pod": [
        _name_col(),
        _col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
        _col("Status", "string", "The aggregate status of the containers in this pod."),
        _col(
            "Restarts",
            "string",
            "The number of times the containers in this pod have been restarted and when the last container in this "
            "pod has restarted.",
        ),
        _age_col(),
        _col(
            "IP",
            "string",
            "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
            1,
        ),
        _col(
            "Node",
            "string",
            "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling "
            "by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes "
            "responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod "
            "to be scheduled on a specific node. "
            "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename",
            1,
        ),
        _col(
            "Nominated Node",
            "string",
            "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled "
            "right away as preemption victims receive their graceful termination periods. This field does not "
            "guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere "
            "if other nodes become available sooner. Scheduler may also decide to give the resources on this node to "
            "a higher priority pod that is created after preemption. As a result, this field may be different than "
            "PodSpec.nodeName when the pod is scheduled.",
            1,
        ),
        _col(
            "Readiness Gates",
            "string",
            "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its "
            'containers are ready AND all conditions specified in the readiness gates have status equal to "True" '
            "More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates",
            1,
        ),
    ],
    "Deployment": [
        _name_col(),
        _col("Ready", "string", _READY_PODS),
        _col(
            "Up-to-date",
            "string",
            "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
        ),
        _col(
            "Available",
            "string",
            "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
        ),
        _age_col(),
        _col("Containers", "string", _CONTAINERS, 1),
        _col("Images", "string", _IMAGES, 1),
        _col(
            "Selector",
            "string",
            "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected "
            "by this deployment.",
            1,
        ),
    ],
    "ReplicaSet": [
        _name_col(),
        _col(
            "Desired",
            "integer",
            "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and "
            "unspecified. Defaults to 1. More info: "
            "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/"
            "#what-is-a-replicationcontroller",
        ),
        _col(
            "Current",
            "integer",
            "Replicas is the most recently observed number of replicas. More info: "
            "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/"
            "#what-is-a-replicationcontroller",
        ),
        _col("Ready", "integer", "The number of ready replicas for this replica set."),
        _age_col(),
        _col("Containers", "string", _CONTAINERS, 1),
        _col("Images", "string", _IMAGES, 1),
        _col("Selector", "string", _RS_SELECTOR, 1),
    ],
    "StatefulSet": [
        _name_col(),
        _col("Ready", "string", _READY_PODS),
        _age_col(),
        _col("Containers", "string", _CONTAINERS, 1),
        _col("Images", "string", _IMAGES, 1),
    ],
    "Job": [
        _name_col(),
        _col("Status", "string", "Status of the job."),
        _col(
            "Completions",
            "string",
            "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. "
            "However, it may decrease in reaction to scale down of elastic indexed jobs.",
        ),
        _col("Duration", "string", "Time required to complete the job."),
        _age_col(),
        _col("Containers", "string", _CONTAINERS, 1),
        _col("Images", "string", _IMAGES, 1),
        _col("Selector", "string", _JOB_SELECTOR, 1),
    ],
    "CronJob": [
        _name_col(),
        _col("Schedule", "string", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
        _col(
            "Timezone",
            "string",
            "The time zone name for the given schedule, see "
            "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the "
            "time zone of the kube-controller-manager process. The set of valid time zone names and the time zone "
            "offset is loaded from the system-wide time zone database by the API server during CronJob validation and "
            "the controller manager during execution. If no system-wide time zone database can be found a bundled "
            "version of the database is used instead. If the time zone name becomes invalid during the lifetime of a "
            "CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and "
            "will create a system event with the reason UnknownTimeZone. More information can be found in "
            "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones",
        ),
        _col(
            "Suspend",
            "boolean",
            "This flag tells the controller to suspend subsequent executions, it does not apply to already started "
            "executions.  Defaults to false.",
        ),
        _col("Active", "integer", "A list of pointers to currently running jobs."),
        _col("Last Schedule", "string", "Information when was the last time the job was successfully scheduled."),
        _age_col(),
        _col("Containers", "string", _CONTAINERS, 1),
        _col("Images", "string", _IMAGES, 1),
        _col("Selector", "string", _JOB_SELECTOR, 1),
    ],
    "Service": [
        _name_col(),
        _col(
            "Type",
            "string",
            "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, "
            'ClusterIP, NodePort, and LoadBalancer. "ClusterIP" allocates a cluster-internal IP address for '
            "load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by "
            'manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is "None", no virtual '
            'IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. "NodePort" '
            "builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the "
            'clusterIP. "LoadBalancer" builds on NodePort and creates an external load-balancer (if supported in the '
            'current cloud) which routes to the same endpoints as the clusterIP. "ExternalName" aliases this service '
            "to the specified externalName. Several other fields do not apply to ExternalName services. More info: "
            "https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types",
        ),
        _col(
            "Cluster-IP",
            "string",
            "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified "
            "manually, is in-range (as per system configuration), and is not in use, it will be allocated to the "
            "service; otherwise creation of the service will fail. This field may not be changed through updates "
            "unless the type field is also being changed to ExternalName (which requires this field to be blank) or "
            "the type field is being changed from ExternalName (in which case this field may optionally be specified, "
            'as describe above).  Valid values are "None", empty string (""), or a valid IP address. Setting this to '
            '"None" makes a "headless service" (no virtual IP), which is useful when direct endpoint connections are '
            "preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If "
            "this field is specified when creating a Service of type ExternalName, creation will fail. This field "
            "will be wiped when updating a Service to type ExternalName. More info: "
            "https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies",
        ),
        _col(
            "External-IP",
            "string",
            "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this "
            "service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic "
            "arrives at a node with this IP.  A common example is external load-balancers that are not part of the "
            "Kubernetes system.",
        ),
        _col(
            "Port(s)",
            "string",
            "The list of ports that are exposed by this service. More info: "
            "https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies",
        ),
        _age_col(),
        _col(
            "Selector",
            "string",
            "Route service traffic to pods with label keys and values matching this selector. If empty or not "
            "present, the service is assumed to have an external process managing its endpoints, which Kubernetes "
            "will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is "
            "ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/",
            1,
        ),
    ],
    "Endpoints": [
        _name_col(),
        _col(
            "Endpoints",
            "string",
            "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the "
            "IPs they share. A single address with multiple ports, some of which are ready and some of which are not "
            "(because they come from different containers) will result in the address being displayed in different "
            "subsets for the different ports. No address will appear in both Addresses and NotReadyAddresses in the "
            "same subset. Sets of addresses and ports that comprise a service.",
        ),
        _age_col(),
    ],
    "Node": [
        _name_col(),
        _col("Status", "string", "The status of the node"),
        _col("Roles", "string", "The roles of the node"),
        _age_col(),
        _col("Version", "string", "Kubelet Version reported by the node."),
        _col("Internal-IP", "string", _NODE_ADDRESSES, 1),
        _col("External-IP", "string", _NODE_ADDRESSES, 1),
        _col(
            "OS-Image",
            "string",
            "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
            1,
        ),
        _col(
            "Kernel-Version",
            "string",
            "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
            1,
        ),
        _col(
            "Container-Runtime",
            "string",
            "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
            1,
        ),
    ],
    "Event": [
        _col("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded."),
        _col("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future"),
        _col(
            "Reason",
            "string",
            "This should be a short, machine understandable string that gives the reason for the transition into "
            "the object's current status.",
        ),
        _col("Object", "string", "The object that this event is about."),
        _col(
            "Subobject",
            "string",
            "If referring to a piece of an object instead of an entire object, this string should contain a valid "
            "JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object "
            'reference is to a container within a pod, this would take on a value like: "spec.containers{name}" '
            '(where "name" refers to the name of the container that triggered the event) or if no container name is '
            'specified "spec.containers[2]" (container with index 2 in this pod). This syntax is chosen only to have '
            "some well-defined way of referencing a part of an object.",
            1,
        ),
        _col(
            "Source",
            "string",
            "The component reporting this event. Should be a short machine understandable string.",
            1,
        ),
        _col("Message", "string", "A human-readable description of the status of this operation."),
        _col(
            "First Seen",
            "string",
            "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
            1,
        ),
        _col("Count", "string", "The number of times this event has occurred.", 1),
        _col("Name", "string", _NAME, 1, "name"),
    ],
    "Namespace": [_name_col(), _col("Status", "string", "The status of the namespace"), _age_col()],
    "Secret": [
        _name_col(),
        _col(
            "Type",
            "string",
            "Used to facilitate programmatic handling of secret data. More info: "
            "https://kubernetes.io/docs/concepts/configuration/secret/#secret-types",
        ),
        _col(
            "Data",
            "string",
            "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The "
            "serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly "
            "non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4",
        ),
        _age_col(),
    ],
    "ConfigMap": [
        _name_col(),
        _col(
            "Data",
            "string",
            "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. "
            "Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not "
            "overlap with the keys in the BinaryData field, this is enforced during validation process.",
        ),
        _age_col(),
    ],
    "ServiceAccount": [
        _name_col(),
        _col(
            "Secrets",
            "string",
            "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are "
            'allowed to use. Pods are only limited to this list if this service account has a "kubernetes.io/'
            'enforce-mountable-secrets" annotation set to "true". The "kubernetes.io/enforce-mountable-secrets" '
            "annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. "
            "This field should not be used to find auto-generated service account token secrets for use outside of "
            "pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token "
            "secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret",
        ),
        _age_col(),
    ],
    "PersistentVolumeClaim": [
        _name_col(),
        _col("Status", "string", "phase represents the current phase of PersistentVolumeClaim."),
        _col("Volume", "string", "volumeName is the binding reference to the PersistentVolume backing this claim."),
        _col("Capacity", "string", "capacity represents the actual resources of the underlying volume."),
        _col(
            "Access Modes",
            "string",
            "accessModes contains the actual access modes the volume backing the PVC has. More info: "
            "https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1",
        ),
        _col("StorageClass", "string", "StorageClass of the pvc"),
        _col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
        _age_col(),
        _col(
            "VolumeMode",
            "string",
            "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not "
            "included in claim spec.",
            1,
        ),
    ],
}


def column_definitions(rt: ResourceType) -> list[dict[str, Any]]:
    """The column definitions the real server sends for `rt`, wide (priority 1) columns included.

    Column names are the server's (`Up-to-date`, `Port(s)`); kubectl upper-cases them itself.
    Returns fresh dicts, so callers may serialize or alter them freely.
    """
    return [dict(c) for c in _COLUMNS[rt.kind]]


# --- rows -------------------------------------------------------------------------------------


def _finished_at(status: Mapping[str, Any]) -> float | None:
    return _epoch(_dig(status, "lastState", "terminated", "finishedAt"))


def _later(current: float | None, candidate: float | None) -> float | None:
    if candidate is None:
        return current
    return candidate if current is None or candidate > current else current


def pod_status_reason(pod: Obj) -> str:
    """The pod STATUS cell: `Running`, `CrashLoopBackOff`, `Init:0/2`, `Terminating`, ...

    Mirrors the printer exactly, including its surprises: container statuses are read last to
    first so the first container's waiting reason wins, a pod whose containers all exited 0 but
    one is still running shows `Running` (or `NotReady` without the Ready condition), and a
    deleted pod shows `Terminating` unless it already finished.
    """
    return _pod_core(pod)[0]


def _pod_core(pod: Obj) -> tuple[str, int, int, int, float | None]:
    """(reason, ready containers, total containers, restarts, time of last restart)."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    init_specs = spec.get("initContainers") or ()
    total = len(spec.get("containers") or ())
    sidecars: set[str] = set()
    for c in init_specs:
        if c.get("restartPolicy") == "Always":
            sidecars.add(c.get("name", ""))
            total += 1
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    conditions = status.get("conditions") or ()
    for cond in conditions:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    restarts = sidecar_restarts = ready = 0
    last_restart: float | None = None
    last_sidecar_restart: float | None = None
    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or ()):
        count = cs.get("restartCount") or 0
        finished = _finished_at(cs)
        restarts += count
        last_restart = _later(last_restart, finished)
        is_sidecar = cs.get("name", "") in sidecars
        if is_sidecar:
            sidecar_restarts += count
            last_sidecar_restart = _later(last_sidecar_restart, finished)
        state = cs.get("state") or {}
        terminated = state.get("terminated")
        waiting = state.get("waiting")
        if terminated is not None and (terminated.get("exitCode") or 0) == 0:
            continue
        if is_sidecar and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if terminated is not None:
            why = terminated.get("reason") or ""
            if why:
                reason = "Init:" + why
            elif terminated.get("signal"):
                reason = f"Init:Signal:{terminated['signal']}"
            else:
                reason = f"Init:ExitCode:{terminated.get('exitCode') or 0}"
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(conditions, "Initialized"):
        restarts = sidecar_restarts
        last_restart = last_sidecar_restart
        has_running = False
        for cs in reversed(status.get("containerStatuses") or ()):
            restarts += cs.get("restartCount") or 0
            last_restart = _later(last_restart, _finished_at(cs))
            state = cs.get("state") or {}
            waiting = state.get("waiting")
            terminated = state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated is not None:
                if terminated.get("signal"):
                    reason = f"Signal:{terminated['signal']}"
                else:
                    reason = f"ExitCode:{terminated.get('exitCode') or 0}"
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            ready_true = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
            reason = "Running" if ready_true else "NotReady"

    if _dig(pod, "metadata", "deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"
    return reason, ready, total, restarts, last_restart


def _pod_row(pod: Obj, now: float) -> list[Cell]:
    reason, ready, total, restarts, last_restart = _pod_core(pod)
    restarts_cell = str(restarts)
    if restarts and last_restart is not None:
        restarts_cell = f"{restarts} ({human_duration(now - last_restart)} ago)"
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    ip = status.get("podIP") or ""
    if not ip:
        ips = status.get("podIPs") or ()
        ip = (ips[0].get("ip") or "") if ips else ""
    gates_cell = "<none>"
    gates = spec.get("readinessGates") or ()
    if gates:
        conditions = status.get("conditions") or ()
        true = 0
        for gate in gates:
            for cond in conditions:
                if cond.get("type") == gate.get("conditionType"):
                    true += cond.get("status") == "True"
                    break
        gates_cell = f"{true}/{len(gates)}"
    return [
        meta.get("name", ""),
        f"{ready}/{total}",
        reason,
        restarts_cell,
        _since(meta.get("creationTimestamp"), now),
        ip or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_cell,
    ]


def _deployment_row(obj: Obj, now: float) -> list[Cell]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    return [
        _dig(obj, "metadata", "name") or "",
        f"{status.get('readyReplicas') or 0}/{spec.get('replicas') or 0}",
        status.get("updatedReplicas") or 0,
        status.get("availableReplicas") or 0,
        _since(_dig(obj, "metadata", "creationTimestamp"), now),
        *_containers_cells(_dig(spec, "template", "spec")),
        selector_string(spec.get("selector")),
    ]


def _replicaset_row(obj: Obj, now: float) -> list[Cell]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    return [
        _dig(obj, "metadata", "name") or "",
        spec.get("replicas") or 0,
        status.get("replicas") or 0,
        status.get("readyReplicas") or 0,
        _since(_dig(obj, "metadata", "creationTimestamp"), now),
        *_containers_cells(_dig(spec, "template", "spec")),
        format_label_selector(spec.get("selector")),
    ]


def _statefulset_row(obj: Obj, now: float) -> list[Cell]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    return [
        _dig(obj, "metadata", "name") or "",
        f"{status.get('readyReplicas') or 0}/{spec.get('replicas') or 0}",
        _since(_dig(obj, "metadata", "creationTimestamp"), now),
        *_containers_cells(_dig(spec, "template", "spec")),
    ]


def job_status(job: Obj) -> str:
    """The Job STATUS cell of kubectl 1.32: Complete, Failed, Terminating, Suspended, FailureTarget or Running."""
    conditions = _dig(job, "status", "conditions") or ()
    if _condition_true(conditions, "Complete"):
        return "Complete"
    if _condition_true(conditions, "Failed"):
        return "Failed"
    if _dig(job, "metadata", "deletionTimestamp"):
        return "Terminating"
    if _condition_true(conditions, "Suspended"):
        return "Suspended"
    if _condition_true(conditions, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def _job_row(obj: Obj, now: float) -> list[Cell]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    succeeded = status.get("succeeded") or 0
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    elif (spec.get("parallelism") or 0) > 1:
        completions = f"{succeeded}/1 of {spec['parallelism']}"
    else:
        completions = f"{succeeded}/1"
    started = _epoch(status.get("startTime"))
    finished = _epoch(status.get("completionTime"))
    if started is None:
        duration = ""
    elif finished is None:
        duration = human_duration(now - started)
    else:
        duration = human_duration(finished - started)
    return [
        _dig(obj, "metadata", "name") or "",
        job_status(obj),
        completions,
        duration,
        _since(_dig(obj, "metadata", "creationTimestamp"), now),
        *_containers_cells(_dig(spec, "template", "spec")),
        format_label_selector(spec.get("selector")),
    ]


def _cronjob_row(obj: Obj, now: float) -> list[Cell]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    suspend = spec.get("suspend")
    last = status.get("lastScheduleTime")
    job_spec = _dig(spec, "jobTemplate", "spec") or {}
    return [
        _dig(obj, "metadata", "name") or "",
        spec.get("schedule") or "",
        spec["timeZone"] if spec.get("timeZone") is not None else "<none>",
        "<unset>" if suspend is None else ("True" if suspend else "False"),
        len(status.get("active") or ()),
        _since(last, now) if last else "<none>",
        _since(_dig(obj, "metadata", "creationTimestamp"), now),
        *_containers_cells(_dig(job_spec, "template", "spec")),
        format_label_selector(job_spec.get("selector")),
    ]


def _load_balancer_ips(obj: Obj) -> str:
    found = set()
    for ing in _dig(obj, "status", "loadBalancer", "ingress") or ():
        if ing.get("ip"):
            found.add(ing["ip"])
        elif ing.get("hostname"):
            found.add(ing["hostname"])
    return ",".join(sorted(found))


def _service_external_ip(obj: Obj) -> str:
    spec = obj.get("spec") or {}
    external = spec.get("externalIPs") or []
    kind = spec.get("type") or ""
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if kind == "LoadBalancer":
        lb = _load_balancer_ips(obj)  # the server renders wide, so no 16-character clipping
        if external:
            return ",".join([*(lb.split(",") if lb else []), *external])
        return lb or "<pending>"
    if kind == "ExternalName":
        return str(spec.get("externalName") or "")
    return "<unknown>"


def _service_row(obj: Obj, now: float) -> list[Cell]:
    spec = obj.get("spec") or {}
    ips = spec.get("clusterIPs") or ()
    ports = []
    for p in spec.get("ports") or ():
        proto = p.get("protocol") or ""
        node_port = p.get("nodePort") or 0
        ports.append(f"{p.get('port')}:{node_port}/{proto}" if node_port > 0 else f"{p.get('port')}/{proto}")
    return [
        _dig(obj, "metadata", "name") or "",
        spec.get("type") or "",
        ips[0] if ips else "<none>",
        _service_external_ip(obj),
        ",".join(ports) or "<none>",
        _since(_dig(obj, "metadata", "creationTimestamp"), now),
        format_labels(spec.get("selector")),
    ]


def format_endpoints(obj: Obj) -> str:
    """`formatEndpoints`: up to three `ip:port` entries, then `+ N more...`; `<none>` without subsets."""
    subsets = obj.get("subsets") or ()
    if not subsets:
        return "<none>"
    listed: list[str] = []
    more = False
    count = 0
    for ss in subsets:
        addresses = ss.get("addresses") or ()
        ports = ss.get("ports") or ()
        if not ports:
            count += len(addresses)
            for addr in addresses:
                if len(listed) == 3:
                    more = True
                    break
                listed.append(addr.get("ip", ""))
            continue
        for port in ports:
            count += len(addresses)
            for addr in addresses:
                if len(listed) == 3:
                    more = True
                    break
                listed.append(_join_host_port(addr.get("ip", ""), port.get("port")))
    joined = ",".join(listed)
    return f"{joined} + {count - 3} more..." if more else joined


def _endpoints_row(obj: Obj, now: float) -> list[Cell]:
    return [
        _dig(obj, "metadata", "name") or "",
        format_endpoints(obj),
        _since(_dig(obj, "metadata", "creationTimestamp"), now),
    ]


def _node_row(obj: Obj, now: float) -> list[Cell]:
    status = obj.get("status") or {}
    states: list[str] = []
    for cond in status.get("conditions") or ():
        if cond.get("type") == "Ready":
            states = ["Ready" if cond.get("status") == "True" else "NotReady"]  # the last Ready condition wins
    if not states:
        states = ["Unknown"]
    if _dig(obj, "spec", "unschedulable"):
        states.append("SchedulingDisabled")
    roles = set()
    for key, value in (_dig(obj, "metadata", "labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/"):
            role = key[len("node-role.kubernetes.io/") :]
            if role:
                roles.add(role)
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    info = status.get("nodeInfo") or {}
    internal = external = "<none>"
    for addr in reversed(status.get("addresses") or ()):  # reversed so the first of each type wins
        if addr.get("type") == "InternalIP":
            internal = addr.get("address", "")
        elif addr.get("type") == "ExternalIP":
            external = addr.get("address", "")
    return [
        _dig(obj, "metadata", "name") or "",
        ",".join(states),
        ",".join(sorted(roles)) or "<none>",
        _since(_dig(obj, "metadata", "creationTimestamp"), now),
        info.get("kubeletVersion") or "",
        internal,
        external,
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _event_row(obj: Obj, now: float) -> list[Cell]:
    first = _since(obj.get("firstTimestamp"), now) if obj.get("firstTimestamp") else _since(obj.get("eventTime"), now)
    last = _since(obj.get("lastTimestamp"), now) if obj.get("lastTimestamp") else first
    count = obj.get("count") or 0
    series = obj.get("series")
    if series is not None:
        last = _since(series.get("lastObservedTime"), now)
        count = series.get("count") or 0
    elif count == 0:
        count = 1  # singleton events written through events.k8s.io carry no count
    involved = obj.get("involvedObject") or {}
    kind = (involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = obj.get("source") or {}
    component = source.get("component") or obj.get("reportingComponent") or ""
    instance = source.get("host") or obj.get("reportingInstance") or ""
    return [
        last,
        obj.get("type") or "",
        obj.get("reason") or "",
        target,
        involved.get("fieldPath") or "",
        f"{component}, {instance}" if instance else component,
        (obj.get("message") or "").strip(),
        first,
        count,
        _dig(obj, "metadata", "name") or "",
    ]


def _namespace_row(obj: Obj, now: float) -> list[Cell]:
    return [
        _dig(obj, "metadata", "name") or "",
        _dig(obj, "status", "phase") or "",
        _since(_dig(obj, "metadata", "creationTimestamp"), now),
    ]


def _secret_row(obj: Obj, now: float) -> list[Cell]:
    return [
        _dig(obj, "metadata", "name") or "",
        obj.get("type") or "",
        len(obj.get("data") or ()),
        _since(_dig(obj, "metadata", "creationTimestamp"), now),
    ]


def _configmap_row(obj: Obj, now: float) -> list[Cell]:
    return [
        _dig(obj, "metadata", "name") or "",
        len(obj.get("data") or ()) + len(obj.get("binaryData") or ()),
        _since(_dig(obj, "metadata", "creationTimestamp"), now),
    ]


def _serviceaccount_row(obj: Obj, now: float) -> list[Cell]:
    return [
        _dig(obj, "metadata", "name") or "",
        len(obj.get("secrets") or ()),
        _since(_dig(obj, "metadata", "creationTimestamp"), now),
    ]


def _pvc_row(obj: Obj, now: float) -> list[Cell]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    phase = "Terminating" if _dig(obj, "metadata", "deletionTimestamp") else (status.get("phase") or "")
    volume = spec.get("volumeName") or ""
    capacity = modes = ""
    if volume:
        capacity = str((status.get("capacity") or {}).get("storage") or "0")
        modes = _access_modes(status.get("accessModes"))
    annotations = _dig(obj, "metadata", "annotations") or {}
    storage_class = annotations.get("volume.beta.kubernetes.io/storage-class") or spec.get("storageClassName") or ""
    vac = spec.get("volumeAttributesClassName")
    return [
        _dig(obj, "metadata", "name") or "",
        phase,
        volume,
        capacity,
        modes,
        storage_class,
        vac if vac is not None else "<unset>",
        _since(_dig(obj, "metadata", "creationTimestamp"), now),
        spec["volumeMode"] if spec.get("volumeMode") is not None else "<unset>",
    ]


_ROWS: dict[str, RowFn] = {
    "Pod": _pod_row,
    "Deployment": _deployment_row,
    "ReplicaSet": _replicaset_row,
    "StatefulSet": _statefulset_row,
    "Job": _job_row,
    "CronJob": _cronjob_row,
    "Service": _service_row,
    "Endpoints": _endpoints_row,
    "Node": _node_row,
    "Event": _event_row,
    "Namespace": _namespace_row,
    "Secret": _secret_row,
    "ConfigMap": _configmap_row,
    "ServiceAccount": _serviceaccount_row,
    "PersistentVolumeClaim": _pvc_row,
}

_POD_SUCCEEDED = [
    {"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}
]
_POD_FAILED = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]


def row_cells(rt: ResourceType, obj: Obj, now: datetime) -> list[Cell]:
    """The cells of `obj`'s row, wide cells included, ages measured against `now` (aware UTC)."""
    return _ROWS[rt.kind](obj, now.timestamp())


def partial_object_metadata(obj: Obj) -> dict[str, Any]:
    """The `PartialObjectMetadata` a Table row carries for `includeObject=Metadata`.

    The metadata dict is shared with `obj`, not copied: serialize the result before the store
    changes the object again.
    """
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def table(
    rt: ResourceType,
    objects: Sequence[Obj],
    now: datetime,
    *,
    include_object: str = "Metadata",
    resource_version: str = "",
    continue_token: str = "",
    remaining: int | None = None,
    with_columns: bool = True,
) -> dict[str, Any]:
    """A full `meta.k8s.io/v1` Table of `objects` as the real server returns it for `rt`.

    `include_object` is the request's `includeObject` (`Metadata`, the default, `Object` or
    `None`); an unknown value raises ValueError with the server's 400 message. Without
    `with_columns` (watch events after the first) `columnDefinitions` is null, as real servers
    send it. With `None` each row's `object` is null. Succeeded and Failed pods carry the row
    `conditions` kubectl uses to mark completed pods.
    """
    if include_object in ("Metadata", ""):
        wrap: Callable[[Obj], Any] = partial_object_metadata
    elif include_object == "Object":
        wrap = _same
    elif include_object == "None":
        wrap = _nothing
    else:
        raise ValueError(f'unrecognized includeObject value: "{include_object}"')
    row_fn = _ROWS[rt.kind]
    at = now.timestamp()
    is_pod = rt.kind == "Pod"
    rows: list[dict[str, Any]] = []
    append = rows.append
    for obj in objects:
        row: dict[str, Any] = {"cells": row_fn(obj, at)}
        if is_pod:
            phase = _dig(obj, "status", "phase")
            if phase == "Succeeded":
                row["conditions"] = _POD_SUCCEEDED
            elif phase == "Failed":
                row["conditions"] = _POD_FAILED
        row["object"] = wrap(obj)
        append(row)
    meta: dict[str, Any] = {}
    if resource_version:
        meta["resourceVersion"] = resource_version
    if continue_token:
        meta["continue"] = continue_token
    if remaining is not None:
        meta["remainingItemCount"] = remaining
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": column_definitions(rt) if with_columns else None,
        "rows": rows,
    }


def _same(obj: Obj) -> Obj:
    return obj


def _nothing(obj: Obj) -> None:
    return None
