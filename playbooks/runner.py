"""Running playbooks concurrently, each with its own time limit, never letting one take the others down."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from diagnostics.findings import Finding, sort_findings
from playbooks.base import Context, Playbook

log = logging.getLogger("pitstop.playbooks")
DEFAULT_TIMEOUT = 30.0


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
    except Exception as e:  # a broken playbook is reported, the others go on
        log.exception("playbook %s failed", pb.id)
        return done("error", f"{type(e).__name__}: {e}")
    return done("findings" if findings else "ok", findings=findings)


async def run_all(playbooks: Sequence[Playbook], ctx: Context, timeout: float = DEFAULT_TIMEOUT) -> list[Outcome]:
    return list(await asyncio.gather(*(run_one(pb, ctx, timeout) for pb in playbooks)))


def all_findings(outcomes: Sequence[Outcome]) -> list[Finding]:
    return sort_findings([f for o in outcomes for f in o.findings])
