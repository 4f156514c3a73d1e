"""The type tree of the served kinds, derived from the kubernetes client's models.

Field names and types come from `kubernetes.client.models` (`openapi_types` and
`attribute_map`), so nothing here lists Kubernetes fields by hand. What the models
do not carry is hand-written below: the strategic-merge and server-side-apply
metadata of the Go struct tags (`patchStrategy`, `patchMergeKey`, `+listType`,
`+listMapKey`, `+mapType`, `+structType`), and which strings are really
`Quantity`, which `object`s are `IntOrString` and which times are `MicroTime`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any, Literal

import kubernetes.client.models as _models

from sandbox.resources import RESOURCES

Shape = Literal["scalar", "object", "list", "map", "any"]

# Scalar type names used in `Field.type_name` when the field is not a model.
STRING, INTEGER, NUMBER, BOOLEAN = "string", "integer", "number", "boolean"
TIME, MICRO_TIME, QUANTITY, INT_OR_STRING, ANY = "Time", "MicroTime", "Quantity", "IntOrString", "any"
SCALARS = frozenset({STRING, INTEGER, NUMBER, BOOLEAN, TIME, MICRO_TIME, QUANTITY, INT_OR_STRING})


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a model as the API server sees it.

    `type_name` is the model name (`V1Container`) for objects, and the element or
    value type for lists and maps; scalars use the names in `SCALARS`.
    `list_type` is server-side apply's view of a list (`atomic`, `set`, `map`),
    which can differ from the strategic-merge view (`strategy`/`merge_key`):
    `JobStatus.conditions` merges by `type` under SMP but is atomic under SSA.
    `atomic` says SSA owns the whole value as one leaf (atomic lists, maps, structs).
    """

    json_name: str
    type_name: str
    shape: Shape
    merge_key: str | None = None
    strategy: str | None = None
    list_map_keys: tuple[str, ...] = ()
    list_type: str | None = None
    atomic: bool = False


@dataclass(frozen=True, slots=True)
class _Tag:
    strategy: str | None = None
    merge_key: str | None = None
    list_type: str | None = None
    keys: tuple[str, ...] = ()
    map_type: str | None = None


def _merge(key: str, *keys: str, strategy: str = "merge") -> _Tag:
    return _Tag(strategy, key, "map", keys or (key,))


_ATOMIC = _Tag(list_type="atomic")
_SET = _Tag(list_type="set")
_MERGE_SET = _Tag(strategy="merge", list_type="set")

