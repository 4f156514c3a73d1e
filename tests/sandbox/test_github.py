"""The sandbox's GitHub Actions API: shapes, auth, pagination, and runs that move on the sandbox clock."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio
import yaml
from aiohttp.test_utils import TestClient, TestServer

from sandbox.clock import Clock
from sandbox.github import GitHubSpecError, make_github_app, parse_duration

TOKEN = "ghp_sandboxtoken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPO = "/repos/coditect/license-platform"
DEMO = Path(__file__).parents[2] / "sandbox" / "scenarios" / "demo.yaml"
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z .*")
T = TypeVar("T")

CONFLICT = (
    "CommandError: Conflicting migrations detected; multiple leaf nodes in the migration graph: "
    "(0002_add_renewal_fields, 0006_phase1_step6_license_sessions in licenses)."
)


def _ci_run(
    run_id: int, created: str, branch: str = "main", event: str = "push", tests: str = "30s", **step: Any
) -> dict[str, Any]:
    check = {"name": "Check migrations", "run": "python manage.py makemigrations --check", "duration": "6s", **step}
    return {
        "id": run_id,
        "workflow": "ci.yml",
        "branch": branch,
        "event": event,
        "actor": "sam-chen",
        "message": f"run {run_id}",
        "created": created,
        "jobs": [
            {"name": "lint", "steps": [{"uses": "actions/checkout@v4", "duration": "2s"}]},
            {"name": "test", "steps": [check, {"name": "Run tests", "run": "pytest -q", "duration": tests}]},
        ],
    }


def _deploy_run(run_id: int, created: str) -> dict[str, Any]:
    return {
        "id": run_id,
        "workflow": "Deploy staging",
        "event": "workflow_dispatch",
        "actor": "priya-raman",
        "created": created,
        "jobs": [
            {"name": "Build images", "steps": [{"name": "Build", "run": "docker build .", "duration": "20s"}]},
            {
                "name": "Deploy to staging",
                "needs": ["Build images"],
                "environment": "staging",
                "steps": [{"name": "Apply manifests", "run": "kubectl apply -f k8s/", "duration": "5s"}],
            },
            {"name": "Smoke test", "needs": ["Deploy to staging"], "steps": [{"run": "curl -f https://staging/"}]},
        ],
    }


SPEC: dict[str, Any] = {
    "user": "oncall-engineer",
    "repos": {
        "coditect/license-platform": {
            "default_branch": "main",
            "environments": {"staging": {"id": 77, "reviewers": ["hal-okafor"]}},
            "workflows": [
                {"id": 1, "name": "CI", "path": ".github/workflows/ci.yml"},
                {"id": 2, "name": "Deploy staging", "path": ".github/workflows/deploy-staging.yml"},
            ],
            "runs": [
                _ci_run(101, "-2d"),
                _ci_run(102, "-1d", branch="feature/renewals", event="pull_request"),
                _ci_run(103, "-20h", conclusion="failure", rerun_conclusion="success", log=[CONFLICT]),
                _ci_run(104, "-10h"),
                _ci_run(105, "-8s", tests="90s"),  # in progress at start; done ~1 s later at speed 100
                _deploy_run(201, "-1h"),
                _deploy_run(202, "-50m"),
                _ci_run(106, "+30s"),  # pushed later, on the clock
            ],
        }
    },
}


async def eventually(probe: Callable[[], Awaitable[T]], what: str, timeout: float = 5.0) -> T:
    """Await `probe` until it returns something truthy, failing with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


@pytest_asyncio.fixture
async def client() -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_github_app(SPEC, Clock(speed=100), TOKEN))) as c:
        yield c


async def _get(client: TestClient, path: str, **params: Any) -> Any:
    resp = await client.get(path, headers=AUTH, params=params)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _run(client: TestClient, run_id: int) -> dict[str, Any]:
    doc: dict[str, Any] = await _get(client, f"{REPO}/actions/runs/{run_id}")
    return doc


