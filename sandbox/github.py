"""A GitHub Actions REST subset, shaped like api.github.com, whose runs progress on the sandbox clock.

Clients set `GITHUB_API_URL=http://127.0.0.1:PORT` and send `Authorization: Bearer <token>`
(or `token <token>`). Served:

    GET  /user                                                        the token's owner
    GET  /repos/{owner}/{repo}
    GET  /repos/{owner}/{repo}/actions/workflows                      ?per_page&page
    GET  /repos/{owner}/{repo}/actions/workflows/{id|file name}
    GET  /repos/{owner}/{repo}/actions/workflows/{id|file name}/runs  ?branch&event&status&actor&head_sha
    GET  /repos/{owner}/{repo}/actions/runs                           (same filters)
    GET  /repos/{owner}/{repo}/actions/runs/{run_id}
    GET  /repos/{owner}/{repo}/actions/runs/{run_id}/jobs             ?filter=latest|all
    GET  /repos/{owner}/{repo}/actions/jobs/{job_id}
    GET  /repos/{owner}/{repo}/actions/jobs/{job_id}/logs             302 to a signed URL on this server
    GET  /repos/{owner}/{repo}/actions/runs/{run_id}/pending_deployments
    POST /repos/{owner}/{repo}/actions/runs/{run_id}/pending_deployments   {"environment_ids", "state", "comment"}
    POST /repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs     201

`url` fields point at this server's API; `html_url` fields at a minimal page on this server.

Time: every moment of a run is a point τ in simulated seconds relative to the moment the
app was made. The past (τ <= 0) is history and is stamped 1:1 on the wall clock -- a run
created at `-2d` shows a `created_at` two days ago; the future is scaled by `clock.speed`,
like every other delay in the sandbox. Status and conclusion are computed from τ on each
request, so a run in progress finishes while a client watches. Approvals and re-runs
happen at the τ of the request that makes them.

## The `github:` section of a scenario

    github:
      user: oncall-engineer            # login of the token's owner (reviews made through the API)
      repos:
        coditect/license-platform:     # owner/name
          id: 684213377                # optional; derived from the name otherwise
          default_branch: main
          private: true
          description: Licensing platform
          environments:                # deployment environments; reviewers make jobs wait for approval
            staging: {id: 2210331001, reviewers: [hal]}
          workflows:
            - {id: 90210001, name: CI, path: .github/workflows/ci.yml, state: active}
          runs:                        # any order; ids and run numbers are derived when absent
            - workflow: ci.yml         # workflow id, file name, path or name
              id: 11900000001
              run_number: 141
              branch: main
              event: push              # push | pull_request | workflow_dispatch | schedule | ...
              head_sha: 3f9c...        # optional; derived from the run otherwise
              message: "Merge pull request #212 from coditect/feature/license-renewals"
              actor: priya
              created: -30h            # offset from sandbox start: -2d3h, 90s, 1m30s, +5m (appears later)
              jobs:                    # in order; a job without `needs` starts when the run does
                - name: Deploy to staging
                  needs: [Build images]          # skipped when a needed job does not succeed
                  environment: staging           # waits for review if the environment has reviewers
                  approval: {after: 4m, by: hal} # history only: reviewed 4 min after waiting began
                                                 # (state: rejected for a rejection); absent: waits for the API
                  runner: ubuntu-latest
                  queue: 4s                      # runner pick-up delay (default 3s)
                  steps:                         # "Set up job", post steps and "Complete job" are added
                    - uses: actions/checkout@v4
                      duration: 2s
                    - name: Run migrations       # default name: "Run <command>" / "Run <action>"
                      run: python manage.py migrate --noinput
                      duration: 40s              # simulated; default 5s
                      conclusion: failure        # success (default) | failure | skipped
                      rerun_conclusion: success  # outcome in re-run attempts (default: the same)
                      exit_code: 1
                      log: ["line", ...]         # the step's output (timestamps are added)
                      rerun_log: ["line", ...]   # output in re-run attempts (default: log)

A job fails when one of its steps fails; later steps are skipped except post steps and
"Complete job". A run concludes `failure` when any job failed. Rejecting a review fails
the waiting job (dependents are skipped) and so the run. `rerun-failed-jobs` makes a new
attempt of the failed jobs and everything that needs them; the other jobs are carried over.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import itertools
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
from yarl import URL

from sandbox.clock import Clock

DOCS = "https://docs.github.com/rest"
API_VERSION = "2022-11-28"
_RUN_STATUSES = frozenset({"queued", "in_progress", "completed", "waiting", "requested", "pending"})
_FAILED = frozenset({"failure", "cancelled", "timed_out"})


class GitHubSpecError(ValueError):
    """A `github:` section that cannot be read; the message names the field."""


# --- the spec ----------------------------------------------------------------------------------

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)?")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: Any, where: str) -> float:
    """Seconds from `90`, `"90s"`, `"1m30s"`, `"-2d3h"`, `"+5m"`."""
    if isinstance(value, bool):
        raise GitHubSpecError(f"{where}: {value!r} is not a duration")
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().replace(" ", "")
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    parts = list(_DURATION_RE.finditer(body))
    if not body or "".join(p.group(0) for p in parts) != body:
        raise GitHubSpecError(f"{where}: {value!r} is not a duration like 90s, 1m30s or -2d3h")
    return sign * sum(float(p.group(1)) * _UNITS[p.group(2)] for p in parts)


@dataclass(frozen=True, slots=True)
class StepSpec:
    name: str
    duration: float
    conclusion: str = "success"  # success | failure | skipped
    rerun_conclusion: str | None = None
    always: bool = False  # runs after a failure (post steps, "Complete job")
    run: str | None = None
    uses: str | None = None
    with_: tuple[tuple[str, str], ...] = ()
    exit_code: int = 1
    log: tuple[str, ...] = ()
    rerun_log: tuple[str, ...] | None = None
    kind: str = "user"  # setup | user | post | complete
    post_of: str | None = None  # a post step runs only if this step ran


@dataclass(frozen=True, slots=True)
class Approval:
    after: float
    state: str  # approved | rejected
    by: str
    comment: str = ""


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    steps: tuple[StepSpec, ...]
    needs: tuple[str, ...] = ()
    environment: str | None = None
    approval: Approval | None = None
    runner: str = "ubuntu-latest"
    queue: float = 3.0


@dataclass(frozen=True, slots=True)
class WorkflowSpec:
    id: int
    name: str
    path: str
    state: str = "active"


@dataclass(frozen=True, slots=True)
class RunSpec:
    id: int
    workflow_id: int
    run_number: int
    branch: str
    event: str
    head_sha: str
    message: str
    actor: str
    created: float  # τ
    jobs: tuple[JobSpec, ...]


@dataclass(frozen=True, slots=True)
class EnvironmentSpec:
    id: int
    name: str
    reviewers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RepoSpec:
    id: int
    owner: str
    name: str
    default_branch: str
    private: bool
    description: str
    workflows: tuple[WorkflowSpec, ...]
    environments: dict[str, EnvironmentSpec]
    runs: tuple[RunSpec, ...]

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


def _stable_int(text: str, low: int, span: int) -> int:
    return low + int(hashlib.sha256(text.encode()).hexdigest()[:12], 16) % span


def _strs(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (str(value),) if isinstance(value, str) else tuple(str(v) for v in value)


def _parse_step(doc: dict[str, Any], where: str) -> StepSpec:
    run, uses = doc.get("run"), doc.get("uses")
    default_name = f"Run {str(run).strip().splitlines()[0]}" if run else f"Run {uses}" if uses else None
    name = doc.get("name") or default_name
    if not name:
        raise GitHubSpecError(f"{where}: a step needs a name, run or uses")
    conclusion = str(doc.get("conclusion", "success"))
    rerun = doc.get("rerun_conclusion")
    for c in (conclusion, rerun):
        if c is not None and c not in ("success", "failure", "skipped"):
            raise GitHubSpecError(f"{where}: conclusion must be success, failure or skipped, not {c!r}")
    return StepSpec(
        name=str(name),
        duration=parse_duration(doc.get("duration", 5), f"{where}.duration"),
        conclusion=conclusion,
        rerun_conclusion=str(rerun) if rerun else None,
        always=bool(doc.get("always", False)),
        run=str(run) if run else None,
        uses=str(uses) if uses else None,
        with_=tuple((str(k), str(v)) for k, v in (doc.get("with") or {}).items()),
        exit_code=int(doc.get("exit_code", 1)),
        log=_strs(doc.get("log")),
        rerun_log=_strs(doc["rerun_log"]) if "rerun_log" in doc else None,
    )


def _with_runner_steps(steps: list[StepSpec]) -> tuple[StepSpec, ...]:
    """GitHub's own steps around the user's: "Set up job", a post step per action (reversed), "Complete job"."""
    posts = [
        StepSpec(f"Post {s.name}", 1.0, always=True, uses=s.uses, kind="post", post_of=s.name)
        for s in reversed(steps)
        if s.uses
    ]
    setup = StepSpec("Set up job", 2.0, kind="setup")
    complete = StepSpec("Complete job", 1.0, always=True, kind="complete")
    return (setup, *steps, *posts, complete)


def _parse_job(doc: dict[str, Any], where: str, earlier: set[str]) -> JobSpec:
    name = str(doc.get("name") or "")
    if not name:
        raise GitHubSpecError(f"{where}: a job needs a name")
    needs = _strs(doc.get("needs"))
    for n in needs:
        if n not in earlier:
            raise GitHubSpecError(f"{where}: needs {n!r}, which is not a job listed before it")
    approval = None
    if doc.get("approval"):
        a = doc["approval"]
        state = str(a.get("state", "approved"))
        if state not in ("approved", "rejected"):
            raise GitHubSpecError(f"{where}.approval.state must be approved or rejected, not {state!r}")
        approval = Approval(
            parse_duration(a.get("after", 60), f"{where}.approval.after"),
            state,
            str(a.get("by", "")),
            str(a.get("comment", "")),
        )
    steps = [_parse_step(s, f"{where}.steps[{i}]") for i, s in enumerate(doc.get("steps") or ())]
    return JobSpec(
        name=name,
        steps=_with_runner_steps(steps),
        needs=needs,
        environment=str(doc["environment"]) if doc.get("environment") else None,
        approval=approval,
        runner=str(doc.get("runner", "ubuntu-latest")),
        queue=parse_duration(doc.get("queue", 3), f"{where}.queue"),
    )


def _find_workflow(workflows: Iterable[WorkflowSpec], key: str) -> WorkflowSpec | None:
    for w in workflows:
        if key in (str(w.id), w.path, w.path.rsplit("/", 1)[-1], w.name):
            return w
    return None


def _parse_repo(full_name: str, doc: dict[str, Any]) -> RepoSpec:
    owner, slash, name = full_name.partition("/")
    if not slash or not owner or not name or "/" in name:
        raise GitHubSpecError(f"github.repos: {full_name!r} must be owner/name")
    where = f"github.repos[{full_name}]"
    workflows = tuple(
        WorkflowSpec(
            id=int(w.get("id") or _stable_int(f"{full_name}:{w['path']}", 60_000_000, 40_000_000)),
            name=str(w.get("name") or w["path"]),
            path=str(w["path"]),
            state=str(w.get("state", "active")),
        )
        for w in doc.get("workflows") or ()
    )
    environments = {
        str(env): EnvironmentSpec(
            id=int((e or {}).get("id") or _stable_int(f"{full_name}:env:{env}", 1_000_000_000, 900_000_000)),
            name=str(env),
            reviewers=_strs((e or {}).get("reviewers")),
        )
        for env, e in (doc.get("environments") or {}).items()
    }
    runs = _parse_runs(full_name, doc.get("runs") or (), workflows, environments, where)
    return RepoSpec(
        id=int(doc.get("id") or _stable_int(full_name, 500_000_000, 400_000_000)),
        owner=owner,
        name=name,
        default_branch=str(doc.get("default_branch", "main")),
        private=bool(doc.get("private", True)),
        description=str(doc.get("description", "")),
        workflows=workflows,
        environments=environments,
        runs=runs,
    )


def _parse_runs(
    full_name: str,
    docs: Iterable[dict[str, Any]],
    workflows: tuple[WorkflowSpec, ...],
    environments: dict[str, EnvironmentSpec],
    where: str,
) -> tuple[RunSpec, ...]:
    """Runs sorted by creation; ids and per-workflow run numbers follow that order when not given."""
    drafts = []
    for i, r in enumerate(docs):
        w = f"{where}.runs[{i}]"
        workflow = _find_workflow(workflows, str(r.get("workflow", "")))
        if workflow is None:
            raise GitHubSpecError(f"{w}: workflow {r.get('workflow')!r} is not one of the repository's workflows")
        jobs: list[JobSpec] = []
        for j, job_doc in enumerate(r.get("jobs") or ()):
            job = _parse_job(job_doc, f"{w}.jobs[{j}]", {x.name for x in jobs})
            if job.environment and job.environment not in environments:
                raise GitHubSpecError(
                    f"{w}.jobs[{j}]: environment {job.environment!r} is not in the repository's environments"
                )
            jobs.append(job)
        drafts.append((parse_duration(r.get("created", 0), f"{w}.created"), i, r, workflow, tuple(jobs)))
    drafts.sort(key=lambda d: (d[0], d[1]))
    counters: dict[int, int] = {}
    runs = []
    for seq, (created, _i, r, workflow, run_jobs) in enumerate(drafts):
        counters[workflow.id] = int(r.get("run_number") or counters.get(workflow.id, 0) + 1)
        run_id = int(r.get("id") or 11_900_000_001 + seq * 7)
        runs.append(
            RunSpec(
                id=run_id,
                workflow_id=workflow.id,
                run_number=counters[workflow.id],
                branch=str(r.get("branch", "main")),
                event=str(r.get("event", "push")),
                head_sha=str(r.get("head_sha") or hashlib.sha1(f"{full_name}:{run_id}".encode()).hexdigest()),
                message=str(r.get("message", "")),
                actor=str(r.get("actor", "octocat")),
                created=created,
                jobs=run_jobs,
            )
        )
    return tuple(runs)


def parse_github(spec: dict[str, Any]) -> tuple[str, dict[str, RepoSpec]]:
    """Read a scenario's `github:` value: (the token owner's login, repositories by lowercase full name)."""
    try:
        repos = {name.lower(): _parse_repo(name, doc or {}) for name, doc in (spec.get("repos") or {}).items()}
    except GitHubSpecError:
        raise
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise GitHubSpecError(f"github: malformed section ({e}); see sandbox/github.py for the format") from e
    return str(spec.get("user", "pitstop-operator")), repos


# --- timelines ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    """A deployment review: made at τ `at`."""

    environment: str
    at: float
    state: str
    by: str
    comment: str = ""


@dataclass(frozen=True, slots=True)
class StepTimes:
    spec: StepSpec
    number: int
    start: float
    end: float
    conclusion: str


@dataclass(frozen=True, slots=True)
class JobTimes:
    """One job of one attempt, in τ. `start`/`end` are None while a review or a needed job is outstanding."""

    id: int
    spec: JobSpec
    attempt: int
    created: float
    wait_from: float | None = None
    decided: float | None = None
    start: float | None = None
    end: float | None = None
    conclusion: str | None = None
    steps: tuple[StepTimes, ...] = ()

    def status(self, now: float) -> str:
        if self.end is not None and now >= self.end:
            return "completed"
        if self.start is not None and now >= self.start:
            return "in_progress"
        if self.wait_from is not None and now >= self.wait_from and (self.decided is None or now < self.decided):
            return "waiting"
        return "queued"


def _step_times(job: JobSpec, start: float, attempt: int) -> tuple[tuple[StepTimes, ...], float, str]:
    t, failed, out, ran = start, False, [], set()
    for number, step in enumerate(job.steps, start=1):
        planned = step.rerun_conclusion if attempt > 1 and step.rerun_conclusion else step.conclusion
        skip = (failed and not step.always) or (step.post_of is not None and step.post_of not in ran)
        if planned == "skipped" or skip:
            out.append(StepTimes(step, number, t, t, "skipped"))
            continue
        out.append(StepTimes(step, number, t, t + step.duration, planned))
        ran.add(step.name)
        t += step.duration
        failed = failed or planned == "failure"
    return tuple(out), t, "failure" if failed else "success"


def schedule(
    jobs: Iterable[tuple[int, JobSpec]],
    attempt: int,
    start: float,
    decisions: dict[str, Decision],
    carried: dict[str, JobTimes],
    reviewed_envs: set[str],
) -> tuple[JobTimes, ...]:
    """When each job of an attempt is created, waits, runs and ends, given the reviews made so far.

    Jobs are in dependency order. A job whose needs are all done starts `queue` after the
    last of them (or after its review); a job needing one that did not succeed is skipped.
    """
    done: dict[str, JobTimes] = dict(carried)
    out = []
    for job_id, spec in jobs:
        needs = [done[n] for n in spec.needs if n in done]
        if any(n.end is None for n in needs):
            jt = JobTimes(job_id, spec, attempt, start)
        else:
            ready = max([start, *(n.end for n in needs if n.end is not None)])
            jt = _schedule_ready(job_id, spec, attempt, ready, needs, decisions, reviewed_envs)
        done[spec.name] = jt
        out.append(jt)
    return tuple(out)


def _schedule_ready(
    job_id: int,
    spec: JobSpec,
    attempt: int,
    ready: float,
    needs: list[JobTimes],
    decisions: dict[str, Decision],
    reviewed_envs: set[str],
) -> JobTimes:
    if any(n.conclusion != "success" for n in needs):
        return JobTimes(job_id, spec, attempt, ready, start=ready, end=ready, conclusion="skipped")
    pick, wait_from, decided = ready, None, None
    if spec.environment in reviewed_envs:
        decision = decisions.get(spec.environment or "")
        if decision is None and spec.approval and attempt == 1:
            a = spec.approval
            decision = Decision(spec.environment or "", ready + a.after, a.state, a.by, a.comment)
        wait_from = ready
        if decision is None:
            return JobTimes(job_id, spec, attempt, ready, wait_from=ready)
        decided = max(decision.at, ready)
        if decision.state == "rejected":
            return JobTimes(job_id, spec, attempt, ready, wait_from, decided, decided, decided, "failure")
        pick = decided
    begin = pick + spec.queue
    steps, end, conclusion = _step_times(spec, begin, attempt)
    return JobTimes(job_id, spec, attempt, ready, wait_from, decided, begin, end, conclusion, steps)


# --- mutable state: attempts, reviews, re-runs --------------------------------------------------


@dataclass(slots=True)
class Attempt:
    number: int
    start: float
    jobs: tuple[tuple[int, JobSpec], ...]
    carried: dict[str, JobTimes]
    decisions: dict[str, Decision] = field(default_factory=dict)
    times: tuple[JobTimes, ...] = ()


@dataclass(slots=True)
class RunState:
    spec: RunSpec
    repo: RepoSpec
    attempts: list[Attempt]

    @property
    def latest(self) -> Attempt:
        return self.attempts[-1]

    def jobs(self) -> list[JobTimes]:
        """The latest attempt's view: carried-over jobs and the ones it ran, in workflow order."""
        own = {j.spec.name: j for j in self.latest.times}
        return [own.get(j.name) or self.latest.carried[j.name] for j in self.spec.jobs]

    def all_jobs(self) -> list[JobTimes]:
        return [j for a in self.attempts for j in a.times]

    def reschedule(self) -> None:
        a = self.latest
        reviewed = {name for name, env in self.repo.environments.items() if env.reviewers}
        a.times = schedule(a.jobs, a.number, a.start, a.decisions, a.carried, reviewed)

    def status(self, now: float) -> tuple[str, str | None]:
        jobs = self.jobs()
        active = {j.id for j in self.latest.times}
        statuses = {j.id: j.status(now) for j in jobs}
        mine = [statuses[i] for i in active]
        if "in_progress" in mine:
            return "in_progress", None
        if "waiting" in mine:
            return "waiting", None
        if all(s == "completed" for s in statuses.values()):
            conclusions = {j.conclusion for j in jobs}
            if conclusions & {"failure", "timed_out"}:
                return "completed", "failure"
            return "completed", "cancelled" if "cancelled" in conclusions else "success"
        return ("in_progress" if "completed" in mine else "queued"), None


