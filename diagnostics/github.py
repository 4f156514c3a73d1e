"""Ask GitHub Actions about the repository's pipelines: runs, their jobs and steps, reviews, log tails.

`settings()` decides where to ask and as whom -- or returns `SetupNeeded` saying in one
sentence what is missing and how to set it. `GitHubClient` asks, over aiohttp.

The surprising parts:

- owner/repo comes from the checkout's `origin` remote, read from `.git/config` itself
  (no `git` subprocess); worktrees, submodules and `url.<base>.insteadOf` rewrites work.
- On the sandbox (its kubeconfig extension given) the sandbox's URL and token are used as a
  pair, whatever the environment says: its token means nothing elsewhere, and a real
  token must never be sent to it.
- A remote on a GitHub Enterprise host without `GITHUB_API_URL` is asked at
  `https://HOST/api/v3` (`https://api.HOST` for `*.ghe.com`), as the `gh` CLI does.
- Job logs are a 302 to a signed URL on another host; it is fetched without the token.
- The token never appears in a repr, a message or a log line.
- Writes (reviewing a deployment, re-running failed jobs) are never retried: a write that
  timed out may have happened, and the message says to refresh and look.
"""

from __future__ import annotations

import collections
import errno
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import orjson

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
SANDBOX_EXTENSION = "pitstop.dev/sandbox"
DEFAULT_TIMEOUT = 10.0
_MAX_JOB_PAGES = 10
_GITHUB_HOSTS = frozenset({"github.com", "www.github.com", "ssh.github.com"})
_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
_REPO = re.compile(r"[A-Za-z0-9._-]{1,100}")
_LOG_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ")
ReviewState = Literal["approved", "rejected"]


# --- where the repository is -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Remote:
    """A git remote URL taken apart: the host and the two path segments after it."""

    host: str
    owner: str
    repo: str

    @property
    def on_github_com(self) -> bool:
        return self.host in _GITHUB_HOSTS


def parse_remote(url: str) -> Remote | None:
    """`https://github.com/o/r(.git)`, `git@host:o/r.git`, `ssh://git@host[:port]/o/r` → Remote; None for others."""
    url = url.strip()
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http", "ssh", "git", "git+ssh", "ssh+git"):
            return None
        host, path = parts.hostname or "", parts.path
    else:
        m = re.fullmatch(r"(?:[^@/:]+@)?([^/:]+):(?!/)(.+)", url)  # scp-like `user@host:path`
        if m is None:
            return None
        host, path = m.group(1), m.group(2)
    segments = [s for s in path.strip("/").split("/") if s]
    if not host or len(segments) != 2:
        return None
    owner, repo = segments[0], segments[1].removesuffix(".git")
    if not _OWNER.fullmatch(owner) or not _REPO.fullmatch(repo) or repo in (".", ".."):
        return None
    return Remote(host.lower(), owner, repo)


def _git_dir(path: Path) -> Path | None:
    """The directory holding the checkout's `config`: `.git`, or what a `.git` file points at."""
    for candidate in (path, *path.parents):
        dot_git = candidate / ".git"
        if dot_git.is_dir():
            return dot_git
        if dot_git.is_file():  # worktree or submodule: `gitdir: <path>`
            text = dot_git.read_text(errors="replace").strip()
            if not text.startswith("gitdir:"):
                return None
            git_dir = (candidate / text.removeprefix("gitdir:").strip()).resolve()
            common = git_dir / "commondir"
            if common.is_file():  # a worktree's config lives in the main repository's git dir
                git_dir = (git_dir / common.read_text().strip()).resolve()
            return git_dir
    return None


_SECTION = re.compile(r'\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]')


