"""Ask Amazon ECR about images through its API (boto3), for `<account>.dkr.ecr.<region>.amazonaws.com` hosts.

ECR's registry endpoint refuses anonymous pulls with a `Basic` challenge, so the
distribution API alone can only say "unauthorized". The ECR API, with whatever AWS
credentials the engineer's environment has (profile, SSO, env vars, instance role),
says exactly which of repository and tag is missing.

The surprising parts:

- boto3 is synchronous: every call runs in a worker thread (`asyncio.to_thread`), with one
  client per region shared by those threads (boto3 clients are thread-safe, sessions are not).
- The endpoint follows boto3's own `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_ECR` variables,
  which is how the tests point it at moto's server.
- Missing credentials answer `unauthorized` with a message saying how to configure them,
  never an exception.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3  # type: ignore[import-untyped,unused-ignore]
import botocore.exceptions  # type: ignore[import-untyped,unused-ignore]
from botocore.config import Config  # type: ignore[import-untyped,unused-ignore]

from diagnostics.imageref import ImageRef
from diagnostics.registry import DEFAULT_TIMEOUT, ProbeResult

T = TypeVar("T")

_ECR_HOST = re.compile(
    r"(?P<account>\d{12})\.dkr[.-]ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)"
    r"\.(?:amazonaws\.com(?:\.cn)?|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)"
)
_DENIED = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "AuthFailure",
        "SignatureDoesNotMatch",
    }
)
_CONFIGURE = (
    "configure AWS credentials for pitstop (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
    "or `aws sso login`) to check ECR images"
)


@dataclass(frozen=True, slots=True)
class EcrRegistry:
    account: str
    region: str


def parse_ecr_host(host: str) -> EcrRegistry | None:
    """The account and region of an ECR private registry host, or None for any other host."""
    m = _ECR_HOST.fullmatch(host.lower())
    return EcrRegistry(m.group("account"), m.group("region")) if m else None


class EcrProbe:
    """Answers `manifest`/`tags`/`repositories` for ECR hosts with the ECR API.

    `session` is a boto3 Session (default: a new one, which reads the usual AWS
    environment, profile and config files).
    """

    def __init__(self, session: Any = None, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._session = session
        self._timeout = timeout
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def handles(self, host: str) -> bool:
        return parse_ecr_host(host) is not None

    def _client(self, region: str) -> Any:
        with self._lock:
            client = self._clients.get(region)
            if client is None:
                if self._session is None:
                    self._session = boto3.session.Session()
                config = Config(
                    connect_timeout=self._timeout,
                    read_timeout=self._timeout,
                    retries={"max_attempts": 2, "mode": "standard"},
                    user_agent_extra="pitstop",
                )
                client = self._clients[region] = self._session.client("ecr", region_name=region, config=config)
            return client

    async def _call(self, fn: Callable[[], T]) -> T:
        return await asyncio.to_thread(fn)

    async def manifest(self, image: ImageRef) -> ProbeResult:
        """Whether `image` exists in its ECR repository (`describe_images` by tag or digest)."""
        text = str(image)
        registry = parse_ecr_host(image.host)
        if registry is None:
            return ProbeResult("invalid", image, message=f"{image.host} is not an ECR registry host")
        image_id = {"imageDigest": image.digest} if image.digest else {"imageTag": image.tag or "latest"}

        def ask() -> Any:
            return self._client(registry.region).describe_images(
                registryId=registry.account, repositoryName=image.repository, imageIds=[image_id]
            )

        try:
            answer = await self._call(ask)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            return self._failure(exc, image, registry)
        details = answer.get("imageDetails") or []
        if not details:
            return ProbeResult("not_found", image, message=self._missing_tag(image))
        digest = details[0].get("imageDigest")
        return ProbeResult("found", image, digest, f"{text} exists in ECR ({digest})")

    def _missing_tag(self, image: ImageRef) -> str:
        what = f"manifest {image.digest}" if image.digest else f"tag {image.tag}"
        return f"{image} not found: ECR repository {image.repository} in {image.host} has no {what}"

    def _failure(self, exc: Exception, image: ImageRef, registry: EcrRegistry) -> ProbeResult:
        text = str(image)
        where = f"account {registry.account}, region {registry.region}"
        if isinstance(exc, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError):
            return ProbeResult(
                "unauthorized", image, message=f"no AWS credentials to ask ECR about {text}: " + _CONFIGURE
            )
        if isinstance(exc, botocore.exceptions.ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            if code == "ImageNotFoundException":
                return ProbeResult("not_found", image, message=self._missing_tag(image))
            if code == "RepositoryNotFoundException":
                why = f"{text} not found: ECR repository {image.repository} does not exist ({where})"
                return ProbeResult("not_found", image, message=why)
            if code in _DENIED:
                why = (
                    f"ECR refused to describe {image.repository} ({where}): {code}; "
                    "the AWS identity pitstop runs as needs ecr:DescribeImages"
                )
                return ProbeResult("unauthorized", image, message=why)
            if code in ("InvalidParameterException", "ValidationException"):
                why = f"ECR rejected {text}: {' '.join(str(error.get('Message', code)).split())}"
                return ProbeResult("invalid", image, message=why)
            return ProbeResult("unreachable", image, message=f"ECR ({where}) answered {code} for {text}")
        if isinstance(exc, botocore.exceptions.ParamValidationError):
            why = f"ECR cannot look up {text}: {' '.join(str(exc).split())}"
            return ProbeResult("invalid", image, message=why)
        why = f"ECR ({where}) is unreachable: {' '.join(str(exc).split())}"
        return ProbeResult("unreachable", image, message=why)

    async def tags(self, host: str, repository: str) -> list[str] | None:
        """Every tag in an ECR repository (`list_images`, all pages), or None when it cannot be listed."""
        registry = parse_ecr_host(host)
        if registry is None:
            return None

        def ask() -> list[str]:
            pages = (
                self._client(registry.region)
                .get_paginator("list_images")
                .paginate(registryId=registry.account, repositoryName=repository, filter={"tagStatus": "TAGGED"})
            )
            return sorted({i["imageTag"] for page in pages for i in page.get("imageIds", []) if i.get("imageTag")})

        try:
            return await self._call(ask)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
            return None

    async def repositories(self, host: str) -> list[str] | None:
        """Every repository name in an ECR registry (`describe_repositories`), or None when it cannot be listed."""
        registry = parse_ecr_host(host)
        if registry is None:
            return None

        def ask() -> list[str]:
            pages = (
                self._client(registry.region)
                .get_paginator("describe_repositories")
                .paginate(registryId=registry.account)
            )
            return sorted(r["repositoryName"] for page in pages for r in page.get("repositories", []))

        try:
            return await self._call(ask)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
            return None
