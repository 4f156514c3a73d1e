"""A scenario's repository, copied to a fresh working directory (and made a git checkout) for a run."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from sandbox.scenario import Scenario

DEMO_REMOTE = "https://github.com/{owner_repo}.git"


def state_dir() -> Path:
    """`$XDG_STATE_HOME/pitstop` (default `~/.local/state/pitstop`)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "pitstop"


def copy_repo(scenario: Scenario, dest_parent: Path | None = None) -> Path | None:
    """Copy the scenario's repository to a new directory and commit it; None if it ships none.

    The copy is a git repository whose `origin` names the scenario's GitHub repository, so
    tools that read owner/repo from the remote find it, as in a real checkout.
    """
    if scenario.repo is None or not scenario.repo.is_dir():
        return None
    parent = dest_parent or (state_dir() / "repos")
    parent.mkdir(parents=True, exist_ok=True)
    dest = parent / f"{scenario.name}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    shutil.copytree(scenario.repo, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _git_init(dest, scenario)
    return dest


def _git_init(path: Path, scenario: Scenario) -> None:
    git = shutil.which("git")
    if git is None:
        return  # a plain directory still works for every file-based check
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "pitstop sandbox",
        "GIT_AUTHOR_EMAIL": "sandbox@pitstop.invalid",
        "GIT_COMMITTER_NAME": "pitstop sandbox",
        "GIT_COMMITTER_EMAIL": "sandbox@pitstop.invalid",
    }
    repos = (scenario.github or {}).get("repos") or {}
    owner_repo = next(iter(repos), None) if isinstance(repos, dict) else None
    steps = [
        [git, "init", "-q", "-b", "main"],
        [git, "add", "-A"],
        [git, "commit", "-q", "-m", f"{scenario.name}: repository as deployed"],
    ]
    if owner_repo:
        steps.append([git, "remote", "add", "origin", DEMO_REMOTE.format(owner_repo=owner_repo)])
    for cmd in steps:
        subprocess.run(cmd, cwd=path, env=env, check=True, capture_output=True)
