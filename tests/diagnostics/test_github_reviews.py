"""Approving, rejecting and re-running from the client: what the on-call engineer's keypress sends to GitHub."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

import sandbox.scenario
from diagnostics.github import GitHubClient, GitHubError, GitHubSettings, Run
from sandbox.clock import Clock
from sandbox.github import make_github_app

TOKEN = "ghp_demo_sandbox_token"
REPO = "coditect/license-platform"
FAILED_DEPLOY, WAITING_DEPLOY, GREEN_CI = 11900000358, 11900000359, 11900000212
STAGING = 2210331001


@pytest_asyncio.fixture
async def api() -> AsyncIterator[str]:
    """The demo scenario's GitHub API on a local port; its base URL."""
    app = make_github_app(sandbox.scenario.load("demo").github, Clock(speed=100), TOKEN)
    async with TestServer(app) as server:
        yield str(server.make_url("")).rstrip("/")


def _settings(base_url: str, token: str = TOKEN) -> GitHubSettings:
    return GitHubSettings(base_url, token, "coditect", "license-platform")


async def _run(gh: GitHubClient, run_id: int) -> Run:
    return next(r for r in await gh.runs() if r.id == run_id)


async def _until(probe: Callable[[], Awaitable[bool]], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


# --- against the sandbox's GitHub Actions ------------------------------------------------------


async def test_approving_the_waiting_staging_deploy_lets_it_proceed(api: str) -> None:
    async with GitHubClient(_settings(api)) as gh:
        assert (await _run(gh, WAITING_DEPLOY)).status == "waiting"
        reviewed = await gh.review_pending_deployments(WAITING_DEPLOY, [STAGING], "approved", "Ship it")
        assert reviewed == ["staging"]
        assert await gh.pending_deployments(WAITING_DEPLOY) == []

        async def deploying() -> bool:
            jobs = {j.name: j for j in await gh.jobs(WAITING_DEPLOY)}
            return jobs["Deploy to staging"].status == "in_progress"

        await _until(deploying, "Deploy to staging to start")
        run = await _run(gh, WAITING_DEPLOY)
    assert (run.status, run.conclusion, run.attempt) == ("in_progress", None, 1)


async def test_rejecting_the_waiting_staging_deploy_fails_it(api: str) -> None:
    async with GitHubClient(_settings(api)) as gh:
        reviewed = await gh.review_pending_deployments(WAITING_DEPLOY, [STAGING], "rejected", "Not during the incident")
        run = await _run(gh, WAITING_DEPLOY)
        jobs = {j.name: j.conclusion for j in await gh.jobs(WAITING_DEPLOY)}
    assert reviewed == ["staging"]
    assert (run.status, run.conclusion) == ("completed", "failure")
    assert jobs == {"Build images": "success", "Deploy to staging": "failure"}


async def test_rerunning_the_failed_deploy_starts_a_second_attempt_of_its_failed_job(api: str) -> None:
    async with GitHubClient(_settings(api)) as gh:
        before = await gh.jobs(FAILED_DEPLOY)
        await gh.rerun_failed_jobs(FAILED_DEPLOY)
        run = await _run(gh, FAILED_DEPLOY)
        after = {j.name: j for j in await gh.jobs(FAILED_DEPLOY)}
        pending = await gh.pending_deployments(FAILED_DEPLOY)
    assert run.attempt == 2 and run.status == "waiting"  # the new attempt waits for a review of staging again
    old = {j.name: j for j in before}
    assert after["Build images"].id == old["Build images"].id  # what passed is carried over
    assert after["Deploy to staging"].id != old["Deploy to staging"].id
    assert [p.environment for p in pending] == ["staging"]


async def test_a_run_that_has_not_finished_cannot_be_rerun(api: str) -> None:
    async with GitHubClient(_settings(api)) as gh:
        with pytest.raises(GitHubError) as err:
            await gh.rerun_failed_jobs(WAITING_DEPLOY)
    assert err.value.status == 403
    assert err.value.message == (
        f"GitHub would not re-run the failed jobs of run {WAITING_DEPLOY} of {REPO} "
        "(403 This workflow run is not completed; it cannot be re-run yet); "
        "a run can be re-run once it has completed and within 30 days, with a token that has actions:write"
    )


async def test_a_green_run_has_no_failed_jobs_to_rerun(api: str) -> None:
    async with GitHubClient(_settings(api)) as gh:
        with pytest.raises(GitHubError) as err:
            await gh.rerun_failed_jobs(GREEN_CI)
        assert (await _run(gh, GREEN_CI)).attempt == 1
    assert err.value.status == 403 and "(403 This workflow run has no failed jobs to re-run)" in err.value.message


async def test_reviewing_a_run_that_no_longer_waits_says_so(api: str) -> None:
    async with GitHubClient(_settings(api)) as gh:
        with pytest.raises(GitHubError) as err:
            await gh.review_pending_deployments(FAILED_DEPLOY, [STAGING], "approved", "late")
    assert err.value.status == 422
    assert err.value.message == (
        f"GitHub would not approve the deployments of run {FAILED_DEPLOY} of {REPO} "
        "(422 There are no pending deployment requests for the given environments on this run); "
        "it may no longer wait for those environments, so refresh to see its state"
    )


async def test_an_unknown_run_is_not_found_for_either_write(api: str) -> None:
    expected = f"run 12345 of {REPO} was not found; it may have been deleted, or the token cannot see it"
    async with GitHubClient(_settings(api)) as gh:
        with pytest.raises(GitHubError) as review:
            await gh.review_pending_deployments(12345, [STAGING], "rejected")
        with pytest.raises(GitHubError) as rerun:
            await gh.rerun_failed_jobs(12345)
    assert (review.value.status, review.value.message) == (404, expected)
    assert (rerun.value.status, rerun.value.message) == (404, expected)


async def test_a_wrong_token_on_a_write_names_where_the_token_came_from_not_the_token(api: str) -> None:
    async with GitHubClient(_settings(api, token="ghp_wrong_token")) as gh:
        with pytest.raises(GitHubError) as err:
            await gh.review_pending_deployments(WAITING_DEPLOY, [STAGING], "approved")
    assert err.value.message == "GitHub rejected the token (401 Bad credentials); check GITHUB_TOKEN"
    assert "ghp_wrong_token" not in err.value.message


async def test_a_review_must_name_a_state_and_an_environment(api: str) -> None:
    async with GitHubClient(_settings(api)) as gh:
        with pytest.raises(ValueError, match="approved' or 'rejected'"):
            await gh.review_pending_deployments(WAITING_DEPLOY, [STAGING], "maybe")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="at least one environment"):
            await gh.review_pending_deployments(WAITING_DEPLOY, [], "approved")
        assert (await _run(gh, WAITING_DEPLOY)).status == "waiting"


