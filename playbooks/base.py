"""What a playbook is, and what it gets to look at."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from diagnostics.findings import Finding, ObjectRef

if TYPE_CHECKING:
    from diagnostics.logs import LogReader
    from diagnostics.registry import RegistryProbe
    from diagnostics.repo import Repository
    from diagnostics.snapshot import Snapshot


@dataclass(frozen=True, slots=True)
class Context:
    """Everything a playbook may read: one snapshot of the cluster, and the probes.

    `focus`, when set, asks the playbook to look at that object only (verification re-runs).
    `logs` reads containers' logs (None: no cluster to ask, as in tests on a snapshot).
    `now` is the time to write into what a fix generates (a merge migration's name and
    header); None means the wall clock.
    """

    snapshot: Snapshot
    registry: RegistryProbe | None = None
    repo: Repository | None = None
    repo_root: Path | None = None
    namespace: str | None = None
    focus: ObjectRef | None = None
    now: datetime | None = None
    logs: LogReader | None = None

    def in_scope(self, obj: ObjectRef) -> bool:
        if self.focus is not None:
            return (obj.kind, obj.namespace, obj.name) == (self.focus.kind, self.focus.namespace, self.focus.name)
        return self.namespace is None or obj.namespace in (None, self.namespace)


@runtime_checkable
class Playbook(Protocol):
    """A diagnostic: a pure function of the snapshot and probes, returning findings with fixes."""

    id: str
    title: str

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds it reads; a forbidden one means "could not check" (a class attribute will do)."""
        ...

    uses_repo: bool
    uses_registry: bool

    async def run(self, ctx: Context) -> list[Finding]: ...


class RepositoryPlaybook:
    """A playbook that reads only the repository: `check` (plain, blocking file reads) runs on a worker thread."""

    kinds: tuple[str, ...] = ()
    uses_repo = True
    uses_registry = False

    async def run(self, ctx: Context) -> list[Finding]:
        if ctx.repo_root is None:
            return []
        return await asyncio.to_thread(self.check, ctx, ctx.repo_root)

    def check(self, ctx: Context, root: Path) -> list[Finding]:
        raise NotImplementedError