# The struct tags of k8s.io/api core/v1, apps/v1, batch/v1 and apimachinery meta/v1
# for the types the sandbox serves. Lists absent here are atomic for both SMP
# (replaced) and SSA (owned whole), which is what Kubernetes does for untagged lists.
_CONTAINER_TAGS: dict[str, _Tag] = {
    "args": _ATOMIC,
    "command": _ATOMIC,
    "env": _merge("name"),
    "envFrom": _ATOMIC,
    "ports": _merge("containerPort", "containerPort", "protocol"),
    "resizePolicy": _ATOMIC,
    "restartPolicyRules": _ATOMIC,
    "volumeDevices": _merge("devicePath"),
    "volumeMounts": _merge("mountPath"),
}
_TAGS: dict[tuple[str, str], _Tag] = {
    **{("V1Container", k): v for k, v in _CONTAINER_TAGS.items()},
    **{("V1EphemeralContainer", k): v for k, v in _CONTAINER_TAGS.items()},
    # meta/v1
    ("V1ObjectMeta", "finalizers"): _MERGE_SET,
    ("V1ObjectMeta", "ownerReferences"): _merge("uid"),
    ("V1ObjectMeta", "managedFields"): _ATOMIC,
    ("V1LabelSelector", "matchExpressions"): _ATOMIC,
    ("V1LabelSelectorRequirement", "values"): _ATOMIC,
    ("V1StatusDetails", "causes"): _ATOMIC,
    ("V1DeleteOptions", "dryRun"): _ATOMIC,
    # core/v1: pods
    ("V1PodSpec", "containers"): _merge("name"),
    ("V1PodSpec", "initContainers"): _merge("name"),
    ("V1PodSpec", "ephemeralContainers"): _merge("name"),
    ("V1PodSpec", "imagePullSecrets"): _merge("name"),
    ("V1PodSpec", "hostAliases"): _merge("ip"),
    ("V1PodSpec", "volumes"): _merge("name", strategy="merge,retainKeys"),
    ("V1PodSpec", "resourceClaims"): _merge("name", strategy="merge,retainKeys"),
    ("V1PodSpec", "schedulingGates"): _merge("name"),
    ("V1PodSpec", "topologySpreadConstraints"): _merge("topologyKey", "topologyKey", "whenUnsatisfiable"),
    ("V1PodSpec", "tolerations"): _ATOMIC,
    ("V1PodSpec", "readinessGates"): _ATOMIC,
    ("V1PodSpec", "nodeSelector"): _Tag(map_type="atomic"),
    ("V1PodStatus", "conditions"): _merge("type"),
    ("V1PodStatus", "podIPs"): _merge("ip"),
    ("V1PodStatus", "hostIPs"): _Tag("merge", "ip", "atomic"),
    ("V1PodStatus", "resourceClaimStatuses"): _merge("name", strategy="merge,retainKeys"),
    ("V1PodStatus", "nodeAllocatableResourceClaimStatuses"): _merge("resourceClaimName"),
    ("V1PodStatus", "containerStatuses"): _ATOMIC,
    ("V1PodStatus", "initContainerStatuses"): _ATOMIC,
    ("V1PodStatus", "ephemeralContainerStatuses"): _ATOMIC,
    ("V1ContainerStatus", "volumeMounts"): _merge("mountPath"),
    ("V1ContainerStatus", "allocatedResourcesStatus"): _merge("name"),
    ("V1ContainerRestartRuleOnExitCodes", "values"): _SET,
    ("V1NodeAllocatableResourceClaimStatus", "containers"): _SET,
    ("V1ResourceRequirements", "claims"): _Tag(list_type="map", keys=("name",)),
    ("V1ResourceStatus", "resources"): _Tag(list_type="map", keys=("resourceID",)),
    ("V1PodSecurityContext", "supplementalGroups"): _ATOMIC,
    ("V1PodSecurityContext", "sysctls"): _ATOMIC,
    ("V1LinuxContainerUser", "supplementalGroups"): _ATOMIC,
    ("V1Capabilities", "add"): _ATOMIC,
    ("V1Capabilities", "drop"): _ATOMIC,
    ("V1ExecAction", "command"): _ATOMIC,
    ("V1HTTPGetAction", "httpHeaders"): _ATOMIC,
    ("V1HostAlias", "hostnames"): _ATOMIC,
    ("V1PodDNSConfig", "nameservers"): _ATOMIC,
    ("V1PodDNSConfig", "options"): _ATOMIC,
    ("V1PodDNSConfig", "searches"): _ATOMIC,
    ("V1PodExtendedResourceClaimStatus", "requestMappings"): _ATOMIC,
    ("V1NodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution"): _ATOMIC,
    ("V1NodeSelector", "nodeSelectorTerms"): _ATOMIC,
    ("V1NodeSelectorRequirement", "values"): _ATOMIC,
    ("V1NodeSelectorTerm", "matchExpressions"): _ATOMIC,
    ("V1NodeSelectorTerm", "matchFields"): _ATOMIC,
    ("V1PodAffinity", "preferredDuringSchedulingIgnoredDuringExecution"): _ATOMIC,
    ("V1PodAffinity", "requiredDuringSchedulingIgnoredDuringExecution"): _ATOMIC,
    ("V1PodAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution"): _ATOMIC,
    ("V1PodAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution"): _ATOMIC,
    ("V1PodAffinityTerm", "matchLabelKeys"): _ATOMIC,
    ("V1PodAffinityTerm", "mismatchLabelKeys"): _ATOMIC,
    ("V1PodAffinityTerm", "namespaces"): _ATOMIC,
    ("V1TopologySpreadConstraint", "matchLabelKeys"): _ATOMIC,
    # core/v1: volumes
    ("V1CephFSVolumeSource", "monitors"): _ATOMIC,
    ("V1RBDVolumeSource", "monitors"): _ATOMIC,
    ("V1ISCSIVolumeSource", "portals"): _ATOMIC,
    ("V1FCVolumeSource", "targetWWNs"): _ATOMIC,
    ("V1FCVolumeSource", "wwids"): _ATOMIC,
    ("V1ConfigMapVolumeSource", "items"): _ATOMIC,
    ("V1ConfigMapProjection", "items"): _ATOMIC,
    ("V1SecretVolumeSource", "items"): _ATOMIC,
    ("V1SecretProjection", "items"): _ATOMIC,
    ("V1DownwardAPIVolumeSource", "items"): _ATOMIC,
    ("V1DownwardAPIProjection", "items"): _ATOMIC,
    ("V1ProjectedVolumeSource", "sources"): _ATOMIC,
    # core/v1: other served kinds
    ("V1ServiceSpec", "ports"): _merge("port", "port", "protocol"),
    ("V1ServiceSpec", "selector"): _Tag(map_type="atomic"),
    ("V1ServiceSpec", "clusterIPs"): _ATOMIC,
    ("V1ServiceSpec", "externalIPs"): _ATOMIC,
    ("V1ServiceSpec", "ipFamilies"): _ATOMIC,
    ("V1ServiceSpec", "loadBalancerSourceRanges"): _ATOMIC,
    ("V1ServiceStatus", "conditions"): _merge("type"),
    ("V1LoadBalancerStatus", "ingress"): _ATOMIC,
    ("V1LoadBalancerIngress", "ports"): _ATOMIC,
    ("V1Endpoints", "subsets"): _ATOMIC,
    ("V1EndpointSubset", "addresses"): _ATOMIC,
    ("V1EndpointSubset", "notReadyAddresses"): _ATOMIC,
    ("V1EndpointSubset", "ports"): _ATOMIC,
    ("V1ServiceAccount", "secrets"): _merge("name"),
    ("V1ServiceAccount", "imagePullSecrets"): _ATOMIC,
    ("V1NamespaceSpec", "finalizers"): _ATOMIC,
    ("V1NamespaceStatus", "conditions"): _merge("type"),
    ("V1NodeSpec", "taints"): _ATOMIC,
    ("V1NodeSpec", "podCIDRs"): _MERGE_SET,
    ("V1NodeStatus", "addresses"): _merge("type"),
    ("V1NodeStatus", "conditions"): _merge("type"),
    ("V1NodeStatus", "images"): _ATOMIC,
    ("V1NodeStatus", "volumesAttached"): _ATOMIC,
    ("V1NodeStatus", "volumesInUse"): _ATOMIC,
    ("V1NodeStatus", "runtimeHandlers"): _ATOMIC,
    ("V1NodeStatus", "declaredFeatures"): _ATOMIC,
    ("V1ContainerImage", "names"): _ATOMIC,
    ("V1PersistentVolumeClaimSpec", "accessModes"): _ATOMIC,
    ("V1PersistentVolumeClaimStatus", "accessModes"): _ATOMIC,
    ("V1PersistentVolumeClaimStatus", "conditions"): _merge("type"),
    # apps/v1
    ("V1DeploymentSpec", "strategy"): _Tag(strategy="retainKeys"),
    ("V1DeploymentStatus", "conditions"): _merge("type"),
    ("V1ReplicaSetStatus", "conditions"): _merge("type"),
    ("V1StatefulSetStatus", "conditions"): _merge("type"),
    ("V1StatefulSetSpec", "volumeClaimTemplates"): _ATOMIC,
    # batch/v1
    ("V1JobStatus", "conditions"): _Tag("merge", "type", "atomic"),
    ("V1CronJobStatus", "active"): _ATOMIC,
    ("V1PodFailurePolicy", "rules"): _ATOMIC,
    ("V1PodFailurePolicyRule", "onPodConditions"): _ATOMIC,
    ("V1PodFailurePolicyOnExitCodesRequirement", "values"): _SET,
    ("V1SuccessPolicy", "rules"): _ATOMIC,
    ("V1UncountedTerminatedPods", "failed"): _SET,
    ("V1UncountedTerminatedPods", "succeeded"): _SET,
}

