"""The pipelines client against the demo's GitHub Actions history, and where its settings come from."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

import sandbox.scenario
from diagnostics import kubeconfig
from diagnostics.github import (
    SANDBOX_EXTENSION,
    GitHubClient,
    GitHubError,
    GitHubSettings,
    SetupNeeded,
    parse_remote,
    repo_from_checkout,
    settings,
)
from sandbox.clock import Clock
from sandbox.github import make_github_app
from sandbox.workspace import copy_repo
from tests.conftest import RunningSandbox

TOKEN = "ghp_demo_sandbox_token"
CONFLICT = (
    "CommandError: Conflicting migrations detected; multiple leaf nodes in the migration graph: "
    "(0002_add_renewal_fields, 0006_phase1_step6_license_sessions in licenses)."
)
FAILED_DEPLOY, WAITING_DEPLOY, FAILED_CI = 11900000358, 11900000359, 11900000214


@pytest_asyncio.fixture
async def api() -> AsyncIterator[str]:
    """The demo scenario's GitHub API on a local port; its base URL."""
    app = make_github_app(sandbox.scenario.load("demo").github, Clock(speed=100), TOKEN)
    async with TestServer(app) as server:
        yield str(server.make_url("")).rstrip("/")


def _settings(base_url: str, token: str = TOKEN, repo: str = "license-platform") -> GitHubSettings:
    return GitHubSettings(base_url, token, "coditect", repo)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_demo_history_lists_green_failed_waiting_and_running_pipelines(api: str) -> None:
    async with GitHubClient(_settings(api)) as gh:
        runs = await gh.runs()
    by_id = {r.id: r for r in runs}
    assert [r.run_number for r in runs][:3] == [216, 59, 215]  # newest first
    assert (by_id[11900000212].workflow_name, by_id[11900000212].branch, by_id[11900000212].event) == (
        "CI",
        "main",
        "push",
    )
    assert (by_id[11900000212].status, by_id[11900000212].conclusion) == ("completed", "success")
    assert (by_id[FAILED_CI].status, by_id[FAILED_CI].conclusion) == ("completed", "failure")
    assert (by_id[FAILED_DEPLOY].workflow_name, by_id[FAILED_DEPLOY].conclusion) == ("Deploy staging", "failure")
    assert (by_id[WAITING_DEPLOY].status, by_id[WAITING_DEPLOY].event) == ("waiting", "workflow_dispatch")
    assert by_id[11900000216].status in ("in_progress", "completed")
    deploy = by_id[FAILED_DEPLOY]
    assert deploy.actor == "sam-chen" and deploy.head_sha.startswith("c3f81a6e")
    assert deploy.created_at.tzinfo is not None and deploy.html_url.endswith(f"/actions/runs/{FAILED_DEPLOY}")
    assert deploy.duration_s is not None and 8 * 60 < deploy.duration_s < 30 * 60


async def test_the_manual_staging_deploy_waits_for_a_review_of_staging(api: str) -> None:
    async with GitHubClient(_settings(api)) as gh:
        pending = await gh.pending_deployments(WAITING_DEPLOY)
        nothing = await gh.pending_deployments(FAILED_DEPLOY)
    assert [(p.environment, p.environment_id) for p in pending] == [("staging", 2210331001)]
    assert pending[0].reviewers == ("hal-okafor", "priya-raman") and pending[0].wait_timer == 0
    assert nothing == []


async def test_the_failed_deploy_shows_which_step_broke_and_why(api: str) -> None:
    async with GitHubClient(_settings(api)) as gh:
        jobs = await gh.jobs(FAILED_DEPLOY)
        deploy = next(j for j in jobs if j.name == "Deploy to staging")
        tail = await gh.job_log_tail(deploy.id, lines=50)
    assert [(j.name, j.conclusion) for j in jobs] == [("Build images", "success"), ("Deploy to staging", "failure")]
    steps = {s.name: s.conclusion for s in deploy.steps}
    assert steps["Run migrations"] == "failure" and steps["Wait for rollout"] == "skipped"
    assert steps["Set up job"] == "success" and [s.number for s in deploy.steps] == list(
        range(1, len(deploy.steps) + 1)
    )
    assert deploy.started_at is not None and deploy.completed_at is not None
    assert CONFLICT in tail  # the timestamps are gone, the I7 line is whole
    assert len(tail) <= 50 and tail[-1] == "Cleaning up orphan processes"


async def test_a_wrong_token_is_one_sentence_naming_where_the_token_came_from(api: str) -> None:
    async with GitHubClient(_settings(api, token="ghp_wrong_token")) as gh:
        with pytest.raises(GitHubError) as err:
            await gh.runs()
    assert err.value.status == 401
    assert str(err.value) == "GitHub rejected the token (401 Bad credentials); check GITHUB_TOKEN"
    assert "ghp_wrong_token" not in str(err.value) + repr(_settings(api, token="ghp_wrong_token"))


