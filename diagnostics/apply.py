"""Applying a fix, and undoing it, exactly as DESIGN.md's "Applying a fix" says.

1. Re-read the target; a changed resourceVersion (or file text) means stale: refuse.
2. Live: server-side dry run first, then the real request, with the diagnosed
   resourceVersion as precondition. A recreate (immutable Job template) deletes with
   uid+resourceVersion preconditions and creates; if the create fails the original is
   put back, so nothing is left half-applied.
3. Files: never outside the repository root, new files never overwrite, atomic rename.
4. Every step is journaled before and after the write; undo restores `before` by id.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from diagnostics.findings import FilePlan, FileTarget, Finding, Fix, LivePlan, LiveTarget
from diagnostics.fixes import clone, for_recreate
from diagnostics.journal import Journal, new_id
from diagnostics.kube import KubeClient, KubeError

Result = Literal["applied", "dry-run", "refused", "failed"]


@dataclass(frozen=True, slots=True)
class ApplyResult:
    journal_id: str | None
    result: Result
    message: str


class PathOutsideRepo(ValueError):
    pass


def resolve_in(root: Path, relpath: str) -> Path:
    """The file under the repository root; anything that resolves outside it is refused."""
    root = root.resolve()
    if os.path.isabs(relpath):
        raise PathOutsideRepo(f"{relpath} is an absolute path; fixes only write inside the repository {root}")
    path = (root / relpath).resolve()
    if path != root and root not in path.parents:
        raise PathOutsideRepo(f"{relpath} resolves outside the repository {root}; refusing to write there")
    return path


def _describe(t: LiveTarget) -> str:
    return f"{t.kind} {t.namespace}/{t.name}" if t.namespace else f"{t.kind} {t.name}"


def _for_write(obj: dict[str, Any], resource_version: str | None) -> dict[str, Any]:
    body = clone(obj)
    meta = body.setdefault("metadata", {})
    meta.pop("managedFields", None)
    if resource_version is not None:
        meta["resourceVersion"] = resource_version
    return body


class Applier:
    def __init__(self, client: KubeClient | None, journal: Journal, context: str, repo_root: Path | None) -> None:
        self.client, self.journal, self.context, self.repo_root = client, journal, context, repo_root

    # --- apply ------------------------------------------------------------------------------

    async def apply(self, finding: Finding, fix: Fix, *, dry_run: bool = False) -> ApplyResult:
        entry = {
            "id": new_id(),
            "action": "apply",
            "context": self.context,
            "finding_id": finding.id,
            "playbook": finding.playbook,
            "fix_id": fix.id,
            "title": fix.title,
        }
        if isinstance(fix.target, LiveTarget) and isinstance(fix.plan, LivePlan):
            return await self._live(
                entry,
                fix.target,
                fix.plan.mode,
                fix.plan.before,
                fix.plan.after,
                fix.target.resource_version,
                None,
                dry_run,
            )
        if isinstance(fix.target, FileTarget) and isinstance(fix.plan, FilePlan):
            return self._file(entry, fix.target.path, fix.plan.before, fix.plan.after, dry_run)
        return ApplyResult(None, "refused", f"fix {fix.id} has no plan pitstop knows how to apply")

    async def _live(
        self,
        entry: dict[str, Any],
        t: LiveTarget,
        mode: str,
        before: dict[str, Any],
        after: dict[str, Any],
        expect_rv: str,
        expect_uid: str | None,
        dry_run: bool,
    ) -> ApplyResult:
        if self.client is None:
            return ApplyResult(None, "refused", "no cluster connection to apply a live fix")
        what = _describe(t)
        try:
            current = await self.client.get(t.api_version, t.kind, t.namespace, t.name)
        except KubeError as e:
            if e.not_found:
                return ApplyResult(None, "refused", f"{what} no longer exists; re-run the playbook")
            raise
        have_rv = current["metadata"].get("resourceVersion")
        if (expect_uid and current["metadata"].get("uid") != expect_uid) or (
            have_rv != expect_rv and edited(before, current)
        ):
            return ApplyResult(
                None,
                "refused",
                f"{what} changed since it was diagnosed (resourceVersion {expect_rv} "
                f"is now {have_rv}); the fix is stale — re-run the playbook",
            )
        uid = current["metadata"]["uid"]
        entry.update(
            target={
                "type": "live",
                "apiVersion": t.api_version,
                "kind": t.kind,
                "namespace": t.namespace,
                "name": t.name,
                "resourceVersion": have_rv,
            },
            mode=mode,
            before=before,
            after=after,
        )
        try:
            if mode == "replace":
                await self.client.replace(_for_write(after, have_rv), dry_run=True)
            else:
                await self.client.delete(t.api_version, t.kind, t.namespace, t.name, uid=uid, dry_run=True)
                try:
                    await self.client.create(for_recreate(after), dry_run=True)
                except KubeError as e:
                    if e.status != 409:  # AlreadyExists means it passed validation; the old one is still there
                        raise
        except KubeError as e:
            if e.conflict:
                return ApplyResult(None, "refused", f"{what} changed during the dry run; the fix is stale — re-run")
            return ApplyResult(None, "refused", f"the server refused the dry run: {e.message}")
        if dry_run:
            return ApplyResult(
                None, "dry-run", f"the server accepted the change to {what} in a dry run; nothing changed"
            )
        self.journal.append({**entry, "phase": "started"})
        try:
            if mode == "replace":
                done = await self._replace(t, before, after, have_rv)
            else:
                done = await self._recreate(t, uid, have_rv, before, after)
        except KubeError as e:
            self.journal.append({**entry, "phase": "failed", "error": e.message})
            return ApplyResult(entry["id"], "failed", f"{what} was not changed: {e.message}")
        except _RolledBack as e:
            self.journal.append({**entry, "phase": "rolled-back", "error": str(e)})
            return ApplyResult(entry["id"], "failed", f"{what} could not be recreated ({e}); the original was put back")
        meta = done["metadata"]
        self.journal.append(
            {
                **entry,
                "phase": "applied",
                "result": {"resourceVersion": meta.get("resourceVersion"), "uid": meta.get("uid")},
            }
        )
        return ApplyResult(entry["id"], "applied", f"applied to {what}")

    async def _replace(self, t: LiveTarget, before: dict[str, Any], after: dict[str, Any], rv: str) -> dict[str, Any]:
        """PUT with the current resourceVersion; a conflict caused only by status churn is retried, an edit is not."""
        assert self.client is not None
        for _ in range(4):
            try:
                return await self.client.replace(_for_write(after, rv))
            except KubeError as e:
                if not e.conflict:
                    raise
                current = await self.client.get(t.api_version, t.kind, t.namespace, t.name)
                if edited(before, current):
                    raise
                rv = current["metadata"]["resourceVersion"]
        return await self.client.replace(_for_write(after, rv))

    async def _recreate(
        self, t: LiveTarget, uid: str, rv: str, before: dict[str, Any], after: dict[str, Any]
    ) -> dict[str, Any]:
        assert self.client is not None
        # uid, not resourceVersion: the Job controller's status writes must not make the delete fail
        await self.client.delete(t.api_version, t.kind, t.namespace, t.name, uid=uid)
        await self._gone(t)
        try:
            return await self.client.create(for_recreate(after))
        except KubeError as e:
            try:
                await self.client.create(for_recreate(before))
            except KubeError as again:
                raise _RolledBack(f"{e.message}; putting the original back also failed: {again.message}") from again
            raise _RolledBack(e.message) from e

    async def _gone(self, t: LiveTarget, timeout: float = 30.0) -> None:
        assert self.client is not None
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            try:
                await self.client.get(t.api_version, t.kind, t.namespace, t.name)
            except KubeError as e:
                if e.not_found:
                    return
                raise
            await asyncio.sleep(0.05)

    def _file(self, entry: dict[str, Any], relpath: str, before: str | None, after: str, dry_run: bool) -> ApplyResult:
        if self.repo_root is None:
            return ApplyResult(None, "refused", "no repository (--repo) to write the file fix to")
        try:
            path = resolve_in(self.repo_root, relpath)
        except PathOutsideRepo as e:
            return ApplyResult(None, "refused", str(e))
        current = path.read_text() if path.exists() else None
        if before is None and current is not None:
            return ApplyResult(None, "refused", f"{relpath} already exists; pitstop never overwrites a file it creates")
        if current != before:
            return ApplyResult(None, "refused", f"{relpath} changed since it was diagnosed; the fix is stale — re-run")
        if dry_run:
            return ApplyResult(None, "dry-run", f"would write {relpath}; nothing changed")
        entry.update(target={"type": "file", "path": relpath}, before=before, after=after)
        self.journal.append({**entry, "phase": "started"})
        try:
            _write_atomic(path, after)
        except OSError as e:
            self.journal.append({**entry, "phase": "failed", "error": e.strerror})
            return ApplyResult(entry["id"], "failed", f"could not write {relpath}: {e.strerror}")
        self.journal.append({**entry, "phase": "applied"})
        return ApplyResult(entry["id"], "applied", f"{'created' if before is None else 'edited'} {relpath}")

    # --- undo -------------------------------------------------------------------------------

    async def undo(self, applied_id: str) -> ApplyResult:
        """Put back what the apply `applied_id` replaced, if nothing changed it since."""
        done = self.journal.last(applied_id)
        if done is None or done.get("action") != "apply":
            return ApplyResult(None, "refused", f"no apply with id {applied_id} in the journal {self.journal.path}")
        if done.get("phase") != "applied":
            return ApplyResult(
                None, "refused", f"apply {applied_id} ended as {done.get('phase')}; there is nothing to undo"
            )
        if any(e.get("undo_of") == applied_id and e.get("phase") == "applied" for e in self.journal.entries()):
            return ApplyResult(None, "refused", f"apply {applied_id} was already undone")
        entry = {
            "id": new_id(),
            "action": "undo",
            "undo_of": applied_id,
            "context": self.context,
            "finding_id": done.get("finding_id"),
            "playbook": done.get("playbook"),
            "fix_id": done.get("fix_id"),
            "title": f"undo: {done.get('title')}",
        }
        target = done["target"]
        if target["type"] == "file":
            return (
                self._file(entry, target["path"], done["after"], done["before"] or "", False)
                if done["before"] is not None
                else self._remove(entry, target["path"], done["after"])
            )
        if done.get("context") != self.context:
            return ApplyResult(
                None,
                "refused",
                f"apply {applied_id} was made in context {done.get('context')}, "
                f"not {self.context}; switch context to undo it",
            )
        t = LiveTarget(
            target["apiVersion"],
            target["kind"],
            target.get("namespace"),
            target["name"],
            done["result"]["resourceVersion"],
        )
        return await self._live(
            entry, t, done["mode"], done["after"], done["before"], t.resource_version, done["result"].get("uid"), False
        )

    def _remove(self, entry: dict[str, Any], relpath: str, expect: str) -> ApplyResult:
        assert self.repo_root is not None
        path = resolve_in(self.repo_root, relpath)
        if not path.exists() or path.read_text() != expect:
            return ApplyResult(None, "refused", f"{relpath} changed since pitstop created it; not removing it")
        entry.update(target={"type": "file", "path": relpath}, before=expect, after=None)
        self.journal.append({**entry, "phase": "started"})
        path.unlink()
        self.journal.append({**entry, "phase": "applied"})
        return ApplyResult(entry["id"], "applied", f"removed {relpath}")


def edited(expected: dict[str, Any], current: dict[str, Any]) -> bool:
    """Whether someone changed what a fix writes (spec and labels) since `expected` was read.

    Controllers bump resourceVersion all the time by reporting status (a rollout in progress,
    restart counts); that is not an edit. The write itself still carries the current
    resourceVersion, so a change that lands between this check and the write is refused
    by the server.
    """

    def desired(obj: dict[str, Any]) -> tuple[Any, Any]:
        norm = for_recreate(obj)  # drops server-set fields and a Job's generated selector
        return norm.get("spec"), (norm.get("metadata") or {}).get("labels") or {}

    return desired(expected) != desired(current)


class _RolledBack(RuntimeError):
    pass


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".pitstop")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