# Structs tagged `+structType=atomic`: SSA owns them whole (`f:selector: {}`).
ATOMIC_STRUCTS = frozenset(
    {
        "V1LabelSelector",
        "V1OwnerReference",
        "V1LocalObjectReference",
        "V1ObjectReference",
        "V1TypedLocalObjectReference",
        "V1ConfigMapKeySelector",
        "V1SecretKeySelector",
        "V1FileKeySelector",
        "V1ObjectFieldSelector",
        "V1ResourceFieldSelector",
        "V1NodeSelector",
        "V1NodeSelectorTerm",
        "V1SecretReference",
        "V1EndpointAddress",
        "CoreV1EndpointPort",
        "V1ScopeSelector",
    }
)

# Where the client's plain `str`/`object`/`datetime` is really a special Kubernetes type.
_QUANTITY_FIELDS = frozenset(
    {
        ("V1ResourceRequirements", "limits"),
        ("V1ResourceRequirements", "requests"),
        ("V1VolumeResourceRequirements", "limits"),
        ("V1VolumeResourceRequirements", "requests"),
        ("V1EmptyDirVolumeSource", "sizeLimit"),
        ("V1ResourceFieldSelector", "divisor"),
        ("V1PodSpec", "overhead"),
        ("V1ContainerStatus", "allocatedResources"),
        ("V1NodeStatus", "allocatable"),
        ("V1NodeStatus", "capacity"),
        ("V1PersistentVolumeClaimStatus", "allocatedResources"),
        ("V1PersistentVolumeClaimStatus", "capacity"),
    }
)
_INT_OR_STRING_FIELDS = frozenset(
    {
        ("V1HTTPGetAction", "port"),
        ("V1TCPSocketAction", "port"),
        ("V1ServicePort", "targetPort"),
        ("V1RollingUpdateDeployment", "maxSurge"),
        ("V1RollingUpdateDeployment", "maxUnavailable"),
        ("V1RollingUpdateStatefulSetStrategy", "maxUnavailable"),
        ("V1RollingUpdateDaemonSet", "maxSurge"),
        ("V1RollingUpdateDaemonSet", "maxUnavailable"),
    }
)
_MICRO_TIME_FIELDS = frozenset({("CoreV1Event", "eventTime"), ("CoreV1EventSeries", "lastObservedTime")})