@pytest.mark.asyncio
async def test_requests_need_the_sandbox_token(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        resp = await client.get(f"{REPO}/actions/runs", headers=headers)
        assert resp.status == 401
        doc = await resp.json()
        assert doc["message"] == "Bad credentials" and doc["status"] == "401" and doc["documentation_url"]
    ok = await client.get(REPO, headers={"Authorization": f"token {TOKEN}"})
    assert ok.status == 200
    assert (await ok.json())["full_name"] == "coditect/license-platform"
    assert (await _get(client, "/user"))["login"] == "oncall-engineer"
    missing = await client.get("/repos/coditect/nope/actions/runs", headers=AUTH)
    assert missing.status == 404 and (await missing.json())["message"] == "Not Found"


@pytest.mark.asyncio
async def test_workflows_are_found_by_id_and_by_file_name(client: TestClient) -> None:
    listing = await _get(client, f"{REPO}/actions/workflows")
    assert listing["total_count"] == 2
    assert [w["path"] for w in listing["workflows"]] == [
        ".github/workflows/ci.yml",
        ".github/workflows/deploy-staging.yml",
    ]
    by_name = await _get(client, f"{REPO}/actions/workflows/deploy-staging.yml")
    by_id = await _get(client, f"{REPO}/actions/workflows/2")
    assert by_name == by_id and by_id["name"] == "Deploy staging"
    runs = await _get(client, f"{REPO}/actions/workflows/ci.yml/runs")
    assert {r["name"] for r in runs["workflow_runs"]} == {"CI"} and runs["total_count"] == 5


@pytest.mark.asyncio
async def test_runs_are_newest_first_filtered_and_paginated_with_link_headers(client: TestClient) -> None:
    everything = await _get(client, f"{REPO}/actions/runs")
    # 106 is created on the clock 30 s from now; it is not listed yet.
    assert [r["id"] for r in everything["workflow_runs"]] == [105, 202, 201, 104, 103, 102, 101]
    run = everything["workflow_runs"][-1]
    assert run["url"].endswith(f"{REPO}/actions/runs/101") and run["url"].startswith("http://127.0.0.1:")
    assert run["jobs_url"] == run["url"] + "/jobs" and run["html_url"].endswith(
        "/coditect/license-platform/actions/runs/101"
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", run["created_at"])

    assert [
        r["id"] for r in (await _get(client, f"{REPO}/actions/runs", branch="feature/renewals"))["workflow_runs"]
    ] == [102]
    assert (await _get(client, f"{REPO}/actions/runs", event="workflow_dispatch"))["total_count"] == 2
    assert [r["id"] for r in (await _get(client, f"{REPO}/actions/runs", status="failure"))["workflow_runs"]] == [103]
    assert [r["id"] for r in (await _get(client, f"{REPO}/actions/runs", status="waiting"))["workflow_runs"]] == [
        202,
        201,
    ]

    page1 = await client.get(f"{REPO}/actions/runs", headers=AUTH, params={"per_page": "3"})
    doc = await page1.json()
    assert doc["total_count"] == 7 and [r["id"] for r in doc["workflow_runs"]] == [105, 202, 201]
    links = dict((rel, url) for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', page1.headers["Link"]))
    assert set(links) == {"next", "last"} and "page=3" in links["last"]
    page3 = await client.session.get(links["last"], headers=AUTH)
    assert [r["id"] for r in (await page3.json())["workflow_runs"]] == [101]
    assert 'rel="prev"' in page3.headers["Link"] and 'rel="next"' not in page3.headers["Link"]


@pytest.mark.asyncio
async def test_a_run_in_progress_completes_as_the_clock_advances(client: TestClient) -> None:
    run = await _run(client, 105)
    assert (run["status"], run["conclusion"]) == ("in_progress", None)
    jobs = (await _get(client, f"{REPO}/actions/runs/105/jobs"))["jobs"]
    test_job = next(j for j in jobs if j["name"] == "test")
    assert test_job["status"] == "in_progress" and test_job["completed_at"] is None
    statuses = [s["status"] for s in test_job["steps"]]
    assert statuses[0] == "completed" and "in_progress" in statuses and statuses[-1] == "queued"

    async def done() -> dict[str, Any] | None:
        r = await _run(client, 105)
        return r if r["status"] == "completed" else None

    finished = await eventually(done, "run 105 to complete")
    assert finished["conclusion"] == "success"
    jobs = (await _get(client, f"{REPO}/actions/runs/105/jobs"))["jobs"]
    assert {(j["status"], j["conclusion"]) for j in jobs} == {("completed", "success")}
    assert [s["number"] for s in jobs[1]["steps"]] == [1, 2, 3, 4]
    assert all(s["completed_at"] for s in jobs[1]["steps"])

    pushed = await eventually(lambda: _find_run(client, 106), "run 106 to appear")
    assert pushed["created_at"] >= finished["created_at"]


async def _find_run(client: TestClient, run_id: int) -> dict[str, Any] | None:
    resp = await client.get(f"{REPO}/actions/runs/{run_id}", headers=AUTH)
    return await resp.json() if resp.status == 200 else None


@pytest.mark.asyncio
async def test_approving_a_pending_deployment_lets_the_run_continue(client: TestClient) -> None:
    run = await _run(client, 201)
    assert run["status"] == "waiting"
    pending = await _get(client, f"{REPO}/actions/runs/201/pending_deployments")
    assert [p["environment"]["name"] for p in pending] == ["staging"]
    assert pending[0]["environment"]["id"] == 77 and pending[0]["reviewers"][0]["reviewer"]["login"] == "hal-okafor"

    resp = await client.post(
        f"{REPO}/actions/runs/201/pending_deployments",
        headers=AUTH,
        json={"environment_ids": [77], "state": "approved", "comment": "Ship it"},
    )
    assert resp.status == 200, await resp.text()
    deployments = await resp.json()
    assert deployments[0]["environment"] == "staging" and deployments[0]["creator"]["login"] == "oncall-engineer"
    assert await _get(client, f"{REPO}/actions/runs/201/pending_deployments") == []

    async def finished() -> dict[str, Any] | None:
        r = await _run(client, 201)
        return r if r["status"] == "completed" else None

    assert (await eventually(finished, "the approved deploy to finish"))["conclusion"] == "success"
    jobs = (await _get(client, f"{REPO}/actions/runs/201/jobs"))["jobs"]
    assert [(j["name"], j["conclusion"]) for j in jobs] == [
        ("Build images", "success"),
        ("Deploy to staging", "success"),
        ("Smoke test", "success"),
    ]


@pytest.mark.asyncio
async def test_rejecting_a_pending_deployment_fails_the_run(client: TestClient) -> None:
    nothing = await client.post(
        f"{REPO}/actions/runs/101/pending_deployments",
        headers=AUTH,
        json={"environment_ids": [77], "state": "approved", "comment": ""},
    )
    assert nothing.status == 422
    invalid = await client.post(
        f"{REPO}/actions/runs/202/pending_deployments", headers=AUTH, json={"environment_ids": [77], "state": "maybe"}
    )
    assert invalid.status == 422

    resp = await client.post(
        f"{REPO}/actions/runs/202/pending_deployments",
        headers=AUTH,
        json={"environment_ids": [77], "state": "rejected", "comment": "Migrations conflict; not today"},
    )
    assert resp.status == 200
    run = await _run(client, 202)
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    jobs = (await _get(client, f"{REPO}/actions/runs/202/jobs"))["jobs"]
    assert [(j["name"], j["conclusion"]) for j in jobs] == [
        ("Build images", "success"),
        ("Deploy to staging", "failure"),
        ("Smoke test", "skipped"),
    ]


@pytest.mark.asyncio
async def test_rerun_failed_jobs_runs_them_again_in_a_new_attempt(client: TestClient) -> None:
    before = await _run(client, 103)
    assert (before["conclusion"], before["run_attempt"]) == ("failure", 1)
    first = (await _get(client, f"{REPO}/actions/runs/103/jobs"))["jobs"]
    test_job = next(j for j in first if j["name"] == "test")
    assert [(s["name"], s["conclusion"]) for s in test_job["steps"]][1:3] == [
        ("Check migrations", "failure"),
        ("Run tests", "skipped"),
    ]

    busy = await client.post(f"{REPO}/actions/runs/105/rerun-failed-jobs", headers=AUTH)
    assert busy.status == 403
    resp = await client.post(f"{REPO}/actions/runs/103/rerun-failed-jobs", headers=AUTH)
    assert resp.status == 201

    rerun = await _run(client, 103)
    assert rerun["run_attempt"] == 2 and rerun["status"] in ("queued", "in_progress")
    assert rerun["previous_attempt_url"].endswith("/actions/runs/103/attempts/1")

    async def finished() -> dict[str, Any] | None:
        r = await _run(client, 103)
        return r if r["status"] == "completed" else None

    assert (await eventually(finished, "the re-run to finish"))["conclusion"] == "success"
    latest = (await _get(client, f"{REPO}/actions/runs/103/jobs"))["jobs"]
    lint_then, lint_now = (next(j for j in js if j["name"] == "lint") for js in (first, latest))
    assert lint_now["id"] == lint_then["id"] and lint_now["run_attempt"] == 1  # carried over, not re-run
    test_now = next(j for j in latest if j["name"] == "test")
    assert test_now["id"] != test_job["id"] and test_now["run_attempt"] == 2 and test_now["conclusion"] == "success"
    every = await _get(client, f"{REPO}/actions/runs/103/jobs", filter="all")
    assert every["total_count"] == 3


@pytest.mark.asyncio
async def test_job_logs_redirect_to_a_signed_plain_text_download(client: TestClient) -> None:
    jobs = (await _get(client, f"{REPO}/actions/runs/103/jobs"))["jobs"]
    test_job = next(j for j in jobs if j["name"] == "test")
    redirect = await client.get(f"{REPO}/actions/jobs/{test_job['id']}/logs", headers=AUTH, allow_redirects=False)
    assert redirect.status == 302
    location = redirect.headers["Location"]
    assert location.startswith(f"http://127.0.0.1:{client.port}/")

    download = await client.session.get(location)  # no token: the URL is signed, as GitHub's are
    assert download.status == 200 and download.content_type == "text/plain"
    lines = (await download.text()).splitlines()
    assert all(LOG_LINE.fullmatch(line) for line in lines)
    texts = [line.split(" ", 1)[1] for line in lines]
    assert "##[group]Run python manage.py makemigrations --check" in texts
    assert texts.index(CONFLICT) < texts.index("##[error]Process completed with exit code 1.")
    assert "Run pytest -q" not in " ".join(texts)  # skipped after the failure

    tampered = await client.session.get(location.replace("sig=", "sig=0"))
    assert tampered.status == 403
    waiting_job = (await _get(client, f"{REPO}/actions/runs/202/jobs"))["jobs"][1]
    assert waiting_job["status"] == "waiting" and waiting_job["steps"] == []
    not_started = await client.get(f"{REPO}/actions/jobs/{waiting_job['id']}/logs", headers=AUTH)
    assert not_started.status == 404


@pytest.mark.asyncio
async def test_demo_history_tells_the_migration_conflict_story() -> None:
    spec = yaml.safe_load(DEMO.read_text())["github"]
    async with TestClient(TestServer(make_github_app(spec, Clock(speed=200), TOKEN))) as c:
        runs = (await _get(c, f"{REPO}/actions/runs"))["workflow_runs"]
        by_title = {(r["name"], r["run_number"]): r for r in runs}
        assert len(runs) == 8
        assert by_title[("CI", 214)]["conclusion"] == "failure"
        assert by_title[("Deploy staging", 58)]["conclusion"] == "failure"
        assert by_title[("Deploy staging", 59)]["status"] == "waiting"
        assert by_title[("CI", 216)]["status"] == "in_progress"

        deploy_jobs = (await _get(c, f"{REPO}/actions/runs/{by_title[('Deploy staging', 58)]['id']}/jobs"))["jobs"]
        assert deploy_jobs[0]["conclusion"] == "success"
        failed_steps = [s["name"] for s in deploy_jobs[1]["steps"] if s["conclusion"] == "failure"]
        assert failed_steps == ["Run migrations"]
        log = await c.get(f"{REPO}/actions/jobs/{deploy_jobs[1]['id']}/logs", headers=AUTH)
        assert CONFLICT in await log.text()

        pending = await _get(c, f"{REPO}/actions/runs/{by_title[('Deploy staging', 59)]['id']}/pending_deployments")
        assert [p["environment"]["name"] for p in pending] == ["staging"]

        async def ci_216_done() -> bool:
            return bool((await _run(c, by_title[("CI", 216)]["id"]))["status"] == "completed")

        await eventually(ci_216_done, "the demo's in-progress CI run to complete", timeout=8.0)


def test_spec_errors_name_the_field() -> None:
    assert parse_duration("-2d3h", "x") == -(2 * 86400 + 3 * 3600)
    assert parse_duration("1m30s", "x") == 90
    with pytest.raises(GitHubSpecError, match=r"runs\[0\].created: 'soon' is not a duration"):
        make_github_app(
            {
                "repos": {
                    "a/b": {"workflows": [{"path": "ci.yml"}], "runs": [{"workflow": "ci.yml", "created": "soon"}]}
                }
            },
            Clock(),
            "t",
        )
    with pytest.raises(GitHubSpecError, match=r"workflow 'deploy\.yml' is not one of"):
        make_github_app({"repos": {"a/b": {"runs": [{"workflow": "deploy.yml"}]}}}, Clock(), "t")
    with pytest.raises(GitHubSpecError, match="needs 'build', which is not a job listed before it"):
        make_github_app(
            {
                "repos": {
                    "a/b": {
                        "workflows": [{"path": "ci.yml"}],
                        "runs": [{"workflow": "ci.yml", "jobs": [{"name": "t", "needs": ["build"]}]}],
                    }
                }
            },
            Clock(),
            "t",
        )
