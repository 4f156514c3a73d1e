"""The sandbox's type tree: field names from the client models, merge metadata from the Go struct tags."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from sandbox import schema

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: default
  labels: {app: api, tier: backend}
  annotations: {deployment.kubernetes.io/revision: "3", example.com/anything: "x"}
spec:
  replicas: 3
  revisionHistoryLimit: 5
  progressDeadlineSeconds: 600
  selector:
    matchLabels: {app: api}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: api}
      annotations: {prometheus.io/scrape: "true"}
    spec:
      serviceAccountName: api
      imagePullSecrets: [{name: regcred}]
      nodeSelector: {cloud.google.com/gke-nodepool: primary-node-pool}
      tolerations: [{key: dedicated, operator: Equal, value: api, effect: NoSchedule}]
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            podAffinityTerm:
              topologyKey: kubernetes.io/hostname
              labelSelector: {matchLabels: {app: api}}
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: topology.kubernetes.io/zone
        whenUnsatisfiable: ScheduleAnyway
        labelSelector: {matchLabels: {app: api}}
      securityContext: {runAsNonRoot: true, runAsUser: 1000, fsGroup: 2000}
      initContainers:
      - name: migrate
        image: us-central1-docker.pkg.dev/coditect-cloud-infra/coditect/backend:v1.0.5-staging
        command: [python, manage.py, migrate]
        envFrom: [{secretRef: {name: api-secrets}}]
      containers:
      - name: api
        image: us-central1-docker.pkg.dev/coditect-cloud-infra/coditect/backend:v1.0.5-staging
        imagePullPolicy: IfNotPresent
        args: ["--port=8000"]
        ports: [{name: http, containerPort: 8000, protocol: TCP}]
        env:
        - {name: DJANGO_SETTINGS_MODULE, value: license_platform.settings.production}
        - name: DJANGO_SECRET_KEY
          valueFrom: {secretKeyRef: {name: api-secrets, key: secret-key}}
        - name: POD_IP
          valueFrom: {fieldRef: {fieldPath: status.podIP}}
        resources:
          requests: {cpu: 250m, memory: 512Mi}
          limits: {cpu: "1", memory: 1Gi}
        readinessProbe:
          httpGet: {path: /healthz, port: http}
          initialDelaySeconds: 5
        livenessProbe:
          tcpSocket: {port: 8000}
        lifecycle:
          preStop: {exec: {command: [sleep, "5"]}}
        volumeMounts:
        - {name: config, mountPath: /etc/app, readOnly: true}
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
      volumes:
      - name: config
        configMap: {name: api-config, items: [{key: settings.yaml, path: settings.yaml}]}
      - name: tmp
        emptyDir: {sizeLimit: 1Gi}
status:
  observedGeneration: 4
  replicas: 3
  readyReplicas: 2
  conditions:
  - type: Available
    status: "True"
    lastUpdateTime: "2024-05-01T10:00:00Z"
    lastTransitionTime: "2024-05-01T10:00:00Z"
    reason: MinimumReplicasAvailable
    message: Deployment has minimum availability.
"""

JOB = """
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: default}
spec:
  backoffLimit: 2
  activeDeadlineSeconds: 600
  ttlSecondsAfterFinished: 3600
  podFailurePolicy:
    rules:
    - action: FailJob
      onExitCodes: {containerName: migrate, operator: In, values: [42]}
  template:
    metadata: {labels: {job: migrate}}
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: backend:v1.0.5
        command: [python, manage.py, migrate]
        env: [{name: DATABASE_URL, valueFrom: {secretKeyRef: {name: db, key: url}}}]
status:
  failed: 1
  startTime: "2024-05-01T10:00:00Z"
  conditions: [{type: Failed, status: "True", reason: BackoffLimitExceeded}]
"""

CRONJOB = """
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: default}
spec:
  schedule: "0 3 * * *"
  timeZone: Etc/UTC
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 3
  startingDeadlineSeconds: 300
  jobTemplate:
    metadata: {labels: {app: nightly}}
    spec:
      backoffLimit: 1
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - {name: report, image: "busybox:1.36", args: [/bin/sh, -c, date], resources: {limits: {cpu: 100m}}}
"""

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: api-7d9c5b8f6d-x2x4q
  namespace: default
  labels: {app: api, pod-template-hash: 7d9c5b8f6d}
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: api-7d9c5b8f6d, uid: 0b8a, controller: true, blockOwnerDeletion: true}
spec:
  nodeName: gke-primary-1
  restartPolicy: Always
  hostAliases: [{ip: 10.0.0.1, hostnames: [db.local]}]
  containers:
  - name: api
    image: backend:v1.0.5
    startupProbe: {exec: {command: ["true"]}, failureThreshold: 3}
  volumes:
  - {name: data, persistentVolumeClaim: {claimName: data}}
  - {name: secret, secret: {secretName: s, defaultMode: 256}}
  - name: token
    projected:
      sources:
      - serviceAccountToken: {path: token, expirationSeconds: 3600}
      - downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}
