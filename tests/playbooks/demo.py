"""Helpers for running the headless front against a demo sandbox, in process."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sandbox import scenario as scenarios
from sandbox.workspace import copy_repo
from tests.conftest import RunningSandbox, wait_for
from tui.cli import main

NS = "coditect-staging"


@dataclass
class Demo:
    rs: RunningSandbox
    repo: Path
    capsys: pytest.CaptureFixture[str]

    def pitstop(self, *args: str) -> tuple[int, str, str]:
        """Run `pitstop ARGS` against this sandbox and repository; (exit code, stdout, stderr)."""
        self.capsys.readouterr()
        code = main(["--kubeconfig", str(self.rs.kubeconfig), "--repo", str(self.repo), *args])
        out, err = self.capsys.readouterr()
        return code, out, err

    def report(self, *args: str) -> dict[str, Any]:
        code, out, err = self.pitstop(*args, "-o", "json")
        assert code in (0, 1), err
        return json.loads(out)

    def findings(self, playbook: str, kind: str | None = None, name: str | None = None) -> list[dict[str, Any]]:
        found = self.report("--playbook", playbook)["findings"]
        return [
            f
            for f in found
            if (kind is None or f["object"]["kind"] == kind) and (name is None or f["object"]["name"] == name)
        ]

    def ready(self, deployment: str, ns: str = NS) -> bool:
        dep = self.rs.get("apps/v1", "Deployment", ns, deployment) or {}
        want = dep.get("spec", {}).get("replicas", 1)
        status = dep.get("status", {})
        return (
            status.get("readyReplicas") == want
            and status.get("updatedReplicas") == want
            and status.get("replicas") == want
            and status.get("observedGeneration") == dep["metadata"].get("generation")
        )


@pytest.fixture
def demo(sandbox_factory, tmp_path, monkeypatch, capsys) -> Demo:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    rs = sandbox_factory("demo", clock_speed=100)
    repo = copy_repo(scenarios.load("demo"), tmp_path / "repos")
    assert repo is not None
    wait_for(lambda: settled(rs), what="the demo's incidents to show (pending, image pull, config error)")
    return Demo(rs, repo, capsys)


def settled(rs: RunningSandbox) -> bool:
    """The state an operator meets: workers unschedulable, frontend pulling in vain, the Job's pod stuck."""
    reasons = set()
    for pod in rs.list("v1", "Pod", NS):
        for c in pod.get("status", {}).get("conditions") or ():
            if c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable":
                reasons.add("Unschedulable")
        for cs in pod.get("status", {}).get("containerStatuses") or ():
            reasons.add(((cs.get("state") or {}).get("waiting") or {}).get("reason"))
    return {"Unschedulable", "CreateContainerConfigError"} <= reasons and bool(
        reasons & {"ErrImagePull", "ImagePullBackOff"}
    )