# --- against hand-made answers: what is sent, and GitHub's other refusals ----------------------


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest_asyncio.fixture
async def recorder() -> AsyncIterator[Callable[[Handler], Awaitable[tuple[str, list[dict[str, Any]]]]]]:
    """Serve one handler for both writes; returns (base URL, the requests seen as dicts)."""
    servers: list[TestServer] = []

    async def start(handler: Handler) -> tuple[str, list[dict[str, Any]]]:
        seen: list[dict[str, Any]] = []

        async def record(request: web.Request) -> web.StreamResponse:
            seen.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "body": orjson.loads(await request.read()),
                    "content_type": request.headers.get("Content-Type"),
                    "authorization": request.headers.get("Authorization"),
                    "api_version": request.headers.get("X-GitHub-Api-Version"),
                }
            )
            return await handler(request)

        app = web.Application()
        app.router.add_route("*", "/repos/coditect/license-platform/actions/runs/{run_id}/{verb}", record)
        server = TestServer(app)
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/"), seen

    yield start
    for server in servers:
        await server.close()


def _answer(status: int, doc: Any) -> Handler:
    async def handler(_request: web.Request) -> web.Response:
        return web.Response(status=status, body=orjson.dumps(doc), content_type="application/json")

    return handler


async def test_the_writes_are_posted_as_github_documents_them(recorder: Any) -> None:
    deployment = {"id": 1, "environment": "staging", "ref": "main", "task": "deploy"}

    async def github(request: web.Request) -> web.Response:
        if request.match_info["verb"] == "pending_deployments":
            return web.json_response([deployment], status=200)
        return web.json_response({}, status=201)

    base, seen = await recorder(github)
    async with GitHubClient(_settings(base)) as gh:
        assert await gh.review_pending_deployments(7, [STAGING, 42], "rejected", "bad migration") == ["staging"]
        await gh.rerun_failed_jobs(8)
        await gh.rerun_failed_jobs(9, debug_logging=True)
    common = {"content_type": "application/json", "authorization": f"Bearer {TOKEN}", "api_version": "2022-11-28"}
    assert seen == [
        {
            "method": "POST",
            "path": "/repos/coditect/license-platform/actions/runs/7/pending_deployments",
            "body": {"environment_ids": [STAGING, 42], "state": "rejected", "comment": "bad migration"},
            **common,
        },
        {
            "method": "POST",
            "path": "/repos/coditect/license-platform/actions/runs/8/rerun-failed-jobs",
            "body": {"enable_debug_logging": False},
            **common,
        },
        {
            "method": "POST",
            "path": "/repos/coditect/license-platform/actions/runs/9/rerun-failed-jobs",
            "body": {"enable_debug_logging": True},
            **common,
        },
    ]


