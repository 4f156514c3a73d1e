"""contract-drift: TypeScript interfaces of the frontend that disagree with what the Django API sends.

Each interface of the frontend's types files is matched by name with a DRF serializer or a Django
model (`User`, `IUser`, `UserDto`, `UserResponse` → `User`); see diagnostics/contracts.py for what
counts as the contract. One finding per field: a member the API sends under another name, a member
it never sends, a field the interface lacks, a type that cannot hold the value — each with the
TypeScript line and the Python line. Names are compared under the convention the project's matching
interfaces follow (camelCase or snake_case). The fix rewrites that one interface in place.
"""

from __future__ import annotations

from pathlib import Path

from diagnostics import contracts
from diagnostics.contracts import Contract, Drift, Interface, ReadProblem, TypeFile, TypeIndex
from diagnostics.diffs import unified
from diagnostics.findings import (
    Evidence,
    FilePlan,
    FileTarget,
    Finding,
    Fix,
    Location,
    ObjectRef,
    Severity,
    finding_id,
    sort_findings,
    stable_id,
)
from playbooks.base import Context, RepositoryPlaybook

ID = "contract-drift"


class ContractDrift(RepositoryPlaybook):
    id = ID
    title = "Frontend types that disagree with the Django API"

    def check(self, ctx: Context, root: Path) -> list[Finding]:
        return _check(ctx, root)


def _check(ctx: Context, root: Path) -> list[Finding]:
    backend = contracts.read_backend(root)
    out = [_unreadable(p) for p in backend.problems if ctx.in_scope(ObjectRef("File", p.path))]
    if not backend.models and not backend.serializers:
        return out  # no Django API here: its frontend's types files are none of our business
    files: list[TypeFile] = []
    for path, rel in contracts.find_type_files(root):
        try:
            files.append(contracts.read_type_file(path, rel))
        except ReadProblem as e:
            if ctx.in_scope(ObjectRef("File", rel)):
                out.append(_unreadable(e))
    names = {i.name for f in files for i in f.interfaces}
    matched: list[tuple[TypeFile, Interface, Contract]] = []
    for f in files:
        for iface in f.interfaces:
            contract = None if iface.generic else backend.contract_for(iface.name, names)
            if contract is not None:
                matched.append((f, iface, contract))
    convention = contracts.detect_convention(((i, c) for _, i, c in matched), backend.camel_case_renderer)
    index = TypeIndex(files)
    for f, iface, contract in matched:
        ref = ObjectRef("File", f.path)
        if not ctx.in_scope(ref):
            continue
        drifts = contracts.compare(iface, contract, convention, index)
        if drifts:
            out += _findings(ref, f, drifts, convention, backend.camel_case_renderer)
    return out


def _findings(
    ref: ObjectRef, f: TypeFile, drifts: list[Drift], convention: contracts.Convention, camel_renderer: bool
) -> list[Finding]:
    """One finding per drift; the interface's fix rides on the first of them (one apply fixes them all)."""
    iface, contract = drifts[0].interface, drifts[0].contract
    found = [_finding(ref, f, d, convention, camel_renderer) for d in drifts]
    fix = _fix(f, iface, contract, drifts, convention)
    if fix is None:
        return found
    first, *rest = sort_findings(found)
    note = f" The fix on “{first.title}” regenerates the whole interface and clears this one too."
    return [
        _with(first, fixes=(fix,), related=tuple(r.id for r in rest)),
        *(_with(r, explanation=r.explanation + note, related=(first.id,)) for r in rest),
    ]


def _with(
    f: Finding,
    *,
    fixes: tuple[Fix, ...] | None = None,
    related: tuple[str, ...] = (),
    explanation: str | None = None,
) -> Finding:
    return Finding(
        f.id,
        f.playbook,
        f.severity,
        f.object,
        f.title,
        f.explanation if explanation is None else explanation,
        f.evidence,
        f.fixes if fixes is None else fixes,
        f.location,
        f.cause,
        related,
    )


