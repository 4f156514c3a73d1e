"""An OCI distribution registry for every host a scenario declares, plus the kubelet's pull verdict.

One aiohttp app serves all declared hosts, each under a path prefix: the base URL of
`gcr.io` is `http://127.0.0.1:PORT/gcr.io`, so a client asks `{base}/v2/...` exactly as it
would ask the real host (see `base_url_for`). Served: `/v2/`, `/v2/_catalog`,
`/v2/<name>/tags/list` (`n`/`last` pagination, `Link` header), `HEAD|GET
/v2/<name>/manifests/<tag|digest>`, `HEAD|GET /v2/<name>/blobs/<digest>` and the Docker
token endpoint `/token`. Errors are the distribution spec's `{"errors": [...]}` bodies.

The surprising parts:

- Image content is synthetic but real: an OCI index (linux/amd64 and linux/arm64) over
  image manifests, config blobs and one small gzip'd tar layer each, all addressed by the
  sha256 of the exact bytes served. What goes into the bytes is the image's *build
  identity* -- the repository's last path component and the tag -- never the host, so
  `gcr.io/p/frontend:v1` and `us-central1-docker.pkg.dev/p/repo/frontend:v1` have the same
  digest: the same image pushed to two registries (incident I5).
- Hosts with `auth: true` answer 401 with a `Bearer` challenge whose realm is this
  server's `/<host>/token`; the token endpoint wants HTTP Basic with the host's sandbox
  credential (`credentials(host)`), any username. Tokens are HS256 JWTs signed with a key
  made per app, valid for 300 s of wall time.
- Docker Hub (`docker.io`) is also served as `registry-1.docker.io` and `index.docker.io`;
  single-component names there live under `library/`. Like the real Hub, a repository
  that does not exist answers 401 (`insufficient_scope`), not 404 -- which is why
  containerd says "pull access denied, repository does not exist or may require
  authorization".
- `pull_result` is the kubelet's view: it parses a pod's image exactly as the kubelet and
  containerd do (distribution/reference's `ParseDockerRef`), including the rule that an
  uppercase first component is a registry host (`UPPER/case` is host `UPPER`), and returns
  the exact error text a real node reports.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import io
import re
import secrets
import tarfile
import time
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import quote

import orjson
from aiohttp import web

from sandbox.clock import Clock
from sandbox.scenario import Registries, RegistryHost

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"

DOCKER_HUB = "docker.io"
_HUB_ALIASES = frozenset({"docker.io", "registry-1.docker.io", "index.docker.io"})
_PLATFORMS = (("amd64", ""), ("arm64", "v8"))
TOKEN_TTL = 300

# --- image references, as github.com/distribution/reference parses them -------------------

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = f"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_HOST = rf"(?:{_DOMAIN_NAME}|\[(?:[a-fA-F0-9:]+)\])"
_DOMAIN_AND_PORT = rf"{_HOST}(?::[0-9]+)?"
_REMOTE_NAME = f"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_NAME = f"(?:{_DOMAIN_AND_PORT}/)?{_REMOTE_NAME}"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_REFERENCE_RE = re.compile(f"({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?", re.ASCII)
_ANCHORED_NAME_RE = re.compile(f"(?:({_DOMAIN_AND_PORT})/)?({_REMOTE_NAME})", re.ASCII)
_REMOTE_NAME_RE = re.compile(_REMOTE_NAME, re.ASCII)
_TAG_RE = re.compile(_TAG, re.ASCII)
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")
_DIGEST_SIZES = {"sha256": 64, "sha384": 96, "sha512": 128}


class InvalidReference(ValueError):
    """An image string the kubelet refuses (`InvalidImageName`); the message is distribution/reference's."""


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A normalized image reference: exactly one of `tag` and `digest` is set (containerd drops a tag next to a digest)."""

    host: str
    repository: str
    tag: str | None
    digest: str | None

    def __str__(self) -> str:
        suffix = f"@{self.digest}" if self.digest else f":{self.tag}"
        return f"{self.host}/{self.repository}{suffix}"


def _validate_digest(value: str) -> None:
    algorithm, _, encoded = value.partition(":")
    size = _DIGEST_SIZES.get(algorithm)
    if size is None:
        raise InvalidReference("unsupported digest algorithm")
    if len(encoded) != size:
        raise InvalidReference("invalid checksum digest length")
    if not re.fullmatch(r"[a-f0-9]+", encoded):
        raise InvalidReference("invalid checksum digest format")


def _split_docker_domain(name: str) -> tuple[str, str]:
    """distribution/reference's splitDockerDomain: which part of a familiar name is the registry host."""
    maybe_domain, slash, maybe_remote = name.partition("/")
    if not slash:
        return DOCKER_HUB, "library/" + name
    if maybe_domain == "localhost" or any(c in maybe_domain for c in ".:") or maybe_domain.lower() != maybe_domain:
        domain, remote = maybe_domain, maybe_remote
    else:
        domain, remote = DOCKER_HUB, name
    if domain == "index.docker.io":
        domain = DOCKER_HUB
    if domain == DOCKER_HUB and "/" not in remote:
        remote = "library/" + remote
    return domain, remote