class ActionsState:
    """Every repository's runs; the only mutable part of the fake, changed by reviews and re-runs."""

    def __init__(self, user: str, repos: dict[str, RepoSpec]) -> None:
        self.user = user
        self.repos = repos
        self._job_ids = itertools.count(31_200_000_001, 3)
        self._deployment_ids = itertools.count(1_900_000_001)
        self.runs: dict[int, RunState] = {}
        for repo in repos.values():
            for run in repo.runs:
                state = RunState(run, repo, [Attempt(1, run.created, self._ids(run.jobs), {})])
                state.reschedule()
                self.runs[run.id] = state
        self.jobs_by_id: dict[int, tuple[RunState, JobTimes]] = {}
        self._index_jobs()

    def _ids(self, jobs: Iterable[JobSpec]) -> tuple[tuple[int, JobSpec], ...]:
        return tuple((next(self._job_ids), j) for j in jobs)

    def _index_jobs(self) -> None:
        self.jobs_by_id = {j.id: (run, j) for run in self.runs.values() for j in run.all_jobs()}

    def next_deployment_id(self) -> int:
        return next(self._deployment_ids)

    def waiting(self, run: RunState, now: float) -> list[JobTimes]:
        return [j for j in run.latest.times if j.status(now) == "waiting"]

    def review(self, run: RunState, env_names: list[str], state: str, comment: str, now: float) -> list[str]:
        """Approve or reject the environments a run waits for; returns the ones that were waiting."""
        waiting = {j.spec.environment for j in self.waiting(run, now)}
        reviewed = [e for e in env_names if e in waiting]
        for env in reviewed:
            run.latest.decisions[env] = Decision(env, now, state, self.user, comment)
        if reviewed:
            run.reschedule()
            self._index_jobs()
        return reviewed

    def rerun_failed(self, run: RunState, now: float) -> bool:
        """A new attempt of the failed jobs and all that need them; False when nothing failed."""
        jobs = run.jobs()
        again = {j.spec.name for j in jobs if j.conclusion in _FAILED}
        if not again:
            return False
        for spec in run.spec.jobs:  # workflow order: a dependent comes after what it needs
            if any(n in again for n in spec.needs):
                again.add(spec.name)
        carried = {j.spec.name: j for j in jobs if j.spec.name not in again}
        specs = [s for s in run.spec.jobs if s.name in again]
        run.attempts.append(Attempt(run.latest.number + 1, now, self._ids(specs), carried))
        run.reschedule()
        self._index_jobs()
        return True