# Models of apimachinery's meta/v1 package; everything else is named by the group of the kind that uses it.
META_TYPES = frozenset(
    {
        "V1ObjectMeta",
        "V1ListMeta",
        "V1LabelSelector",
        "V1LabelSelectorRequirement",
        "V1OwnerReference",
        "V1ManagedFieldsEntry",
        "V1Condition",
        "V1Status",
        "V1StatusDetails",
        "V1StatusCause",
        "V1DeleteOptions",
        "V1Preconditions",
        "V1WatchEvent",
        "V1APIResource",
        "V1APIResourceList",
        "V1ShardInfo",
    }
)

# Kinds whose model name is not simply `<Version><Kind>`.
_KIND_MODELS = {("v1", "Event"): "CoreV1Event", ("v1", "EventList"): "CoreV1EventList"}
_EXTRA_KINDS = {("autoscaling/v1", "Scale"): "V1Scale"}
# Scalar client type names → ours.
_SCALAR_NAMES = {"str": STRING, "int": INTEGER, "float": NUMBER, "bool": BOOLEAN, "datetime": TIME, "object": ANY}
_MODEL_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")


def _model(name: str) -> Any:
    return getattr(_models, name, None) if _MODEL_NAME.match(name) else None


def is_model(type_name: str) -> bool:
    """True when `type_name` names a client model (an object with declared fields)."""
    return hasattr(_model(type_name), "openapi_types")


def _scalar(owner: str, json_name: str, client_type: str) -> str:
    if (owner, json_name) in _QUANTITY_FIELDS and client_type == "str":
        return QUANTITY
    if (owner, json_name) in _INT_OR_STRING_FIELDS:
        return INT_OR_STRING
    if (owner, json_name) in _MICRO_TIME_FIELDS:
        return MICRO_TIME
    return _SCALAR_NAMES.get(client_type, ANY)