async def test_an_unknown_repository_and_an_unknown_run_say_what_was_not_found(api: str) -> None:
    async with GitHubClient(_settings(api, repo="nope")) as gh:
        with pytest.raises(GitHubError, match=r"^repository coditect/nope not found or the token cannot see it$"):
            await gh.runs()
    async with GitHubClient(_settings(api)) as gh:
        with pytest.raises(GitHubError) as err:
            await gh.jobs(12345)
    assert err.value.status == 404
    assert err.value.message == "run 12345 of coditect/license-platform was not found; it may have been deleted"


async def test_a_github_api_that_is_down_is_one_sentence() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    async with GitHubClient(_settings(url)) as gh:
        with pytest.raises(GitHubError) as err:
            await gh.runs()
    assert err.value.status == 0
    assert err.value.message == f"cannot reach the GitHub API at {url} (connection refused)"


# --- where the repository and the token come from -----------------------------------------------


def test_the_demo_repository_copy_names_its_github_repository(tmp_path: Path) -> None:
    repo = copy_repo(sandbox.scenario.load("demo"), tmp_path)
    assert repo is not None
    assert repo_from_checkout(repo) == ("coditect", "license-platform")
    assert repo_from_checkout(repo / "backend") == ("coditect", "license-platform")  # from a subdirectory too


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/coditect/license-platform.git", ("github.com", "coditect", "license-platform")),
        ("https://github.com/coditect/license-platform", ("github.com", "coditect", "license-platform")),
        ("https://github.com/coditect/license-platform/", ("github.com", "coditect", "license-platform")),
        ("https://x-access-token:secret@github.com/o/r.git", ("github.com", "o", "r")),
        ("git@github.com:coditect/license-platform.git", ("github.com", "coditect", "license-platform")),
        ("github.com:o/r", ("github.com", "o", "r")),
        ("ssh://git@github.com/coditect/license-platform", ("github.com", "coditect", "license-platform")),
        ("ssh://git@ssh.github.com:443/o/r.git", ("ssh.github.com", "o", "r")),
        (
            "git@github.example.com:platform/license.platform.git",
            ("github.example.com", "platform", "license.platform"),
        ),
        ("https://GHE.corp.example/o/r.git", ("ghe.corp.example", "o", "r")),
        ("/srv/git/license-platform.git", None),
        ("file:///srv/git/o/r.git", None),
        ("https://github.com/coditect", None),
        ("https://github.com/o/r/tree/main", None),
    ],
)
def test_remote_urls_are_taken_apart(url: str, expected: tuple[str, str, str] | None) -> None:
    remote = parse_remote(url)
    assert (None if remote is None else (remote.host, remote.owner, remote.repo)) == expected


def _checkout(root: Path, config: str) -> Path:
    (root / ".git").mkdir(parents=True)
    (root / ".git" / "config").write_text(config)
    return root


def test_remotes_in_a_hand_written_git_config(tmp_path: Path) -> None:
    plain = _checkout(
        tmp_path / "a",
        '[core]\n\tbare = false\n[remote "upstream"]\n\turl = git@github.com:up/stream.git\n'
        '[remote "origin"]\n\turl = git@github.com:coditect/license-platform.git\n'
        "\tfetch = +refs/heads/*:refs/remotes/origin/*\n",
    )
    assert repo_from_checkout(plain) == ("coditect", "license-platform")
    rewritten = _checkout(
        tmp_path / "b", '[url "git@github.com:"]\n\tinsteadOf = gh:\n[remote "origin"]\n\turl = gh:o/r\n'
    )
    assert repo_from_checkout(rewritten) == ("o", "r")
    gitlab = _checkout(tmp_path / "c", '[remote "origin"]\n\turl = https://gitlab.com/o/r.git\n')
    assert repo_from_checkout(gitlab) is None
    assert repo_from_checkout(_checkout(tmp_path / "d", "[core]\n\tbare = false\n")) is None
    enterprise = _checkout(tmp_path / "e", '[remote "origin"]\n\turl = git@code.corp.example:o/r.git\n')
    assert repo_from_checkout(enterprise) is None
    assert repo_from_checkout(enterprise, enterprise_host="code.corp.example") == ("o", "r")
    (tmp_path / "wt").mkdir()
    (tmp_path / "wt" / ".git").write_text(f"gitdir: {plain / '.git'}\n")  # a submodule-style pointer
    assert repo_from_checkout(tmp_path / "wt") == ("coditect", "license-platform")
    assert repo_from_checkout(tmp_path / "nowhere") is None


def test_settings_come_from_the_environment_and_the_checkout(tmp_path: Path) -> None:
    repo = copy_repo(sandbox.scenario.load("demo"), tmp_path)
    assert repo is not None
    got = settings(repo, env={"GITHUB_TOKEN": "ghp_real"})
    assert got == GitHubSettings("https://api.github.com", "ghp_real", "coditect", "license-platform")
    assert "ghp_real" not in repr(got)
    got = settings(repo, env={"GITHUB_TOKEN": "t", "GITHUB_API_URL": "https://ghe.corp/api/v3/"})
    assert isinstance(got, GitHubSettings) and got.base_url == "https://ghe.corp/api/v3"
    got = settings(tmp_path / "elsewhere", env={"GITHUB_TOKEN": "t", "PITSTOP_GITHUB_REPO": "o/r"})
    assert isinstance(got, GitHubSettings) and got.full_name == "o/r"


