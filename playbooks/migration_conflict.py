"""migration-conflict: migration graphs that `migrate` / `alembic upgrade` would refuse.

Read statically from the repository (never importing the project): several leaves in
one Django app, several Alembic heads, missing dependencies, cycles and files that do
not parse, each with file:line. A conflict's fix is the merge file exactly as
`makemigrations --merge` or `alembic merge` would write it.
"""

from __future__ import annotations

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
from playbooks.base import Context, RepositoryPlaybook

ID = "migration-conflict"


class MigrationConflict(RepositoryPlaybook):
    id = ID
    title = "Migration graphs that would stop a deploy"

    def check(self, ctx: Context, root: Path) -> list[Finding]:
        return self._django(ctx, root) + self._alembic(ctx, root)

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
                if p.kind != "conflict":
                    title = {
                        "missing-dependency": f"App {p.app_label}: a migration depends on one that does not exist",
                        "cycle": f"App {p.app_label}: migrations depend on each other in a cycle",
                    }.get(p.kind, f"App {p.app_label}: a migration file cannot be read")
                    out.append(_finding(ref, p, title))
                    continue
                printed = django.conflict_error({p.app_label: list(p.details)})
                log = Evidence(
                    "log",
                    f"CommandError: {printed}\nTo fix them run 'python manage.py makemigrations --merge'",
                    "what python manage.py migrate would print",
                )
                fixes: tuple[Fix, ...] = ()
                extra: tuple[Evidence, ...]
                try:
                    path, text = django.merge_migration(project, p.app_label, p.details, now=ctx.now)
                except ValueError as e:  # leaves with no common ancestor: Django cannot merge them either
                    extra = (log, Evidence("log", str(e), "makemigrations --merge"))
                else:
                    extra = (log,)
                    fixes = (
                        _new_file(
                            ref,
                            p,
                            path,
                            text,
                            "Written as `python manage.py makemigrations --merge` would; "
                            "it has no operations. Review that the branches' operations do not clash, "
                            "commit it and rebuild the image.",
                        ),
                    )
                title = f"App {p.app_label} has {len(p.details)} leaf migrations: {', '.join(p.details)}"
                out.append(_finding(ref, p, title, extra, fixes))
        return out

    def _alembic(self, ctx: Context, root: Path) -> list[Finding]:
        out: list[Finding] = []
        for history in alembic.find_histories(root):
            for p in alembic.analyze(history):
                ref = ObjectRef("AlembicHistory", p.script_location)
                if not ctx.in_scope(ref):
                    continue
                if p.kind != "multiple-heads":
                    out.append(_finding(ref, p, f"{p.script_location}: {p.message.split('.')[0]}"))
                    continue
                log = Evidence(
                    "log", "FAILED: " + alembic.MULTIPLE_HEADS_ERROR, "what alembic upgrade head would print"
                )
                path, text = alembic.merge_revision(history, p.details, now=ctx.now)
                fix = _new_file(
                    ref,
                    p,
                    path,
                    text,
                    'Written as `alembic merge -m "merge heads"` would, from the project\'s script.py.mako.',
                )
                title = f"{p.script_location} has {len(p.details)} heads: {', '.join(p.details)}"
                out.append(_finding(ref, p, title, (log,), (fix,)))
        return out


Problem = django.Problem | alembic.Problem


def _cause(p: Problem) -> str:
    return f"{p.kind}:{','.join(p.details)}"


def _finding(
    ref: ObjectRef, p: Problem, title: str, extra: tuple[Evidence, ...] = (), fixes: tuple[Fix, ...] = ()
) -> Finding:
    """A finding for one problem of a migration history, with its file locations as evidence."""
    files = tuple(Evidence("file", f"{at.path}:{at.line}", "repository", at) for at in p.locations)
    return Finding(
        id=finding_id(ID, ref, _cause(p)),
        playbook=ID,
        severity="error",
        object=ref,
        title=title,
        explanation=p.message,
        evidence=(*extra, *files),
        fixes=fixes,
        location=Location(p.path, p.line) if p.path else None,
        cause=_cause(p),
    )


def _new_file(ref: ObjectRef, p: Problem, path: str, text: str, notes: str) -> Fix:
    return Fix(
        id=stable_id(ID, ref.kind, ref.name, _cause(p), "file"),
        title=f"Create {path}",
        target=FileTarget(path, create=True),
        diff=unified(None, text, path),
        risk="low",
        notes=notes,
        plan=FilePlan(None, text),
    )


PLAYBOOK = MigrationConflict()