def _element(owner: str, json_name: str, client_type: str) -> str:
    """The element/value type of a list or map; nested containers become `any`."""
    if is_model(client_type):
        return client_type
    if client_type.startswith(("list[", "dict[")):
        return ANY
    return _scalar(owner, json_name, client_type)


def _build_field(owner: str, json_name: str, client_type: str) -> Field:
    tag = _TAGS.get((owner, json_name), _Tag())
    if client_type.startswith("list[") and client_type.endswith("]"):
        element = _element(owner, json_name, client_type[5:-1])
        list_type = tag.list_type
        keys = tag.keys
        if list_type is None:  # how kube-openapi derives SSA list types from patch tags
            merging = tag.strategy in ("merge", "merge,retainKeys")
            list_type = ("map" if tag.merge_key else "set") if merging else "atomic"
            keys = (tag.merge_key,) if tag.merge_key else ()
        return Field(
            json_name,
            element,
            "list",
            tag.merge_key,
            tag.strategy,
            keys if list_type == "map" else (),
            list_type,
            list_type == "atomic",
        )
    if client_type.startswith("dict[str, ") and client_type.endswith("]"):
        element = _element(owner, json_name, client_type[10:-1])
        return Field(json_name, element, "map", strategy=tag.strategy, atomic=tag.map_type == "atomic")
    if is_model(client_type):
        return Field(json_name, client_type, "object", strategy=tag.strategy, atomic=client_type in ATOMIC_STRUCTS)
    scalar = _scalar(owner, json_name, client_type)
    return Field(json_name, scalar, "any" if scalar == ANY else "scalar")


@cache
def fields(type_name: str) -> Mapping[str, Field]:
    """Every field of a model by JSON name, in the client's declaration order; empty for non-models."""
    cls = _model(type_name)
    if not hasattr(cls, "openapi_types"):
        return MappingProxyType({})
    out: dict[str, Field] = {}
    for attr, client_type in cls.openapi_types.items():
        json_name = cls.attribute_map[attr]
        out[json_name] = _build_field(type_name, json_name, client_type)
    return MappingProxyType(out)


def field(type_name: str, json_name: str) -> Field | None:
    """The field `json_name` of model `type_name`, or None if the model does not declare it."""
    return fields(type_name).get(json_name)


def type_of(api_version: str, kind: str) -> str | None:
    """The client model for a served kind (`apps/v1`, `Deployment` → `V1Deployment`); None if not served."""
    extra = _KIND_MODELS.get((api_version, kind)) or _EXTRA_KINDS.get((api_version, kind))
    if extra:
        return extra
    base = kind.removesuffix("List")
    if not any(r.api_version == api_version and r.kind == base for r in RESOURCES):
        return None
    version = api_version.rsplit("/", 1)[-1]
    name = version[:1].upper() + version[1:] + kind
    return name if is_model(name) else None


def model_refs(type_name: str) -> list[str]:
    """The models a model's fields refer to, in field order, without duplicates."""
    out: list[str] = []
    for f in fields(type_name).values():
        if is_model(f.type_name) and f.type_name not in out:
            out.append(f.type_name)
    return out


def closure(roots: Iterable[str]) -> list[str]:
    """`roots` and every model reachable from them, breadth first."""
    seen: dict[str, None] = {}
    queue = [r for r in roots if is_model(r)]
    while queue:
        name = queue.pop(0)
        if name in seen:
            continue
        seen[name] = None
        queue.extend(r for r in model_refs(name) if r not in seen)
    return list(seen)


def _version_prefix(version: str) -> str:
    return version[:1].upper() + version[1:]


