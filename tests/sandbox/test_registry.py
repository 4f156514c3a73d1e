"""The sandbox registry: the OCI distribution API per declared host, token auth, and the kubelet's pull verdict."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator

import orjson
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from sandbox.clock import Clock
from sandbox.registry import (
    MEDIA_INDEX,
    MEDIA_MANIFEST,
    credentials,
    index_digest,
    make_registry_app,
    pull_result,
)
from sandbox.scenario import Registries, RegistryHost

AR = "us-central1-docker.pkg.dev"
FRONTEND = "coditect-cloud-infra/coditect/frontend"
DIGEST = "sha256:" + "ab" * 32

REGISTRIES = Registries(
    default="open",
    hosts={
        AR: RegistryHost(AR, True, {FRONTEND: ("v1.0.5-staging", "v1.0.6-staging")}),
        "gcr.io": RegistryHost("gcr.io", False, {"coditect-cloud-infra/frontend": ("v1.0.5-staging",)}),
        "docker.io": RegistryHost("docker.io", False, {"nginx": ("1.25", "1.26", "1.27", "latest")}),
    },
)


@pytest_asyncio.fixture
async def client() -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_registry_app(REGISTRIES, Clock(speed=10)))) as c:
        yield c


def _errors(body: bytes) -> list[dict[str, object]]:
    errors: list[dict[str, object]] = orjson.loads(body)["errors"]
    return errors


async def _ar_token(client: TestClient, scope: str) -> str:
    user, password = credentials(AR)
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    resp = await client.get(
        f"/{AR}/token", params={"service": AR, "scope": scope}, headers={"Authorization": f"Basic {basic}"}
    )
    assert resp.status == 200
    doc = await resp.json()
    assert doc["expires_in"] == 300 and doc["token"] == doc["access_token"]
    return str(doc["token"])


@pytest.mark.asyncio
async def test_tags_list_pages_with_a_link_that_stays_on_the_host(client: TestClient) -> None:
    root = await client.get("/docker.io/v2/")
    assert root.status == 200 and root.headers["Docker-Distribution-API-Version"] == "registry/2.0"

    everything = await client.get("/docker.io/v2/library/nginx/tags/list")
    assert await everything.json() == {"name": "library/nginx", "tags": ["1.25", "1.26", "1.27", "latest"]}

    first = await client.get("/docker.io/v2/library/nginx/tags/list", params={"n": "2"})
    assert (await first.json())["tags"] == ["1.25", "1.26"]
    link = re.fullmatch(r'<([^>]+)>; rel="next"', first.headers["Link"])
    assert link is not None and link.group(1) == "/docker.io/v2/library/nginx/tags/list?n=2&last=1.26"

    second = await client.get(link.group(1))
    assert (await second.json())["tags"] == ["1.27", "latest"]
    assert "Link" not in second.headers


@pytest.mark.asyncio
async def test_manifest_head_and_get_agree_on_a_content_digest(client: TestClient) -> None:
    url = "/docker.io/v2/library/nginx/manifests/1.27"
    head = await client.head(url, headers={"Accept": f"{MEDIA_INDEX}, {MEDIA_MANIFEST}"})
    assert head.status == 200
    assert head.headers["Content-Type"] == MEDIA_INDEX
    digest = head.headers["Docker-Content-Digest"]

    get = await client.get(url)
    body = await get.read()
    assert "sha256:" + hashlib.sha256(body).hexdigest() == digest
    assert int(head.headers["Content-Length"]) == len(body)
    index = orjson.loads(body)
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64"]

    by_digest = await client.get(f"/docker.io/v2/library/nginx/manifests/{digest}")
    assert await by_digest.read() == body

    # A client that cannot read indexes gets the linux/amd64 image manifest, and its config blob is served.
    single = await client.get(url, headers={"Accept": MEDIA_MANIFEST})
    assert single.headers["Content-Type"] == MEDIA_MANIFEST
    manifest = orjson.loads(await single.read())
    assert single.headers["Docker-Content-Digest"] == index["manifests"][0]["digest"]
    config = await client.get(f"/docker.io/v2/library/nginx/blobs/{manifest['config']['digest']}")
    config_bytes = await config.read()
    assert "sha256:" + hashlib.sha256(config_bytes).hexdigest() == manifest["config"]["digest"]
    assert orjson.loads(config_bytes)["architecture"] == "amd64"


@pytest.mark.asyncio
async def test_unknown_tags_repositories_and_blobs_answer_as_the_spec_says(client: TestClient) -> None:
    tag = await client.get("/gcr.io/v2/coditect-cloud-infra/frontend/manifests/v1.0.6-staging")
    assert tag.status == 404
    assert _errors(await tag.read()) == [
        {"code": "MANIFEST_UNKNOWN", "message": "manifest unknown", "detail": {"Tag": "v1.0.6-staging"}}
    ]

    repo = await client.get("/gcr.io/v2/coditect-cloud-infra/backend/tags/list")
    assert repo.status == 404
    assert _errors(await repo.read())[0]["code"] == "NAME_UNKNOWN"

    blob = await client.get(f"/gcr.io/v2/coditect-cloud-infra/frontend/blobs/{DIGEST}")
    assert blob.status == 404 and _errors(await blob.read())[0]["code"] == "BLOB_UNKNOWN"

    # Docker Hub hides a missing repository behind 401, which containerd reports as "pull access denied".
    hub = await client.get("/docker.io/v2/library/no-such-image/manifests/latest")
    assert hub.status == 401 and _errors(await hub.read())[0]["code"] == "UNAUTHORIZED"


@pytest.mark.asyncio
async def test_auth_host_challenges_and_accepts_a_token_from_its_realm(client: TestClient) -> None:
    url = f"/{AR}/v2/{FRONTEND}/manifests/v1.0.6-staging"
    denied = await client.get(url)
    assert denied.status == 401
    realm = f"http://{client.host}:{client.port}/{AR}/token"
    assert denied.headers["WWW-Authenticate"] == (
        f'Bearer realm="{realm}",service="{AR}",scope="repository:{FRONTEND}:pull"'
    )
    assert _errors(await denied.read())[0]["code"] == "UNAUTHORIZED"

    anonymous = await client.get(f"/{AR}/token", params={"service": AR, "scope": f"repository:{FRONTEND}:pull"})
    assert anonymous.status == 401
    wrong = base64.b64encode(b"_json_key:not-the-password").decode()
    bad = await client.get(f"/{AR}/token", headers={"Authorization": f"Basic {wrong}"})
    assert bad.status == 401

    token = await _ar_token(client, f"repository:{FRONTEND}:pull")
    ok = await client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert ok.status == 200 and ok.headers["Content-Type"] == MEDIA_INDEX

    # A token is for the repositories in its scope only.
    other = await _ar_token(client, "repository:coditect-cloud-infra/coditect/backend:pull")
    scoped = await client.get(url, headers={"Authorization": f"Bearer {other}"})
    assert scoped.status == 401 and 'error="insufficient_scope"' in scoped.headers["WWW-Authenticate"]


@pytest.mark.asyncio
async def test_the_image_pushed_to_artifact_registry_has_the_same_digest_as_on_gcr(client: TestClient) -> None:
    token = await _ar_token(client, f"repository:{FRONTEND}:pull")
    ar = await client.head(
        f"/{AR}/v2/{FRONTEND}/manifests/v1.0.5-staging", headers={"Authorization": f"Bearer {token}"}
    )
    gcr = await client.head("/gcr.io/v2/coditect-cloud-infra/frontend/manifests/v1.0.5-staging")
    newer = await client.head(
        f"/{AR}/v2/{FRONTEND}/manifests/v1.0.6-staging", headers={"Authorization": f"Bearer {token}"}
    )
    assert ar.headers["Docker-Content-Digest"] == gcr.headers["Docker-Content-Digest"]
    assert ar.headers["Docker-Content-Digest"] != newer.headers["Docker-Content-Digest"]
    assert gcr.headers["Docker-Content-Digest"] == index_digest("coditect-cloud-infra/frontend", "v1.0.5-staging")


@pytest.mark.asyncio
async def test_docker_hub_is_also_served_as_registry_1_docker_io(client: TestClient) -> None:
    resp = await client.get("/registry-1.docker.io/v2/library/nginx/tags/list")
    assert (await resp.json())["tags"] == ["1.25", "1.26", "1.27", "latest"]
    unknown = await client.get("/quay.io/v2/")
    assert unknown.status == 404


def test_credentials_are_stable_and_differ_per_host() -> None:
    assert credentials(AR) == credentials(AR)
    assert credentials(AR)[1] != credentials("gcr.io")[1]
    assert credentials("registry-1.docker.io") == credentials("docker.io")


NOT_FOUND = 'rpc error: code = NotFound desc = failed to pull and unpack image "{0}": failed to resolve reference "{0}": {0}: not found'
NO_CREDENTIALS = (
    'rpc error: code = Unknown desc = failed to pull and unpack image "{0}": failed to resolve reference "{0}": '
    "pull access denied, repository does not exist or may require authorization: "
    "authorization failed: no basic auth credentials"
)


@pytest.mark.parametrize(
    ("image", "secrets", "status", "reference", "message"),
    [
        ("nginx", set(), "ok", "docker.io/library/nginx:latest", ""),
        ("docker.io/library/nginx:1.27", set(), "ok", "docker.io/library/nginx:1.27", ""),
        ("nginx:1.99", set(), "not_found", "docker.io/library/nginx:1.99", NOT_FOUND),
        ("gcr.io/a/b:tag", set(), "not_found", "gcr.io/a/b:tag", NOT_FOUND),
        ("quay.io/a/b:tag", set(), "ok", "quay.io/a/b:tag", ""),  # undeclared host, default open
        (f"host:5000/x/y@{DIGEST}", set(), "ok", f"host:5000/x/y@{DIGEST}", ""),
        (f"nginx:1.27@{DIGEST}", set(), "not_found", f"docker.io/library/nginx@{DIGEST}", NOT_FOUND),
        (
            "gcr.io/coditect-cloud-infra/frontend:v1.0.6-staging",
            set(),
            "not_found",
            "gcr.io/coditect-cloud-infra/frontend:v1.0.6-staging",
            NOT_FOUND,
        ),
        (f"{AR}/{FRONTEND}:v1.0.6-staging", set(), "unauthorized", f"{AR}/{FRONTEND}:v1.0.6-staging", NO_CREDENTIALS),
        (f"{AR}/{FRONTEND}:v1.0.6-staging", {f"https://{AR}"}, "ok", f"{AR}/{FRONTEND}:v1.0.6-staging", ""),
        # An uppercase first component is a registry host to distribution/reference, so this is valid.
        ("UPPER/case", set(), "ok", "UPPER/case:latest", ""),
    ],
)
def test_pull_result_parses_references_as_containerd_does(
    image: str, secrets: set[str], status: str, reference: str, message: str
) -> None:
    result = pull_result(REGISTRIES, image, secrets)
    assert (result.status, result.reference) == (status, reference)
    assert result.message == message.format(reference)


@pytest.mark.parametrize(
    ("image", "cause"),
    [
        ("Nginx", "invalid reference format: repository name (library/Nginx) must be lowercase"),
        ("docker.io/UPPER/case", "invalid reference format: repository name (UPPER/case) must be lowercase"),
        ("gcr.io/a/b:", "invalid reference format"),
        ("gcr.io/a/b@sha256:abc", "invalid reference format"),
        ("gcr.io/a/b@sha256:" + "a" * 63 + "A", "invalid checksum digest format"),
        ("a" * 64, f"invalid repository name ({'a' * 64}), cannot specify 64-byte hexadecimal strings"),
    ],
)
def test_invalid_references_get_the_kubelets_inspect_failed_text(image: str, cause: str) -> None:
    result = pull_result(REGISTRIES, image, set())
    assert result.status == "invalid_name"
    assert (
        result.message == f'Failed to apply default image tag "{image}": couldn\'t parse image name "{image}": {cause}'
    )


def test_pull_result_lands_on_the_digest_the_registry_serves() -> None:
    by_tag = pull_result(REGISTRIES, "nginx:1.27", set())
    assert by_tag.resolved_digest == index_digest("library/nginx", "1.27")
    by_digest = pull_result(REGISTRIES, f"nginx@{by_tag.resolved_digest}", set())
    assert (by_digest.status, by_digest.digest, by_digest.tag) == ("ok", by_tag.resolved_digest, None)


def test_closed_default_refuses_undeclared_hosts_and_hub_hides_missing_repositories() -> None:
    closed = Registries("closed", REGISTRIES.hosts)
    assert pull_result(closed, "quay.io/a/b", set()).status == "not_found"
    hub = pull_result(REGISTRIES, "no-such-image", set())
    assert hub.status == "unauthorized"
    assert hub.message.endswith("server message: insufficient_scope: authorization failed")
