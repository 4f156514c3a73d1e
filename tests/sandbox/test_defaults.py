"""Defaulting: objects read back from the sandbox carry exactly what a real 1.32 server fills in."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sandbox.defaults import apply_defaults, image_pull_policy, qos_class
from sandbox.resources import by_kind

UID = "9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"

CONTAINER_DEFAULTS = {
    "imagePullPolicy": "IfNotPresent",
    "resources": {},
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
}
POD_SPEC_DEFAULTS = {
    "dnsPolicy": "ClusterFirst",
    "restartPolicy": "Always",
    "schedulerName": "default-scheduler",
    "securityContext": {},
    "terminationGracePeriodSeconds": 30,
}


def defaulted(api_version: str, kind: str, obj: dict[str, Any], *, create: bool = True) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    apply_defaults(by_kind(api_version, kind), obj, create=create)
    return obj


def test_minimal_deployment_gets_the_real_defaults() -> None:
    d = defaulted(
        "apps/v1",
        "Deployment",
        {
            "metadata": {"name": "coditect-docs", "namespace": "coditect-staging"},
            "spec": {
                "selector": {"matchLabels": {"app": "docs"}},
                "template": {
                    "metadata": {"labels": {"app": "docs"}},
                    "spec": {"containers": [{"name": "docs", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]},
                },
            },
        },
    )
    assert d["spec"] == {
        "progressDeadlineSeconds": 600,
        "replicas": 1,
        "revisionHistoryLimit": 10,
        "selector": {"matchLabels": {"app": "docs"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        "template": {
            "metadata": {"creationTimestamp": None, "labels": {"app": "docs"}},
            "spec": {
                "containers": [
                    {
                        "name": "docs",
                        "image": "nginx:1.27",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        **CONTAINER_DEFAULTS,
                    }
                ],
                **POD_SPEC_DEFAULTS,
            },
        },
    }
    assert d["metadata"] == {"name": "coditect-docs", "namespace": "coditect-staging"}


def test_minimal_job_gets_the_real_defaults_and_a_generated_selector() -> None:
    j = defaulted(
        "batch/v1",
        "Job",
        {
            "metadata": {"name": "coditect-backend-migration", "namespace": "coditect-staging", "uid": UID},
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "migrate", "image": "backend:v1.0.5-staging"}],
                    }
                }
            },
        },
    )
    generated = {
        "batch.kubernetes.io/controller-uid": UID,
        "batch.kubernetes.io/job-name": "coditect-backend-migration",
        "controller-uid": UID,
        "job-name": "coditect-backend-migration",
    }
    assert j["spec"] == {
        "backoffLimit": 6,
        "completionMode": "NonIndexed",
        "completions": 1,
        "manualSelector": False,
        "parallelism": 1,
        "podReplacementPolicy": "TerminatingOrFailed",
        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": UID}},
        "suspend": False,
        "template": {
            "metadata": {"creationTimestamp": None, "labels": generated},
            "spec": {
                "containers": [{"name": "migrate", "image": "backend:v1.0.5-staging", **CONTAINER_DEFAULTS}],
                **POD_SPEC_DEFAULTS,
                "restartPolicy": "Never",
            },
        },
    }
    # read back from storage, a Job without labels of its own carries its template's
    assert j["metadata"]["labels"] == generated


def test_job_keeps_its_own_labels_and_a_manual_selector() -> None:
    j = defaulted(
        "batch/v1",
        "Job",
        {
            "metadata": {"name": "j", "uid": UID, "labels": {"team": "data"}},
            "spec": {
                "manualSelector": True,
                "selector": {"matchLabels": {"app": "j"}},
                "parallelism": 3,
                "template": {
                    "metadata": {"labels": {"app": "j"}},
                    "spec": {"containers": [{"name": "a", "image": "b"}]},
                },
            },
        },
    )
    assert j["metadata"]["labels"] == {"team": "data"}
    assert j["spec"]["selector"] == {"matchLabels": {"app": "j"}}
    assert j["spec"]["template"]["metadata"]["labels"] == {"app": "j"}
    assert "completions" not in j["spec"] and j["spec"]["parallelism"] == 3


def test_new_pod_gets_admission_fill_ins() -> None:
    pod = defaulted(
        "v1",
        "Pod",
        {
            "metadata": {"name": "web", "namespace": "shop", "uid": UID},
            "spec": {
                "containers": [
                    {"name": "web", "image": "nginx", "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}}}
                ]
            },
        },
    )
    spec = pod["spec"]
    container = spec["containers"][0]
    assert container["imagePullPolicy"] == "Always"
    assert container["resources"] == {
        "limits": {"cpu": "500m", "memory": "1Gi"},
        "requests": {"cpu": "500m", "memory": "1Gi"},
    }
    assert spec["serviceAccountName"] == spec["serviceAccount"] == "default"
    assert spec["enableServiceLinks"] is True
    assert spec["priority"] == 0 and spec["preemptionPolicy"] == "PreemptLowerPriority"
    assert spec["tolerations"] == [
        {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
        {
            "effect": "NoExecute",
            "key": "node.kubernetes.io/unreachable",
            "operator": "Exists",
            "tolerationSeconds": 300,
        },
    ]
    volume = spec["volumes"][0]
    assert volume["name"].startswith("kube-api-access-") and len(volume["name"]) == len("kube-api-access-") + 5
    assert volume["projected"]["sources"][0] == {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
    assert container["volumeMounts"] == [
        {"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": volume["name"], "readOnly": True}
    ]
    assert pod["status"] == {"phase": "Pending", "qosClass": "Guaranteed"}
    assert defaulted("v1", "Pod", pod) == pod  # idempotent


def test_pod_update_defaulting_skips_create_only_fill_ins() -> None:
    pod = defaulted(
        "v1", "Pod", {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "b:1"}]}}, create=False
    )
    assert "tolerations" not in pod["spec"] and "volumes" not in pod["spec"] and "status" not in pod
    assert pod["spec"]["enableServiceLinks"] is True


def test_tolerations_already_present_are_not_duplicated() -> None:
    spec = {
        "tolerations": [{"operator": "Exists"}],
        "automountServiceAccountToken": False,
        "containers": [{"name": "a", "image": "b"}],
    }
    pod = defaulted("v1", "Pod", {"metadata": {"name": "p"}, "spec": spec})
    assert pod["spec"]["tolerations"] == [{"operator": "Exists"}]
    assert "volumes" not in pod["spec"]


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("localhost:5000/app", "Always"),
        ("localhost:5000/app:v1", "IfNotPresent"),
        ("gcr.io/x/app@sha256:" + "a" * 64, "IfNotPresent"),
        ("gcr.io/x/app:latest@sha256:" + "a" * 64, "Always"),
        ("us-central1-docker.pkg.dev/coditect-cloud-infra/coditect/backend:v1.0.5-staging", "IfNotPresent"),
        ("", "IfNotPresent"),
        ("Nginx", "IfNotPresent"),
    ],
)
def test_image_pull_policy(image: str, policy: str) -> None:
    assert image_pull_policy(image) == policy


def test_qos_classes() -> None:
    def spec(resources: dict[str, Any]) -> dict[str, Any]:
        return {"containers": [{"name": "a", "resources": resources}]}

    assert qos_class(spec({})) == "BestEffort"
    assert qos_class(spec({"requests": {"cpu": "100m"}})) == "Burstable"
    both = {"cpu": "1", "memory": "1Gi"}
    assert qos_class(spec({"requests": both, "limits": both})) == "Guaranteed"
    assert qos_class(spec({"requests": {"cpu": "1000m", "memory": "1024Mi"}, "limits": both})) == "Guaranteed"


def test_statefulset_defaults() -> None:
    sts = defaulted(
        "apps/v1",
        "StatefulSet",
        {
            "metadata": {"name": "db"},
            "spec": {
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "template": {
                    "metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{"name": "pg", "image": "pg:16"}]},
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1.5Gi"}}},
                    }
                ],
            },
        },
    )
    spec = sts["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert spec["replicas"] == 1 and spec["revisionHistoryLimit"] == 10
    claim = spec["volumeClaimTemplates"][0]
    assert claim["spec"]["volumeMode"] == "Filesystem"
    assert claim["spec"]["resources"]["requests"]["storage"] == "1536Mi"
    assert claim["status"] == {"phase": "Pending"}


def test_cronjob_defaults_do_not_default_the_job_spec() -> None:
    cron = defaulted(
        "batch/v1",
        "CronJob",
        {
            "metadata": {"name": "coditect-nightly-report"},
            "spec": {
                "schedule": "0 3 * * *",
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {"restartPolicy": "OnFailure", "containers": [{"name": "r", "image": "r:1"}]}
                        }
                    }
                },
            },
        },
    )
    spec = cron["spec"]
    assert {
        k: spec[k] for k in ("concurrencyPolicy", "suspend", "successfulJobsHistoryLimit", "failedJobsHistoryLimit")
    } == {
        "concurrencyPolicy": "Allow",
        "suspend": False,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 1,
    }
    job_template = spec["jobTemplate"]
    assert job_template["metadata"] == {"creationTimestamp": None}
    assert set(job_template["spec"]) == {"template"}
    assert job_template["spec"]["template"]["spec"]["schedulerName"] == "default-scheduler"


def test_service_defaults() -> None:
    svc = defaulted(
        "v1",
        "Service",
        {
            "metadata": {"name": "redis"},
            "spec": {"selector": {"app": "redis"}, "clusterIP": "10.96.0.12", "ports": [{"port": 6379}]},
        },
    )
    assert svc["spec"] == {
        "selector": {"app": "redis"},
        "clusterIP": "10.96.0.12",
        "clusterIPs": ["10.96.0.12"],
        "ports": [{"port": 6379, "protocol": "TCP", "targetPort": 6379}],
        "sessionAffinity": "None",
        "type": "ClusterIP",
        "internalTrafficPolicy": "Cluster",
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
    }
    lb = defaulted(
        "v1", "Service", {"metadata": {"name": "web"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}
    )
    assert lb["spec"]["externalTrafficPolicy"] == "Cluster"
    assert lb["spec"]["allocateLoadBalancerNodePorts"] is True


def test_secret_namespace_pvc_and_endpoints_defaults() -> None:
    secret = defaulted("v1", "Secret", {"metadata": {"name": "s"}, "data": {"a": "YQ=="}, "stringData": {"b": "hello"}})
    assert secret == {"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "YQ==", "b": "aGVsbG8="}}
    ns = defaulted("v1", "Namespace", {"metadata": {"name": "coditect-staging"}})
    assert ns == {
        "metadata": {"name": "coditect-staging", "labels": {"kubernetes.io/metadata.name": "coditect-staging"}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }
    pvc = defaulted(
        "v1",
        "PersistentVolumeClaim",
        {"metadata": {"name": "d"}, "spec": {"resources": {"requests": {"storage": "1000Mi"}}}},
    )
    assert pvc["spec"]["volumeMode"] == "Filesystem" and pvc["status"] == {"phase": "Pending"}
    ep = defaulted("v1", "Endpoints", {"metadata": {"name": "e"}, "subsets": [{"ports": [{"port": 80}]}]})
    assert ep["subsets"][0]["ports"] == [{"port": 80, "protocol": "TCP"}]


def test_quantities_are_stored_in_canonical_form() -> None:
    d = defaulted(
        "apps/v1",
        "Deployment",
        {
            "metadata": {"name": "w"},
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "a",
                                "image": "b",
                                "resources": {"requests": {"cpu": "0.5", "memory": "1.5Gi"}, "limits": {"cpu": 2}},
                            }
                        ]
                    }
                }
            },
        },
    )
    resources = d["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources == {"requests": {"cpu": "500m", "memory": "1536Mi"}, "limits": {"cpu": "2"}}


def test_probe_and_volume_defaults() -> None:
    d = defaulted(
        "apps/v1",
        "Deployment",
        {
            "metadata": {"name": "w"},
            "spec": {
                "template": {
                    "spec": {
                        "volumes": [{"name": "cfg", "configMap": {"name": "c"}}, {"name": "scratch"}],
                        "containers": [{"name": "a", "image": "b", "readinessProbe": {"httpGet": {"port": 8080}}}],
                    }
                }
            },
        },
    )
    spec = d["spec"]["template"]["spec"]
    assert spec["volumes"] == [
        {"name": "cfg", "configMap": {"name": "c", "defaultMode": 420}},
        {"name": "scratch", "emptyDir": {}},
    ]
    assert spec["containers"][0]["readinessProbe"] == {
        "httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