@cache
def _packages() -> Mapping[str, str]:
    """Model name → OpenAPI package (`io.k8s.api.apps.v1`); core wins over the group that reaches a type second."""
    out: dict[str, str] = {name: "io.k8s.apimachinery.pkg.apis.meta.v1" for name in META_TYPES}
    by_group: dict[tuple[str, str], list[str]] = {}
    for r in RESOURCES:
        model = type_of(r.api_version, r.kind)
        if model:
            by_group.setdefault((r.group or "core", r.version), []).append(model)
    by_group.setdefault(("core", "v1"), []).append("V1PodTemplate")  # PodTemplateSpec is a core type
    by_group[("autoscaling", "v1")] = ["V1Scale"]
    order = sorted(by_group.items(), key=lambda item: item[0][0] != "core")
    for (group, version), roots in order:
        for name in closure(roots):
            out.setdefault(name, f"io.k8s.api.{group}.{version}")
    return out


def openapi_name(type_name: str) -> str:
    """The OpenAPI definition name of a model (`V1Deployment` → `io.k8s.api.apps.v1.Deployment`)."""
    package = _packages().get(type_name, "io.k8s.api.core.v1")
    short = re.sub(r"^(?:[A-Z][a-z0-9]*?)?V\d+(?:(?:alpha|beta)\d+)?(?=[A-Z])", "", type_name)
    return f"{package}.{short}"


# Scalar names in paths are open: any key is allowed below these.
def _open(f: Field) -> bool:
    return f.shape == "any" or f.type_name == ANY


def unknown_fields(obj: dict[str, Any], api_version: str, kind: str) -> list[str]:
    """JSON paths of fields the schema does not declare, as strict decoding names them.

    Paths look like `spec.template.spec.containers[0].imagee`. Values under
    `object`-typed fields and map values (labels, annotations, data) are open.
    Kinds the sandbox does not know yield no unknown fields.
    """
    root = type_of(api_version, kind)
    if root is None or not isinstance(obj, dict):
        return []
    out: list[str] = []
    _walk_unknown(obj, root, "", out)
    return out


def _walk_unknown(value: Any, type_name: str, path: str, out: list[str]) -> None:
    if not isinstance(value, dict):
        return
    declared = fields(type_name)
    for key, child in value.items():
        here = f"{path}.{key}" if path else key
        f = declared.get(key)
        if f is None:
            out.append(here)
            continue
        if _open(f) or not is_model(f.type_name):
            continue
        if f.shape == "object":
            _walk_unknown(child, f.type_name, here, out)
        elif f.shape == "list" and isinstance(child, list):
            for i, item in enumerate(child):
                _walk_unknown(item, f.type_name, f"{here}[{i}]", out)
        elif f.shape == "map" and isinstance(child, dict):
            for k, item in child.items():
                _walk_unknown(item, f.type_name, f"{here}[{k}]", out)


# Go integer widths; every other client `int` is an int32.
_INT64_FIELDS = frozenset(
    {
        ("V1ObjectMeta", "deletionGracePeriodSeconds"),
        ("V1ObjectMeta", "generation"),
        ("V1Condition", "observedGeneration"),
        ("V1PodSpec", "activeDeadlineSeconds"),
        ("V1PodSpec", "terminationGracePeriodSeconds"),
        ("V1PodStatus", "observedGeneration"),
        ("V1PodCondition", "observedGeneration"),
        ("V1Probe", "terminationGracePeriodSeconds"),
        ("V1PodSecurityContext", "fsGroup"),
        ("V1PodSecurityContext", "runAsGroup"),
        ("V1PodSecurityContext", "runAsUser"),
        ("V1PodSecurityContext", "supplementalGroups"),
        ("V1SecurityContext", "runAsGroup"),
        ("V1SecurityContext", "runAsUser"),
        ("V1LinuxContainerUser", "gid"),
        ("V1LinuxContainerUser", "uid"),
        ("V1LinuxContainerUser", "supplementalGroups"),
        ("V1Toleration", "tolerationSeconds"),
        ("V1SleepAction", "seconds"),
        ("V1ServiceAccountTokenProjection", "expirationSeconds"),
        ("V1ContainerImage", "sizeBytes"),
        ("V1DeploymentStatus", "observedGeneration"),
        ("V1ReplicaSetStatus", "observedGeneration"),
        ("V1StatefulSetStatus", "observedGeneration"),
        ("V1JobSpec", "activeDeadlineSeconds"),
        ("V1CronJobSpec", "startingDeadlineSeconds"),
    }
)
_GO_SCALARS = {
    STRING: "string",
    NUMBER: "float64",
    BOOLEAN: "bool",
    TIME: "v1.Time",
    MICRO_TIME: "v1.MicroTime",
    QUANTITY: "resource.Quantity",
    INT_OR_STRING: "intstr.IntOrString",
}


