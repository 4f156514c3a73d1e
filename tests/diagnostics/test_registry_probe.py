"""The registry probe against the sandbox's OCI registry: what the image-pull playbook asks, and I5."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest
import pytest_asyncio
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer

from diagnostics.imageref import ImageRef, InvalidReference, parse
from diagnostics.registry import ProbeResult, RegistryProbe, nearest_tags, parse_challenge, sandbox_mirrors
from sandbox.clock import Clock
from sandbox.registry import index_digest, make_registry_app
from sandbox.scenario import RegistryHost, load
from tests.conftest import RunningSandbox

AR = "us-central1-docker.pkg.dev"
FRONTEND_AR = f"{AR}/coditect-cloud-infra/coditect/frontend:v1.0.6-staging"
FRONTEND_GCR = "gcr.io/coditect-cloud-infra/frontend:v1.0.6-staging"
PRIVATE = "private.example.com"


@pytest_asyncio.fixture
async def registry_url() -> AsyncIterator[str]:
    """The demo scenario's registries, plus a private host and Docker Hub, served like the sandbox does."""
    demo = load("demo").registries
    hosts = {
        **demo.hosts,
        PRIVATE: RegistryHost(PRIVATE, True, {"team/api": ("1.0.0",)}),
        "docker.io": RegistryHost("docker.io", False, {"nginx": ("1.25", "1.26", "1.27")}),
    }
    server = TestServer(make_registry_app(replace(demo, hosts=hosts), Clock(speed=10)))
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


@pytest_asyncio.fixture
async def probe(registry_url: str) -> AsyncIterator[RegistryProbe]:
    async with RegistryProbe(sandbox_mirrors(registry_url)) as p:
        yield p


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_an_existing_image_is_found_with_the_digest_its_tag_resolves_to(probe: RegistryProbe) -> None:
    result = await probe.manifest(FRONTEND_AR)
    assert result.status == "found"
    assert result.digest == index_digest("coditect-cloud-infra/coditect/frontend", "v1.0.6-staging")
    assert result.text == str(result) == FRONTEND_AR and result.ref == parse(FRONTEND_AR)

    by_digest = await probe.manifest(ImageRef(AR, "coditect-cloud-infra/coditect/frontend", None, result.digest))
    assert by_digest.status == "found" and by_digest.digest == result.digest


async def test_the_wrong_registry_of_i5_is_not_found_and_the_image_is_found_where_it_was_pushed(
    probe: RegistryProbe,
) -> None:
    missing = await probe.manifest(FRONTEND_GCR)
    assert missing.status == "not_found"
    assert missing.message == (
        f"{FRONTEND_GCR} not found: repository coditect-cloud-infra/frontend does not exist on gcr.io"
    )
    assert "\n" not in missing.message

    elsewhere = await probe.find_elsewhere(FRONTEND_GCR, ["gcr.io", AR, "registry.k8s.io"])
    assert [r.text for r in elsewhere] == [FRONTEND_AR]
    assert elsewhere[0].digest == index_digest("coditect-cloud-infra/frontend", "v1.0.6-staging")  # same build


async def test_sibling_images_suggest_the_path_when_the_registry_hides_its_catalog(registry_url: str) -> None:
    async with RegistryProbe(sandbox_mirrors(registry_url)) as probe:

        async def no_catalog(host: str) -> None:
            return None

        probe.catalog = no_catalog  # type: ignore[method-assign]  # like Artifact Registry, anonymously
        assert await probe.find_elsewhere(FRONTEND_GCR, [AR]) == []
        found = await probe.find_elsewhere(
            FRONTEND_GCR, [AR], siblings=[f"{AR}/coditect-cloud-infra/coditect/backend:v1.0.6-staging"]
        )
        assert [r.text for r in found] == [FRONTEND_AR]


async def test_a_missing_tag_is_not_found_and_the_nearest_existing_tags_are_offered(probe: RegistryProbe) -> None:
    typo = await probe.manifest(f"{AR}/coditect-cloud-infra/coditect/frontend:v1.0.6-stagin")
    assert typo.status == "not_found"
    assert typo.message.endswith("has no tag v1.0.6-stagin")

    tags = await probe.tags(AR, "coditect-cloud-infra/coditect/frontend")
    assert tags == ["v1.0.4-staging", "v1.0.5-staging", "v1.0.6-staging"]
    assert nearest_tags("v1.0.6-stagin", tags) == ["v1.0.6-staging", "v1.0.5-staging", "v1.0.4-staging"]
    assert nearest_tags("v1.0.7-staging", tags) == ["v1.0.6-staging", "v1.0.5-staging", "v1.0.4-staging"]
    assert nearest_tags("v1.0.7-staging", tags, n=1) == probe.nearest_tags("v1.0.7-staging", tags, 1)


