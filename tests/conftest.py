"""Shared fixtures: a sandbox per test on a background thread, and condition waits with deadlines."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from sandbox.server import Sandbox, SandboxThread

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.05, what: str = "condition") -> T:
    """Poll `predicate` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


class RunningSandbox:
    """What tests get: the sandbox, its thread runner, and a kubeconfig file for real clients."""

    def __init__(self, runner: SandboxThread, kubeconfig: Path) -> None:
        self.runner = runner
        self.kubeconfig = kubeconfig

    @property
    def sb(self) -> Sandbox:
        assert self.runner.sandbox is not None
        return self.runner.sandbox

    def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the sandbox loop (the store is not thread-safe)."""
        return self.runner.run(fn, *args)

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        store = self.sb.store
        return self.read(lambda: store.get(store.rt(api_version, kind), namespace, name))

    def list(self, api_version: str, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        store = self.sb.store
        return self.read(lambda: store.list(store.rt(api_version, kind), namespace))


@pytest.fixture
def sandbox_factory(tmp_path: Path) -> Iterator[Callable[..., RunningSandbox]]:
    """Start sandboxes (`sandbox_factory("demo", clock_speed=50)`); each is stopped after the test."""
    started: list[SandboxThread] = []

    def start(scenario: str = "empty", **options: Any) -> RunningSandbox:
        options.setdefault("clock_speed", 50.0)
        runner = SandboxThread(scenario, **options)
        runner.__enter__()
        started.append(runner)
        path = runner.sandbox.write_kubeconfig(tmp_path / f"kubeconfig-{len(started)}")  # type: ignore[union-attr]
        return RunningSandbox(runner, path)

    yield start
    for r in started:
        errors = list(r.sandbox.ctx.errors) if r.sandbox else []
        r.close()
        assert not errors, "controller errors:\n" + "\n".join(errors)


@pytest.fixture
def empty_sandbox(sandbox_factory: Callable[..., RunningSandbox]) -> RunningSandbox:
    return sandbox_factory("empty")


@pytest.fixture
def demo_sandbox(sandbox_factory: Callable[..., RunningSandbox]) -> RunningSandbox:
    return sandbox_factory("demo")
