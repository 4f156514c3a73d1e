"""Container image references, parsed and normalized the way containerd and the kubelet read them.

`parse("nginx")` is `docker.io/library/nginx:latest`; `parse("gcr.io/p/app:v1")` keeps its host.
The grammar is distribution/reference's: an optional registry host (with a port, or an
IPv6 literal in brackets), a lowercase path, an optional tag, an optional digest.

The surprising parts:

- The first path component is a registry host only when it contains `.` or `:`, is
  `localhost`, or has an uppercase letter (`UPPER/app` is host `UPPER`); `myorg/app` is
  Docker Hub's `docker.io/myorg/app`.
- Docker Hub's aliases (`index.docker.io`, `registry-1.docker.io`) all become `docker.io`,
  and a single-component Hub name gets `library/`.
- A reference with both a tag and a digest keeps both: the digest is what gets pulled,
  the tag is kept because it is what a human recognises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

DOCKER_HUB = "docker.io"
DEFAULT_TAG = "latest"
_HUB_ALIASES = frozenset({DOCKER_HUB, "index.docker.io", "registry-1.docker.io"})
NAME_MAX = 255

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*", re.ASCII)
_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST_RE = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?", re.ASCII)
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", re.ASCII)
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")
_DIGEST_HEX_SIZE = {"sha256": 64, "sha384": 96, "sha512": 128}


class InvalidReference(ValueError):
    """An image string no runtime would pull; the message is one sentence naming the string and the problem."""


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A normalized image reference. At least one of `tag` and `digest` is set.

    `str()` gives the familiar form people write in manifests (`nginx:1.27`,
    `gcr.io/p/app:v1`); `canonical` the fully qualified one (`docker.io/library/nginx:1.27`).
    """

    host: str
    repository: str
    tag: str | None = DEFAULT_TAG
    digest: str | None = None

    def __str__(self) -> str:
        return self.familiar_name + self._suffix()

    def _suffix(self) -> str:
        return (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    @property
    def name(self) -> str:
        """`host/repository`, fully qualified."""
        return f"{self.host}/{self.repository}"

    @property
    def familiar_name(self) -> str:
        """The name as people write it: Docker Hub's host and `library/` left out."""
        if self.host != DOCKER_HUB:
            return self.name
        head, _, rest = self.repository.partition("/")
        return rest if head == "library" and rest and "/" not in rest else self.repository

    @property
    def canonical(self) -> str:
        """The fully qualified form containerd resolves: `docker.io/library/nginx:latest`."""
        return self.name + self._suffix()

    @property
    def reference(self) -> str:
        """What goes after `/manifests/` in a registry request: the digest when pinned, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    @property
    def basename(self) -> str:
        """The repository's last path component (`frontend` for `gcr.io/p/frontend`)."""
        return self.repository.rsplit("/", 1)[-1]

    def with_host(self, host: str) -> ImageRef:
        """The same repository, tag and digest on another registry host (Hub aliases normalized)."""
        new_host = _normalize_host(host, host)
        repository = self.repository
        if new_host == DOCKER_HUB and "/" not in repository:
            repository = "library/" + repository
        return replace(self, host=new_host, repository=repository)

    def with_repository(self, repository: str) -> ImageRef:
        """The same host, tag and digest under another repository path."""
        if not _PATH_RE.fullmatch(repository):
            raise InvalidReference(f'invalid repository name "{repository}": use lowercase path components')
        if self.host == DOCKER_HUB and "/" not in repository:
            repository = "library/" + repository
        return replace(self, repository=repository)

    def with_tag(self, tag: str) -> ImageRef:
        """The same repository at another tag; a digest pin is dropped, since it would win over the tag."""
        if not _TAG_RE.fullmatch(tag):
            raise InvalidReference(f'invalid tag "{tag}": tags are up to 128 letters, digits, "_", "." or "-"')
        return replace(self, tag=tag, digest=None)


def _normalize_host(host: str, text: str) -> str:
    if not _HOST_RE.fullmatch(host):
        raise InvalidReference(f'invalid image reference "{text}": "{host}" is not a valid registry host')
    lowered = host.lower()
    return DOCKER_HUB if lowered in _HUB_ALIASES else host


def _check_digest(digest: str, text: str) -> None:
    algorithm, colon, hexpart = digest.partition(":")
    if not colon or not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*", algorithm):
        raise InvalidReference(f'invalid image reference "{text}": digest "{digest}" is not algorithm:hex')
    size = _DIGEST_HEX_SIZE.get(algorithm)
    if size is None:
        raise InvalidReference(f'invalid image reference "{text}": unsupported digest algorithm "{algorithm}"')
    if len(hexpart) != size or not re.fullmatch(r"[a-f0-9]+", hexpart):
        raise InvalidReference(
            f'invalid image reference "{text}": a {algorithm} digest is {size} lowercase hex characters'
        )


def parse(text: str) -> ImageRef:
    """Parse an image reference as a pod's `image` field holds it; raises `InvalidReference`.

    Defaults: host `docker.io`, `library/` for one-component Hub names, tag `latest`
    (only when there is no digest).
    """
    if not text:
        raise InvalidReference("image reference is empty: set the container's image")
    if text != text.strip() or any(c.isspace() for c in text):
        raise InvalidReference(f'invalid image reference "{text}": it contains whitespace')
    if _IDENTIFIER_RE.fullmatch(text):
        raise InvalidReference(f'invalid image reference "{text}": a bare 64-character hex id is not a repository name')
    named, at, digest = text.partition("@")
    if at:
        _check_digest(digest, text)
    last_slash = named.rfind("/")
    colon = named.rfind(":")
    tag: str | None = None
    if colon > last_slash:
        named, tag = named[:colon], named[colon + 1 :]
        if not _TAG_RE.fullmatch(tag):
            raise InvalidReference(
                f'invalid image reference "{text}": tag "{tag}" must be up to 128 letters, digits, "_", "." or "-"'
            )
    first, slash, rest = named.partition("/")
    if slash and (first == "localhost" or "." in first or ":" in first or first != first.lower()):
        host, path = _normalize_host(first, text), rest
    else:
        host, path = DOCKER_HUB, named
    if not path:
        raise InvalidReference(f'invalid image reference "{text}": the repository name is missing')
    if not _PATH_RE.fullmatch(path):
        if _PATH_RE.fullmatch(path.lower()):
            raise InvalidReference(f'invalid image reference "{text}": repository name "{path}" must be lowercase')
        raise InvalidReference(
            f'invalid image reference "{text}": repository name "{path}" may only hold lowercase letters, '
            'digits and single separators (".", "_", "__", "-") between them'
        )
    if host == DOCKER_HUB and "/" not in path:
        path = "library/" + path
    if len(f"{host}/{path}") > NAME_MAX:
        raise InvalidReference(f'invalid image reference "{text}": the name is longer than {NAME_MAX} characters')
    if tag is None and not at:
        tag = DEFAULT_TAG
    return ImageRef(host, path, tag, digest if at else None)


def is_same_registry(a: str, b: str) -> bool:
    """Whether two registry host strings name the same registry (Hub aliases, case of the host)."""

    def norm(h: str) -> str:
        h = re.sub(r"^[a-z]+://", "", h.strip().lower()).split("/", 1)[0]
        return DOCKER_HUB if h in _HUB_ALIASES else h

    return norm(a) == norm(b)
