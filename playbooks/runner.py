"""Running playbooks concurrently, each with its own time limit, never letting one take the others down."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from diagnostics.findings import Finding, sort_findings
from playbooks.base import Context, Playbook
from playbooks.links import link

log = logging.getLogger("pitstop.playbooks")
DEFAULT_TIMEOUT = 30.0


class CouldNotCheck(Exception):
    """Raised by a playbook that cannot reach a verdict: its outcome is an error, `unreachable` when a source was down."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


@dataclass(frozen=True, slots=True)
class Outcome:
    id: str
    status: str  # ok | findings | error | skipped
    duration_ms: int
    error: str | None
    findings: tuple[Finding, ...]
    unreachable: bool = False  # a data source it needs could not be reached or read


async def run_one(pb: Playbook, ctx: Context, timeout: float = DEFAULT_TIMEOUT) -> Outcome:
    start = time.perf_counter()

    def done(
        status: str, error: str | None = None, findings: Sequence[Finding] = (), unreachable: bool = False
    ) -> Outcome:
        return Outcome(pb.id, status, int((time.perf_counter() - start) * 1000), error, tuple(findings), unreachable)

    forbidden = sorted(set(pb.kinds) & ctx.snapshot.forbidden)
    if forbidden:
        return done("error", f"could not check: forbidden to list {', '.join(forbidden)}")
    broken = sorted(k for k in pb.kinds if k in ctx.snapshot.errors)
    if broken:
        return done("error", f"could not check: {ctx.snapshot.errors[broken[0]]}", unreachable=True)
    if pb.uses_repo and ctx.repo_root is None and pb.kinds == ():
        return done("skipped", "no repository to read (pass --repo)")
    try:
        findings = await asyncio.wait_for(pb.run(ctx), timeout)
    except TimeoutError:
        return done("error", f"timed out after {timeout:g}s")
    except CouldNotCheck as e:
        return done("error", f"could not check: {e}", unreachable=e.unreachable)
    except Exception as e:  # a broken playbook is reported, the others go on
        log.exception("playbook %s failed", pb.id)
        return done("error", f"{type(e).__name__}: {e}")
    return done("findings" if findings else "ok", findings=findings)


async def run_all(playbooks: Sequence[Playbook], ctx: Context, timeout: float = DEFAULT_TIMEOUT) -> list[Outcome]:
    return list(await asyncio.gather(*(run_one(pb, ctx, timeout) for pb in playbooks)))


async def run_all_in_thread(
    playbooks: Sequence[Playbook], ctx: Context, timeout: float = DEFAULT_TIMEOUT
) -> list[Outcome]:
    """`run_all` on a worker thread with its own event loop: CPU-heavy playbooks never hold up the caller's loop.

    Registry probes and log reads still run on the caller's loop, where their HTTP sessions live; the
    snapshot is read-only, so both threads may read it.
    """
    loop = asyncio.get_running_loop()
    if ctx.registry is not None:
        ctx = dataclasses.replace(ctx, registry=cast(Any, _OnLoop(ctx.registry, loop)))
    if ctx.logs is not None:
        ctx = dataclasses.replace(ctx, logs=cast(Any, _OnLoop(ctx.logs, loop)))
    return await asyncio.to_thread(asyncio.run, run_all(playbooks, ctx, timeout))


class _OnLoop:
    """Another thread's view of an object bound to `loop`: its coroutine methods are run there and awaited here."""

    def __init__(self, target: object, loop: asyncio.AbstractEventLoop) -> None:
        self._target, self._loop = target, loop

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not inspect.iscoroutinefunction(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            future = asyncio.run_coroutine_threadsafe(attr(*args, **kwargs), self._loop)
            return await asyncio.wrap_future(future)

        return call


def all_findings(outcomes: Sequence[Outcome]) -> list[Finding]:
    """Every finding once (an aggregate playbook such as readiness repeats the others'), most severe first."""
    seen: dict[str, Finding] = {}
    for o in outcomes:
        for f in o.findings:
            seen.setdefault(f.id, f)
    return link(sort_findings(list(seen.values())))  # crashes and failed Jobs point at what explains them
