"""The headless front: load a snapshot, run playbooks, optionally apply and verify, report, exit.

The same core as the TUI, driven once from the command line. Only `playbooks.report`
writes to stdout; this module decides nothing about formats, and the exit code comes
from `report.exit_code`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO, cast

from diagnostics.apply import Applier
from diagnostics.cache import load_snapshot
from diagnostics.findings import Finding, Fix
from diagnostics.journal import Journal
from diagnostics.kube import KubeClient, KubeError, Unreachable
from diagnostics.kubeconfig import ClusterConfig
from diagnostics.logs import LogReader
from diagnostics.registry import RegistryProbe, sandbox_mirrors
from diagnostics.repo import Repository
from playbooks import report
from playbooks.base import Context, Playbook
from playbooks.catalog import all_playbooks
from playbooks.runner import Outcome, all_findings, run_all, run_one

EXIT_UNREACHABLE = report.EXIT_UNREACHABLE
SANDBOX_EXTENSION = "pitstop.dev/sandbox"
VERIFY_INTERVAL = 0.5


@dataclass(frozen=True, slots=True)
class Options:
    playbooks: tuple[Playbook, ...]
    output: report.OutputFormat = "text"
    fail_on: report.FailOn = "error"
    apply: bool = False
    dry_run: bool = False
    read_only: bool = False
    repo: Path | None = None
    namespace: str | None = None  # None: every namespace
    timeout: float = 30.0
    verify_timeout: float = 90.0
    journal: Journal = field(default_factory=Journal)
    only: frozenset[str] = frozenset()  # with apply/dry_run: only these finding ids (empty: every finding)


def kinds_for(playbooks: Sequence[Playbook]) -> list[str]:
    kinds = {k for pb in playbooks for k in pb.kinds}
    if kinds & {"Pod", "Deployment", "StatefulSet", "Job", "CronJob", "DaemonSet"}:
        # owner chains run up to the top workload, whichever playbook asked for pods
        kinds |= {"ReplicaSet", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
    return sorted(kinds)


def registry_mirrors(config: ClusterConfig) -> dict[str, str]:
    """The sandbox serves every registry host under `<registry>/<host>`; real clusters use the hosts themselves."""
    ext = config.extensions.get(SANDBOX_EXTENSION) or {}
    base = ext.get("registry") if isinstance(ext, dict) else None
    return sandbox_mirrors(str(base)) if base else {}


async def run(config: ClusterConfig, opts: Options, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr  # looked up now: tests and callers swap them
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    repo = Repository(opts.repo) if opts.repo else None
    try:
        async with KubeClient(config) as client:
            try:
                snapshot = await load_snapshot(client, kinds_for(opts.playbooks), None)
            except Unreachable as e:
                print(f"pitstop: {e}", file=err)
                return EXIT_UNREACHABLE
            mirrors = registry_mirrors(config)
            async with RegistryProbe(mirrors=mirrors) as probe:
                ctx = Context(snapshot, probe, repo, opts.repo, opts.namespace, logs=LogReader(client))
                outcomes = await run_all(opts.playbooks, ctx, opts.timeout)
                applied: list[report.ApplyOutcome] | None = None
                if opts.apply or opts.dry_run:
                    applied = []
                    applier = Applier(None if opts.read_only else client, opts.journal, config.context, opts.repo)
                    for finding in all_findings(outcomes):
                        if finding.fixes and (not opts.only or finding.id in opts.only):
                            applied.append(
                                await _apply_one(applier, client, config, ctx, opts, finding, finding.fixes[0], mirrors)
                            )
    except Unreachable as e:
        print(f"pitstop: {e}", file=err)
        return EXIT_UNREACHABLE
    missing = sorted(opts.only - {f.id for f in all_findings(outcomes)})
    if missing:
        print(
            f"pitstop: no finding {', '.join(missing)} in this run (fixed already?); nothing applied for it", file=err
        )
    titles = {pb.id: pb.title for pb in opts.playbooks}
    run_result = report.RunResult(
        context=config.context,
        started_at=started,
        duration_ms=int((time.perf_counter() - t0) * 1000),
        playbooks=tuple(
            report.PlaybookStatus(
                o.id,
                cast(report.PlaybookState, o.status),
                o.duration_ms,
                o.error,
                unreachable=o.unreachable,
                title=titles[o.id],
            )
            for o in outcomes
        ),
        findings=tuple(all_findings(outcomes)),
        applied=None if applied is None else tuple(applied),
    )
    report.write(run_result, opts.output, out)
    for o in outcomes:
        if o.status == "error":
            print(f"pitstop: playbook {o.id}: {o.error}", file=err)
    return report.exit_code(run_result, opts.fail_on)


async def _apply_one(
    applier: Applier,
    client: KubeClient,
    config: ClusterConfig,
    ctx: Context,
    opts: Options,
    finding: Finding,
    fix: Fix,
    mirrors: dict[str, str],
) -> report.ApplyOutcome:
    result = await applier.apply(finding, fix, dry_run=opts.dry_run)
    verification = None
    if result.result == "applied":
        pb = next((p for p in opts.playbooks if p.id == finding.playbook), None) or all_playbooks()[finding.playbook]
        verification = await verify(client, pb, finding, ctx, opts.verify_timeout)
    return report.ApplyOutcome(
        fix.id,
        finding.id,
        result.journal_id,
        result.result,
        cast("report.Verification | None", verification),
        result.message,
    )


async def verify(client: KubeClient, pb: Playbook, finding: Finding, ctx: Context, timeout: float) -> str:
    """Re-run the playbook on the fixed object until the finding is gone ("verified") or time runs out."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    kinds = kinds_for([pb])
    while True:
        snapshot = await load_snapshot(client, kinds, None) if kinds else ctx.snapshot
        repo = Repository(ctx.repo_root) if ctx.repo_root else None  # files may have changed: index again
        focused = Context(
            snapshot, ctx.registry, repo, ctx.repo_root, ctx.namespace, focus=finding.object, logs=ctx.logs
        )
        outcome: Outcome = await run_one(pb, focused)
        if outcome.status in ("ok", "findings") and all(f.id != finding.id for f in outcome.findings):
            return "verified"
        if loop.time() >= end:
            return "not yet resolved"
        await asyncio.sleep(VERIFY_INTERVAL)


__all__ = ["KubeError", "Options", "run"]
