"""What the API server fills in on create and update, so stored objects read like a real cluster's.

`apply_defaults(rt, obj)` runs the Kubernetes 1.32 v1 defaulting functions (`SetDefaults_*` of
core, apps and batch) plus the other create-time fill-ins a real server performs before an
object is stored: the Job selector generated from the uid, the ServiceAccount, Priority and
DefaultTolerationSeconds admission plugins on Pods, `status.phase`/`qosClass` of a new Pod,
Service IP families, Namespace finalizers, Secret `stringData` folded into `data`, and the
canonical form of every resource quantity (`1.5Gi` is stored as `1536Mi`).

The store sets `metadata.uid` (and allocates Service cluster IPs) before calling; this module
only mutates the dict it is given and never raises on malformed input (validation reports it).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Callable, MutableMapping
from decimal import Decimal
from typing import Any

from sandbox.resources import ResourceType
from sandbox.validation import canonical_quantity, parse_quantity, resource_lists

Obj = MutableMapping[str, Any]

DEFAULT_TOLERATION_SECONDS = 300
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery's utilrand alphabet: no vowels, no look-alikes


def _child(obj: Obj, key: str) -> Obj:
    """`obj[key]` as a dict, created when absent (or not a dict)."""
    value = obj.get(key)
    if not isinstance(value, MutableMapping):
        value = {}
        obj[key] = value
    return value


def _setdefault(obj: Obj, key: str, value: Any) -> None:
    if obj.get(key) in (None, ""):
        obj[key] = value


# --- pod spec (templates and pods) ------------------------------------------------------------


_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_REF = re.compile(
    rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::(?P<tag>[\w][\w.-]{{0,127}}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?"
)


def image_pull_policy(image: str) -> str:
    """`Always` for `:latest` or untagged images, `IfNotPresent` otherwise.

    Like the kubelet's reference parser: a digest without a tag is not `latest`, and an image
    reference that does not parse (empty, upper case) has no tag at all, so `IfNotPresent`.
    """
    match = _IMAGE_REF.fullmatch(image)
    if match is None:
        return "IfNotPresent"
    tag = match.group("tag") or ("" if match.group("digest") else "latest")
    return "Always" if tag == "latest" else "IfNotPresent"


def _default_probe(probe: Any) -> None:
    if not isinstance(probe, MutableMapping):
        return
    for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1), ("failureThreshold", 3)):
        if not probe.get(key):
            probe[key] = value
    http = probe.get("httpGet")
    if isinstance(http, MutableMapping):
        _setdefault(http, "path", "/")
        _setdefault(http, "scheme", "HTTP")


def _default_container(c: Obj) -> None:
    """SetDefaults_Container plus the declarative port protocol and field-ref defaults."""
    if not c.get("imagePullPolicy"):
        c["imagePullPolicy"] = image_pull_policy(str(c.get("image") or ""))
    _setdefault(c, "terminationMessagePath", "/dev/termination-log")
    _setdefault(c, "terminationMessagePolicy", "File")
    if c.get("resources") is None:
        c["resources"] = {}
    for port in c.get("ports") or ():
        if isinstance(port, MutableMapping):
            _setdefault(port, "protocol", "TCP")
    for var in c.get("env") or ():
        field_ref = ((var or {}).get("valueFrom") or {}).get("fieldRef")
        if isinstance(field_ref, MutableMapping):
            _setdefault(field_ref, "apiVersion", "v1")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(c.get(probe))


def _default_volume(vol: Obj) -> None:
    sources = [k for k in vol if k != "name" and vol[k] is not None]
    if not sources:
        vol["emptyDir"] = {}
    for kind in ("secret", "configMap", "downwardAPI", "projected"):
        source = vol.get(kind)
        if isinstance(source, MutableMapping) and source.get("defaultMode") is None:
            source["defaultMode"] = 420
    projected = vol.get("projected")
    if isinstance(projected, MutableMapping):
        for source in projected.get("sources") or ():
            token = (source or {}).get("serviceAccountToken")
            if isinstance(token, MutableMapping) and token.get("expirationSeconds") is None:
                token["expirationSeconds"] = 3600
    host_path = vol.get("hostPath")
    if isinstance(host_path, MutableMapping) and host_path.get("type") is None:
        host_path["type"] = ""


def default_pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec and its containers/volumes: what every pod template gets.

    Pod-only defaults (service account, priority, tolerations, requests from limits) are not
    applied here: the real server keeps them out of Deployment and Job templates.
    """
    _setdefault(spec, "dnsPolicy", "ClusterFirst")
    _setdefault(spec, "restartPolicy", "Always")
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    _setdefault(spec, "schedulerName", "default-scheduler")
    # the deprecated `serviceAccount` alias fills an empty serviceAccountName, and always mirrors it back
    if not spec.get("serviceAccountName") and spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(group) or ():
            if isinstance(c, MutableMapping):
                _default_container(c)
    for vol in spec.get("volumes") or ():
        if isinstance(vol, MutableMapping):
            _default_volume(vol)