status:
  phase: Running
  podIP: 10.4.0.12
  podIPs: [{ip: 10.4.0.12}]
  startTime: "2024-05-01T10:00:00Z"
  conditions: [{type: Ready, status: "False", lastTransitionTime: "2024-05-01T10:00:00Z"}]
  containerStatuses:
  - name: api
    ready: false
    restartCount: 4
    image: backend:v1.0.5
    imageID: ""
    started: false
    state: {waiting: {reason: CrashLoopBackOff, message: back-off 40s restarting failed container}}
    lastState: {terminated: {exitCode: 1, reason: Error, startedAt: "2024-05-01T10:00:00Z"}}
"""

SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: api, namespace: default}
spec:
  type: ClusterIP
  selector: {app: api}
  ports:
  - {name: http, port: 80, targetPort: http, protocol: TCP}
  - {name: metrics, port: 9090, targetPort: 9090}
"""

MANIFESTS = {"Deployment": DEPLOYMENT, "Job": JOB, "CronJob": CRONJOB, "Pod": POD, "Service": SERVICE}


def load(text: str) -> dict[str, Any]:
    return yaml.safe_load(text)


def test_served_kinds_map_to_client_models() -> None:
    assert schema.type_of("apps/v1", "Deployment") == "V1Deployment"
    assert schema.type_of("v1", "Event") == "CoreV1Event"
    assert schema.type_of("batch/v1", "CronJobList") == "V1CronJobList"
    assert schema.type_of("example.com/v1", "Widget") is None
    assert schema.type_of("v1", "ReplicationController") is None  # a real kind the sandbox does not serve


@pytest.mark.parametrize(
    ("owner", "name", "merge_key", "strategy", "list_type", "keys"),
    [
        ("V1PodSpec", "containers", "name", "merge", "map", ("name",)),
        ("V1PodSpec", "initContainers", "name", "merge", "map", ("name",)),
        ("V1PodSpec", "ephemeralContainers", "name", "merge", "map", ("name",)),
        ("V1Container", "env", "name", "merge", "map", ("name",)),
        ("V1Container", "envFrom", None, None, "atomic", ()),
        ("V1Container", "ports", "containerPort", "merge", "map", ("containerPort", "protocol")),
        ("V1Container", "volumeMounts", "mountPath", "merge", "map", ("mountPath",)),
        ("V1ServiceSpec", "ports", "port", "merge", "map", ("port", "protocol")),
        ("V1PodSpec", "volumes", "name", "merge,retainKeys", "map", ("name",)),
        ("V1PodSpec", "imagePullSecrets", "name", "merge", "map", ("name",)),
        ("V1PodSpec", "tolerations", None, None, "atomic", ()),
        ("V1PodSpec", "hostAliases", "ip", "merge", "map", ("ip",)),
        ("V1PodSpec", "topologySpreadConstraints", "topologyKey", "merge", "map", ("topologyKey", "whenUnsatisfiable")),
        ("V1PodSpec", "resourceClaims", "name", "merge,retainKeys", "map", ("name",)),
        ("V1PodStatus", "conditions", "type", "merge", "map", ("type",)),
        ("V1DeploymentStatus", "conditions", "type", "merge", "map", ("type",)),
        ("V1JobStatus", "conditions", "type", "merge", "atomic", ()),  # SMP merges, SSA owns it whole
        ("V1ObjectMeta", "ownerReferences", "uid", "merge", "map", ("uid",)),
        ("V1ObjectMeta", "finalizers", None, "merge", "set", ()),
        ("V1ServiceAccount", "secrets", "name", "merge", "map", ("name",)),
        ("V1Endpoints", "subsets", None, None, "atomic", ()),
        ("V1NodeSpec", "taints", None, None, "atomic", ()),
        ("V1NodeStatus", "addresses", "type", "merge", "map", ("type",)),
        ("V1Container", "args", None, None, "atomic", ()),
    ],
)
def test_list_merge_metadata_follows_the_kubernetes_struct_tags(
    owner: str, name: str, merge_key: str | None, strategy: str | None, list_type: str, keys: tuple[str, ...]
) -> None:
    f = schema.field(owner, name)
    assert f is not None and f.shape == "list"
    assert (f.merge_key, f.strategy, f.list_type, f.list_map_keys) == (merge_key, strategy, list_type, keys)


