"""ECR images through the ECR API, against moto in server mode (boto3 follows AWS_ENDPOINT_URL to it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from diagnostics.ecr import EcrProbe, parse_ecr_host
from diagnostics.imageref import parse
from diagnostics.registry import RegistryProbe

ACCOUNT = "123456789012"  # moto's default account
HOST = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 7023,
            "digest": "sha256:" + "c" * 64,
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 32654,
                "digest": "sha256:" + "d" * 64,
            }
        ],
    }
)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Point boto3 at moto with throwaway credentials; return the pushed image's digest."""
    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    ecr = boto3.client("ecr", region_name="us-east-1")
    if any(r["repositoryName"] == "coditect/api" for r in ecr.describe_repositories()["repositories"]):
        ecr.delete_repository(repositoryName="coditect/api", force=True)  # left by the previous test
    ecr.create_repository(repositoryName="coditect/api")
    pushed = ecr.put_image(repositoryName="coditect/api", imageManifest=MANIFEST, imageTag="v1.4.0")
    ecr.put_image(repositoryName="coditect/api", imageManifest=MANIFEST, imageTag="v1.4.1")
    return str(pushed["image"]["imageId"]["imageDigest"])


def test_ecr_hosts_are_recognised_with_account_and_region() -> None:
    registry = parse_ecr_host(HOST)
    assert registry is not None and (registry.account, registry.region) == (ACCOUNT, "us-east-1")
    assert parse_ecr_host("210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn") is not None
    assert parse_ecr_host("gcr.io") is None
    assert parse_ecr_host("public.ecr.aws") is None


async def test_a_pushed_tag_is_found_with_its_digest(aws: str) -> None:
    result = await EcrProbe().manifest(parse(f"{HOST}/coditect/api:v1.4.0"))
    assert result.status == "found" and result.digest == aws
    by_digest = await EcrProbe().manifest(parse(f"{HOST}/coditect/api@{aws}"))
    assert by_digest.status == "found"


async def test_a_missing_tag_is_not_found_and_the_tags_are_listed(aws: str) -> None:
    async with RegistryProbe(ecr=EcrProbe()) as probe:
        result = await probe.manifest(f"{HOST}/coditect/api:v1.5.0")
        assert result.status == "not_found"
        assert (
            result.message
            == f"{HOST}/coditect/api:v1.5.0 not found: ECR repository coditect/api in {HOST} has no tag v1.5.0"
        )
        assert await probe.tags(HOST, "coditect/api") == ["v1.4.0", "v1.4.1"]
        assert await probe.catalog(HOST) == ["coditect/api"]


async def test_a_missing_repository_is_not_found_and_says_so(aws: str) -> None:
    result = await EcrProbe().manifest(parse(f"{HOST}/coditect/web:v1.4.0"))
    assert result.status == "not_found"
    assert result.message == (
        f"{HOST}/coditect/web:v1.4.0 not found: ECR repository coditect/web does not exist "
        f"(account {ACCOUNT}, region us-east-1)"
    )
    assert await EcrProbe().tags(HOST, "coditect/web") is None


async def test_the_same_image_is_found_in_ecr_from_another_registry(aws: str) -> None:
    async with RegistryProbe(ecr=EcrProbe()) as probe:
        found = await probe.find_elsewhere("gcr.io/coditect-cloud-infra/api:v1.4.0", [HOST])
    assert [(str(r.ref), r.digest) for r in found] == [(f"{HOST}/coditect/api:v1.4.0", aws)]


async def test_without_aws_credentials_the_answer_says_how_to_configure_them(
    aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = await EcrProbe().manifest(parse(f"{HOST}/coditect/api:v1.4.0"))
    assert result.status == "unauthorized"
    assert "configure AWS credentials" in result.message and "\n" not in result.message


async def test_an_ecr_endpoint_nobody_listens_on_is_unreachable(aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    result = await EcrProbe(timeout=1).manifest(parse(f"{HOST}/coditect/api:v1.4.0"))
    assert result.status == "unreachable"
    assert result.message.startswith(f"ECR (account {ACCOUNT}, region us-east-1) is unreachable: ")