def _default_template(spec: Obj) -> None:
    """A workload's `spec.template`: `creationTimestamp: null` in its metadata, as 1.32 servers write it."""
    template = _child(spec, "template")
    meta = _child(template, "metadata")
    meta.setdefault("creationTimestamp", None)
    default_pod_spec(_child(template, "spec"))


def _suffix_from(seed: str) -> str:
    """Five characters from utilrand's alphabet: derived from `seed` when given, random otherwise."""
    if not seed:
        return "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_NAME_ALPHABET[b % len(_NAME_ALPHABET)] for b in digest[:5])


def _service_account_token(spec: Obj, uid: str) -> None:
    """The ServiceAccount admission plugin: default account and the `kube-api-access-xxxxx` projected volume."""
    _setdefault(spec, "serviceAccountName", "default")
    spec["serviceAccount"] = spec["serviceAccountName"]  # the deprecated alias always mirrors it
    if spec.get("automountServiceAccountToken") is False:
        return
    mount_path = "/var/run/secrets/kubernetes.io/serviceaccount"
    groups = [c for g in ("initContainers", "containers") for c in spec.get(g) or () if isinstance(c, MutableMapping)]
    if any(m.get("mountPath") == mount_path for c in groups for m in c.get("volumeMounts") or ()):
        return
    name = f"kube-api-access-{_suffix_from(uid)}"
    spec.setdefault("volumes", []).append(
        {
            "name": name,
            "projected": {
                "defaultMode": 420,
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
                    {
                        "downwardAPI": {
                            "items": [
                                {
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                    "path": "namespace",
                                }
                            ]
                        }
                    },
                ],
            },
        }
    )
    for c in groups:
        c.setdefault("volumeMounts", []).append({"mountPath": mount_path, "name": name, "readOnly": True})


def _tolerates(tolerations: list[Any], key: str) -> bool:
    """Whether a NoExecute taint `key` is already tolerated (an empty key or effect matches anything)."""
    for t in tolerations:
        if (
            isinstance(t, MutableMapping)
            and t.get("key") in (key, None, "")
            and t.get("effect") in ("NoExecute", None, "")
        ):
            return True
    return False


def _default_tolerations(spec: Obj) -> None:
    """DefaultTolerationSeconds admission: tolerate not-ready and unreachable nodes for 300s."""
    current = spec.get("tolerations")
    tolerations: list[Any] = current if isinstance(current, list) else []
    added = [
        {"effect": "NoExecute", "key": key, "operator": "Exists", "tolerationSeconds": DEFAULT_TOLERATION_SECONDS}
        for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
        if not _tolerates(tolerations, key)
    ]
    if added:
        spec["tolerations"] = [*tolerations, *added]


def qos_class(spec: Obj) -> str:
    """`Guaranteed`, `Burstable` or `BestEffort` from the containers' cpu and memory, as the pod strategy computes it.

    Requests and limits are summed over all containers; Guaranteed needs both cpu and memory
    limits on every container and requests equal to limits.
    """
    requests: dict[str, Decimal] = {}
    limits: dict[str, Decimal] = {}
    guaranteed = True
    for group in ("initContainers", "containers"):
        for c in spec.get(group) or ():
            res = (c or {}).get("resources") or {}
            for name, value in (res.get("requests") or {}).items():
                amount = _amount(value)
                if name in ("cpu", "memory") and amount > 0:
                    requests[name] = requests.get(name, Decimal(0)) + amount
            found = set()
            for name, value in (res.get("limits") or {}).items():
                amount = _amount(value)
                if name in ("cpu", "memory") and amount > 0:
                    found.add(name)
                    limits[name] = limits.get(name, Decimal(0)) + amount
            if not {"cpu", "memory"} <= found:
                guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    matched = all(limits.get(name) == amount for name, amount in requests.items())
    if guaranteed and matched and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


def _amount(value: Any) -> Decimal:
    try:
        return parse_quantity(value)
    except ValueError:
        return Decimal(0)


_SYSTEM_PRIORITIES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}