def parse_reference(image: str) -> ImageRef:
    """Parse a pod's `image` the way the kubelet and containerd do (`ParseDockerRef`).

    Defaults: host `docker.io`, `library/` for single-component Hub names, tag `latest`.
    Raises `InvalidReference` with the library's own message.
    """
    if _IDENTIFIER_RE.fullmatch(image):
        raise InvalidReference(f"invalid repository name ({image}), cannot specify 64-byte hexadecimal strings")
    domain, remainder = _split_docker_domain(image)
    remote = remainder.partition(":")[0]
    if remote.lower() != remote:
        raise InvalidReference(f"invalid reference format: repository name ({remote}) must be lowercase")
    full = f"{domain}/{remainder}"
    match = _REFERENCE_RE.fullmatch(full)
    if match is None:
        if full.lower() != full and _REFERENCE_RE.fullmatch(full.lower()):
            raise InvalidReference("repository name must be lowercase")
        raise InvalidReference("invalid reference format")
    name, tag, digest = match.group(1), match.group(2), match.group(3)
    name_match = _ANCHORED_NAME_RE.fullmatch(name)
    host, path = (name_match.group(1) or "", name_match.group(2)) if name_match else ("", name)
    if len(path) > 255:
        raise InvalidReference("repository name must not be more than 255 characters")
    if digest:
        _validate_digest(digest)
        return ImageRef(host, path, None, digest)
    return ImageRef(host, path, tag or "latest", None)


# --- synthetic image content ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data), **extra}


@dataclass(frozen=True, slots=True)
class ImageContent:
    """One tag's bytes: the index, the per-platform manifests (amd64 first) and their blobs."""

    index: Blob
    manifests: tuple[Blob, ...]
    blobs: tuple[Blob, ...]