# --- time and JSON -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timebase:
    """Maps τ to wall time: history 1:1, the future scaled by the clock's speed."""

    clock: Clock
    origin: datetime

    def now(self) -> float:
        return (self.clock.now_precise() - self.origin).total_seconds() * self.clock.speed

    def wall(self, tau: float) -> datetime:
        return self.origin + timedelta(seconds=tau if tau <= 0 else tau / self.clock.speed)

    def iso(self, tau: float | None) -> str | None:
        return None if tau is None else self.wall(tau).strftime("%Y-%m-%dT%H:%M:%SZ")


def _node_id(prefix: str, number: int) -> str:
    return prefix + "_" + base64.b64encode(f"{prefix}:{number}".encode()).decode().rstrip("=")


def _user(base: str, login: str) -> dict[str, Any]:
    uid = _stable_int(f"user:{login}", 1_000_000, 90_000_000)
    return {
        "login": login,
        "id": uid,
        "node_id": _node_id("U", uid),
        "avatar_url": f"{base}/avatars/{login}",
        "gravatar_id": "",
        "url": f"{base}/users/{login}",
        "html_url": f"{base}/{login}",
        "type": "User",
        "site_admin": False,
    }


def _owner(base: str, login: str) -> dict[str, Any]:
    return {**_user(base, login), "type": "Organization"}