async def test_a_rerun_answered_200_instead_of_201_is_not_taken_for_done(recorder: Any) -> None:
    base, _ = await recorder(_answer(200, {}))
    async with GitHubClient(_settings(base)) as gh:
        with pytest.raises(GitHubError, match="answered with an unexpected document"):
            await gh.rerun_failed_jobs(8)


async def test_a_reviewer_github_refuses_is_told_who_may_review(recorder: Any) -> None:
    base, _ = await recorder(_answer(403, {"message": "Resource not accessible by personal access token"}))
    async with GitHubClient(_settings(base)) as gh:
        with pytest.raises(GitHubError) as err:
            await gh.review_pending_deployments(7, [STAGING], "approved")
    assert err.value.status == 403
    assert err.value.message == (
        f"GitHub refused to approve the deployments of run 7 of {REPO} "
        "(403 Resource not accessible by personal access token); only a required reviewer of the environment "
        "can review it, with a token that has the repo scope (fine-grained: Deployments)"
    )


async def test_a_conflict_and_a_server_error_say_to_refresh(recorder: Any) -> None:
    base, _ = await recorder(_answer(409, {"message": "The workflow run is being re-run"}))
    async with GitHubClient(_settings(base)) as gh:
        with pytest.raises(GitHubError) as conflict:
            await gh.rerun_failed_jobs(8)
    assert conflict.value.message == (
        f"GitHub could not re-run the failed jobs of run 8 of {REPO}: it changed meanwhile "
        "(409 The workflow run is being re-run); refresh and try again"
    )
    base, _ = await recorder(_answer(502, {"message": "Server Error"}))
    async with GitHubClient(_settings(base)) as gh:
        with pytest.raises(GitHubError) as broken:
            await gh.rerun_failed_jobs(8)
    assert broken.value.message == (
        f"the GitHub API at {base} answered 502 Bad Gateway to re-run the failed jobs of run 8 of {REPO}; "
        "refresh to see whether it happened, then try again"
    )


async def test_a_rerun_github_will_not_do_is_one_sentence(recorder: Any) -> None:
    base, _ = await recorder(_answer(422, {"message": "Validation Failed: the run is too old to re-run"}))
    async with GitHubClient(_settings(base)) as gh:
        with pytest.raises(GitHubError) as err:
            await gh.rerun_failed_jobs(8)
    assert err.value.message == (
        f"GitHub would not re-run the failed jobs of run 8 of {REPO} "
        "(422 Validation Failed: the run is too old to re-run); refresh to see whether it can still be re-run"
    )


async def test_a_token_a_server_echoes_back_never_reaches_the_message(recorder: Any) -> None:
    base, _ = await recorder(_answer(403, {"message": f"token {TOKEN} lacks actions:write"}))
    async with GitHubClient(_settings(base)) as gh:
        with pytest.raises(GitHubError) as err:
            await gh.rerun_failed_jobs(8)
    assert TOKEN not in err.value.message and "(403 token … lacks actions:write)" in err.value.message


async def test_a_write_that_times_out_may_have_happened_and_says_so(recorder: Any) -> None:
    release = asyncio.Event()

    async def slow(_request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({}, status=201)

    base, seen = await recorder(slow)
    try:
        async with GitHubClient(_settings(base), timeout=0.2) as gh:
            with pytest.raises(GitHubError) as err:
                await gh.rerun_failed_jobs(8)
    finally:
        release.set()
    assert len(seen) == 1  # sent once, never retried
    assert err.value.message == (
        f"the GitHub API at {base} did not answer within 0.2 s to re-run the failed jobs of run 8 of {REPO}; "
        "refresh to see whether it happened"
    )


async def test_an_unreachable_github_is_one_sentence() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with GitHubClient(_settings(f"http://127.0.0.1:{port}")) as gh:
        with pytest.raises(GitHubError) as err:
            await gh.review_pending_deployments(7, [STAGING], "approved")
    assert err.value.message == f"cannot reach the GitHub API at http://127.0.0.1:{port} (connection refused)"