def _json_bytes(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def _layer(identity: str, arch: str) -> tuple[bytes, bytes]:
    """A one-file tar and its gzip, both byte-for-byte reproducible (fixed mtimes and owners)."""
    payload = f"{identity} linux/{arch}\n".encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("etc/sandbox-image")
        info.size, info.mtime, info.mode = len(payload), 0, 0o644
        tar.addfile(info, io.BytesIO(payload))
    return raw.getvalue(), gzip.compress(raw.getvalue(), mtime=0)


def build_identity(repository: str, tag: str) -> str:
    """What makes two images "the same build": the repository's last path component and the tag, never the host."""
    return f"{repository.rsplit('/', 1)[-1]}:{tag}"


@lru_cache(maxsize=4096)
def image_content(identity: str) -> ImageContent:
    """The deterministic index, manifests and blobs of one build identity (see `build_identity`)."""
    title, _, version = identity.partition(":")
    manifests: list[tuple[Blob, dict[str, str]]] = []
    blobs: list[Blob] = []
    for arch, variant in _PLATFORMS:
        tar, tgz = _layer(identity, arch)
        layer = Blob(MEDIA_LAYER, tgz)
        config = Blob(
            MEDIA_CONFIG,
            _json_bytes(
                {
                    "architecture": arch,
                    **({"variant": variant} if variant else {}),
                    "os": "linux",
                    "config": {
                        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                        "Labels": {
                            "org.opencontainers.image.title": title,
                            "org.opencontainers.image.version": version,
                        },
                    },
                    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]},
                }
            ),
        )
        manifest = Blob(
            MEDIA_MANIFEST,
            _json_bytes(
                {
                    "schemaVersion": 2,
                    "mediaType": MEDIA_MANIFEST,
                    "config": config.descriptor(),
                    "layers": [layer.descriptor()],
                }
            ),
        )
        platform = {"architecture": arch, "os": "linux", **({"variant": variant} if variant else {})}
        manifests.append((manifest, platform))
        blobs += [config, layer]
    index = Blob(
        MEDIA_INDEX,
        _json_bytes(
            {
                "schemaVersion": 2,
                "mediaType": MEDIA_INDEX,
                "manifests": [m.descriptor(platform=p) for m, p in manifests],
            }
        ),
    )
    return ImageContent(index, tuple(m for m, _ in manifests), tuple(blobs))


def index_digest(repository: str, tag: str) -> str:
    """The digest a tag resolves to (its index), the same on every host that has this build."""
    return image_content(build_identity(repository, tag)).index.digest


# --- hosts, names and credentials ------------------------------------------------------------


def canonical_host(host: str) -> str:
    """Docker Hub's aliases (and `https://index.docker.io/v1/` config keys) are one host: `docker.io`."""
    h = host.strip().lower()
    h = re.sub(r"^[a-z]+://", "", h).split("/", 1)[0]
    return DOCKER_HUB if h in _HUB_ALIASES else h


def _canonical_repository(host: str, name: str) -> str:
    return f"library/{name}" if host == DOCKER_HUB and "/" not in name else name


def credentials(host: str) -> tuple[str, str]:
    """The sandbox's credential for a registry host: deterministic, different per host.

    The username is what the real registry expects (`oauth2accesstoken` for Google, `AWS`
    for ECR); the token endpoint accepts any username with this password.
    """
    h = canonical_host(host)
    if h == "gcr.io" or h.endswith((".gcr.io", ".pkg.dev")):
        user = "oauth2accesstoken"
    elif ".dkr.ecr." in h:
        user = "AWS"
    else:
        user = "sandbox"
    return user, "sbx_" + hashlib.sha256(f"pitstop-sandbox-registry:{h}".encode()).hexdigest()[:40]


def base_url_for(server: int | str, host: str) -> str:
    """Where the sandbox serves registry `host` (append `/v2/...`), given its port or root URL.

    `base_url_for(5001, "gcr.io")` → `http://127.0.0.1:5001/gcr.io`.
    """
    root = f"http://127.0.0.1:{server}" if isinstance(server, int) else server.rstrip("/")
    return f"{root}/{host}"


# --- the kubelet's verdict ---------------------------------------------------------------------

PullStatus = Literal["ok", "not_found", "unauthorized", "invalid_name"]


@dataclass(frozen=True, slots=True)
class PullResult:
    """What pulling `image` does on a sandbox node.

    `message` is the exact text a real node reports: for `invalid_name` the `InspectFailed`
    event and waiting message; otherwise the `<error>` of `Failed to pull image "X": <error>`.
    `resolved_digest` is the index digest an `ok` pull lands on (for `imageID`).
    """

    status: PullStatus
    image: str
    reference: str = ""
    host: str = ""
    repository: str = ""
    tag: str | None = None
    digest: str | None = None
    resolved_digest: str | None = None
    message: str = ""


def _find_host(registries: Registries, host: str) -> RegistryHost | None:
    canon = canonical_host(host)
    for key, spec in registries.hosts.items():
        if canonical_host(key) == canon:
            return spec
    return None