def test_an_enterprise_remote_without_an_api_url_is_asked_at_its_api_v3(tmp_path: Path) -> None:
    repo = _checkout(tmp_path, '[remote "origin"]\n\turl = git@github.corp.example:o/r.git\n')
    got = settings(repo, env={"GITHUB_TOKEN": "t"})
    assert isinstance(got, GitHubSettings) and got.base_url == "https://github.corp.example/api/v3"


def test_the_sandbox_extension_brings_its_own_url_and_token(tmp_path: Path) -> None:
    repo = copy_repo(sandbox.scenario.load("demo"), tmp_path)
    assert repo is not None
    extension = {"github": "http://127.0.0.1:4321", "githubToken": "sandbox-token", "registry": "http://x"}
    got = settings(
        repo, env={"GITHUB_TOKEN": "ghp_real", "GITHUB_API_URL": "https://api.github.com"}, sandbox_extension=extension
    )
    assert got == GitHubSettings(
        "http://127.0.0.1:4321", "sandbox-token", "coditect", "license-platform", "the sandbox kubeconfig"
    )


def test_what_is_missing_is_said_in_one_sentence(tmp_path: Path) -> None:
    repo = copy_repo(sandbox.scenario.load("demo"), tmp_path)
    assert repo is not None
    assert settings(repo, env={}) == SetupNeeded(
        "Set GITHUB_TOKEN to a token with actions:read for coditect/license-platform"
    )
    bare = _checkout(tmp_path / "bare", "[core]\n\tbare = false\n")
    assert settings(bare, env={"GITHUB_TOKEN": "t"}) == SetupNeeded(
        f"No GitHub remote in {bare}; set PITSTOP_GITHUB_REPO=owner/repo"
    )
    gitlab = _checkout(tmp_path / "gl", '[remote "origin"]\n\turl = https://gitlab.com/o/r.git\n')
    assert settings(gitlab, env={"GITHUB_TOKEN": "t"}) == SetupNeeded(
        f"No GitHub remote in {gitlab} (origin is on gitlab.com); set PITSTOP_GITHUB_REPO=owner/repo"
    )
    plain = tmp_path / "plain"
    plain.mkdir()
    missing = settings(plain, env={"GITHUB_TOKEN": "t"})
    assert isinstance(missing, SetupNeeded) and missing.message.startswith(f"No git checkout at {plain}; ")
    assert "PITSTOP_GITHUB_REPO=owner/repo" in missing.message
    bad = settings(plain, env={"GITHUB_TOKEN": "t", "PITSTOP_GITHUB_REPO": "license-platform"})
    assert isinstance(bad, SetupNeeded) and bad.message.startswith(
        "PITSTOP_GITHUB_REPO='license-platform' is not owner/repo"
    )
    url = settings(repo, env={"GITHUB_TOKEN": "t", "GITHUB_API_URL": "api.github.com"})
    assert isinstance(url, SetupNeeded) and "is not an http(s) URL" in url.message


async def test_the_signed_log_url_is_fetched_without_the_token() -> None:
    seen: dict[str, str | None] = {}

    async def logs(request: web.Request) -> web.Response:
        seen["api"] = request.headers.get("Authorization")
        raise web.HTTPFound(str(request.url.with_path("/blob").with_query(sig="s")))

    async def blob(request: web.Request) -> web.Response:
        seen["blob"] = request.headers.get("Authorization")
        body = "\n".join(f"2026-01-01T00:00:0{i % 10}.0000000Z line {i}" for i in range(1, 201))
        return web.Response(text=body)  # no newline at the end, as GitHub's logs often have

    app = web.Application()
    app.router.add_get("/repos/coditect/license-platform/actions/jobs/7/logs", logs)
    app.router.add_get("/blob", blob)
    async with TestServer(app) as server, GitHubClient(_settings(str(server.make_url("")).rstrip("/"))) as gh:
        tail = await gh.job_log_tail(7, lines=3)
    assert tail == ["line 198", "line 199", "line 200"]
    assert seen == {"api": f"Bearer {TOKEN}", "blob": None}


async def test_pitstop_demo_finds_the_pipelines_through_the_sandbox_kubeconfig(
    sandbox_factory: Callable[..., RunningSandbox], tmp_path: Path
) -> None:
    running = sandbox_factory("demo", clock_speed=100)
    extension = kubeconfig.load(str(running.kubeconfig)).extensions.get(SANDBOX_EXTENSION)
    repo = copy_repo(sandbox.scenario.load("demo"), tmp_path)
    assert repo is not None and isinstance(extension, dict)
    found = settings(repo, env={"GITHUB_TOKEN": "ghp_the_operators_real_token"}, sandbox_extension=extension)
    assert isinstance(found, GitHubSettings) and found.token != "ghp_the_operators_real_token"
    async with GitHubClient(found) as gh:
        runs = await gh.runs()
        pending = await gh.pending_deployments(WAITING_DEPLOY)
    assert len(runs) == 8 and [p.environment for p in pending] == ["staging"]
