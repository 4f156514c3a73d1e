"""Ask image registries whether an image exists, over the OCI distribution API (and ECR through boto3).

`RegistryProbe` answers the questions the image-pull playbook has: does this reference
resolve (`manifest`), which tags does the repository have (`tags`, for typos, with
`nearest_tags`), and is the same image pushed somewhere else the cluster pulls from
(`find_elsewhere`, incident I5).

The surprising parts:

- Access is anonymous only. A registry's 401 `Bearer` challenge is followed with an
  anonymous token request; pitstop never reads Secret values, so a private repository
  answers `unauthorized` -- which is itself the diagnosis (pods need imagePullSecrets).
  Docker Hub answers 401 for repositories that do not exist, too.
- `mirrors` maps a registry host to the base URL it is asked at; the key `"*"` with a
  `{host}` placeholder serves every host from one place (the sandbox serves host H at
  `<registry>/H`, see `sandbox_mirrors`).
- Every answer is cached for the life of the probe (one run; `forget()` starts over), and
  concurrent questions about the same thing share one request. A host that cannot be
  reached is not asked again in the same run. Each request has a 5 s timeout; at most 16
  are in flight, 4 per registry host.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlencode, urljoin, urlsplit

import aiohttp
import orjson

from diagnostics.imageref import DOCKER_HUB, ImageRef, InvalidReference, is_same_registry, parse

if TYPE_CHECKING:
    from diagnostics.ecr import EcrProbe

ProbeStatus = Literal["found", "not_found", "unauthorized", "unreachable", "invalid"]

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
DEFAULT_TIMEOUT = 5.0
_MAX_PAGES = 50
_MAX_BODY = 4 * 1024 * 1024  # manifests are small; refuse to buffer anything unreasonable
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """A registry's answer about one image reference.

    `ref` is the reference asked (None only when the text was `invalid`); `digest` is what
    it resolves to (`found` only); `message` is one line saying why, fit for evidence text;
    `text` is the reference in its familiar form (the raw text when `invalid`).
    """

    status: ProbeStatus
    ref: ImageRef | None
    digest: str | None = None
    message: str = ""
    text: str = ""

    def __post_init__(self) -> None:
        if not self.text and self.ref is not None:
            object.__setattr__(self, "text", str(self.ref))

    def __str__(self) -> str:
        return self.text

    @property
    def found(self) -> bool:
        return self.status == "found"


def sandbox_mirrors(registry_url: str) -> dict[str, str]:
    """Mirrors that send every host to the sandbox registry (the kubeconfig extension's `registry`)."""
    return {"*": registry_url.rstrip("/") + "/{host}"}


def _one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    digest: str  # the Docker-Content-Digest header, "" when absent
    challenges: tuple[str, ...]  # every WWW-Authenticate header value
    links: tuple[str, ...]  # every Link header value
    body: bytes
    url: str


class _Unreachable(Exception):
    """The host could not be asked at all; the message is the one-line cause."""


def _connection_cause(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "the host name does not resolve"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return "its TLS certificate is not trusted"
    if isinstance(exc, aiohttp.ClientSSLError):
        return "the TLS handshake failed"
    if isinstance(exc, aiohttp.ClientConnectorError):
        code = exc.os_error.errno if exc.os_error else None
        if code == errno.ECONNREFUSED:
            return "connection refused"
        if code in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return "no route to the host"
        return _one_line(exc.strerror or str(exc.os_error) or "connection failed")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    return _one_line(str(exc)) or type(exc).__name__


_CHALLENGE_PARAM = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="…",service="…",scope="…"` → (`bearer`, {realm, service, scope})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _CHALLENGE_PARAM.finditer(rest)
    }
    return scheme.lower(), params


def _next_link(values: Iterable[str]) -> str | None:
    for value in values:
        for part in value.split(","):
            m = re.match(r"\s*<([^>]*)>\s*;(.*)", part)
            if m and re.search(r'rel\s*=\s*"?next"?', m.group(2)):
                return m.group(1)
    return None


class RegistryProbe:
    """Asks registries about images; use as `async with RegistryProbe(...) as probe:`.

    `mirrors` maps a registry host to the base URL to ask it at (`"*"` with `{host}` for
    all hosts); an unlisted host is asked at `https://<host>` (`docker.io` at
    `https://registry-1.docker.io`). `ecr`, when given, answers for
    `<account>.dkr.ecr.<region>.amazonaws.com` hosts that have no explicit mirror.
    """

    def __init__(
        self,
        mirrors: Mapping[str, str] | None = None,
        ecr: EcrProbe | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        concurrency: int = 16,
        per_host: int = 4,
    ) -> None:
        self.mirrors = dict(mirrors or {})
        self.ecr = ecr
        self.timeout = timeout
        self._concurrency = concurrency
        self._per_host = per_host
        self._session: aiohttp.ClientSession | None = None
        self._slots: asyncio.Semaphore | None = None
        self._host_slots: dict[str, asyncio.Semaphore] = {}
        self._cache: dict[tuple[str, ...], asyncio.Future[Any]] = {}
        self._tokens: dict[tuple[str, str, str], asyncio.Future[tuple[str | None, float]]] = {}
        self._down: dict[str, str] = {}  # host -> why it could not be reached

    async def __aenter__(self) -> RegistryProbe:
        self._ensure_session()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def forget(self) -> None:
        """Drop every cached answer and every "unreachable" verdict: the next questions ask again.

        For verification re-runs after a fix is applied, and for a probe kept across runs.
        """
        self._cache.clear()
        self._down.clear()

    async def aclose(self) -> None:
        for fut in [*self._cache.values(), *self._tokens.values()]:
            if not fut.done():
                fut.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=self._concurrency, limit_per_host=0),
                headers={"User-Agent": "pitstop (image probe)"},
                trust_env=True,  # honour HTTPS_PROXY/NO_PROXY like the rest of the engineer's tools
            )
            self._slots = asyncio.Semaphore(self._concurrency)
        return self._session

    # --- where to ask ----------------------------------------------------------------------

    def _explicit_mirror(self, host: str) -> str | None:
        for key, url in self.mirrors.items():
            if key != "*" and is_same_registry(key, host):
                return url.rstrip("/")
        return None

    def base_url(self, host: str) -> str:
        """The URL registry `host` is asked at (append `/v2/...`)."""
        explicit = self._explicit_mirror(host)
        if explicit is not None:
            return explicit
        if "*" in self.mirrors:
            return self.mirrors["*"].replace("{host}", host).rstrip("/")
        if host == DOCKER_HUB:
            return "https://registry-1.docker.io"
        bare = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        scheme = "http" if bare in ("localhost", "127.0.0.1", "[::1]") else "https"
        return f"{scheme}://{host}"

    def _uses_ecr(self, host: str) -> bool:
        return self.ecr is not None and self._explicit_mirror(host) is None and self.ecr.handles(host)

    # --- caching and limits -------------------------------------------------------------------

    async def _cached(self, key: tuple[str, ...], make: Callable[[], Awaitable[T]]) -> T:
        fut = self._cache.get(key)
        if fut is None:
            fut = asyncio.ensure_future(make())
            self._cache[key] = fut
        # shield: one caller giving up must not cancel the answer others wait for
        result: T = await asyncio.shield(fut)
        return result

    def _host_slot(self, host: str) -> asyncio.Semaphore:
        slot = self._host_slots.get(host)
        if slot is None:
            slot = self._host_slots[host] = asyncio.Semaphore(self._per_host)
        return slot

    # --- HTTP ----------------------------------------------------------------------------------

    async def _send(self, method: str, url: str, host: str, headers: Mapping[str, str]) -> _Response:
        session = self._ensure_session()
        assert self._slots is not None
        if host in self._down:
            raise _Unreachable(self._down[host])
        try:
            async with self._slots, self._host_slot(host), session.request(method, url, headers=headers) as resp:
                body = b"" if method == "HEAD" else await resp.content.read(_MAX_BODY)
                return _Response(
                    resp.status,
                    resp.headers.get("Docker-Content-Digest", "").strip(),
                    tuple(resp.headers.getall("WWW-Authenticate", [])),
                    tuple(resp.headers.getall("Link", [])),
                    body,
                    str(resp.url),
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
            why = f"registry {host} is unreachable at {origin}: {_connection_cause(exc, self.timeout)}"
            if not isinstance(exc, aiohttp.ClientResponseError):
                self._down[host] = why
            raise _Unreachable(why) from exc

    async def _token(self, host: str, params: Mapping[str, str], scope: str) -> str | None:
        """An anonymous bearer token for `scope` from the challenge's realm, or None when refused.

        Tokens are shared by every request in the probe until they expire (`expires_in`, 60 s by default).
        """
        realm = params.get("realm", "")
        if not realm.startswith(("http://", "https://")):
            return None
        service = params.get("service", "")
        key = (realm, service, scope)
        fut = self._tokens.get(key)
        if fut is not None and fut.done() and not fut.cancelled() and fut.result()[1] <= time.monotonic():
            fut = None  # expired: ask again
        if fut is None:
            fut = self._tokens[key] = asyncio.ensure_future(self._fetch_token(host, realm, service, scope))
        token, _ = await asyncio.shield(fut)
        return token

    async def _fetch_token(self, host: str, realm: str, service: str, scope: str) -> tuple[str | None, float]:
        query = urlencode([(k, v) for k, v in (("service", service), ("scope", scope)) if v])
        sep = "&" if "?" in realm else "?"
        asked = time.monotonic()
        resp = await self._send("GET", f"{realm}{sep}{query}" if query else realm, host, {})
        refused: tuple[str | None, float] = (None, asked + 60)
        if resp.status != 200:
            return refused
        try:
            doc = orjson.loads(resp.body)
        except orjson.JSONDecodeError:
            return refused
        if not isinstance(doc, dict):
            return refused
        token = doc.get("token") or doc.get("access_token")
        lifetime = doc.get("expires_in")
        lifetime = lifetime if isinstance(lifetime, int | float) and lifetime > 0 else 60
        return (token if isinstance(token, str) and token else None), asked + lifetime - 5

    async def _get(self, method: str, url: str, host: str, scope: str, accept: str = "") -> _Response:
        """One request, following a 401 Bearer challenge with an anonymous token (once)."""
        headers = {"Accept": accept} if accept else {}
        resp = await self._send(method, url, host, headers)
        if resp.status != 401:
            return resp
        for value in resp.challenges:
            scheme, params = parse_challenge(value)
            if scheme != "bearer":
                continue
            token = await self._token(host, params, params.get("scope") or scope)
            if token is None:
                return resp
            return await self._send(method, url, host, {**headers, "Authorization": f"Bearer {token}"})
        return resp

    # --- questions -------------------------------------------------------------------------------

    async def manifest(self, ref: ImageRef | str) -> ProbeResult:
        """Whether `ref` resolves on its registry, and to which digest.

        Never raises for registry trouble: the answer's `status` says found, not_found,
        unauthorized (private, or Docker Hub's answer for a missing repository),
        unreachable, or invalid (a reference no runtime would pull).
        """
        if isinstance(ref, str):
            try:
                image = parse(ref)
            except InvalidReference as e:
                return ProbeResult("invalid", None, message=str(e), text=ref)
        else:
            image = ref
        key = ("manifest", image.host, image.repository, image.reference)
        if self._uses_ecr(image.host):
            assert self.ecr is not None
            ecr = self.ecr
            return await self._cached(key, lambda: ecr.manifest(image))
        return await self._cached(key, lambda: self._manifest(image))

    async def _manifest(self, image: ImageRef) -> ProbeResult:
        host, text = image.host, str(image)
        url = f"{self.base_url(host)}/v2/{image.repository}/manifests/{image.reference}"
        scope = f"repository:{image.repository}:pull"
        accept = ", ".join(MANIFEST_TYPES)
        try:
            resp = await self._get("HEAD", url, host, scope, accept)
            if resp.status in (404, 405, 501) or (resp.status == 200 and not resp.digest and not image.digest):
                resp = await self._get("GET", url, host, scope, accept)  # for the error code, or to hash the bytes
        except _Unreachable as e:
            return ProbeResult("unreachable", image, message=str(e))
        if resp.status == 200:
            digest = resp.digest or image.digest or "sha256:" + hashlib.sha256(resp.body).hexdigest()
            return ProbeResult("found", image, digest, f"{text} exists on {host} ({digest})")
        if resp.status == 404:
            codes = _error_codes(resp.body)
            if "NAME_UNKNOWN" in codes:
                why = f"{text} not found: repository {image.repository} does not exist on {host}"
            elif image.digest:
                why = f"{text} not found: {host}/{image.repository} has no manifest {image.digest}"
            else:
                why = f"{text} not found: {host}/{image.repository} has no tag {image.tag}"
            return ProbeResult("not_found", image, message=why)
        if resp.status in (401, 403):
            why = (
                f"{host} refused anonymous access to {image.repository} (HTTP {resp.status}): the repository "
                f"is private (pods need imagePullSecrets for {host}) or does not exist"
            )
            return ProbeResult("unauthorized", image, message=why)
        if resp.status == 429:
            return ProbeResult(
                "unreachable", image, message=f"registry {host} is rate limiting requests (HTTP 429); try again later"
            )
        return ProbeResult("unreachable", image, message=f"registry {host} answered HTTP {resp.status} for {text}")

    async def tags(self, host: str, repository: str) -> list[str] | None:
        """Every tag of `host/repository` (following `Link` pages), or None when it cannot be listed."""
        if self._uses_ecr(host):
            assert self.ecr is not None
            ecr = self.ecr
            return await self._cached(("tags", host, repository), lambda: ecr.tags(host, repository))
        url = f"{self.base_url(host)}/v2/{repository}/tags/list"
        return await self._cached(
            ("tags", host, repository), lambda: self._paged(url, host, f"repository:{repository}:pull", "tags")
        )

    async def catalog(self, host: str) -> list[str] | None:
        """Every repository on `host` (`/v2/_catalog`), or None where the registry does not allow listing."""
        if self._uses_ecr(host):
            assert self.ecr is not None
            ecr = self.ecr
            return await self._cached(("catalog", host), lambda: ecr.repositories(host))
        url = f"{self.base_url(host)}/v2/_catalog"
        return await self._cached(
            ("catalog", host), lambda: self._paged(url, host, "registry:catalog:*", "repositories")
        )

    async def _paged(self, url: str, host: str, scope: str, field: str) -> list[str] | None:
        items: list[str] = []
        seen: set[str] = set()
        next_url: str | None = url
        while next_url and next_url not in seen and len(seen) < _MAX_PAGES:
            seen.add(next_url)
            try:
                resp = await self._get("GET", next_url, host, scope)
            except _Unreachable:
                return None
            if resp.status != 200:
                return None
            try:
                doc = orjson.loads(resp.body)
            except orjson.JSONDecodeError:
                return None
            page = doc.get(field) if isinstance(doc, dict) else None
            items += [t for t in page or () if isinstance(t, str)]
            link = _next_link(resp.links)
            next_url = urljoin(resp.url, link) if link else None
        return items

    @staticmethod
    def nearest_tags(tag: str, tags: Iterable[str], n: int = 3) -> list[str]:
        """The module's `nearest_tags`, for callers holding only the probe."""
        return nearest_tags(tag, tags, n)

    async def find_elsewhere(
        self, ref: ImageRef | str, hosts: Iterable[str], *, siblings: Iterable[ImageRef | str] = ()
    ) -> list[ProbeResult]:
        """The same image (repository name and tag/digest) found on other registries: `found` answers only.

        On each of `hosts` the candidates are, in this order: the same repository path;
        the image's name under the directory of every `siblings` image on that host
        (images the cluster already pulls, e.g. `…/coditect/backend` suggests
        `…/coditect/frontend`); and catalog repositories with the same last path component,
        where the registry allows listing. `ref`'s own host is searched for other paths only.
        """
        try:
            image = parse(ref) if isinstance(ref, str) else ref
        except InvalidReference:
            return []
        parsed_siblings: list[ImageRef] = []
        for s in siblings:
            try:
                parsed_siblings.append(parse(s) if isinstance(s, str) else s)
            except InvalidReference:
                continue
        order: list[str] = []
        for h in hosts:
            if not any(is_same_registry(h, o) for o in order):
                order.append(h)

        async def candidates(host: str) -> list[str]:
            names = [image.repository]
            for s in parsed_siblings:
                if is_same_registry(s.host, host) and "/" in s.repository:
                    names.append(s.repository.rsplit("/", 1)[0] + "/" + image.basename)
            names += sorted(r for r in await self.catalog(host) or () if r.rsplit("/", 1)[-1] == image.basename)
            unique = list(dict.fromkeys(names))
            if is_same_registry(host, image.host):
                unique = [n for n in unique if n != image.repository]
            return unique

        per_host = await asyncio.gather(*(candidates(h) for h in order))
        probes: list[ImageRef] = []
        for host, names in zip(order, per_host, strict=True):
            moved = image.with_host(host)
            for name in names:
                try:
                    probes.append(moved.with_repository(name))
                except InvalidReference:
                    continue
        answers = await asyncio.gather(*(self.manifest(p) for p in probes))
        return [a for a in answers if a.found]


def _error_codes(body: bytes) -> set[str]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return set()
    errors = doc.get("errors") if isinstance(doc, dict) else None
    return {str(e.get("code")) for e in errors or () if isinstance(e, dict)}


# --- nearest tags ------------------------------------------------------------------------------

_DIGITS = re.compile(r"\d+")


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment): a swapped pair of characters costs 1."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def _shape(tag: str) -> str:
    return _DIGITS.sub("#", tag)


def _numbers(tag: str) -> tuple[int, ...]:
    return tuple(int(n) for n in _DIGITS.findall(tag))


def nearest_tags(tag: str, tags: Iterable[str], n: int = 3) -> list[str]:
    """The `n` existing tags closest to `tag`, best first: what the author probably meant.

    Tags of the same shape (`v1.0.7-staging` and `v1.0.6-staging`: same text, other
    numbers) come first, ordered by how far their version numbers are (the older of two
    equally far ones first: it is more likely pushed); then other tags by edit distance.
    Tags too different to be a typo (edit distance over half the tag) are left out.
    """
    wanted_shape, wanted_numbers = _shape(tag), _numbers(tag)
    limit = max(2, len(tag) // 2)

    def version_gap(other: str) -> tuple[tuple[int, ...], int]:
        nums = _numbers(other)
        gaps = tuple(abs(x - y) for x, y in zip(wanted_numbers, nums, strict=False))
        newer = 1 if nums > wanted_numbers else 0
        return (*gaps, abs(len(nums) - len(wanted_numbers))), newer

    ranked: list[tuple[Any, ...]] = []
    for other in dict.fromkeys(tags):
        if other == tag:
            continue
        distance = edit_distance(tag, other)
        if _shape(other) == wanted_shape and wanted_numbers:
            ranked.append((0, version_gap(other), distance, other))
        elif distance <= limit:
            ranked.append((1, distance, version_gap(other), other))
    ranked.sort()
    return [r[-1] for r in ranked[:n]]