def _host_tags(spec: RegistryHost, repository: str) -> tuple[str, ...] | None:
    host = canonical_host(spec.host)
    for name, tags in spec.images.items():
        if _canonical_repository(host, name) == repository:
            return tags
    return None


def _pull_error(status: PullStatus, ref: str, cause: str) -> str:
    code = "NotFound" if status == "not_found" else "Unknown"
    return f'rpc error: code = {code} desc = failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": {cause}'


_NO_CREDENTIALS = "pull access denied, repository does not exist or may require authorization: authorization failed: no basic auth credentials"
_HUB_DENIED = (
    "pull access denied, repository does not exist or may require authorization: "
    "server message: insufficient_scope: authorization failed"
)


def pull_result(registries: Registries, image_ref: str, pull_secret_hosts: set[str]) -> PullResult:
    """Decide what a kubelet pull of `image_ref` does, given the hosts the pod's pull secrets cover.

    Undeclared hosts follow `registries.default` (open: pulls succeed; closed: not found).
    On a declared `auth` host, a pod without a matching secret is refused before the
    registry says whether the image exists, as real registries do.
    """
    try:
        ref = parse_reference(image_ref)
    except InvalidReference as e:
        msg = f'Failed to apply default image tag "{image_ref}": couldn\'t parse image name "{image_ref}": {e}'
        return PullResult("invalid_name", image_ref, message=msg)
    text = str(ref)
    base = PullResult("ok", image_ref, text, ref.host, ref.repository, ref.tag, ref.digest)
    spec = _find_host(registries, ref.host)
    if spec is None:
        if registries.default == "open":
            return replace(base, resolved_digest=ref.digest or index_digest(ref.repository, ref.tag or "latest"))
        return replace(base, status="not_found", message=_pull_error("not_found", text, f"{text}: not found"))
    if spec.auth and canonical_host(ref.host) not in {canonical_host(h) for h in pull_secret_hosts}:
        return replace(base, status="unauthorized", message=_pull_error("unauthorized", text, _NO_CREDENTIALS))
    tags = _host_tags(spec, ref.repository)
    if tags is None and canonical_host(ref.host) == DOCKER_HUB:
        return replace(base, status="unauthorized", message=_pull_error("unauthorized", text, _HUB_DENIED))
    resolved = _resolve(ref.repository, tags or (), ref.tag, ref.digest)
    if resolved is None:
        return replace(base, status="not_found", message=_pull_error("not_found", text, f"{text}: not found"))
    return replace(base, resolved_digest=resolved)


def _resolve(repository: str, tags: tuple[str, ...], tag: str | None, digest: str | None) -> str | None:
    """The index digest a tag or digest lands on in one repository, or None."""
    if tag is not None:
        return index_digest(repository, tag) if tag in tags else None
    for t in tags:
        content = image_content(build_identity(repository, t))
        if digest == content.index.digest or any(digest == m.digest for m in content.manifests):
            return digest
    return None


# --- the HTTP registry -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Repo:
    tags: tuple[str, ...]  # sorted lexically, as tags/list pages them
    manifests: dict[str, Blob]  # digest -> index or image manifest
    blobs: dict[str, Blob]  # digest -> config or layer


@dataclass(frozen=True, slots=True)
class _Host:
    name: str  # canonical
    auth: bool
    repos: dict[str, _Repo]


def _build_repo(name: str, tags: tuple[str, ...]) -> _Repo:
    manifests: dict[str, Blob] = {}
    blobs: dict[str, Blob] = {}
    for tag in tags:
        content = image_content(build_identity(name, tag))
        for m in (content.index, *content.manifests):
            manifests[m.digest] = m
        for b in content.blobs:
            blobs[b.digest] = b
    return _Repo(tuple(sorted(set(tags))), manifests, blobs)


def _build_hosts(registries: Registries) -> dict[str, _Host]:
    hosts: dict[str, _Host] = {}
    for key, spec in registries.hosts.items():
        canon = canonical_host(key)
        repos = {
            _canonical_repository(canon, n): _build_repo(_canonical_repository(canon, n), t)
            for n, t in spec.images.items()
        }
        hosts[canon] = _Host(canon, spec.auth, repos)
    return hosts