def _default_pod(obj: Obj, create: bool) -> None:
    spec = _child(obj, "spec")
    default_pod_spec(spec)
    for group in ("initContainers", "containers"):
        for c in spec.get(group) or ():
            res = (c or {}).get("resources") or {}
            limits = res.get("limits")
            if isinstance(limits, MutableMapping) and limits:
                requests = res.setdefault("requests", {})
                for key, value in limits.items():
                    requests.setdefault(key, value)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if not create:
        return
    # admission plugins (ServiceAccount, Priority, DefaultTolerationSeconds) and PrepareForCreate
    _service_account_token(spec, str((obj.get("metadata") or {}).get("uid") or ""))
    if spec.get("priority") is None:
        name = spec.get("priorityClassName") or ""
        if not name or name in _SYSTEM_PRIORITIES:
            spec["priority"] = _SYSTEM_PRIORITIES.get(name, 0)
    _setdefault(spec, "preemptionPolicy", "PreemptLowerPriority")
    _default_tolerations(spec)
    status = _child(obj, "status")
    _setdefault(status, "phase", "Pending")
    _setdefault(status, "qosClass", qos_class(spec))


# --- workloads ----------------------------------------------------------------------------------


def _default_deployment(obj: Obj, create: bool) -> None:
    spec = _child(obj, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = _child(spec, "strategy")
    _setdefault(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _child(strategy, "rollingUpdate")
        if rolling.get("maxUnavailable") is None:
            rolling["maxUnavailable"] = "25%"
        if rolling.get("maxSurge") is None:
            rolling["maxSurge"] = "25%"
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    _default_template(spec)


def _default_replicaset(obj: Obj, create: bool) -> None:
    spec = _child(obj, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    _default_template(spec)


def _default_pvc_spec(spec: Obj) -> None:
    _setdefault(spec, "volumeMode", "Filesystem")


def _default_statefulset(obj: Obj, create: bool) -> None:
    spec = _child(obj, "spec")
    _setdefault(spec, "podManagementPolicy", "OrderedReady")
    strategy = _child(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        strategy.setdefault("rollingUpdate", {})
    rolling = strategy.get("rollingUpdate")
    if strategy["type"] == "RollingUpdate" and isinstance(rolling, MutableMapping) and rolling.get("partition") is None:
        rolling["partition"] = 0
    retention = _child(spec, "persistentVolumeClaimRetentionPolicy")
    _setdefault(retention, "whenDeleted", "Retain")
    _setdefault(retention, "whenScaled", "Retain")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    _default_template(spec)
    for claim in spec.get("volumeClaimTemplates") or ():
        if isinstance(claim, MutableMapping):
            claim.setdefault("apiVersion", "v1")
            claim.setdefault("kind", "PersistentVolumeClaim")
            _child(claim, "metadata").setdefault("creationTimestamp", None)
            _default_pvc_spec(_child(claim, "spec"))
            _setdefault(_child(claim, "status"), "phase", "Pending")


def _generate_job_selector(obj: Obj) -> None:
    """The job strategy's selector generation: uid and name labels on the template, uid in the selector."""
    meta = obj.get("metadata") or {}
    uid, name = str(meta.get("uid") or ""), str(meta.get("name") or "")
    spec = _child(obj, "spec")
    labels = _child(_child(_child(spec, "template"), "metadata"), "labels")
    for key in ("job-name", "batch.kubernetes.io/job-name"):
        labels.setdefault(key, name)
    for key in ("controller-uid", "batch.kubernetes.io/controller-uid"):
        labels.setdefault(key, uid)
    match = _child(_child(spec, "selector"), "matchLabels")
    match.setdefault("batch.kubernetes.io/controller-uid", uid)


def _default_job_spec(spec: Obj) -> None:
    """SetDefaults_Job's spec part (not applied to CronJob job templates, as on real servers)."""
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2**31 - 1 if spec.get("backoffLimitPerIndex") is not None else 6
    _setdefault(spec, "completionMode", "NonIndexed")
    if spec.get("suspend") is None:
        spec["suspend"] = False
    policy = spec.get("podFailurePolicy")
    for rule in (policy or {}).get("rules") or ():
        for pattern in (rule or {}).get("onPodConditions") or ():
            if isinstance(pattern, MutableMapping):
                _setdefault(pattern, "status", "True")
    _setdefault(spec, "podReplacementPolicy", "Failed" if policy is not None else "TerminatingOrFailed")
    if spec.get("manualSelector") is None:
        spec["manualSelector"] = False


def _default_job(obj: Obj, create: bool) -> None:
    spec = _child(obj, "spec")
    if create and not spec.get("manualSelector"):
        _generate_job_selector(obj)
    _default_job_spec(spec)
    _default_template(spec)
    meta = _child(obj, "metadata")
    template_labels = spec["template"]["metadata"].get("labels")
    # defaulting runs again when the stored object is read back, after the selector labels were added
    if template_labels and not meta.get("labels"):
        meta["labels"] = dict(template_labels)


def _default_cronjob(obj: Obj, create: bool) -> None:
    spec = _child(obj, "spec")
    _setdefault(spec, "concurrencyPolicy", "Allow")
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("successfulJobsHistoryLimit") is None:
        spec["successfulJobsHistoryLimit"] = 3
    if spec.get("failedJobsHistoryLimit") is None:
        spec["failedJobsHistoryLimit"] = 1
    job_template = _child(spec, "jobTemplate")
    _child(job_template, "metadata").setdefault("creationTimestamp", None)
    _default_template(_child(job_template, "spec"))


# --- core kinds ---------------------------------------------------------------------------------


def _default_service(obj: Obj, create: bool) -> None:
    spec = _child(obj, "spec")
    _setdefault(spec, "sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        client_ip = _child(_child(spec, "sessionAffinityConfig"), "clientIP")
        if client_ip.get("timeoutSeconds") is None:
            client_ip["timeoutSeconds"] = 10800
    _setdefault(spec, "type", "ClusterIP")
    stype = spec["type"]
    for port in spec.get("ports") or ():
        if not isinstance(port, MutableMapping):
            continue
        _setdefault(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    if stype in ("NodePort", "LoadBalancer"):
        _setdefault(spec, "externalTrafficPolicy", "Cluster")
    if spec.get("internalTrafficPolicy") is None and stype in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec["internalTrafficPolicy"] = "Cluster"
    if stype == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    if stype == "ExternalName":
        return
    if spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    if not spec.get("ipFamilies"):
        spec["ipFamilies"] = ["IPv4"]
    # headless services without a selector ask for every family the cluster has (one, here)
    headless_unselected = spec.get("clusterIP") == "None" and not spec.get("selector")
    _setdefault(spec, "ipFamilyPolicy", "RequireDualStack" if headless_unselected else "SingleStack")


def _default_secret(obj: Obj, create: bool) -> None:
    _setdefault(obj, "type", "Opaque")
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, MutableMapping) and string_data:
        data = _child(obj, "data")
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


DEFAULT_STORAGE_CLASS = "standard-rwo"  # what GKE marks as the default class


def _default_pvc(obj: Obj, create: bool) -> None:
    spec = _child(obj, "spec")
    if create and "storageClassName" not in spec:
        spec["storageClassName"] = DEFAULT_STORAGE_CLASS  # the DefaultStorageClass admission plugin
    _default_pvc_spec(spec)
    _setdefault(_child(obj, "status"), "phase", "Pending")


def _default_namespace(obj: Obj, create: bool) -> None:
    meta = _child(obj, "metadata")
    if meta.get("name"):
        _child(meta, "labels")["kubernetes.io/metadata.name"] = meta["name"]
    spec = _child(obj, "spec")
    if create and not spec.get("finalizers"):
        spec["finalizers"] = ["kubernetes"]
    _setdefault(_child(obj, "status"), "phase", "Active")


def _default_endpoints(obj: Obj, create: bool) -> None:
    for subset in obj.get("subsets") or ():
        for port in (subset or {}).get("ports") or ():
            if isinstance(port, MutableMapping):
                _setdefault(port, "protocol", "TCP")


def _default_node(obj: Obj, create: bool) -> None:
    status = obj.get("status")
    if isinstance(status, MutableMapping) and status.get("allocatable") is None and status.get("capacity") is not None:
        status["allocatable"] = dict(status["capacity"])


_DEFAULTERS: dict[str, Callable[[Obj, bool], None]] = {
    "Pod": _default_pod,
    "Deployment": _default_deployment,
    "ReplicaSet": _default_replicaset,
    "StatefulSet": _default_statefulset,
    "Job": _default_job,
    "CronJob": _default_cronjob,
    "Service": _default_service,
    "Secret": _default_secret,
    "PersistentVolumeClaim": _default_pvc,
    "Namespace": _default_namespace,
    "Endpoints": _default_endpoints,
    "Node": _default_node,
}


def canonicalize_quantities(rt: ResourceType, obj: Obj) -> None:
    """Rewrite every resource quantity of `obj` as the server stores it (`1.5Gi` -> `1536Mi`, `1000m` -> `1`).

    Unparsable values are left alone for `validation.decode_error` to report.
    """
    for _, values in resource_lists(rt, obj):
        if not isinstance(values, MutableMapping):
            continue
        for key, value in values.items():
            try:
                values[key] = canonical_quantity(value)
            except ValueError:
                continue


def apply_defaults(rt: ResourceType, obj: Obj, *, create: bool = True) -> None:
    """Fill in, in place, what a real API server adds to a `rt` object before storing it.

    With `create` (the default) this includes the create-only fill-ins: a Pod's admission
    plugins and initial status, a Job's generated selector, a Namespace's finalizers. With
    `create=False` (updates) only the v1 defaulting functions run, as on a real server.
    Idempotent: it only adds what is missing. A Job needs `metadata.uid` set first.
    """
    defaulter = _DEFAULTERS.get(rt.kind)
    if defaulter is not None:
        defaulter(obj, create)
    canonicalize_quantities(rt, obj)