def test_nearest_tags_orders_versions_by_distance_and_leaves_out_unrelated_tags() -> None:
    tags = ["latest", "v1.0.10-staging", "v1.0.8-staging", "v1.0.6-staging", "v2.0.0-staging", "sha-4f2a9c1"]
    assert nearest_tags("v1.0.7-staging", tags, n=4) == [
        "v1.0.6-staging",
        "v1.0.8-staging",
        "v1.0.10-staging",
        "v2.0.0-staging",
    ]
    assert nearest_tags("lastest", tags) == ["latest"]
    assert nearest_tags("v1.0.7-staging", []) == []


async def test_tags_follow_link_pagination(probe: RegistryProbe, registry_url: str) -> None:
    async with RegistryProbe(sandbox_mirrors(registry_url)) as fresh:
        original = fresh._get

        async def small_pages(method: str, url: str, host: str, scope: str, accept: str = "") -> object:
            if url.endswith("/tags/list"):
                url += "?n=1"
            return await original(method, url, host, scope, accept)

        fresh._get = small_pages  # type: ignore[assignment,method-assign]
        assert await fresh.tags("docker.io", "library/nginx") == ["1.25", "1.26", "1.27"]
    assert await probe.tags("gcr.io", "coditect-cloud-infra/frontend") is None


async def test_a_private_registry_answers_unauthorized_after_the_anonymous_token_is_refused(
    probe: RegistryProbe,
) -> None:
    result = await probe.manifest(f"{PRIVATE}/team/api:1.0.0")
    assert result.status == "unauthorized"
    assert result.message == (
        f"{PRIVATE} refused anonymous access to team/api (HTTP 401): the repository is private "
        f"(pods need imagePullSecrets for {PRIVATE}) or does not exist"
    )
    assert await probe.tags(PRIVATE, "team/api") is None


async def test_docker_hub_answers_unauthorized_for_a_repository_that_does_not_exist(probe: RegistryProbe) -> None:
    assert (await probe.manifest("nginx:1.27")).status == "found"
    assert (await probe.manifest("docker.io/library/nginx:9.9")).status == "not_found"
    hidden = await probe.manifest("nosuchorg/app:1")
    assert hidden.status == "unauthorized" and hidden.text == "nosuchorg/app:1"


def _token_registry(seen: list[str]) -> web.Application:
    """A registry like Docker Hub or public GCR: every request needs a bearer token, anonymous ones are free."""

    async def v2(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path} {request.headers.get('Authorization', '-')}")
        if request.headers.get("Authorization") != "Bearer anon-token":
            realm = f"http://{request.host}/token"
            scope = "repository:team/web:pull"
            challenge = f'Bearer realm="{realm}",service="registry.test",scope="{scope}"'
            return web.json_response(
                {"errors": [{"code": "UNAUTHORIZED"}]}, status=401, headers={"WWW-Authenticate": challenge}
            )
        return web.Response(headers={"Docker-Content-Digest": "sha256:" + "1" * 64})

    async def token(request: web.Request) -> web.Response:
        seen.append(f"token {request.query.get('service')} {request.query.get('scope')}")
        assert "Authorization" not in request.headers  # anonymous only, always
        return web.json_response({"token": "anon-token"})

    app = web.Application()
    app.router.add_route("*", "/v2/{rest:.*}", v2)
    app.router.add_get("/token", token)
    return app


async def test_a_bearer_challenge_is_followed_with_an_anonymous_token_once_per_scope() -> None:
    seen: list[str] = []
    server = TestServer(_token_registry(seen))
    await server.start_server()
    try:
        base = str(server.make_url("")).rstrip("/")
        async with RegistryProbe({"registry.test": base}) as probe:
            first = await probe.manifest("registry.test/team/web:1.0")
            again = await probe.manifest("registry.test/team/web:1.0")
            other = await probe.manifest("registry.test/team/web:2.0")
        assert first.status == again.status == other.status == "found"
        assert first.digest == "sha256:" + "1" * 64
        assert seen.count("token registry.test repository:team/web:pull") == 1
        assert sum(1 for s in seen if s.startswith("HEAD /v2/team/web/manifests/1.0")) == 2  # cached after
    finally:
        await server.close()


async def test_a_registry_nobody_listens_on_is_unreachable_in_one_line() -> None:
    port = _closed_port()
    async with RegistryProbe({"registry.internal:5000": f"http://127.0.0.1:{port}"}) as probe:
        result = await probe.manifest("registry.internal:5000/team/api:1.0")
        assert result.status == "unreachable"
        assert result.message == (
            f"registry registry.internal:5000 is unreachable at http://127.0.0.1:{port}: connection refused"
        )
        assert await probe.tags("registry.internal:5000", "team/api") is None
        assert await probe.find_elsewhere("gcr.io/p/api:1", ["registry.internal:5000"]) == []


