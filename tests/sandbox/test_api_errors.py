"""Bad input never crashes the server: every error is a `Status` with the real code, reason and message."""

from __future__ import annotations

import orjson
import pytest

from tests.sandbox.kube import request


def assert_status(body, code: int, reason: str) -> None:
    assert isinstance(body, dict), body
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure"
    assert body["code"] == code and body["reason"] == reason, body


@pytest.fixture
def rs(empty_sandbox):
    return empty_sandbox


def test_malformed_json_is_400(rs):
    code, body = request(rs, "POST", "/api/v1/namespaces/default/configmaps", b'{"metadata": {"name": ')
    assert code == 400
    assert_status(body, 400, "BadRequest")


def test_malformed_yaml_is_400(rs):
    code, body = request(
        rs, "POST", "/api/v1/namespaces/default/configmaps", b"metadata: [unclosed", "application/yaml"
    )
    assert code == 400
    assert_status(body, 400, "BadRequest")


def test_unknown_resource_is_404(rs):
    _, body = request(rs, "GET", "/api/v1/namespaces/default/widgets")
    assert_status(body, 404, "NotFound")
    assert body["message"] == "the server could not find the requested resource"
    _code, body = request(rs, "GET", "/apis/apps/v1/namespaces/default/deployments/nope")
    assert_status(body, 404, "NotFound")
    assert body["message"] == 'deployments.apps "nope" not found'
    assert body["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}


def test_invalid_name_is_422_with_the_rfc1123_message(rs):
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}}
    _code, body = request(rs, "POST", "/api/v1/namespaces/default/configmaps", orjson.dumps(obj))
    assert_status(body, 422, "Invalid")
    assert body["message"] == (
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain '
        "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
        "character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    )
    assert body["details"]["causes"][0]["field"] == "metadata.name"


def test_job_template_change_is_422_field_is_immutable(rs):
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once"},
        "spec": {
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.36"}]}}
        },
    }
    code, _ = request(rs, "POST", "/apis/batch/v1/namespaces/default/jobs", orjson.dumps(job))
    assert code == 201
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:1.37"}]}}}}
    code, body = request(
        rs,
        "PATCH",
        "/apis/batch/v1/namespaces/default/jobs/once",
        orjson.dumps(patch),
        "application/strategic-merge-patch+json",
    )
    assert_status(body, 422, "Invalid")
    assert body["message"].startswith('Job.batch "once" is invalid: spec.template: Invalid value: ')
    assert body["message"].endswith(": field is immutable")


def test_oversized_body_is_413(rs):
    big = (
        b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"k":"'
        + b"x" * (4 * 1024 * 1024)
        + b'"}}'
    )
    _code, body = request(rs, "POST", "/api/v1/namespaces/default/configmaps", big)
    assert_status(body, 413, "RequestEntityTooLarge")


def test_unsupported_patch_type_is_415(rs):
    _code, body = request(rs, "PATCH", "/api/v1/namespaces/default/configmaps/kube-root-ca.crt", b"{}", "text/plain")
    assert_status(body, 415, "UnsupportedMediaType")
    assert "application/strategic-merge-patch+json" in body["message"]


def test_missing_token_is_401(rs):
    _code, body = request(rs, "GET", "/api/v1/pods", token=False)
    assert_status(body, 401, "Unauthorized")


def test_method_not_allowed_is_405(rs):
    _code, body = request(rs, "PUT", "/api/v1/namespaces/default/configmaps", b"{}")
    assert_status(body, 405, "MethodNotAllowed")


def test_create_in_missing_namespace_is_404(rs):
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    _code, body = request(rs, "POST", "/api/v1/namespaces/nowhere/configmaps", orjson.dumps(obj))
    assert_status(body, 404, "NotFound")
    assert body["message"] == 'namespaces "nowhere" not found'


def test_duplicate_is_409_already_exists(rs):
    obj = orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "twice"}})
    assert request(rs, "POST", "/api/v1/namespaces/default/configmaps", obj)[0] == 201
    _code, body = request(rs, "POST", "/api/v1/namespaces/default/configmaps", obj)
    assert_status(body, 409, "AlreadyExists")
    assert body["message"] == 'configmaps "twice" already exists'


def test_forbidden_resource_is_403_in_the_authorizers_words(sandbox_factory, tmp_path):
    from tests.sandbox.kube import Kubectl

    rs = sandbox_factory("empty", forbidden=("secrets",))
    k = Kubectl(rs, tmp_path / "cache")
    out = k("get", "secrets", "-n", "default", check=False)
    assert out.returncode == 1
    assert out.stderr.strip() == (
        'Error from server (Forbidden): secrets is forbidden: User "system:serviceaccount:pitstop:oncall" '
        'cannot list resource "secrets" in API group "" in the namespace "default"'
    )
    assert k("get", "configmaps", "-n", "default").returncode == 0