def _git_config(text: str) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """Sections of a git config file as {(section, subsection): [(key, value), ...]}; enough for remotes."""
    out: dict[tuple[str, str], list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            m = _SECTION.match(line)
            if m is None:
                current = None
                continue
            name, sub = m.group(1).lower(), m.group(2)
            if sub is None and "." in name:  # the old `[remote.origin]` spelling
                name, _, sub = name.partition(".")
            current = out.setdefault((name, (sub or "").replace('\\"', '"')), [])
            line = line[m.end() :].strip()
            if not line:
                continue
        if current is None:
            continue
        key, _, value = line.partition("=")
        value = re.sub(r"\s[#;].*$", "", value.strip()).strip().strip('"')
        current.append((key.strip().lower(), value))
    return out


def _rewrite(url: str, config: dict[tuple[str, str], list[tuple[str, str]]]) -> str:
    """Apply the longest matching `url.<base>.insteadOf` prefix, as git does."""
    best = ("", "")
    for (section, base), items in config.items():
        if section != "url":
            continue
        for key, prefix in items:
            if key == "insteadof" and url.startswith(prefix) and len(prefix) > len(best[0]):
                best = (prefix, base)
    return best[1] + url[len(best[0]) :] if best[0] else url


def is_checkout(path: Path | str) -> bool:
    """Whether `path` is in a git checkout (or a worktree or submodule of one)."""
    git_dir = _git_dir(Path(path).resolve())
    return git_dir is not None and (git_dir / "config").is_file()


def checkout_remote(path: Path | str) -> Remote | None:
    """The `origin` remote of the checkout at (or above) `path`; None outside a checkout or without one.

    Without `origin`, the first remote on github.com. Remotes that are local paths are not remotes here.
    """
    git_dir = _git_dir(Path(path).resolve())
    try:
        config = _git_config((git_dir / "config").read_text(errors="replace")) if git_dir else {}
    except OSError:
        return None
    remotes: dict[str, Remote] = {}
    for (section, name), items in config.items():
        urls = [v for k, v in items if k == "url"]
        if section == "remote" and urls and (parsed := parse_remote(_rewrite(urls[0], config))):
            remotes[name] = parsed
    if "origin" in remotes:
        return remotes["origin"]
    return next((r for r in remotes.values() if r.on_github_com), None)


def _is_github_host(host: str, enterprise_host: str | None) -> bool:
    return host in _GITHUB_HOSTS or host == enterprise_host or host.endswith(".ghe.com") or "github" in host


def repo_from_checkout(path: Path | str, enterprise_host: str | None = None) -> tuple[str, str] | None:
    """(owner, repo) of the checkout's GitHub remote; None if not a git checkout or no GitHub remote.

    A host counts as GitHub when it is github.com, `enterprise_host`, a `*.ghe.com` host or
    has "github" in its name (GitHub Enterprise Server hosts usually do).
    """
    remote = checkout_remote(path)
    if remote is None or not _is_github_host(remote.host, enterprise_host):
        return None
    return remote.owner, remote.repo


# --- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GitHubSettings:
    """Where and as whom to ask. `token_source` names where the token came from, for messages."""

    base_url: str
    token: str = field(repr=False)
    owner: str
    repo: str
    token_source: str = "GITHUB_TOKEN"

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"


@dataclass(frozen=True, slots=True)
class SetupNeeded:
    """The pipelines cannot be asked for yet; `message` says what is missing and how to set it."""

    message: str

    def __str__(self) -> str:
        return self.message


def _public_url(url: str) -> str:
    """The URL without user:password, fit for messages."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ""
    return urlunsplit(parts._replace(netloc=netloc + (f":{parts.port}" if parts.port else "")))


def _enterprise_api(host: str) -> str:
    return f"https://api.{host}" if host.endswith(".ghe.com") else f"https://{host}/api/v3"


def settings(
    repo_path: Path | str,
    env: Mapping[str, str] = os.environ,
    sandbox_extension: Mapping[str, Any] | None = None,
) -> GitHubSettings | SetupNeeded:
    """Resolve the pipelines' API URL, token and owner/repo, or say in one sentence what is missing.

    URL: the sandbox extension's `github`, else `GITHUB_API_URL`, else derived from an
    Enterprise remote, else api.github.com. Token: the extension's `githubToken`, else
    `GITHUB_TOKEN` (or `GH_TOKEN`). Repository: `PITSTOP_GITHUB_REPO=owner/repo`, else the
    checkout's remote.
    """
    sandbox = dict(sandbox_extension or {})
    explicit_url = str(sandbox.get("github") or env.get("GITHUB_API_URL") or "").strip()
    if explicit_url and urlsplit(explicit_url).scheme not in ("http", "https"):
        return SetupNeeded(
            f"GITHUB_API_URL={_public_url(explicit_url)!r} is not an http(s) URL; set it like {DEFAULT_API_URL} or unset it"
        )
    api_host = (urlsplit(explicit_url).hostname or "").removeprefix("api.") if explicit_url else None

    named = env.get("PITSTOP_GITHUB_REPO", "").strip()
    remote: Remote | None = None
    if named:
        owner, slash, repo = named.partition("/")
        if not slash or not _OWNER.fullmatch(owner) or not _REPO.fullmatch(repo):
            return SetupNeeded(
                f"PITSTOP_GITHUB_REPO={named!r} is not owner/repo; set it like PITSTOP_GITHUB_REPO=coditect/license-platform"
            )
    else:
        found = checkout_remote(repo_path)
        if found is None and not is_checkout(repo_path):
            return SetupNeeded(
                f"No git checkout at {repo_path}; run pitstop --repo CHECKOUT or set PITSTOP_GITHUB_REPO=owner/repo"
            )
        if found is None:
            return SetupNeeded(f"No GitHub remote in {repo_path}; set PITSTOP_GITHUB_REPO=owner/repo")
        if not _is_github_host(found.host, api_host):
            return SetupNeeded(
                f"No GitHub remote in {repo_path} (origin is on {found.host}); set PITSTOP_GITHUB_REPO=owner/repo"
            )
        remote, owner, repo = found, found.owner, found.repo

    base_url = explicit_url or (
        _enterprise_api(remote.host) if remote is not None and not remote.on_github_com else DEFAULT_API_URL
    )
    if sandbox.get("githubToken"):
        token, source = str(sandbox["githubToken"]), "the sandbox kubeconfig"
    elif env.get("GITHUB_TOKEN", "").strip():
        token, source = env["GITHUB_TOKEN"].strip(), "GITHUB_TOKEN"
    elif env.get("GH_TOKEN", "").strip():
        token, source = env["GH_TOKEN"].strip(), "GH_TOKEN"
    else:
        return SetupNeeded(f"Set GITHUB_TOKEN to a token with actions:read for {owner}/{repo}")
    return GitHubSettings(base_url.rstrip("/"), token, owner, repo, source)


# --- what the API answers ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    """A workflow run. `duration_s`: started to last update when completed, started to now otherwise."""

    id: int
    workflow_name: str
    branch: str
    event: str
    status: str  # queued | in_progress | waiting | completed | requested | pending
    conclusion: str | None  # success | failure | cancelled | skipped | timed_out | ... when completed
    created_at: datetime
    updated_at: datetime
    run_started_at: datetime | None
    duration_s: float | None
    html_url: str
    actor: str
    head_sha: str
    run_number: int
    title: str = ""
    attempt: int = 1  # 2 and up after a re-run


@dataclass(frozen=True, slots=True)
class Step:
    number: int
    name: str
    status: str
    conclusion: str | None


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    name: str
    status: str
    conclusion: str | None
    started_at: datetime | None
    completed_at: datetime | None
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class PendingDeployment:
    """An environment a run waits on; `reviewers` are user logins or team slugs; `wait_timer` in minutes."""

    environment: str
    environment_id: int
    wait_timer: int
    reviewers: tuple[str, ...]
    can_approve: bool = False


class GitHubError(Exception):
    """A request that failed; `status` is the HTTP status (0: never answered), `message` one sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _login(value: Any) -> str:
    return str(value.get("login") or value.get("slug") or value.get("name") or "") if isinstance(value, dict) else ""


def _run(doc: dict[str, Any], now: datetime) -> Run:
    created = _time(doc.get("created_at")) or now
    updated = _time(doc.get("updated_at")) or created
    started = _time(doc.get("run_started_at"))
    status = str(doc.get("status") or "")
    duration = None
    if started is not None:
        duration = max(0.0, ((updated if status == "completed" else now) - started).total_seconds())
    return Run(
        id=int(doc["id"]),
        workflow_name=str(doc.get("name") or doc.get("path") or ""),
        branch=str(doc.get("head_branch") or ""),
        event=str(doc.get("event") or ""),
        status=status,
        conclusion=doc.get("conclusion") or None,
        created_at=created,
        updated_at=updated,
        run_started_at=started,
        duration_s=duration,
        html_url=str(doc.get("html_url") or ""),
        actor=_login(doc.get("triggering_actor") or doc.get("actor")),
        head_sha=str(doc.get("head_sha") or ""),
        run_number=int(doc.get("run_number") or 0),
        title=str(doc.get("display_title") or ""),
        attempt=int(doc.get("run_attempt") or 1),
    )


def _job(doc: dict[str, Any]) -> Job:
    steps = tuple(
        Step(int(s.get("number") or 0), str(s.get("name") or ""), str(s.get("status") or ""), s.get("conclusion"))
        for s in doc.get("steps") or ()
    )
    return Job(
        id=int(doc["id"]),
        name=str(doc.get("name") or ""),
        status=str(doc.get("status") or ""),
        conclusion=doc.get("conclusion") or None,
        started_at=_time(doc.get("started_at")),
        completed_at=_time(doc.get("completed_at")),
        steps=steps,
    )


def _pending(doc: dict[str, Any]) -> PendingDeployment:
    env = doc.get("environment") or {}
    return PendingDeployment(
        environment=str(env.get("name") or ""),
        environment_id=int(env.get("id") or 0),
        wait_timer=int(doc.get("wait_timer") or 0),
        reviewers=tuple(_login(r.get("reviewer")) for r in doc.get("reviewers") or () if isinstance(r, dict)),
        can_approve=bool(doc.get("current_user_can_approve")),
    )


def _cause(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "the host name does not resolve"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return "its TLS certificate is not trusted"
    if isinstance(exc, aiohttp.ClientConnectorError):
        code = exc.os_error.errno if exc.os_error else None
        if code == errno.ECONNREFUSED:
            return "connection refused"
        return " ".join((exc.strerror or "connection failed").split())
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    return " ".join(str(exc).split()) or type(exc).__name__


def _tail(lines: collections.deque[str]) -> list[str]:
    return [_LOG_STAMP.sub("", line.rstrip("\r")) for line in lines]


# --- the client --------------------------------------------------------------------------------


class GitHubClient:
    """Reads a repository's Actions runs; use as `async with GitHubClient(settings) as gh:`."""

    def __init__(self, settings: GitHubSettings, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.settings = settings
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._repo_url = f"{settings.base_url}/repos/{settings.owner}/{settings.repo}"

    async def __aenter__(self) -> GitHubClient:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            headers={
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "pitstop",
            },
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def __repr__(self) -> str:
        return f"GitHubClient({self.settings.full_name} at {_public_url(self.settings.base_url)})"

    async def runs(self, per_page: int = 20) -> list[Run]:
        """The newest runs of the repository, newest first (at most 100)."""
        doc, _ = await self._get_json("/actions/runs", {"per_page": str(min(max(per_page, 1), 100))}, "runs")
        now = datetime.now(UTC)
        return [_run(r, now) for r in self._field(doc, "workflow_runs")]

    async def jobs(self, run_id: int) -> list[Job]:
        """The jobs of a run's latest attempt, with their steps (every page)."""
        out: list[Job] = []
        url: str | None = f"{self._repo_url}/actions/runs/{run_id}/jobs?per_page=100"
        for _ in range(_MAX_JOB_PAGES):
            if url is None:
                break
            doc, links = await self._get_json(url, None, f"run {run_id}")
            out += [_job(j) for j in self._field(doc, "jobs")]
            url = links.get("next")
            if url is not None and not url.startswith(self.settings.base_url + "/"):
                break  # never send the token to a host the Link header names
        return out

    async def pending_deployments(self, run_id: int) -> list[PendingDeployment]:
        """The environments run `run_id` waits for a review of (empty when it waits for nothing)."""
        doc, _ = await self._get_json(f"/actions/runs/{run_id}/pending_deployments", None, f"run {run_id}")
        if not isinstance(doc, list):
            raise self._unexpected()
        return [_pending(d) for d in doc if isinstance(d, dict)]

    async def review_pending_deployments(
        self, run_id: int, environment_ids: Sequence[int], state: ReviewState, comment: str = ""
    ) -> list[str]:
        """Approve or reject what run `run_id` waits for in `environment_ids`; the environments GitHub reviewed.

        GitHub answers 200 with the deployments the review let through (or rejected); only a
        required reviewer of the environments may review, and a review cannot be taken back.
        """
        if state not in ("approved", "rejected"):
            raise ValueError(f"state must be 'approved' or 'rejected', not {state!r}")
        ids = [int(i) for i in environment_ids]
        if not ids:
            raise ValueError("name at least one environment id to review")
        verb = "approve" if state == "approved" else "reject"
        doing = f"{verb} the deployments of run {run_id} of {self.settings.full_name}"
        body = {"environment_ids": ids, "state": state, "comment": comment}
        doc = await self._post_json(run_id, "pending_deployments", body, 200, doing)
        if not isinstance(doc, list):
            raise self._unexpected()
        return [str(d.get("environment") or "") for d in doc if isinstance(d, dict)]

    async def rerun_failed_jobs(self, run_id: int, *, debug_logging: bool = False) -> None:
        """Start a new attempt of run `run_id`'s failed jobs and the jobs that need them (GitHub answers 201).

        GitHub refuses with 403 a run that has not completed, is older than 30 days, or whose
        token lacks actions:write; the message gives its reason.
        """
        doing = f"re-run the failed jobs of run {run_id} of {self.settings.full_name}"
        body = {"enable_debug_logging": debug_logging}
        await self._post_json(run_id, "rerun-failed-jobs", body, 201, doing)

    async def job_log_tail(self, job_id: int, lines: int = 50) -> list[str]:
        """The last `lines` lines of a job's log, without GitHub's timestamps.

        The API answers 302 to a short-lived signed URL, fetched without the token; the log
        is streamed, so a huge one costs no more memory than its tail.
        """
        response = await self._request(f"{self._repo_url}/actions/jobs/{job_id}/logs", None, authorized=True)
        async with response:
            if response.status not in (301, 302, 303, 307, 308):
                await self._raise_for(response, f"the log of job {job_id}")
            location = response.headers.get("Location", "")
        if not location:
            raise self._unexpected()
        download = await self._request(location, None, authorized=False)
        async with download:
            if download.status != 200:
                raise GitHubError(
                    download.status, f"the log of job {job_id} could not be downloaded ({download.status}); try again"
                )
            tail: collections.deque[str] = collections.deque(maxlen=max(lines, 1))
            pending = b""
            async for chunk in download.content.iter_chunked(65536):
                pending += chunk
                *complete, pending = pending.split(b"\n")
                tail.extend(c.decode("utf-8", "replace") for c in complete)
            if pending:
                tail.append(pending.decode("utf-8", "replace"))
        return _tail(tail)

    # --- plumbing ---

    def _api(self) -> str:
        return _public_url(self.settings.base_url)

    def _unexpected(self) -> GitHubError:
        return GitHubError(
            0, f"the GitHub API at {self._api()} answered with an unexpected document; check GITHUB_API_URL"
        )

    def _field(self, doc: Any, name: str) -> list[dict[str, Any]]:
        items = doc.get(name) if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise self._unexpected()
        return [i for i in items if isinstance(i, dict) and isinstance(i.get("id"), int)]

    async def _request(
        self,
        url: str,
        params: dict[str, str] | None,
        *,
        authorized: bool,
        method: str = "GET",
        body: dict[str, Any] | None = None,
        doing: str = "",
    ) -> aiohttp.ClientResponse:
        """One request; `doing` names a write, whose timeout leaves open whether it happened."""
        if self._session is None:
            raise RuntimeError("use GitHubClient as `async with GitHubClient(settings) as gh:`")
        headers = {"Authorization": f"Bearer {self.settings.token}"} if authorized else {}
        data = None
        if body is not None:
            data = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        try:
            return await self._session.request(
                method, url, params=params, headers=headers, data=data, allow_redirects=False
            )
        except TimeoutError:
            late = f" to {doing}; refresh to see whether it happened" if doing else ""
            raise GitHubError(
                0, f"the GitHub API at {self._api()} did not answer within {self.timeout:g} s{late}"
            ) from None
        except aiohttp.ClientError as e:
            raise GitHubError(0, f"cannot reach the GitHub API at {self._api()} ({_cause(e)})") from None

    async def _get_json(self, path: str, params: dict[str, str] | None, what: str) -> tuple[Any, dict[str, str]]:
        url = path if "://" in path else self._repo_url + path
        response = await self._request(url, params, authorized=True)
        async with response:
            if response.status != 200:
                await self._raise_for(response, what)
            try:
                body = await response.read()
                doc = orjson.loads(body)
            except (TimeoutError, aiohttp.ClientError):
                raise GitHubError(0, f"the GitHub API at {self._api()} broke off its answer; try again") from None
            except orjson.JSONDecodeError:
                raise self._unexpected() from None
            links = {str(rel): str(link.get("url")) for rel, link in response.links.items()}
        return doc, links

    async def _post_json(self, run_id: int, verb: str, body: dict[str, Any], expected: int, doing: str) -> Any:
        """POST `body` to `runs/{run_id}/{verb}`; the decoded answer (None when empty) when GitHub answers `expected`.

        `doing` ("approve the deployments of run 1 of o/r") names the write in messages. Never retried.
        """
        url = f"{self._repo_url}/actions/runs/{run_id}/{verb}"
        response = await self._request(url, None, authorized=True, method="POST", body=body, doing=doing)
        async with response:
            if response.status != expected:
                await self._raise_for_write(response, run_id, doing, reviewing=verb == "pending_deployments")
            try:
                raw = await response.read()
            except (TimeoutError, aiohttp.ClientError):
                raise GitHubError(
                    0,
                    f"the GitHub API at {self._api()} broke off its answer to {doing}; "
                    "refresh to see whether it happened",
                ) from None
        try:
            return orjson.loads(raw) if raw.strip() else None
        except orjson.JSONDecodeError:
            raise self._unexpected() from None

    async def _said(self, response: aiohttp.ClientResponse) -> str:
        """GitHub's `message`, on one line, short, and without the token should a server echo it."""
        try:
            said = str(orjson.loads(await response.read()).get("message") or "")
        except (orjson.JSONDecodeError, AttributeError, aiohttp.ClientError, TimeoutError):
            said = ""
        if self.settings.token:
            said = said.replace(self.settings.token, "…")
        return " ".join(said.split())[:200]

    async def _raise_for_write(
        self, response: aiohttp.ClientResponse, run_id: int, doing: str, *, reviewing: bool
    ) -> None:
        status = response.status
        said = await self._said(response)
        self._raise_for_auth(response, status, said)
        full = self.settings.full_name
        if 200 <= status < 300:
            raise self._unexpected()
        if status == 403 and reviewing:
            raise GitHubError(
                403,
                f"GitHub refused to {doing} (403 {said or 'Forbidden'}); only a required reviewer of the "
                "environment can review it, with a token that has the repo scope (fine-grained: Deployments)",
            )
        if status == 403:
            raise GitHubError(
                403,
                f"GitHub would not {doing} (403 {said or 'Forbidden'}); a run can be re-run once it has "
                "completed and within 30 days, with a token that has actions:write",
            )
        if status == 404:
            raise GitHubError(
                404, f"run {run_id} of {full} was not found; it may have been deleted, or the token cannot see it"
            )
        if status == 409:
            raise GitHubError(
                409, f"GitHub could not {doing}: it changed meanwhile (409 {said or 'Conflict'}); refresh and try again"
            )
        if status == 422 and reviewing:
            raise GitHubError(
                422,
                f"GitHub would not {doing} (422 {said or 'Unprocessable Entity'}); it may no longer wait "
                "for those environments, so refresh to see its state",
            )
        if status == 422:
            raise GitHubError(
                422,
                f"GitHub would not {doing} (422 {said or 'Unprocessable Entity'}); refresh to see "
                "whether it can still be re-run",
            )
        reason = response.reason or ""
        raise GitHubError(
            status,
            f"the GitHub API at {self._api()} answered {status} {reason} to {doing}; refresh to see whether it "
            "happened, then try again".replace("  ", " "),
        )

    def _raise_for_auth(self, response: aiohttp.ClientResponse, status: int, said: str) -> None:
        """A rejected token or a used-up rate limit, whatever was asked."""
        if status == 401:
            raise GitHubError(
                401, f"GitHub rejected the token (401 {said or 'Bad credentials'}); check {self.settings.token_source}"
            )
        if status in (403, 429) and (
            response.headers.get("X-RateLimit-Remaining") == "0" or "rate limit" in said.lower()
        ):
            reset = response.headers.get("X-RateLimit-Reset", "")
            until = datetime.fromtimestamp(int(reset), UTC).strftime(" until %H:%M UTC") if reset.isdigit() else ""
            raise GitHubError(
                status, f"GitHub's API rate limit for this token is used up{until}; wait or use another token"
            )

    async def _raise_for(self, response: aiohttp.ClientResponse, what: str) -> None:
        status = response.status
        said = await self._said(response)
        self._raise_for_auth(response, status, said)
        full = self.settings.full_name
        if status == 403:
            raise GitHubError(403, f"the token may not read Actions (403 {said or 'Forbidden'}); give it actions:read")
        if status == 404:
            if what == "runs":
                raise GitHubError(404, f"repository {full} not found or the token cannot see it")
            why = "its job may not have started yet" if what.startswith("the log") else "it may have been deleted"
            raise GitHubError(404, f"{what} of {full} was not found; {why}")
        if status == 410:
            raise GitHubError(410, f"{what} of {full} is gone (GitHub keeps logs for a limited time)")
        reason = response.reason or ""
        raise GitHubError(
            status,
            f"the GitHub API at {self._api()} answered {status} {reason} for {what}; try again shortly".replace(
                "  ", " "
            ),
        )
