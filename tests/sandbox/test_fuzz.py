"""Random paths, methods and bodies: the server answers every one with a Status or a valid object, never a 5xx."""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sandbox.kube import request

PREFIXES = ["/api/v1", "/apis/apps/v1", "/apis/batch/v1", "/apis", "/api", "/apis/nope/v9", "", "/openapi/v3"]
SEGMENTS = [
    "namespaces",
    "default",
    "kube-system",
    "pods",
    "deployments",
    "jobs",
    "configmaps",
    "secrets",
    "nodes",
    "status",
    "scale",
    "log",
    "events",
    "x",
    "..",
    "%00",
    "%C3%9Cn%C3%AFcode",
    "%ff%fe",
    "a" * 300,
    "binding",
    "finalize",
]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
OBJECTISH = st.fixed_dictionaries(
    {
        "apiVersion": st.sampled_from(["v1", "apps/v1", "batch/v1", "x"]),
        "kind": st.sampled_from(["ConfigMap", "Pod", "Deployment", "Job", "Secret", "Nope"]),
        "metadata": st.one_of(JSON, st.fixed_dictionaries({"name": st.text(max_size=12)}, optional={"labels": JSON})),
    },
    optional={"spec": JSON, "data": JSON, "status": JSON},
)
CONTENT_TYPES = [
    "application/json",
    "application/yaml",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
    "application/apply-patch+yaml",
    "text/plain",
    "application/octet-stream",
]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]),
    prefix=st.sampled_from(PREFIXES),
    segments=st.lists(st.sampled_from(SEGMENTS), max_size=6),
    query=st.sampled_from(
        [
            "",
            "?watch=1&timeoutSeconds=1",
            "?dryRun=All",
            "?dryRun=Nope",
            "?limit=abc",
            "?labelSelector=a%20in%20(",
            "?fieldSelector=zz=1",
            "?fieldManager=f&force=true",
            "?continue=garbage",
            "?resourceVersion=1&watch=true&timeoutSeconds=1",
        ]
    ),
    body=st.one_of(st.none(), st.binary(max_size=64), JSON.map(orjson.dumps), OBJECTISH.map(orjson.dumps)),
    content_type=st.sampled_from(CONTENT_TYPES),
)
def test_random_requests_never_break_the_server(empty_sandbox, method, prefix, segments, query, body, content_type):
    path = (prefix + "".join("/" + s for s in segments) or "/") + query
    code, answer = request(empty_sandbox, method, path, body, content_type)
    assert code < 500, (path, answer)
    if code >= 400 and method != "HEAD":
        assert isinstance(answer, dict) and answer.get("kind") == "Status", (path, code, answer)
    alive, version = request(empty_sandbox, "GET", "/version")
    assert alive == 200 and version["major"] == "1"
