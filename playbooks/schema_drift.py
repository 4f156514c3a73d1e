"""schema-drift: model fields no migration adds (and migration fields the models no longer have).

Read statically from the repository (never importing the project): each app's migrations are
replayed in graph order and compared with its model classes (diagnostics/migrations/replay.py).

- A field the model declares and no migration adds is an error: the column is missing in the
  database, so every query on the model fails (INCIDENTS.md I8). Its fix is the migration
  `makemigrations` would write: the AddField operations, named and numbered as Django names them.
- A model no migration creates is an error; it has no automatic fix (makemigrations writes a
  CreateModel with every option, which is better left to Django).
- A field or model the migrations create that the models no longer have is a warning: the
  RemoveField/DeleteModel was never written, so the column stays and `makemigrations` will propose
  dropping it.
- A models.py or migration file that cannot be read is reported as "could not check FILE: why"
  (a warning), and the other apps are still checked.

An app with several leaf migrations (a conflict, found by migration-conflict) gets no automatic fix:
`makemigrations` refuses to run there, and an AddField migration depending on every leaf would become
a new leaf beside the merge migration. The finding says to merge first; once merged, the fix depends
on the merge migration.
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
    Risk,
    Severity,
    finding_id,
    stable_id,
)
from diagnostics.migrations import django
from diagnostics.migrations.replay import AppDrift, ModelClass, Place, check_project, column_of, table_of
from diagnostics.migrations.replay import add_field_migration as write_add_fields
from playbooks.base import Context, RepositoryPlaybook

ID = "schema-drift"
MAKEMIGRATIONS_CHECK = "what python manage.py makemigrations --check --dry-run would print"


class SchemaDrift(RepositoryPlaybook):
    id = ID
    title = "Model fields without migrations"

    def check(self, ctx: Context, root: Path) -> list[Finding]:
        out: list[Finding] = []
        for project in django.find_projects(root):
            graph = django.load_graph(project)
            for drift in check_project(project, graph):
                ref = ObjectRef("DjangoApp", drift.app.label)
                if not ctx.in_scope(ref):
                    continue
                out += _could_not_check(ref, drift)
                if drift.missing_fields:
                    out.append(_missing_fields(ctx, project, graph, ref, drift))
                out += [_missing_model(ref, drift, cls) for cls in drift.missing_models]
                if drift.stale_fields or drift.stale_models:
                    out.append(_stale(ref, drift))
        return out


def _loc(at: Place) -> Location:
    return Location(at.path, at.line)


def _file(at: Place, text: str) -> Evidence:
    return Evidence("file", text, f"file {at.path}:{at.line}" if at.line else f"file {at.path}", _loc(at))


def _not_replayed(drift: AppDrift) -> tuple[Evidence, ...]:
    return tuple(
        _file(
            n.at,
            f"{n.operation} at {n.at.path}:{n.at.line} was not replayed: if it changed the schema outside "
            "state_operations, Django's migration state does not know it either.",
        )
        for n in drift.not_replayed
    )


def _finding(
    ref: ObjectRef,
    severity: Severity,
    cause: str,
    title: str,
    explanation: str,
    evidence: tuple[Evidence, ...],
    location: Place | None,
    fixes: tuple[Fix, ...] = (),
) -> Finding:
    return Finding(
        id=finding_id(ID, ref, cause),
        playbook=ID,
        severity=severity,
        object=ref,
        title=title,
        explanation=explanation,
        evidence=evidence,
        fixes=fixes,
        location=_loc(location) if location is not None else None,
        cause=cause,
    )


def _could_not_check(ref: ObjectRef, drift: AppDrift) -> list[Finding]:
    return [
        _finding(
            ref,
            "warning",
            f"could-not-check:{path}",
            message,
            f"{message[0].upper()}{message[1:]}; pitstop reads it without running it, so app "
            f"{drift.app.label} was not compared with its migrations. Make the file valid Python with "
            "plain literals in its operations, then run schema-drift again.",
            (Evidence("file", message, f"file {path}", Location(path, line)),),
            Place(path, line),
        )
        for path, message, line in drift.problems
    ]


def _missing_fields(
    ctx: Context, project: django.DjangoProject, graph: django.MigrationGraph, ref: ObjectRef, drift: AppDrift
) -> Finding:
    app = drift.app
    missing = sorted(drift.missing_fields, key=lambda m: (m.model.name.lower(), m.field.name))
    names = [f"{m.model.name}.{m.field.name}" for m in missing]
    cause = "missing-fields:" + ",".join(n.lower() for n in names)
    first = missing[0]
    columns = [f"{table_of(app, m.model)}.{col}" for m in missing if (col := column_of(m.field)) is not None]
    leaf_text = ", ".join(drift.leaves) or "none"
    explanation = (
        f"{'These fields are' if len(missing) > 1 else 'This field is'} declared in the models of app "
        f"{app.label}, but none of its {drift.migrations} migrations (up to {leaf_text}) adds "
        f"{'them' if len(missing) > 1 else 'it'}, so `migrate` never creates "
        f"{'the columns' if len(columns) > 1 else 'the column' if columns else 'the join table'}"
        + (f" ({', '.join(columns)})" if columns else "")
        + " and queries on the model fail with `column ... does not exist`."
    )
    evidence: list[Evidence] = [
        _file(m.field.at, f"{m.field.at.path}:{m.field.at.line}: {m.field.name} = {m.field.source}") for m in missing
    ]
    for m in missing:
        created = drift.state[m.model.name.lower()].at
        evidence.append(
            _file(
                created,
                f"{m.model.name} is created at {created.path}:{created.line}; no later AddField adds {m.field.name}.",
            )
        )
    fixes: tuple[Fix, ...] = ()
    try:
        written = write_add_fields(project, graph, drift, now=ctx.now)
    except ValueError as e:
        explanation += f" {e}"
    else:
        shown = written.path
        if project.root not in (".", "") and shown.startswith(project.root + "/"):
            shown = shown[len(project.root) + 1 :]  # makemigrations runs where manage.py is
        evidence.append(
            Evidence(
                "log",
                f"Migrations for '{app.label}':\n  {shown}\n"
                + "\n".join(f"    + Add field {m.field.name} to {m.model.name.lower()}" for m in missing),
                MAKEMIGRATIONS_CHECK,
            )
        )
        notes = (
            f"Written as `python manage.py makemigrations {app.label}` would, with each field copied from the "
            f"model; it depends on {drift.leaves[0]}. Commit it, rebuild the image and run the migration Job."
        )
        risk: Risk = "low"
        if written.not_null:
            risk = "high"
            notes += (
                f" {', '.join(written.not_null)} is NOT NULL without a default: migrate fails on a table that "
                "has rows; give the field a default or null=True first (makemigrations would ask for a one-off default)."
            )
        if written.unresolved:
            risk = "high"
            notes += f" Review the names {', '.join(written.unresolved)}: pitstop could not tell where they come from."
        fixes = (
            Fix(
                id=stable_id(ID, ref.kind, ref.name, cause, "file"),
                title=f"Create {written.path}",
                target=FileTarget(written.path, create=True),
                diff=unified(None, written.text, written.path),
                risk=risk,
                notes=notes,
                plan=FilePlan(None, written.text),
            ),
        )
    title = (
        f"{app.label}.{first.model.name}.{first.field.name} has no migration"
        if len(missing) == 1
        else f"App {app.label}: {len(missing)} model fields have no migration: {', '.join(names)}"
    )
    return _finding(
        ref,
        "error",
        cause,
        title,
        explanation,
        (*evidence, *_not_replayed(drift)),
        first.field.at,
        fixes,
    )


def _missing_model(ref: ObjectRef, drift: AppDrift, cls: ModelClass) -> Finding:
    app = drift.app.label
    message = (
        f"Model {app}.{cls.name} is declared at {cls.at.path}:{cls.at.line}, but none of the app's "
        f"{drift.migrations} migrations creates it, so its table does not exist. "
        f"Run `python manage.py makemigrations {app}` and commit the CreateModel it writes."
    )
    return _finding(
        ref,
        "error",
        f"missing-model:{cls.name.lower()}",
        f"{app}.{cls.name} has no migration that creates it",
        message,
        (_file(cls.at, f"{cls.at.path}:{cls.at.line}: class {cls.name}"), *_not_replayed(drift)),
        cls.at,
    )


def _stale(ref: ObjectRef, drift: AppDrift) -> Finding:
    app = drift.app.label
    fields = sorted(drift.stale_fields, key=lambda s: (s.model.name.lower(), s.field.name))
    models = sorted(drift.stale_models, key=lambda m: m.name.lower())
    things = [f"{s.model.name}.{s.field.name}" for s in fields] + [f"model {m.name}" for m in models]
    cause = "stale:" + ",".join(t.lower() for t in things)
    evidence = [
        _file(
            s.field.at,
            f"{s.field.at.path}:{s.field.at.line} adds {s.model.name}.{s.field.name}; {s.model.at.path} no longer declares it.",
        )
        for s in fields
    ] + [_file(m.at, f"{m.at.path}:{m.at.line} creates {m.name}; no model class of that name is left.") for m in models]
    explanation = (
        f"The migrations of app {app} create {', '.join(things)}, which the models no longer declare: a "
        "RemoveField/DeleteModel was never written, so the database keeps the column or table and the next "
        f"`makemigrations` will drop it. Run `python manage.py makemigrations {app}` and review what it removes."
    )
    first = fields[0].field.at if fields else models[0].at
    return _finding(
        ref,
        "warning",
        cause,
        f"App {app}: migrations create {', '.join(things)}, which the models no longer have",
        explanation,
        (*evidence, *_not_replayed(drift)),
        first,
    )


PLAYBOOK = SchemaDrift()
