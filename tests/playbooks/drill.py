"""Small drills for single playbook causes: a scenario from `scenarios/`, a repository, the CLI in process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from diagnostics.cache import load_snapshot
from diagnostics.findings import Finding
from diagnostics.kube import KubeClient
from diagnostics.kubeconfig import load
from diagnostics.registry import RegistryProbe
from diagnostics.repo import Repository
from playbooks.base import Context
from playbooks.catalog import all_playbooks
from playbooks.headless import kinds_for, registry_mirrors
from tests.conftest import RunningSandbox, wait_for
from tests.playbooks.demo import Demo

SCENARIOS = Path(__file__).parent / "scenarios"


def start_drill(
    name: str,
    sandbox_factory: Callable[..., RunningSandbox],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Demo:
    """The drill `scenarios/NAME.yaml` running, with an empty repository and a private journal."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    rs = sandbox_factory(str(SCENARIOS / f"{name}.yaml"), clock_speed=100)
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    return Demo(rs, repo, capsys)


def pod_reasons(rs: RunningSandbox, ns: str) -> set[str]:
    """Why the namespace's pods are not running: PodScheduled reasons and container waiting reasons."""
    reasons: set[str] = set()
    for pod in rs.list("v1", "Pod", ns):
        for c in pod.get("status", {}).get("conditions") or ():
            if c.get("type") == "PodScheduled" and c.get("status") == "False":
                reasons.add(str(c.get("reason")))
        for cs in pod.get("status", {}).get("containerStatuses") or ():
            waiting = (cs.get("state") or {}).get("waiting") or {}
            if waiting.get("reason"):
                reasons.add(str(waiting["reason"]))
    return reasons


def wait_for_reason(rs: RunningSandbox, ns: str, *reasons: str) -> set[str]:
    return wait_for(lambda: pod_reasons(rs, ns) & set(reasons), what=f"pods in {ns} showing one of {reasons}")


def in_namespace(findings: list[dict[str, Any]], ns: str) -> list[dict[str, Any]]:
    return [f for f in findings if f["object"]["namespace"] == ns]


def changed_lines(diff: str) -> list[str]:
    """The diff's removed and added lines, whitespace squeezed."""
    return [" ".join(line.split()) for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]


def diagnose(rs: RunningSandbox, repo: Path, playbook: str, namespace: str | None = None) -> list[Finding]:
    """Run one playbook through the Python API, to look at what reports leave out (fix plans)."""
    config = load(str(rs.kubeconfig))
    pb = all_playbooks()[playbook]

    async def go() -> list[Finding]:
        async with KubeClient(config) as client, RegistryProbe(mirrors=registry_mirrors(config)) as probe:
            snap = await load_snapshot(client, kinds_for([pb]), None)
            return await pb.run(Context(snap, probe, Repository(repo), repo, namespace))

    return asyncio.run(go())