def _repo_json(base: str, repo: RepoSpec, full: bool) -> dict[str, Any]:
    api = f"{base}/repos/{repo.full_name}"
    doc: dict[str, Any] = {
        "id": repo.id,
        "node_id": _node_id("R", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.private,
        "owner": _owner(base, repo.owner),
        "html_url": f"{base}/{repo.full_name}",
        "description": repo.description or None,
        "fork": False,
        "url": api,
        "deployments_url": f"{api}/deployments",
        "git_url": f"git://127.0.0.1/{repo.full_name}.git",
    }
    if full:
        doc |= {
            "default_branch": repo.default_branch,
            "visibility": "private" if repo.private else "public",
            "archived": False,
            "disabled": False,
            "has_issues": True,
            "language": "Python",
            "permissions": {"admin": False, "maintain": True, "push": True, "triage": True, "pull": True},
        }
    return doc


def _workflow_json(base: str, repo: RepoSpec, w: WorkflowSpec, tb: Timebase) -> dict[str, Any]:
    first = min((r.created for r in repo.runs if r.workflow_id == w.id), default=0.0) - 86400
    return {
        "id": w.id,
        "node_id": _node_id("W", w.id),
        "name": w.name,
        "path": w.path,
        "state": w.state,
        "created_at": tb.iso(first),
        "updated_at": tb.iso(first),
        "url": f"{base}/repos/{repo.full_name}/actions/workflows/{w.id}",
        "html_url": f"{base}/{repo.full_name}/blob/{repo.default_branch}/{w.path}",
        "badge_url": f"{base}/{repo.full_name}/workflows/{w.name}/badge.svg",
    }


def _workflow_of(run: RunState) -> WorkflowSpec:
    return next(w for w in run.repo.workflows if w.id == run.spec.workflow_id)


def _run_json(base: str, run: RunState, tb: Timebase, now: float) -> dict[str, Any]:
    spec, repo = run.spec, run.repo
    api = f"{base}/repos/{repo.full_name}/actions/runs/{spec.id}"
    status, conclusion = run.status(now)
    workflow = _workflow_of(run)
    events = [spec.created, run.latest.start]
    for j in run.jobs():
        events += [t for t in (j.created, j.wait_from, j.decided, j.start, j.end) if t is not None and t <= now]
    suite = spec.id + 21_000_000_000
    actor = _user(base, spec.actor)
    commit_time = tb.iso(spec.created - 20)
    author = {"name": spec.actor, "email": f"{spec.actor}@users.noreply.github.com"}
    attempt = run.latest.number
    return {
        "id": spec.id,
        "name": workflow.name,
        "node_id": _node_id("WFR", spec.id),
        "head_branch": spec.branch,
        "head_sha": spec.head_sha,
        "path": workflow.path,
        "display_title": (spec.message.splitlines() or [workflow.name])[0],
        "run_number": spec.run_number,
        "event": spec.event,
        "status": status,
        "conclusion": conclusion,
        "workflow_id": workflow.id,
        "check_suite_id": suite,
        "check_suite_node_id": _node_id("CS", suite),
        "url": api,
        "html_url": f"{base}/{repo.full_name}/actions/runs/{spec.id}",
        "pull_requests": [],
        "created_at": tb.iso(spec.created),
        "updated_at": tb.iso(max(t for t in events if t <= now)),
        "actor": actor,
        "run_attempt": attempt,
        "referenced_workflows": [],
        "run_started_at": tb.iso(run.latest.start),
        "triggering_actor": actor,
        "jobs_url": f"{api}/jobs",
        "logs_url": f"{api}/logs",
        "check_suite_url": f"{base}/repos/{repo.full_name}/check-suites/{suite}",
        "artifacts_url": f"{api}/artifacts",
        "cancel_url": f"{api}/cancel",
        "rerun_url": f"{api}/rerun",
        "previous_attempt_url": f"{api}/attempts/{attempt - 1}" if attempt > 1 else None,
        "workflow_url": f"{base}/repos/{repo.full_name}/actions/workflows/{workflow.id}",
        "head_commit": {
            "id": spec.head_sha,
            "tree_id": hashlib.sha1(f"tree:{spec.head_sha}".encode()).hexdigest(),
            "message": spec.message,
            "timestamp": commit_time,
            "author": author,
            "committer": author,
        },
        "repository": _repo_json(base, repo, full=False),
        "head_repository": _repo_json(base, repo, full=False),
    }


def _job_json(base: str, run: RunState, job: JobTimes, tb: Timebase, now: float) -> dict[str, Any]:
    repo, spec = run.repo, run.spec
    status = job.status(now)
    started = job.start is not None and now >= job.start
    runner_no = _stable_int(f"runner:{job.id}", 1_000_000_000, 99_000_000) if started else None
    return {
        "id": job.id,
        "run_id": spec.id,
        "workflow_name": _workflow_of(run).name,
        "head_branch": spec.branch,
        "run_url": f"{base}/repos/{repo.full_name}/actions/runs/{spec.id}",
        "run_attempt": job.attempt,
        "node_id": _node_id("CR", job.id),
        "head_sha": spec.head_sha,
        "url": f"{base}/repos/{repo.full_name}/actions/jobs/{job.id}",
        "html_url": f"{base}/{repo.full_name}/actions/runs/{spec.id}/job/{job.id}",
        "status": status,
        "conclusion": job.conclusion if status == "completed" else None,
        "created_at": tb.iso(job.created),
        "started_at": tb.iso(job.start if started else job.created),
        "completed_at": tb.iso(job.end) if status == "completed" else None,
        "name": job.spec.name,
        "steps": [_step_json(s, tb, now) for s in job.steps] if started else [],
        "check_run_url": f"{base}/repos/{repo.full_name}/check-runs/{job.id}",
        "labels": [job.spec.runner],
        "runner_id": runner_no,
        "runner_name": f"GitHub Actions {runner_no}" if runner_no else None,
        "runner_group_id": 2 if started else None,
        "runner_group_name": "GitHub Actions" if started else None,
    }


def _step_json(step: StepTimes, tb: Timebase, now: float) -> dict[str, Any]:
    if now >= step.end:
        status, conclusion = "completed", step.conclusion
    elif now >= step.start:
        status, conclusion = "in_progress", None
    else:
        status, conclusion = "queued", None
    return {
        "name": step.spec.name,
        "status": status,
        "conclusion": conclusion,
        "number": step.number,
        "started_at": tb.iso(step.start) if status != "queued" else None,
        "completed_at": tb.iso(step.end) if status == "completed" else None,
    }


# --- job logs ----------------------------------------------------------------------------------

_SETUP_LINES = (
    "Current runner version: '2.321.0'",
    "##[group]Operating System",
    "Ubuntu",
    "24.04.1",
    "LTS",
    "##[endgroup]",
    "##[group]Runner Image",
    "Image: ubuntu-24.04",
    "Version: 20241117.1.0",
    "##[endgroup]",
    "##[group]GITHUB_TOKEN Permissions",
    "Contents: read",
    "Metadata: read",
    "##[endgroup]",
    "Secret source: Actions",
    "Prepare workflow directory",
    "Prepare all required actions",
)


def _step_lines(run: RunState, job: JobTimes, step: StepTimes) -> tuple[list[str], list[str], list[str]]:
    """A step's log as (prelude at its start, output spread over its run, tail at its end)."""
    s = step.spec
    if s.kind == "setup":
        workflow = _workflow_of(run)
        head = [
            f"Requested labels: {job.spec.runner}",
            f"Job defined at: {run.repo.full_name}/{workflow.path}@refs/heads/{run.spec.branch}",
            "Waiting for a runner to pick up this job...",
            "Job is about to start running on the hosted runner: GitHub Actions "
            f"{_stable_int(f'runner:{job.id}', 1_000_000_000, 99_000_000)} (hosted)",
        ]
        downloads = [f"Download action repository '{x.uses}'" for x in job.spec.steps if x.uses and x.kind == "user"]
        return head, [*_SETUP_LINES, *downloads], [f"Complete job name: {job.spec.name}"]
    if s.kind == "complete":
        return ["Cleaning up orphan processes"], [], []
    if s.kind == "post":
        return ["Post job cleanup."], [], []
    body = list(s.rerun_log if job.attempt > 1 and s.rerun_log is not None else s.log)
    if s.run:
        command = s.run.strip().splitlines()
        group = [f"##[group]Run {command[0]}", *command, "shell: /usr/bin/bash -e {0}"]
    else:
        group = [f"##[group]Run {s.uses}", *(["with:"] if s.with_ else []), *(f"  {k}: {v}" for k, v in s.with_)]
    failed = step.conclusion == "failure" and s.run
    tail = [f"##[error]Process completed with exit code {s.exit_code}."] if failed else []
    return [*group, "##[endgroup]"], body, tail


def _timed_lines(step: StepTimes, lines: tuple[list[str], list[str], list[str]]) -> list[tuple[float, str]]:
    """τ of each line: the prelude a few ms apart at the start, output evenly after it, the tail at the end."""
    prelude, body, tail = lines
    span = max(step.end - step.start, 0.0)
    out = [(step.start + 0.003 * k, text) for k, text in enumerate(prelude)]
    out += [(step.start + span * (k + 1) / (len(body) + 1), text) for k, text in enumerate(body)]
    out += [(max(step.start, step.end - 0.02), text) for text in tail]
    return out


def _log_stamp(tb: Timebase, tau: float, salt: str) -> str:
    when = tb.wall(tau)
    tenth = int(hashlib.sha256(salt.encode()).hexdigest()[:2], 16) % 10
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") + f"{tenth}Z"


def job_log(run: RunState, job: JobTimes, tb: Timebase, now: float) -> str:
    """The job's log up to τ `now`, one `2026-11-21T10:00:01.1234567Z text` line each, spread over its steps."""
    out = []
    for step in job.steps:
        if step.conclusion == "skipped" or step.start > now:
            continue
        for k, (tau, text) in enumerate(_timed_lines(step, _step_lines(run, job, step))):
            if tau > now:
                break
            out.append(f"{_log_stamp(tb, tau, f'{job.id}:{step.number}:{k}')} {text}")
    return "\n".join(out) + ("\n" if out else "")


# --- HTTP ----------------------------------------------------------------------------------------

_STATE: web.AppKey[ActionsState] = web.AppKey("github_state", ActionsState)
_TIME: web.AppKey[Timebase] = web.AppKey("github_timebase", Timebase)
_TOKEN: web.AppKey[str] = web.AppKey("github_token", str)
_LOG_KEY: web.AppKey[bytes] = web.AppKey("github_log_key", bytes)
_COUNTER: web.AppKey[list[int]] = web.AppKey("github_request_counter")


def _json(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps(doc),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def _message(status: int, message: str, doc_path: str = "") -> web.Response:
    return _json({"message": message, "documentation_url": DOCS + doc_path, "status": str(status)}, status)


def _not_found(doc_path: str = "") -> web.Response:
    return _message(404, "Not Found", doc_path)


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _unauthenticated(path: str) -> bool:
    """Signed log downloads and the html pages are fetched without the API token, as on GitHub."""
    return path.startswith("/_logs/") or not (path.startswith("/repos/") or path == "/user")


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bearer or `token` authorization; API responses carry GitHub's version and rate-limit headers."""
    if _unauthenticated(request.path):
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() not in ("bearer", "token") or not hmac.compare_digest(given.strip(), request.app[_TOKEN]):
        return _message(401, "Bad credentials")
    counter = request.app[_COUNTER]
    counter[0] += 1
    try:
        response = await handler(request)
    except web.HTTPNotFound:
        response = _not_found()
    except web.HTTPMethodNotAllowed:
        response = _message(404, "Not Found")
    response.headers.update(
        {
            "X-GitHub-Api-Version-Selected": API_VERSION,
            "X-GitHub-Media-Type": "github.v3; format=json",
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": str(max(0, 5000 - counter[0])),
            "X-RateLimit-Used": str(counter[0]),
            "X-RateLimit-Reset": str(int(time.time()) // 3600 * 3600 + 3600),
            "X-RateLimit-Resource": "core",
        }
    )
    return response


def _repo_or_none(request: web.Request) -> RepoSpec | None:
    key = f"{request.match_info['owner']}/{request.match_info['repo']}".lower()
    return request.app[_STATE].repos.get(key)


def _visible_run(request: web.Request, repo: RepoSpec, run_id: str) -> RunState | None:
    """A run of this repository that exists by now (future runs appear when their τ comes)."""
    state = request.app[_STATE]
    run = state.runs.get(int(run_id)) if run_id.isdigit() else None
    if run is None or run.repo.id != repo.id or run.spec.created > request.app[_TIME].now():
        return None
    return run


def _int_arg(request: web.Request, name: str, default: int, high: int) -> int:
    raw = request.query.get(name, "")
    return min(max(int(raw), 1), high) if raw.isdigit() else default


def _paginate(request: web.Request, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
    """`per_page` (default 30, max 100) and `page`, with GitHub's `Link` header (prev, next, last, first)."""
    per_page = _int_arg(request, "per_page", 30, 100)
    page = _int_arg(request, "page", 1, 10**6)
    last = max(1, -(-len(items) // per_page))
    url = URL(_base(request)).with_path(request.path).with_query(request.query)
    links = []
    if page > 1:
        links.append(f'<{url.update_query(page=page - 1, per_page=per_page)}>; rel="prev"')
    if page < last:
        links.append(f'<{url.update_query(page=page + 1, per_page=per_page)}>; rel="next"')
        links.append(f'<{url.update_query(page=last, per_page=per_page)}>; rel="last"')
    if page > 1:
        links.append(f'<{url.update_query(page=1, per_page=per_page)}>; rel="first"')
    return items[(page - 1) * per_page : page * per_page], ({"Link": ", ".join(links)} if links else {})


async def _get_user(request: web.Request) -> web.Response:
    return _json(_user(_base(request), request.app[_STATE].user))


async def _get_repo(request: web.Request) -> web.Response:
    repo = _repo_or_none(request)
    if repo is None:
        return _not_found("/repos/repos#get-a-repository")
    return _json(_repo_json(_base(request), repo, full=True))


async def _list_workflows(request: web.Request) -> web.Response:
    repo = _repo_or_none(request)
    if repo is None:
        return _not_found("/actions/workflows#list-repository-workflows")
    tb = request.app[_TIME]
    page, headers = _paginate(request, list(repo.workflows))
    doc = {"total_count": len(repo.workflows), "workflows": [_workflow_json(_base(request), repo, w, tb) for w in page]}
    return _json(doc, headers=headers)


async def _get_workflow(request: web.Request) -> web.Response:
    repo = _repo_or_none(request)
    workflow = _find_workflow(repo.workflows, request.match_info["workflow"]) if repo else None
    if repo is None or workflow is None:
        return _not_found("/actions/workflows#get-a-workflow")
    return _json(_workflow_json(_base(request), repo, workflow, request.app[_TIME]))


def _matches(run: RunState, query: Any, now: float) -> bool:
    status, conclusion = run.status(now)
    wanted = query.get("status")
    if wanted and wanted != (status if wanted in _RUN_STATUSES else conclusion):
        return False
    checks = {
        "branch": run.spec.branch,
        "event": run.spec.event,
        "actor": run.spec.actor,
        "head_sha": run.spec.head_sha,
    }
    return all(query.get(k) in (None, "", v) for k, v in checks.items())


def _runs_response(request: web.Request, repo: RepoSpec, workflow_id: int | None) -> web.Response:
    state, tb = request.app[_STATE], request.app[_TIME]
    now = tb.now()
    runs = [
        r
        for r in state.runs.values()
        if r.repo.id == repo.id
        and r.spec.created <= now
        and (workflow_id is None or r.spec.workflow_id == workflow_id)
        and _matches(r, request.query, now)
    ]
    runs.sort(key=lambda r: (r.spec.created, r.spec.id), reverse=True)
    page, headers = _paginate(request, runs)
    base = _base(request)
    return _json(
        {"total_count": len(runs), "workflow_runs": [_run_json(base, r, tb, now) for r in page]}, headers=headers
    )


async def _list_runs(request: web.Request) -> web.Response:
    repo = _repo_or_none(request)
    if repo is None:
        return _not_found("/actions/workflow-runs#list-workflow-runs-for-a-repository")
    return _runs_response(request, repo, None)


async def _list_workflow_runs(request: web.Request) -> web.Response:
    repo = _repo_or_none(request)
    workflow = _find_workflow(repo.workflows, request.match_info["workflow"]) if repo else None
    if repo is None or workflow is None:
        return _not_found("/actions/workflow-runs#list-workflow-runs-for-a-workflow")
    return _runs_response(request, repo, workflow.id)


async def _get_run(request: web.Request) -> web.Response:
    repo = _repo_or_none(request)
    run = _visible_run(request, repo, request.match_info["run_id"]) if repo else None
    if run is None:
        return _not_found("/actions/workflow-runs#get-a-workflow-run")
    tb = request.app[_TIME]
    return _json(_run_json(_base(request), run, tb, tb.now()))


async def _list_jobs(request: web.Request) -> web.Response:
    repo = _repo_or_none(request)
    run = _visible_run(request, repo, request.match_info["run_id"]) if repo else None
    if run is None:
        return _not_found("/actions/workflow-jobs#list-jobs-for-a-workflow-run")
    tb = request.app[_TIME]
    now = tb.now()
    jobs = run.all_jobs() if request.query.get("filter") == "all" else run.jobs()
    page, headers = _paginate(request, jobs)
    doc = {"total_count": len(jobs), "jobs": [_job_json(_base(request), run, j, tb, now) for j in page]}
    return _json(doc, headers=headers)


def _job_or_none(request: web.Request) -> tuple[RunState, JobTimes] | None:
    repo = _repo_or_none(request)
    raw = request.match_info["job_id"]
    found = request.app[_STATE].jobs_by_id.get(int(raw)) if raw.isdigit() and repo else None
    if found is None or repo is None or _visible_run(request, repo, str(found[0].spec.id)) is None:
        return None
    return found


async def _get_job(request: web.Request) -> web.Response:
    found = _job_or_none(request)
    if found is None:
        return _not_found("/actions/workflow-jobs#get-a-job-for-a-workflow-run")
    tb = request.app[_TIME]
    return _json(_job_json(_base(request), *found, tb, tb.now()))


def _log_signature(key: bytes, job_id: int, expires: int) -> str:
    return hmac.new(key, f"{job_id}:{expires}".encode(), hashlib.sha256).hexdigest()


async def _job_logs_redirect(request: web.Request) -> web.Response:
    """GitHub answers 302 to a short-lived signed URL; so does this, pointing at `/_logs/jobs/<id>`."""
    found = _job_or_none(request)
    tb = request.app[_TIME]
    if found is None or found[1].start is None or found[1].start > tb.now():
        return _not_found("/actions/workflow-jobs#download-job-logs-for-a-workflow-run")
    job_id = found[1].id
    expires = int(time.time()) + 60
    sig = _log_signature(request.app[_LOG_KEY], job_id, expires)
    location = f"{_base(request)}/_logs/jobs/{job_id}?expires={expires}&sig={sig}"
    return web.Response(status=302, headers={"Location": location})


async def _download_log(request: web.Request) -> web.Response:
    raw, expires = request.match_info["job_id"], request.query.get("expires", "")
    found = request.app[_STATE].jobs_by_id.get(int(raw)) if raw.isdigit() else None
    want = (
        _log_signature(request.app[_LOG_KEY], int(raw or 0), int(expires))
        if expires.isdigit() and raw.isdigit()
        else ""
    )
    if found is None or not want or not hmac.compare_digest(want, request.query.get("sig", "")):
        return web.Response(
            status=403, text="AuthenticationFailed: the log URL is not valid; ask the API for a new one\n"
        )
    if int(expires) < time.time():
        return web.Response(
            status=403, text="AuthenticationFailed: the log URL has expired; ask the API for a new one\n"
        )
    tb = request.app[_TIME]
    return web.Response(text=job_log(*found, tb, tb.now()), content_type="text/plain", charset="utf-8")


def _environment_json(base: str, repo: RepoSpec, env: EnvironmentSpec) -> dict[str, Any]:
    return {
        "id": env.id,
        "node_id": _node_id("EN", env.id),
        "name": env.name,
        "url": f"{base}/repos/{repo.full_name}/environments/{env.name}",
        "html_url": f"{base}/{repo.full_name}/deployments/activity_log?environments_filter={env.name}",
    }


async def _get_pending(request: web.Request) -> web.Response:
    repo = _repo_or_none(request)
    run = _visible_run(request, repo, request.match_info["run_id"]) if repo else None
    if repo is None or run is None:
        return _not_found("/actions/workflow-runs#get-pending-deployments-for-a-workflow-run")
    state, base = request.app[_STATE], _base(request)
    envs = sorted({j.spec.environment for j in state.waiting(run, request.app[_TIME].now()) if j.spec.environment})
    doc = [
        {
            "environment": _environment_json(base, repo, repo.environments[e]),
            "wait_timer": 0,
            "wait_timer_started_at": None,
            "current_user_can_approve": True,
            "reviewers": [{"type": "User", "reviewer": _user(base, r)} for r in repo.environments[e].reviewers],
        }
        for e in envs
    ]
    return _json(doc)


def _review_body(body: Any, repo: RepoSpec) -> tuple[list[str], str, str] | str:
    """(environment names, state, comment) from a review request, or GitHub's validation message."""
    if not isinstance(body, dict):
        return "Problems parsing JSON"
    for key in ("environment_ids", "state", "comment"):
        if key not in body:
            return f'Invalid request.\n\n"{key}" wasn\'t supplied.'
    ids, state, comment = body["environment_ids"], body["state"], body["comment"]
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        return "Invalid request.\n\nFor 'properties/environment_ids', it is not an array of integers."
    if state not in ("approved", "rejected"):
        return f'Invalid request.\n\nFor \'properties/state\', "{state}" is not a member of ["approved", "rejected"].'
    if not isinstance(comment, str):
        return "Invalid request.\n\nFor 'properties/comment', it is not a string."
    by_id = {e.id: e.name for e in repo.environments.values()}
    return [by_id[i] for i in ids if i in by_id], state, comment


async def _review_pending(request: web.Request) -> web.Response:
    repo = _repo_or_none(request)
    run = _visible_run(request, repo, request.match_info["run_id"]) if repo else None
    if repo is None or run is None:
        return _not_found("/actions/workflow-runs#review-pending-deployments-for-a-workflow-run")
    try:
        body = await request.json(loads=orjson.loads)
    except (ValueError, orjson.JSONDecodeError):
        body = None
    parsed = _review_body(body, repo)
    if isinstance(parsed, str):
        return _message(
            400 if parsed.startswith("Problems") else 422,
            parsed,
            "/actions/workflow-runs#review-pending-deployments-for-a-workflow-run",
        )
    names, state_value, comment = parsed
    state, tb = request.app[_STATE], request.app[_TIME]
    now = tb.now()
    reviewed = state.review(run, names, state_value, comment, now)
    if not reviewed:
        return _message(422, "There are no pending deployment requests for the given environments on this run")
    return _json([_deployment_json(_base(request), run, repo.environments[e], state, tb, now) for e in reviewed])


def _deployment_json(
    base: str, run: RunState, env: EnvironmentSpec, state: ActionsState, tb: Timebase, now: float
) -> dict[str, Any]:
    dep_id = state.next_deployment_id()
    api = f"{base}/repos/{run.repo.full_name}"
    return {
        "url": f"{api}/deployments/{dep_id}",
        "id": dep_id,
        "node_id": _node_id("DE", dep_id),
        "sha": run.spec.head_sha,
        "ref": run.spec.branch,
        "task": "deploy",
        "payload": {},
        "original_environment": env.name,
        "environment": env.name,
        "description": None,
        "creator": _user(base, state.user),
        "created_at": tb.iso(now),
        "updated_at": tb.iso(now),
        "statuses_url": f"{api}/deployments/{dep_id}/statuses",
        "repository_url": api,
        "transient_environment": False,
        "production_environment": False,
    }


async def _rerun_failed(request: web.Request) -> web.Response:
    repo = _repo_or_none(request)
    run = _visible_run(request, repo, request.match_info["run_id"]) if repo else None
    if run is None:
        return _not_found("/actions/workflow-runs#re-run-failed-jobs-from-a-workflow-run")
    state, now = request.app[_STATE], request.app[_TIME].now()
    if run.status(now)[0] != "completed":
        return _message(403, "This workflow run is not completed; it cannot be re-run yet")
    if not state.rerun_failed(run, now):
        return _message(403, "This workflow run has no failed jobs to re-run")
    return _json({}, status=201)


async def _html_run(request: web.Request) -> web.Response:
    """The html_url of a run or job: a bare page with what the API says, for a browser."""
    repo = _repo_or_none(request)
    run = _visible_run(request, repo, request.match_info["run_id"]) if repo else None
    if run is None:
        return web.Response(status=404, text="Not Found\n")
    tb = request.app[_TIME]
    now = tb.now()
    status, conclusion = run.status(now)
    rows = "".join(
        f"<li>{html.escape(j.spec.name)}: {j.status(now)} {j.conclusion or '' if j.status(now) == 'completed' else ''}</li>"
        for j in run.jobs()
    )
    title = html.escape(
        f"{_workflow_of(run).name} #{run.spec.run_number}: {(run.spec.message.splitlines() or [''])[0]}"
    )
    page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{status} {conclusion or ''}</p><ul>{rows}</ul></body></html>"
    return web.Response(text=page, content_type="text/html")


def make_github_app(spec: dict[str, Any], clock: Clock, token: str) -> web.Application:
    """The Actions API over a scenario's `github:` value (format in the module docstring).

    τ = 0 is now: runs are scheduled relative to the moment this is called. Raises
    `GitHubSpecError` for a malformed section.
    """
    user, repos = parse_github(spec)
    app = web.Application(middlewares=[_auth])
    app[_STATE] = ActionsState(user, repos)
    app[_TIME] = Timebase(clock, clock.now_precise())
    app[_TOKEN] = token
    app[_LOG_KEY] = secrets.token_bytes(32)
    app[_COUNTER] = [0]
    prefix = "/repos/{owner}/{repo}"
    r = app.router
    r.add_get("/user", _get_user)
    r.add_get(prefix, _get_repo)
    r.add_get(prefix + "/actions/workflows", _list_workflows)
    r.add_get(prefix + "/actions/workflows/{workflow}", _get_workflow)
    r.add_get(prefix + "/actions/workflows/{workflow}/runs", _list_workflow_runs)
    r.add_get(prefix + "/actions/runs", _list_runs)
    r.add_get(prefix + "/actions/runs/{run_id}", _get_run)
    r.add_get(prefix + "/actions/runs/{run_id}/jobs", _list_jobs)
    r.add_get(prefix + "/actions/runs/{run_id}/pending_deployments", _get_pending)
    r.add_post(prefix + "/actions/runs/{run_id}/pending_deployments", _review_pending)
    r.add_post(prefix + "/actions/runs/{run_id}/rerun-failed-jobs", _rerun_failed)
    r.add_get(prefix + "/actions/jobs/{job_id}", _get_job)
    r.add_get(prefix + "/actions/jobs/{job_id}/logs", _job_logs_redirect)
    r.add_get("/_logs/jobs/{job_id}", _download_log)
    r.add_get("/{owner}/{repo}/actions/runs/{run_id}", _html_run)
    r.add_get("/{owner}/{repo}/actions/runs/{run_id}/job/{job_id}", _html_run)
    return app