_HOSTS: web.AppKey[dict[str, _Host]] = web.AppKey("registry_hosts")
_SIGNING_KEY: web.AppKey[bytes] = web.AppKey("registry_signing_key", bytes)
_CLOCK: web.AppKey[Clock] = web.AppKey("registry_clock", Clock)

_BASE_HEADERS = {"Docker-Distribution-API-Version": "registry/2.0"}


def _error(
    status: int, code: str, message: str, detail: Any = None, headers: dict[str, str] | None = None
) -> web.Response:
    body = orjson.dumps({"errors": [{"code": code, "message": message, "detail": detail}]})
    return web.Response(
        status=status,
        body=body,
        content_type="application/json",
        headers={**_BASE_HEADERS, **(headers or {})},
    )


def _json(doc: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(doc), content_type="application/json", headers={**_BASE_HEADERS, **(headers or {})}
    )


# tokens -----------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, claims: dict[str, Any]) -> str:
    head = _b64(orjson.dumps({"alg": "HS256", "typ": "JWT"})) + "." + _b64(orjson.dumps(claims))
    return head + "." + _b64(hmac.new(key, head.encode(), hashlib.sha256).digest())


def _verify(key: bytes, token: str) -> dict[str, Any] | None:
    """The claims of a token this app signed and that has not expired, else None."""
    try:
        head, payload, sig = token.split(".")
        want = hmac.new(key, f"{head}.{payload}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(want, _unb64(sig)):
            return None
        claims: dict[str, Any] = orjson.loads(_unb64(payload))
    except (ValueError, orjson.JSONDecodeError):
        return None
    return claims if claims.get("exp", 0) > time.time() else None


def _parse_scopes(values: list[str]) -> list[dict[str, Any]]:
    """`repository:a/b:pull,push` → access entries; only `pull` (and catalog `*`) is ever granted here."""
    access: list[dict[str, Any]] = []
    for value in values:
        for scope in value.split():
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if not kind or not name:
                continue
            wanted = set(actions.split(","))
            granted = sorted(wanted & {"pull", "*"}) if kind in ("repository", "registry") else []
            access.append({"type": kind.split("(")[0], "name": name, "actions": granted})
    return access


def _basic_password(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode()
    except (ValueError, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[2]


async def _token(request: web.Request) -> web.Response:
    """Docker token auth: Basic credentials (required on auth hosts) in, a short-lived bearer token out."""
    host = _host_or_none(request)
    if host is None:
        return _unknown_host(request)
    password = _basic_password(request)
    realm = f'Basic realm="{_prefix_url(request)}/token"'
    if password is not None and not hmac.compare_digest(password, credentials(host.name)[1]):
        return _error(
            401,
            "UNAUTHORIZED",
            "authentication required",
            "incorrect username or password",
            {"WWW-Authenticate": realm},
        )
    if host.auth and password is None:
        return _error(
            401, "UNAUTHORIZED", "authentication required", "no basic auth credentials", {"WWW-Authenticate": realm}
        )
    now = int(time.time())
    claims = {
        "iss": "pitstop-sandbox",
        "aud": host.name,
        "sub": "anonymous" if password is None else "sandbox",
        "iat": now,
        "exp": now + TOKEN_TTL,
        "access": _parse_scopes(request.query.getall("scope", [])),
    }
    token = _sign(request.app[_SIGNING_KEY], claims)
    issued = request.app[_CLOCK].stamp()
    return _json({"token": token, "access_token": token, "expires_in": TOKEN_TTL, "issued_at": issued})


# request helpers ----------------------------------------------------------------------------


def _host_or_none(request: web.Request) -> _Host | None:
    return request.app[_HOSTS].get(canonical_host(request.match_info["host"]))


def _prefix_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}/{request.match_info['host']}"


def _unknown_host(request: web.Request) -> web.Response:
    hosts = sorted(request.app[_HOSTS].keys())
    return _error(
        404,
        "NAME_UNKNOWN",
        "registry host not served by this sandbox",
        {"host": request.match_info["host"], "hosts": hosts},
    )


def _challenge(request: web.Request, host: _Host, scope: str | None, error: str | None = None) -> web.Response:
    parts = [f'Bearer realm="{_prefix_url(request)}/token"', f'service="{host.name}"']
    if scope:
        parts.append(f'scope="{scope}"')
    if error:
        parts.append(f'error="{error}"')
    detail = None
    if scope:
        kind, _, rest = scope.partition(":")
        name, _, action = rest.rpartition(":")
        detail = [{"Type": kind, "Class": "", "Name": name, "Action": action}]
    return _error(401, "UNAUTHORIZED", "authentication required", detail, {"WWW-Authenticate": ",".join(parts)})


def _token_claims(request: web.Request, host: _Host) -> dict[str, Any] | None:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    claims = _verify(request.app[_SIGNING_KEY], header[7:].strip())
    return claims if claims and claims.get("aud") == host.name else None


def _allows(claims: dict[str, Any] | None, kind: str, name: str, action: str) -> bool:
    if claims is None:
        return False
    return any(
        a["type"] == kind and a["name"] == name and (action in a["actions"] or "*" in a["actions"])
        for a in claims["access"]
    )


def _denied(request: web.Request, host: _Host, kind: str, name: str, action: str) -> web.Response | None:
    """On an auth host, the 401 for a request whose token does not cover `kind:name:action`; else None."""
    if not host.auth:
        return None
    claims = _token_claims(request, host)
    if _allows(claims, kind, name, action):
        return None
    return _challenge(request, host, f"{kind}:{name}:{action}", "insufficient_scope" if claims else None)


def _missing_repo(request: web.Request, host: _Host, name: str) -> web.Response:
    """Docker Hub hides whether a repository exists behind 401; other registries say NAME_UNKNOWN."""
    if host.name == DOCKER_HUB:
        claims = _token_claims(request, host)
        return _challenge(request, host, f"repository:{name}:pull", "insufficient_scope" if claims else None)
    return _error(404, "NAME_UNKNOWN", "repository name not known to registry", {"name": name})


def _page_args(request: web.Request) -> tuple[int | None, str] | web.Response:
    raw = request.query.get("n")
    last = request.query.get("last", "")
    if raw is None or raw == "":
        return None, last
    if not raw.isdigit():
        return _error(400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested", {"n": raw})
    return int(raw), last


def _paged(items: list[str], n: int | None, last: str) -> tuple[list[str], str | None]:
    """Lexical pagination: the page after `last`, and the `last` of the next page if there is one."""
    rest = [i for i in items if i > last] if last else items
    if n is None:
        return rest, None
    page = rest[:n]
    more = len(rest) > n > 0
    return page, (page[-1] if more else None)


# handlers -------------------------------------------------------------------------------------


async def _v2_root(request: web.Request) -> web.Response:
    host = _host_or_none(request)
    if host is None:
        return _unknown_host(request)
    if host.auth and _token_claims(request, host) is None:
        return _challenge(request, host, None)
    return _json({})


async def _v2(request: web.Request) -> web.StreamResponse:
    """Everything under `/<host>/v2/`: names contain slashes, so the path is split by its last verbs."""
    host = _host_or_none(request)
    if host is None:
        return _unknown_host(request)
    rest = request.match_info["rest"]
    if rest in ("", "/"):
        return await _v2_root(request)
    if request.method not in ("GET", "HEAD"):
        return _error(405, "UNSUPPORTED", "The operation is unsupported.", {"method": request.method})
    if rest == "_catalog":
        return _catalog(request, host)
    m = re.fullmatch(r"(?P<name>.+)/(?:(?P<tags>tags/list)|manifests/(?P<ref>[^/]+)|blobs/(?P<blob>[^/]+))", rest)
    if m is None:
        return _error(404, "UNSUPPORTED", "The operation is unsupported.", {"path": rest})
    name = m.group("name")
    if not _REMOTE_NAME_RE.fullmatch(name):
        return _error(400, "NAME_INVALID", "invalid repository name", {"name": name})
    denied = _denied(request, host, "repository", name, "pull")
    if denied is not None:
        return denied
    repo = host.repos.get(name)
    if repo is None:
        return _missing_repo(request, host, name)
    if m.group("tags"):
        return _tags(request, host, name, repo)
    if m.group("ref"):
        return _manifest(request, name, repo, m.group("ref"))
    return _blob(request, repo, m.group("blob"))


def _catalog(request: web.Request, host: _Host) -> web.Response:
    denied = _denied(request, host, "registry", "catalog", "*")
    if denied is not None:
        return denied
    args = _page_args(request)
    if isinstance(args, web.Response):
        return args
    page, next_last = _paged(sorted(host.repos), *args)
    headers = {}
    if next_last is not None:
        link = f"/{request.match_info['host']}/v2/_catalog?n={args[0]}&last={quote(next_last, safe='')}"
        headers["Link"] = f'<{link}>; rel="next"'
    return _json({"repositories": page}, headers)


def _tags(request: web.Request, host: _Host, name: str, repo: _Repo) -> web.Response:
    args = _page_args(request)
    if isinstance(args, web.Response):
        return args
    page, next_last = _paged(list(repo.tags), *args)
    headers = {}
    if next_last is not None:
        # The prefix is kept so a client resolving the link against the server stays on this host.
        link = f"/{request.match_info['host']}/v2/{name}/tags/list?n={args[0]}&last={quote(next_last, safe='')}"
        headers["Link"] = f'<{link}>; rel="next"'
    return _json({"name": name, "tags": page}, headers)


def _accepts_index(request: web.Request) -> bool:
    """Without an Accept header (or with */*) a tag answers with its index; a client that
    lists only image-manifest types gets the linux/amd64 manifest instead."""
    accept = request.headers.getall("Accept", [])
    types = {part.split(";")[0].strip() for value in accept for part in value.split(",") if part.strip()}
    return not types or bool(types & {MEDIA_INDEX, _DOCKER_LIST, "*/*"})


def _manifest(request: web.Request, name: str, repo: _Repo, ref: str) -> web.Response:
    if ":" in ref:
        blob = repo.manifests.get(ref)
        if blob is None:
            return _error(404, "MANIFEST_UNKNOWN", "manifest unknown", {"Revision": ref})
    else:
        if not _TAG_RE.fullmatch(ref) or ref not in repo.tags:
            return _error(404, "MANIFEST_UNKNOWN", "manifest unknown", {"Tag": ref})
        content = image_content(build_identity(name, ref))
        blob = content.index if _accepts_index(request) else content.manifests[0]
    return _blob_response(request, blob, blob.media_type)


def _blob(request: web.Request, repo: _Repo, digest: str) -> web.Response:
    blob = repo.blobs.get(digest)
    if blob is None:
        return _error(404, "BLOB_UNKNOWN", "blob unknown to registry", {"digest": digest})
    return _blob_response(request, blob, "application/octet-stream")


def _blob_response(request: web.Request, blob: Blob, content_type: str) -> web.Response:
    headers = {
        **_BASE_HEADERS,
        "Docker-Content-Digest": blob.digest,
        "Content-Type": content_type,
        "ETag": f'"{blob.digest}"',
    }
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(blob.data))
        return web.Response(headers=headers)
    return web.Response(body=blob.data, headers=headers)


def make_registry_app(registries: Registries, clock: Clock) -> web.Application:
    """The registry for every host in `registries`, each under `/<host>/` (see the module docstring)."""
    app = web.Application()
    app[_HOSTS] = _build_hosts(registries)
    app[_SIGNING_KEY] = secrets.token_bytes(32)
    app[_CLOCK] = clock
    app.router.add_get("/{host}/token", _token)
    app.router.add_route("*", "/{host}/v2", _v2_root)
    app.router.add_route("*", "/{host}/v2/{rest:.*}", _v2)
    return app