def test_struct_and_map_metadata() -> None:
    assert schema.field("V1DeploymentSpec", "strategy").strategy == "retainKeys"
    assert schema.field("V1DeploymentSpec", "selector").atomic  # LabelSelector is +structType=atomic
    assert schema.field("V1ServiceSpec", "selector").atomic  # +mapType=atomic
    assert not schema.field("V1ObjectMeta", "labels").atomic
    assert schema.field("V1PodSpec", "containers").type_name == "V1Container"


def test_special_scalars_are_recognised() -> None:
    limits = schema.field("V1ResourceRequirements", "limits")
    assert (limits.shape, limits.type_name) == ("map", schema.QUANTITY)
    assert schema.field("V1ServicePort", "targetPort").type_name == schema.INT_OR_STRING
    assert schema.field("CoreV1Event", "eventTime").type_name == schema.MICRO_TIME
    assert schema.field("V1ObjectMeta", "creationTimestamp").type_name == schema.TIME
    assert schema.field("V1ManagedFieldsEntry", "fieldsV1").shape == "any"


def test_openapi_names_follow_the_go_packages() -> None:
    assert schema.openapi_name("V1Deployment") == "io.k8s.api.apps.v1.Deployment"
    assert schema.openapi_name("V1PodTemplateSpec") == "io.k8s.api.core.v1.PodTemplateSpec"
    assert schema.openapi_name("V1ObjectMeta") == "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    assert schema.openapi_name("V1JobTemplateSpec") == "io.k8s.api.batch.v1.JobTemplateSpec"
    assert schema.openapi_name("CoreV1Event") == "io.k8s.api.core.v1.Event"
    assert schema.openapi_name("V1Scale") == "io.k8s.api.autoscaling.v1.Scale"


@pytest.mark.parametrize("kind", sorted(MANIFESTS))
def test_real_manifests_have_no_unknown_fields(kind: str) -> None:
    obj = load(MANIFESTS[kind])
    assert schema.unknown_fields(obj, obj["apiVersion"], obj["kind"]) == []
    assert schema.type_errors(obj, obj["apiVersion"], obj["kind"]) == []


def test_a_typo_in_a_deployment_is_an_unknown_field_with_its_path() -> None:
    obj = load(DEPLOYMENT)
    obj["spec"]["replicass"] = obj["spec"].pop("replicas")
    obj["spec"]["template"]["spec"]["containers"][0]["imagee"] = "x"
    obj["metadata"]["labelz"] = {}
    # in document order, as the decoder meets them
    assert schema.unknown_fields(obj, "apps/v1", "Deployment") == [
        "metadata.labelz",
        "spec.template.spec.containers[0].imagee",
        "spec.replicass",
    ]


def test_open_values_are_not_unknown_fields() -> None:
    obj = load(POD)
    obj["metadata"]["annotations"] = {"anything.example.com/x": "y"}
    obj["metadata"]["managedFields"] = [
        {"manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:x": {}}}}
    ]
    assert schema.unknown_fields(obj, "v1", "Pod") == []
    assert schema.unknown_fields({"spec": {"whatever": 1}}, "example.com/v1", "Widget") == []


def test_wrong_json_types_are_reported_like_the_go_decoder() -> None:
    obj = load(DEPLOYMENT)
    obj["spec"]["replicas"] = "3"
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = 5
    assert schema.type_errors(obj, "apps/v1", "Deployment") == [
        "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32",
        "json: cannot unmarshal number into Go struct field Container.spec.template.spec.containers.image of type string",
    ]
    pod = {"spec": {"containers": "web"}}
    assert schema.type_errors(pod, "v1", "Pod") == [
        "json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type []v1.Container"
    ]


def test_quantities_and_int_or_strings_accept_both_forms() -> None:
    obj = load(DEPLOYMENT)
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["resources"]["limits"]["cpu"] = 2
    container["ports"][0]["containerPort"] = 8000
    container["readinessProbe"]["httpGet"]["port"] = 8000
    assert schema.type_errors(copy.deepcopy(obj), "apps/v1", "Deployment") == []
