"""`pitstop sandbox` serves in the foreground, prints where everything is, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml


def start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "sandbox", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).parents[2],
    )


def read_until(proc: subprocess.Popen[str], marker: str, timeout: float = 60) -> str:
    """Read the child's stdout from the raw descriptor (select and buffered readline don't mix)."""
    assert proc.stdout is not None
    fd, out = proc.stdout.fileno(), b""
    deadline = time.monotonic() + timeout
    while marker.encode() not in out:
        if time.monotonic() > deadline or proc.poll() is not None:
            raise AssertionError(f"never printed {marker!r}; got:\n{out.decode()}")
        if select.select([fd], [], [], 0.5)[0]:
            out += os.read(fd, 65536)
    return out.decode()


def test_sandbox_command_serves_until_ctrl_c(tmp_path):
    kubeconfig = tmp_path / "kc.yaml"
    proc = start(tmp_path, "--scenario", "demo", "--kubeconfig", str(kubeconfig))
    try:
        banner = read_until(proc, "Press Ctrl-C to stop.")
        assert "scenario 'demo' is running" in banner
        for label in (
            "API server   https://127.0.0.1:",
            "registries   http://127.0.0.1:",
            "GitHub API   http://127.0.0.1:",
            f"kubeconfig   {kubeconfig}  (context pitstop-sandbox)",
            "repository   ",
        ):
            assert label in banner, label
        repo = Path(
            next(line.split("repository", 1)[1].strip() for line in banner.splitlines() if "repository" in line)
        )
        assert (repo / "k8s" / "staging" / "migration-job.yaml").is_file() and (repo / ".git").is_dir()
        config = yaml.safe_load(kubeconfig.read_text())
        assert config["current-context"] == "pitstop-sandbox"
        nodes = subprocess.run(
            [
                "kubectl",
                "--kubeconfig",
                str(kubeconfig),
                "--cache-dir",
                str(tmp_path / "c"),
                "get",
                "nodes",
                "-o",
                "name",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert len(nodes.stdout.split()) == 3 and all(n.startswith("node/") for n in nodes.stdout.split()), nodes
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "pitstop sandbox: stopped." in rest
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_unknown_scenario_is_one_clear_sentence_and_exit_2(tmp_path):
    proc = start(tmp_path, "--scenario", "no-such-drill")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.strip().startswith("pitstop: scenario 'no-such-drill' not found at ")
    assert err.strip().endswith("use one of demo, empty or a path to a YAML file")
    assert "Traceback" not in err


def test_bad_flag_exits_2(tmp_path):
    proc = start(tmp_path, "--pods", "lots")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "invalid int value: 'lots'" in err and "pitstop --help" in err
