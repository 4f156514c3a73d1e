"""Secret values never get past ingestion: only key names and registry hosts survive, wherever a Secret is read."""

from __future__ import annotations

import base64
import json

import orjson
import pytest

from diagnostics.cache import WatchCache, load_snapshot
from diagnostics.kube import KubeClient
from diagnostics.kubeconfig import load
from diagnostics.redact import redact, registry_host
from tests.diagnostics import eventually

NS = "coditect-staging"
SEEDED = "PITSTOP-SEEDED-SECRET"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


DOCKER_CONFIG = {
    "auths": {
        "https://index.docker.io/v1/": {
            "username": "deploy-bot",
            "password": "hunter2-docker",
            "auth": b64("deploy-bot:hunter2-docker"),
        },
        "us-central1-docker.pkg.dev": {
            "username": "_json_key",
            "password": "gcp-key-material",
            "auth": b64("_json_key:gcp-key-material"),
        },
        "Registry.Example.com:5000/v2/": {"auth": b64("ci:registry-token")},
    }
}
DOCKER_SECRET_WORDS = (
    "deploy-bot",
    "hunter2-docker",
    "_json_key",
    "gcp-key-material",
    "registry-token",
    b64("deploy-bot:hunter2-docker"),
    b64("ci:registry-token"),
)


def pull_secret(name: str = "regcred", namespace: str = NS) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": b64(json.dumps(DOCKER_CONFIG))},
    }


def test_a_secret_keeps_only_its_key_names():
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "backend-secrets",
            "namespace": NS,
            "labels": {"app": "backend"},
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": '{"data":{"db-user":"c2VjcmV0"}}',
                "owner": "platform-team",
            },
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:data": {"f:db-user": {}}}}],
        },
        "type": "Opaque",
        "data": {"db-user": b64("admin"), "db-password": b64("s3cret")},
        "stringData": {"db-password": "s3cret", "api-key": "plain-api-key"},
    }
    assert redact(secret) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "backend-secrets",
            "namespace": NS,
            "labels": {"app": "backend"},
            "annotations": {"owner": "platform-team"},
        },
        "type": "Opaque",
        "data": {"db-user": None, "db-password": None, "api-key": None},
    }
    assert secret["data"]["db-user"] == b64("admin")  # the input is not modified


def test_other_kinds_pass_through_uncopied():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "managedFields": []}, "data": {"a": "b"}}
    assert redact(cm) is cm


def test_a_pull_secret_keeps_its_registry_hosts_only():
    out = redact(pull_secret())
    assert out["data"] == {".dockerconfigjson": None}
    assert out["pitstop"] == {
        "registryHosts": ["index.docker.io", "registry.example.com:5000", "us-central1-docker.pkg.dev"]
    }
    text = orjson.dumps(out).decode()
    for word in (*DOCKER_SECRET_WORDS, "auth", "password", "username"):
        assert word not in text
    assert redact(out) == out  # redacting twice changes nothing


def test_legacy_dockercfg_and_broken_configs():
    legacy = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "old"},
        "type": "kubernetes.io/dockercfg",
        "data": {".dockercfg": b64(json.dumps({"quay.io": {"auth": b64("u:p"), "email": "x@example.com"}}))},
    }
    assert redact(legacy)["pitstop"] == {"registryHosts": ["quay.io"]}
    broken = dict(legacy, type="kubernetes.io/dockerconfigjson", data={".dockerconfigjson": "not base64!"})
    assert redact(broken)["pitstop"] == {"registryHosts": []}


@pytest.mark.parametrize(
    ("server", "host"),
    [("https://index.docker.io/v1/", "index.docker.io"), ("GCR.io", "gcr.io"), ("localhost:5000/v2", "localhost:5000")],
)
def test_registry_host(server, host):
    assert registry_host(server) == host


def forbidden_strings(rs) -> list[str]:
    """The demo Secret's values as the sandbox stores them: base64, decoded, and the seeded prefix itself."""
    out = [SEEDED, b64(SEEDED)[:24]]
    for secret in rs.list("v1", "Secret"):
        for value in (secret.get("data") or {}).values():
            out += [value, base64.b64decode(value).decode()]
    return out


async def test_secret_values_never_reach_the_cache_or_any_read(sandbox_factory):
    rs = sandbox_factory("demo", clock_speed=100)
    leaks = forbidden_strings(rs)
    assert any(SEEDED in s for s in leaks[2:])  # the demo really holds seeded values
    events: list[dict] = []
    async with KubeClient(load(str(rs.kubeconfig))) as kube:
        async with WatchCache(kube, namespace=None) as cache:
            assert await cache.synced(10)
            cache.subscribe(lambda kind, event, obj: events.append(obj))
            await kube.create(pull_secret())
            # a value written after the cache started arrives through the watch, and is dropped there too
            await kube.patch(
                "v1", "Secret", NS, "backend-secrets", {"stringData": {"redis-password": f"{SEEDED}-late"}}
            )
            await eventually(
                lambda: (
                    "redis-password" in (cache.snapshot().get("Secret", NS, "backend-secrets") or {}).get("data", {})
                ),
                what="the new key in the cache",
            )
            await eventually(lambda: cache.snapshot().get("Secret", NS, "regcred"), what="the pull secret")
            snap = cache.snapshot()
        loaded = await load_snapshot(kube)
        got = await kube.get("v1", "Secret", NS, "backend-secrets")
        listed, _ = await kube.list("v1", "Secret", NS)
        with pytest.raises(ValueError, match="cannot be written back"):
            await kube.replace(got)
    leaks.append(f"{SEEDED}-late")
    for name, thing in [
        ("cache", list(snap)),
        ("load_snapshot", list(loaded)),
        ("get", got),
        ("list", listed),
        ("events", events),
    ]:
        text = orjson.dumps(thing).decode()
        for leak in leaks:
            assert leak not in text, f"{name} leaks a secret value"
        for word in DOCKER_SECRET_WORDS:
            assert word not in text, f"{name} leaks docker credentials"
    assert snap.get("Secret", NS, "backend-secrets")["data"] == dict.fromkeys(
        ["db-user", "database-password", "db-name", "django-secret-key", "redis-password"]
    )
    assert snap.get("Secret", NS, "regcred")["pitstop"]["registryHosts"] == [
        "index.docker.io",
        "registry.example.com:5000",
        "us-central1-docker.pkg.dev",
    ]
    assert loaded.get("Secret", NS, "regcred")["pitstop"] == snap.get("Secret", NS, "regcred")["pitstop"]