def _line_text(f: TypeFile, line: int) -> str:
    lines = f.text.split("\n")
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def _finding(ref: ObjectRef, f: TypeFile, d: Drift, convention: contracts.Convention, camel_renderer: bool) -> Finding:
    iface, contract, m, field = d.interface, d.contract, d.member, d.field
    where = Location(f.path, m.line if m else iface.line)
    ts_text = _line_text(f, where.line or iface.line)
    evidence = [Evidence("file", f"{where.path}:{where.line}  {ts_text}", f"TypeScript interface {iface.name}", where)]
    if field is not None:
        evidence += [
            Evidence(
                "file", f"{s.location.path}:{s.location.line}  {s.text}" if s.location else s.text, s.what, s.location
            )
            for s in field.sources
        ]
    else:
        at = contract.location
        evidence.append(
            Evidence(
                "file",
                f"{at.path}:{at.line}  {contract.label} has no field {contracts.snake(m.name if m and m.name else '')}",
                contract.label[0].upper() + contract.label[1:],
                at,
            )
        )
    how = (
        "the project's matching interfaces name multi-word fields in camelCase"
        if convention == "camelCase"
        else "the project's matching interfaces name multi-word fields in snake_case, as DRF sends them"
    )
    if convention == "camelCase" and camel_renderer:
        how += " and the backend renders camelCase JSON"
    member = m.name if m else ""
    severity: Severity = "error" if contract.exact else "warning"
    if d.kind == "renamed":
        assert field is not None
        title = f"Interface {iface.name} declares {member}; the API sends {d.expected_name} instead"
        explanation = (
            f"{_cap(contract.label)} sends {field.name!r}, which the frontend receives as {d.expected_name} "
            f"({how}). The interface declares {member} instead, a key the response never carries: the frontend "
            f"reads undefined there. The two look like one field renamed on one side: rename the member to "
            f"{d.expected_name} (or the field on the backend) so both sides agree."
        )
    elif d.kind == "extra":
        title = f"Interface {iface.name} declares {member}, which the API does not send"
        explanation = (
            f"{_cap(contract.label)} has no field that the frontend would receive as {member} ({how}): "
            f"the frontend reads undefined there. Remove {member} from the interface, or send it from the backend."
        )
        if not contract.exact:
            explanation += (
                " No serializer lists the model's fields, so the view may add it by hand; if it does, "
                "a serializer declaring it would make the contract explicit."
            )
    elif d.kind == "missing":
        assert field is not None
        severity = "warning"
        title = f"Interface {iface.name} lacks {d.expected_name}, which the API sends"
        explanation = (
            f"{_cap(contract.label)} sends {field.name!r} (received as {d.expected_name}, {how}), "
            f"but interface {iface.name} does not declare it, so the frontend cannot use it type-safely: "
            f"declare {d.expected_name} in the interface."
        )
    else:
        assert field is not None and m is not None
        severity = "warning"
        title = f"Interface {iface.name} types {member} as {m.type_text(f.text)}; the API sends {field.ts_type}"
        explanation = (
            f"{_cap(contract.label)} sends {field.name!r} ({field.django_type or 'a field'}) as "
            f"{contracts.describe(field.accepts)}; interface {iface.name} says {contracts.describe(d.ts_bases)}. "
            f"Type {member} as {field.ts_type}."
        )
    cause = f"{d.kind}:{iface.name}.{member or (field.name if field else '')}"
    if d.kind == "renamed" and field is not None:
        cause += f":{field.name}"
    return Finding(
        id=finding_id(ID, ref, cause),
        playbook=ID,
        severity=severity,
        object=ref,
        title=title,
        explanation=explanation,
        evidence=tuple(evidence),
        location=where,
        cause=cause,
    )


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _fix(
    f: TypeFile, iface: Interface, contract: Contract, drifts: list[Drift], convention: contracts.Convention
) -> Fix | None:
    after = contracts.rewrite(f.text, drifts)
    if after is None or after == f.text:
        return None
    renamed = [d.member.name for d in drifts if d.kind in ("renamed", "extra") and d.member and d.member.name]
    notes = [
        f"Only interface {iface.name} changes; every other declaration in {f.path} stays as it is.",
        "Types follow the Django field: text, dates and UUIDs are string; numbers and ForeignKeys "
        "(the related row's id, under the name DRF sends) are number; blank or nullable fields are optional (?).",
    ]
    if renamed:
        notes.append(
            f"Code that reads {', '.join(renamed)} stops type-checking: `tsc --noEmit` lists every place to update."
        )
    return Fix(
        id=stable_id(ID, f.path, iface.name, "interface"),
        title=f"Regenerate interface {iface.name} in {f.path} from {contract.label}",
        target=FileTarget(f.path),
        diff=unified(f.text, after, f.path),
        risk="low",
        notes=" ".join(notes),
        plan=FilePlan(f.text, after),
    )


def _unreadable(p: ReadProblem) -> Finding:
    ref = ObjectRef("File", p.path)
    at = f"line {p.line}: " if p.line else ""
    if p.path.endswith(".py"):
        way = f"fix it (`python -m py_compile {p.path}` shows the error)"
    else:
        way = "fix it (`npx tsc --noEmit` shows the error) or save it as UTF-8 text"
    return Finding(
        id=finding_id(ID, ref, "unreadable"),
        playbook=ID,
        severity="warning",
        object=ref,
        title=f"Could not check {p.path}: {at}{p.message}",
        explanation=(
            f"The frontend/backend contract check skipped {p.path}, so drift in what it declares goes unreported; "
            f"{way} and run the playbook again."
        ),
        evidence=(
            Evidence(
                "file",
                f"{p.path}:{p.line}  {p.message}" if p.line else p.message,
                "repository",
                Location(p.path, p.line),
            ),
        ),
        location=Location(p.path, p.line),
        cause="unreadable",
    )


PLAYBOOK = ContractDrift()