def integer_format(type_name: str, json_name: str) -> str:
    """`int64` or `int32`: the Go width of an integer field (the client models only say `int`)."""
    return "int64" if (type_name, json_name) in _INT64_FIELDS else "int32"


def _short(type_name: str) -> str:
    return openapi_name(type_name).rsplit(".", 1)[-1]


def _go_type(owner: str, f: Field, *, element: bool = False) -> str:
    """The Go type of a field (or of its element), as Go's json errors name it."""
    if f.shape == "list" and not element:
        return "[]" + _go_type(owner, f, element=True)
    if f.shape == "map" and not element:
        return "v1.ResourceList" if f.type_name == QUANTITY else "map[string]" + _go_type(owner, f, element=True)
    if is_model(f.type_name):
        return f"{openapi_name(f.type_name).rsplit('.', 2)[-2]}.{_short(f.type_name)}"
    if f.type_name == INTEGER:
        return integer_format(owner, f.json_name)
    return _GO_SCALARS.get(f.type_name, "interface {}")


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    kinds: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return kinds.get(type(value), "null")


def _scalar_fits(type_name: str, value: Any) -> bool:
    if type_name in (STRING, TIME, MICRO_TIME):
        return isinstance(value, str)
    if type_name == BOOLEAN:
        return isinstance(value, bool)
    if type_name in (INTEGER, NUMBER, INT_OR_STRING, QUANTITY):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if type_name == INTEGER:
            return ok and float(value).is_integer()
        return ok or (type_name != NUMBER and isinstance(value, str))
    return True


def type_errors(obj: dict[str, Any], api_version: str, kind: str) -> list[str]:
    """Values of the wrong JSON type, worded like Go's decoder.

    `json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32`:
    the struct is the innermost one, the path runs from the root and has no list indices.
    """
    root = type_of(api_version, kind)
    if root is None or not isinstance(obj, dict):
        return []
    out: list[str] = []
    _walk_types(obj, root, "", out)
    return out


def _walk_types(value: dict[str, Any], type_name: str, path: str, out: list[str]) -> None:
    declared = fields(type_name)
    for key, child in value.items():
        f = declared.get(key)
        if f is None or child is None or _open(f):
            continue
        here = f"{path}.{key}" if path else key
        problem = _mismatch(f, child)
        if problem:
            out.append(
                f"json: cannot unmarshal {problem} into Go struct field {_short(type_name)}.{here}"
                f" of type {_go_type(type_name, f)}"
            )
            continue
        _descend_types(type_name, f, child, here, out)


def _mismatch(f: Field, value: Any) -> str | None:
    """The JSON kind that does not fit `f` (`number 1.5` for a non-integer), or None."""
    if f.shape == "list":
        return None if isinstance(value, list) else _json_kind(value)
    if f.shape in ("map", "object"):
        return None if isinstance(value, dict) else _json_kind(value)
    if _scalar_fits(f.type_name, value):
        return None
    if f.type_name == INTEGER and isinstance(value, float):
        return f"number {value:g}"
    return _json_kind(value)


def _descend_types(owner: str, f: Field, value: Any, path: str, out: list[str]) -> None:
    items = value if f.shape == "list" else list(value.values()) if f.shape == "map" else [value]
    for item in items:
        if item is None:
            continue
        if is_model(f.type_name):
            if isinstance(item, dict):
                _walk_types(item, f.type_name, path, out)
            else:
                out.append(
                    f"json: cannot unmarshal {_json_kind(item)} into Go struct field {_short(owner)}.{path}"
                    f" of type {_go_type(owner, f, element=True)}"
                )
        elif f.shape != "object" and not _scalar_fits(f.type_name, item):
            out.append(
                f"json: cannot unmarshal {_json_kind(item)} into Go struct field {_short(owner)}.{path}"
                f" of type {_go_type(owner, f, element=True)}"
            )