@pytest.mark.parametrize(
    ("image", "why"),
    [
        ("Coditect/Frontend:v1", 'repository name "Frontend" must be lowercase'),
        ("gcr.io/p/frontend:v1 ", "whitespace"),
        ("gcr.io/p/frontend:", 'tag "" must be'),
        ("gcr.io/p/frontend@sha256:1234", "a sha256 digest is 64 lowercase hex characters"),
        ("gcr.io/p//frontend", "may only hold lowercase letters"),
        ("", "image reference is empty"),
    ],
)
async def test_an_invalid_reference_is_reported_without_asking_anyone(
    probe: RegistryProbe, image: str, why: str
) -> None:
    result = await probe.manifest(image)
    assert result == ProbeResult("invalid", None, message=result.message, text=image)
    assert why in result.message and "\n" not in result.message
    with pytest.raises(InvalidReference):
        parse(image)


def test_references_normalize_like_containerd() -> None:
    assert parse("nginx") == ImageRef("docker.io", "library/nginx", "latest", None)
    assert str(parse("docker.io/library/nginx:1.27")) == "nginx:1.27"
    assert parse("index.docker.io/nginx").canonical == "docker.io/library/nginx:latest"
    assert parse("myorg/app:v1").canonical == "docker.io/myorg/app:v1"
    assert parse("localhost:5000/app").host == "localhost:5000"
    assert parse("[::1]:5000/a/b:t").repository == "a/b"
    assert parse("UPPER/app").host == "UPPER"
    pinned = parse("gcr.io/p/app:v1@sha256:" + "a" * 64)
    assert pinned.tag == "v1" and pinned.reference == "sha256:" + "a" * 64
    assert pinned.with_tag("v2") == ImageRef("gcr.io", "p/app", "v2", None)
    assert str(parse(FRONTEND_GCR).with_host(AR).with_repository("coditect-cloud-infra/coditect/frontend")) == (
        FRONTEND_AR
    )
    assert parse("gcr.io/p/redis:7").with_host("index.docker.io").canonical == "docker.io/p/redis:7"
    assert parse("quay.io/redis:7").with_host("docker.io").canonical == "docker.io/library/redis:7"


def test_bearer_challenges_parse_with_quoted_commas() -> None:
    scheme, params = parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push"'
    )
    assert scheme == "bearer"
    assert params == {
        "realm": "https://auth.docker.io/token",
        "service": "registry.docker.io",
        "scope": "repository:a/b:pull,push",
    }


async def test_the_sandbox_kubeconfig_names_the_registry_to_ask(
    sandbox_factory: Callable[..., RunningSandbox],
) -> None:
    sb = sandbox_factory("demo")
    config = yaml.safe_load(sb.kubeconfig.read_text())
    extension = config["clusters"][0]["cluster"]["extensions"][0]
    assert extension["name"] == "pitstop.dev/sandbox"
    async with RegistryProbe(sandbox_mirrors(extension["extension"]["registry"])) as probe:
        assert (await probe.manifest(FRONTEND_GCR)).status == "not_found"
        assert [r.text for r in await probe.find_elsewhere(FRONTEND_GCR, [AR])] == [FRONTEND_AR]


async def test_a_registry_that_never_answers_times_out_as_unreachable() -> None:
    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response()

    app = web.Application()
    app.router.add_route("*", "/v2/{rest:.*}", hang)
    server = TestServer(app)
    await server.start_server()
    try:
        base = str(server.make_url("")).rstrip("/")
        async with RegistryProbe({"slow.example.com": base}, timeout=0.2) as probe:
            first, second = await asyncio.gather(
                probe.manifest("slow.example.com/team/api:1"), probe.manifest("slow.example.com/team/api:1")
            )
            assert first is second  # asked once, answered twice
            assert first.status == "unreachable"
            assert first.message == f"registry slow.example.com is unreachable at {base}: no answer within 0.2 s"
            later = await probe.manifest("slow.example.com/team/web:1")  # a down host is not asked again
            assert later.message == first.message
    finally:
        await server.close()


def test_hosts_are_asked_where_they_live_unless_mirrored() -> None:
    probe = RegistryProbe({"gcr.io": "http://mirror.internal/gcr/"})
    assert probe.base_url("gcr.io") == "http://mirror.internal/gcr"
    assert probe.base_url("docker.io") == "https://registry-1.docker.io"
    assert probe.base_url("quay.io") == "https://quay.io"
    assert probe.base_url("localhost:5000") == "http://localhost:5000"
    assert RegistryProbe(sandbox_mirrors("http://127.0.0.1:5001/")).base_url("gcr.io") == "http://127.0.0.1:5001/gcr.io"
