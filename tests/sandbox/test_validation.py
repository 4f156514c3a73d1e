"""422 and 400 answers: the sandbox must refuse what a real API server refuses, in its words."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from sandbox.defaults import apply_defaults
from sandbox.errors import Cause, invalid
from sandbox.resources import by_kind
from sandbox.validation import (
    canonical_quantity,
    decode_error,
    format_quantity,
    parse,
    parse_quantity,
    validate_create,
    validate_name,
    validate_update,
)

POD = by_kind("v1", "Pod")
SERVICE = by_kind("v1", "Service")
NAMESPACE = by_kind("v1", "Namespace")
SECRET = by_kind("v1", "Secret")
CONFIGMAP = by_kind("v1", "ConfigMap")
DEPLOYMENT = by_kind("apps/v1", "Deployment")
STATEFULSET = by_kind("apps/v1", "StatefulSet")
JOB = by_kind("batch/v1", "Job")
CRONJOB = by_kind("batch/v1", "CronJob")

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def messages(causes: list[Cause]) -> list[str]:
    return [f"{c.field}: {c.message}" for c in causes]


def created(rt: Any, obj: dict[str, Any]) -> list[str]:
    obj = copy.deepcopy(obj)
    apply_defaults(rt, obj)
    return messages(validate_create(rt, obj))


def deployment(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "coditect-worker", "namespace": "coditect-staging"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "worker"}},
            "template": {
                "metadata": {"labels": {"app": "worker"}},
                "spec": {"containers": [{"name": "worker", "image": "backend:v1.0.5-staging"}]},
            },
        },
    }
    base["spec"].update(spec)
    return base


def job(uid: str = "3c2f6a4e-1b1d-4c55-9d0c-7e1f2a3b4c5d", **spec: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "coditect-backend-migration", "namespace": "coditect-staging", "uid": uid},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "migrate", "image": "backend:v1.0.5-staging", "command": ["migrate"]}],
                }
            }
        },
    }
    obj["spec"].update(spec)
    apply_defaults(JOB, obj)
    return obj


def test_bad_pod_name_gets_the_real_subdomain_message() -> None:
    causes = validate_name(POD, "Foo_bar")
    assert messages(causes) == [f'metadata.name: Invalid value: "Foo_bar": {SUBDOMAIN_MSG}']
    assert causes[0].reason == "FieldValueInvalid"
    error = invalid(POD, "Foo_bar", causes)
    assert error.message == f'Pod "Foo_bar" is invalid: metadata.name: Invalid value: "Foo_bar": {SUBDOMAIN_MSG}'
    assert error.status()["details"]["causes"][0]["field"] == "metadata.name"


def test_namespace_and_statefulset_names_are_labels_and_services_rfc1035() -> None:
    assert messages(validate_name(NAMESPACE, "team.a")) == [
        'metadata.name: Invalid value: "team.a": must not contain dots'
    ]
    assert messages(validate_name(STATEFULSET, "Db")) == [f'metadata.name: Invalid value: "Db": {LABEL_MSG}']
    assert messages(validate_name(SERVICE, "1redis")) == [
        'metadata.name: Invalid value: "1redis": a DNS-1035 label must consist of lower case alphanumeric characters '
        "or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
        "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
    ]
    assert validate_name(SERVICE, "redis") == []
    assert validate_name(POD, "web.v2") == []


def test_name_length_limits() -> None:
    assert messages(validate_name(POD, "a" * 254))[0].endswith(": must be no more than 253 characters")
    assert validate_name(POD, "a" * 253) == []
    assert messages(validate_name(NAMESPACE, "a" * 64)) == [
        f'metadata.name: Invalid value: "{"a" * 64}": must be no more than 63 characters'
    ]


def test_missing_name_or_generate_name() -> None:
    assert messages(validate_name(POD, "")) == ["metadata.name: Required value: name or generateName is required"]
    assert created(POD, {"metadata": {}, "spec": {"containers": [{"name": "a", "image": "b"}]}}) == [
        "metadata.name: Required value: name or generateName is required"
    ]
    assert (
        created(POD, {"metadata": {"generateName": "web-"}, "spec": {"containers": [{"name": "a", "image": "b"}]}})
        == []
    )


def test_cluster_scoped_kinds_ignore_a_namespace() -> None:
    ns = {"metadata": {"name": "coditect-staging", "namespace": "Not A Namespace"}}
    assert created(NAMESPACE, ns) == []


def test_label_syntax() -> None:
    pod = {
        "metadata": {"name": "p", "labels": {"app": "web", "bad key": "ok", "tier": "-front"}},
        "spec": {"containers": [{"name": "a", "image": "b"}]},
    }
    assert created(POD, pod) == [
        "metadata.labels: Invalid value: \"bad key\": name part must consist of alphanumeric characters, '-', '_' "
        "or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
        "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        'metadata.labels: Invalid value: "-front": a valid label must be an empty string or consist of alphanumeric '
        "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
        "'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    ]


def test_pod_spec_essentials() -> None:
    bad = {
        "metadata": {"name": "p"},
        "spec": {
            "restartPolicy": "Sometimes",
            "containers": [
                {"name": "api"},
                {"name": "api", "image": "x", "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}},
            ],
        },
    }
    assert created(POD, bad) == [
        "spec.containers[0].image: Required value",
        'spec.containers[1].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1',
        'spec.containers[1].name: Duplicate value: "api"',
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
    ]
    assert created(POD, {"metadata": {"name": "p"}, "spec": {}}) == ["spec.containers: Required value"]
    named = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "Web_1", "image": "x"}]}}
    assert created(POD, named) == [f'spec.containers[0].name: Invalid value: "Web_1": {LABEL_MSG}']


def test_secret_key_refs_and_mounts_are_checked() -> None:
    pod = {
        "metadata": {"name": "p"},
        "spec": {
            "containers": [
                {
                    "name": "api",
                    "image": "x",
                    "env": [{"name": "DB", "valueFrom": {"secretKeyRef": {"name": "backend-secrets"}}}],
                    "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}],
                }
            ]
        },
    }
    assert created(POD, pod) == [
        "spec.containers[0].env[0].valueFrom.secretKeyRef.key: Required value",
        'spec.containers[0].volumeMounts[0].name: Not found: "config"',
    ]


def test_deployment_selector_must_match_template_labels() -> None:
    bad = deployment(
        template={"metadata": {"labels": {"app": "frontend"}}, "spec": {"containers": [{"name": "w", "image": "x"}]}}
    )
    assert created(DEPLOYMENT, bad) == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"frontend"}: '
        "`selector` does not match template `labels`"
    ]
    error = invalid(DEPLOYMENT, "coditect-worker", validate_create(DEPLOYMENT, _defaulted(DEPLOYMENT, bad)))
    assert error.message.startswith('Deployment.apps "coditect-worker" is invalid: spec.template.metadata.labels:')


def _defaulted(rt: Any, obj: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    apply_defaults(rt, obj)
    return obj


def test_deployment_selector_required_nonempty_and_replicas_nonnegative() -> None:
    missing = deployment()
    del missing["spec"]["selector"]
    assert created(DEPLOYMENT, missing) == ["spec.selector: Required value"]
    empty = deployment(selector={})
    assert created(DEPLOYMENT, empty) == [
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"
    ]
    assert created(DEPLOYMENT, deployment(replicas=-1)) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
    ]


def test_deployment_template_must_restart_always() -> None:
    d = deployment()
    d["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert created(DEPLOYMENT, d) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'
    ]


def test_job_template_must_not_restart_always() -> None:
    j = job()
    j["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    assert messages(validate_create(JOB, j)) == [
        'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'
    ]
    j["spec"]["template"]["spec"]["restartPolicy"] = "Sometimes"
    assert messages(validate_create(JOB, j)) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", '
        '"Never"',
        'spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: "OnFailure", "Never"',
    ]


def test_defaulted_job_with_generated_selector_is_valid() -> None:
    assert validate_create(JOB, job()) == []


def test_job_with_a_conflicting_generated_label_is_refused() -> None:
    j = job()
    j["spec"]["template"]["metadata"]["labels"]["job-name"] = "other"
    assert messages(validate_create(JOB, j)) == [
        "spec.template.metadata.labels[job-name]: Invalid value: map[string]string{"
        '"batch.kubernetes.io/controller-uid":"3c2f6a4e-1b1d-4c55-9d0c-7e1f2a3b4c5d", '
        '"batch.kubernetes.io/job-name":"coditect-backend-migration", '
        '"controller-uid":"3c2f6a4e-1b1d-4c55-9d0c-7e1f2a3b4c5d", "job-name":"other"}: '
        "must be 'coditect-backend-migration'",
    ]


def test_job_template_is_immutable() -> None:
    old = job()
    fixed = copy.deepcopy(old)
    fixed["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "backend-secrets", "key": "database-password"}}}
    ]
    causes = validate_update(JOB, old, fixed)
    assert len(causes) == 1
    assert causes[0].field == "spec.template"
    assert causes[0].message.startswith(
        "Invalid value: core.PodTemplateSpec{ObjectMeta:v1.ObjectMeta{Labels:map[string]string{"
    )
    assert 'Env:[]core.EnvVar{core.EnvVar{Name:"DB_PASSWORD", ValueFrom:&core.EnvVarSource{' in causes[0].message
    assert causes[0].message.endswith(": field is immutable")
    error = invalid(JOB, "coditect-backend-migration", causes)
    assert error.message.startswith('Job.batch "coditect-backend-migration" is invalid: spec.template: Invalid value: ')


def test_suspended_job_may_change_scheduling_directives_only() -> None:
    old = job(suspend=True)
    moved = copy.deepcopy(old)
    moved["spec"]["template"]["spec"]["nodeSelector"] = {"cloud.google.com/gke-nodepool": "primary-node-pool"}
    assert validate_update(JOB, old, moved) == []
    moved["spec"]["template"]["spec"]["containers"][0]["image"] = "backend:v2"
    assert [c.field for c in validate_update(JOB, old, moved)] == ["spec.template"]
    started = copy.deepcopy(old)
    started["status"] = {"startTime": "2025-03-01T12:00:00Z"}
    moved_again = copy.deepcopy(started)
    moved_again["spec"]["template"]["spec"]["nodeSelector"] = {"pool": "x"}
    assert [c.field for c in validate_update(JOB, started, moved_again)] == ["spec.template"]


def test_job_selector_is_immutable() -> None:
    old = job()
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "migrate"}}
    new["spec"]["template"]["metadata"]["labels"]["app"] = "migrate"
    assert messages(validate_update(JOB, old, new)) == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"migrate"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable",
        "spec.template: " + validate_update(JOB, old, new)[1].message,
    ]


def test_deployment_selector_is_immutable_but_the_template_is_not() -> None:
    old = _defaulted(DEPLOYMENT, deployment())
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["nodeSelector"] = {"cloud.google.com/gke-nodepool": "primary-node-pool"}
    assert validate_update(DEPLOYMENT, old, new) == []
    new["spec"]["selector"] = {"matchLabels": {"app": "worker", "tier": "bg"}}
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "bg"
    error = invalid(DEPLOYMENT, "coditect-worker", validate_update(DEPLOYMENT, old, new))
    assert error.message == (
        'Deployment.apps "coditect-worker" is invalid: spec.selector: Invalid value: v1.LabelSelector{'
        'MatchLabels:map[string]string{"app":"worker", "tier":"bg"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
    )


def test_service_cluster_ip_cannot_change() -> None:
    old = _defaulted(
        SERVICE, {"metadata": {"name": "redis"}, "spec": {"clusterIP": "10.96.0.5", "ports": [{"port": 6379}]}}
    )
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = "10.96.0.6"
    new["spec"]["clusterIPs"] = ["10.96.0.6"]
    assert messages(validate_update(SERVICE, old, new)) == [
        'spec.clusterIPs[0]: Invalid value: []string{"10.96.0.6"}: may not change once set'
    ]
    same = copy.deepcopy(old)
    same["spec"]["ports"][0]["port"] = 6380
    assert validate_update(SERVICE, old, same) == []


def test_service_ports_and_type() -> None:
    svc = {"metadata": {"name": "web"}, "spec": {"type": "Internal", "ports": [{"port": 80}, {"port": 70000}]}}
    assert created(SERVICE, svc) == [
        "spec.ports[0].name: Required value",
        "spec.ports[1].name: Required value",
        "spec.ports[1].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
        "spec.ports[1].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        'spec.type: Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", "LoadBalancer", '
        '"NodePort"',
    ]
    assert created(SERVICE, {"metadata": {"name": "web"}, "spec": {}}) == ["spec.ports: Required value"]


def test_immutable_secret_and_configmap() -> None:
    old = {"metadata": {"name": "frozen"}, "type": "Opaque", "immutable": True, "data": {"API_KEY": "djE="}}
    new = copy.deepcopy(old)
    new["data"]["API_KEY"] = "djI="
    assert messages(validate_update(SECRET, old, new)) == [
        "data: Forbidden: field is immutable when `immutable` is set"
    ]
    thawed = copy.deepcopy(old)
    thawed["immutable"] = False
    assert messages(validate_update(SECRET, old, thawed)) == [
        "immutable: Forbidden: field is immutable when `immutable` is set"
    ]
    retyped = copy.deepcopy(old)
    retyped["type"] = "kubernetes.io/basic-auth"
    assert 'type: Invalid value: "kubernetes.io/basic-auth": field is immutable' in messages(
        validate_update(SECRET, old, retyped)
    )
    cm_old = {"metadata": {"name": "c"}, "immutable": True, "data": {"a": "1"}}
    cm_new = {"metadata": {"name": "c"}, "immutable": True, "data": {"a": "2"}}
    assert messages(validate_update(CONFIGMAP, cm_old, cm_new)) == [
        "data: Forbidden: field is immutable when `immutable` is set"
    ]


def test_secret_keys_must_be_config_keys_and_values_base64() -> None:
    secret = {"metadata": {"name": "s"}, "type": "Opaque", "data": {"db password": "eA=="}}
    assert created(SECRET, secret) == [
        'data[db password]: Invalid value: "db password": a valid config key must consist of alphanumeric '
        "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation "
        "is '[-._a-zA-Z0-9]+')"
    ]
    assert decode_error(SECRET, {"data": {"django-secret-key": "not base64!"}}) == (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3'
    )
    assert decode_error(SECRET, {"data": {"k": "YWJjZA=="}}) is None
    assert decode_error(SECRET, {"data": {"k": "YWJjZA"}}) == (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 4'
    )


def test_unparsable_quantity_is_a_400_decode_error() -> None:
    d = deployment()
    d["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"memory": "1.5GB"}}
    assert decode_error(DEPLOYMENT, d) == (
        'Deployment in version "v1" cannot be handled as a Deployment: quantities must match the regular '
        "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )
    d["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"memory": "12Mi3"}}
    assert decode_error(DEPLOYMENT, d) == (
        'Deployment in version "v1" cannot be handled as a Deployment: unable to parse quantity\'s suffix'
    )
    d["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"memory": "1.5Gi", "cpu": 2}}
    assert decode_error(DEPLOYMENT, d) is None


@pytest.mark.parametrize(
    ("text", "value", "stored"),
    [
        ("100m", Decimal("0.1"), "100m"),
        ("1.5Gi", Decimal(1610612736), "1536Mi"),
        ("2e3", Decimal(2000), "2e3"),
        ("512Mi", Decimal(536870912), "512Mi"),
        ("1G", Decimal(10**9), "1G"),
        ("1000m", Decimal(1), "1"),
        ("0.5", Decimal("0.5"), "500m"),
        ("1024Mi", Decimal(2**30), "1Gi"),
        ("100u", Decimal("0.0001"), "1m"),
        ("0", Decimal(0), "0"),
        ("-1", Decimal(-1), "-1"),
        (2, Decimal(2), "2"),
        (0.25, Decimal("0.25"), "250m"),
    ],
)
def test_quantities(text: Any, value: Decimal, stored: str) -> None:
    assert parse_quantity(text) == value
    assert canonical_quantity(text) == stored


def test_bad_quantities_raise_value_error() -> None:
    for bad in ("", "abc", "1.5GB", "1..5", "1 Gi"):
        with pytest.raises(ValueError, match="quantities must match the regular expression"):
            parse_quantity(bad)
    with pytest.raises(ValueError, match="unable to parse quantity's suffix"):
        parse_quantity("1Mk")
    assert parse_quantity("Gi") == 0  # apimachinery accepts a bare suffix as zero; so do we


def test_format_quantity() -> None:
    assert format_quantity(Decimal(3 * 2**30), "BinarySI") == "3Gi"
    assert format_quantity(Decimal(1000), "BinarySI") == "1k"  # below 1024 binary falls back to decimal
    assert format_quantity(Decimal("0.25")) == "250m"
    assert format_quantity(Decimal(1500000)) == "1500k"
    assert format_quantity(Decimal(2500), "DecimalExponent") == "2500"
    assert parse("1.5Gi").format == "BinarySI"


def test_pod_spec_updates_are_limited_to_images() -> None:
    old = _defaulted(
        POD, {"metadata": {"name": "p", "uid": "u"}, "spec": {"containers": [{"name": "a", "image": "x:1"}]}}
    )
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "x:2"
    assert validate_update(POD, old, new) == []
    new["spec"]["containers"][0]["command"] = ["sleep"]
    causes = validate_update(POD, old, new)
    assert [c.field for c in causes] == ["spec"]
    assert causes[0].message.startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
        "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n"
    )


def test_undefaulted_objects_are_not_blamed_for_fields_the_server_defaults() -> None:
    assert validate_create(DEPLOYMENT, deployment()) == []
    raw_job = {
        "metadata": {"name": "j"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "a", "image": "b"}]}}},
    }
    assert validate_create(JOB, raw_job) == []


def test_cronjob_schedule_and_name() -> None:
    cron = {
        "metadata": {"name": "n" * 53},
        "spec": {
            "schedule": "61 * * *",
            "jobTemplate": {
                "spec": {
                    "template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "a", "image": "b"}]}}
                }
            },
        },
    }
    assert created(CRONJOB, cron) == [
        'spec.schedule: Invalid value: "61 * * *": expected exactly 5 fields, found 4: [61 * * *]',
        f'metadata.name: Invalid value: "{"n" * 53}": must be no more than 52 characters',
    ]
    cron["metadata"]["name"] = "nightly"
    cron["spec"]["schedule"] = "61 * * * *"
    assert created(CRONJOB, cron) == [
        'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61'
    ]
    cron["spec"]["schedule"] = "0 3 * * mon-fri"
    assert created(CRONJOB, cron) == []
