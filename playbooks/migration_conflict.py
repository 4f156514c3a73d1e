"""migration-conflict: migration graphs that `migrate` / `alembic upgrade` would refuse.

Read statically from the repository (never importing the project): several leaves in
one Django app, several Alembic heads, missing dependencies, cycles and files that do
not parse, each with file:line. A conflict's fix is the merge file exactly as
`makemigrations --merge` or `alembic merge` would write it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from diagnostics.diffs import unified
from diagnostics.findings import (
    Evidence,
    FilePlan,
    FileTarget,
    Finding,
    Fix,
    Location,
    ObjectRef,
    finding_id,
    stable_id,
)
from diagnostics.migrations import alembic, django
from playbooks.base import Context

ID = "migration-conflict"


class MigrationConflict:
    id = ID
    title = "Migration graphs that would stop a deploy"
    kinds: tuple[str, ...] = ()
    uses_repo = True
    uses_registry = False

    async def run(self, ctx: Context) -> list[Finding]:
        if ctx.repo_root is None:
            return []
        root = ctx.repo_root
        return await asyncio.to_thread(lambda: self._django(ctx, root) + self._alembic(ctx, root))

    def _django(self, ctx: Context, root: Path) -> list[Finding]:
        out: list[Finding] = []
        for project in django.find_projects(root):
            problems = django.analyze(project)
            # a file Django cannot import stops it before any conflict check: report that, not its side effects
            unreadable = {p.app_label for p in problems if p.kind in ("syntax-error", "unreadable")}
            for p in problems:
                ref = ObjectRef("DjangoApp", p.app_label)
                if not ctx.in_scope(ref) or (p.kind == "conflict" and p.app_label in unreadable):
                    continue
                cause = f"{p.kind}:{','.join(p.details)}"
                loc = Location(p.path, p.line) if p.path else None
                evidence = [Evidence("file", f"{at.path}:{at.line}", "repository", at) for at in p.locations]
                fixes: tuple[Fix, ...] = ()
                if p.kind == "conflict":
                    evidence.insert(
                        0,
                        Evidence(
                            "log",
                            "CommandError: "
                            + django.conflict_error({p.app_label: list(p.details)})
                            + "\nTo fix them run 'python manage.py makemigrations --merge'",
                            "what python manage.py migrate would print",
                        ),
                    )
                    try:
                        path, text = django.merge_migration(project, p.app_label, p.details)
                    except ValueError as e:  # leaves with no common ancestor: Django cannot merge them either
                        evidence.append(Evidence("log", str(e), "makemigrations --merge"))
                    else:
                        fixes = (
                            self._new_file(
                                ref,
                                cause,
                                path,
                                text,
                                "Written as `python manage.py makemigrations --merge` would; it has "
                                "no operations. Review that the branches' operations do not clash, "
                                "commit it and rebuild the image.",
                            ),
                        )
                    title = f"App {p.app_label} has {len(p.details)} leaf migrations: {', '.join(p.details)}"
                else:
                    title = {
                        "missing-dependency": f"App {p.app_label}: a migration depends on one that does not exist",
                        "cycle": f"App {p.app_label}: migrations depend on each other in a cycle",
                    }.get(p.kind, f"App {p.app_label}: a migration file cannot be read")
                out.append(
                    Finding(
                        id=finding_id(ID, ref, cause),
                        playbook=ID,
                        severity="error",
                        object=ref,
                        title=title,
                        explanation=p.message,
                        evidence=tuple(evidence),
                        fixes=fixes,
                        location=loc,
                        cause=cause,
                    )
                )
        return out

    def _alembic(self, ctx: Context, root: Path) -> list[Finding]:
        out: list[Finding] = []
        for history in alembic.find_histories(root):
            for p in alembic.analyze(history):
                ref = ObjectRef("AlembicHistory", p.script_location)
                if not ctx.in_scope(ref):
                    continue
                cause = f"{p.kind}:{','.join(p.details)}"
                loc = Location(p.path, p.line) if p.path else None
                evidence = [Evidence("file", f"{at.path}:{at.line}", "repository", at) for at in p.locations]
                fixes: tuple[Fix, ...] = ()
                if p.kind == "multiple-heads":
                    evidence.insert(
                        0,
                        Evidence(
                            "log", "FAILED: " + alembic.MULTIPLE_HEADS_ERROR, "what alembic upgrade head would print"
                        ),
                    )
                    path, text = alembic.merge_revision(history, p.details)
                    fixes = (
                        self._new_file(
                            ref,
                            cause,
                            path,
                            text,
                            'Written as `alembic merge -m "merge heads"` would, from the project\'s script.py.mako.',
                        ),
                    )
                title = (
                    f"{p.script_location} has {len(p.details)} heads: {', '.join(p.details)}"
                    if p.kind == "multiple-heads"
                    else f"{p.script_location}: {p.message.split('.')[0]}"
                )
                out.append(
                    Finding(
                        id=finding_id(ID, ref, cause),
                        playbook=ID,
                        severity="error",
                        object=ref,
                        title=title,
                        explanation=p.message,
                        evidence=tuple(evidence),
                        fixes=fixes,
                        location=loc,
                        cause=cause,
                    )
                )
        return out

    @staticmethod
    def _new_file(ref: ObjectRef, cause: str, path: str, text: str, notes: str) -> Fix:
        return Fix(
            id=stable_id(ID, ref.kind, ref.name, cause, "file"),
            title=f"Create {path}",
            target=FileTarget(path, create=True),
            diff=unified(None, text, path),
            risk="low",
            notes=notes,
            plan=FilePlan(None, text),
        )


PLAYBOOK = MigrationConflict()
