"""The headless reports: one run's findings as JSON, SARIF, JUnit XML or text, and the exit code.

This is the only module that writes reports to stdout (`write`), and the only place that
maps a run to an exit code (`exit_code`). Every format is a pure function of a `RunResult`;
none of them prints a fix's plan (whole objects, possibly large), only its diff.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any, Literal, TextIO

import orjson
from rich.console import Console
from rich.text import Text

from diagnostics.findings import (
    SEVERITY_ORDER,
    Evidence,
    FilePlan,
    FileTarget,
    Finding,
    Fix,
    LiveTarget,
    Location,
    ObjectRef,
    sort_findings,
)

PlaybookState = Literal["ok", "findings", "error", "skipped"]
ApplyResult = Literal["applied", "dry-run", "refused", "failed"]
Verification = Literal["verified", "not yet resolved"]
OutputFormat = Literal["text", "json", "junit", "sarif"]
FailOn = Literal["warning", "error"]

OUTPUT_FORMATS: tuple[OutputFormat, ...] = ("text", "json", "junit", "sarif")
FAIL_ON_LEVELS: tuple[FailOn, ...] = ("warning", "error")
REPORT_VERSION = 1

# Exit codes of headless mode (DESIGN.md "Command line"). EXIT_USAGE is the CLI's to return,
# for bad flags and configuration, before any playbook runs; exit_code() never returns it.
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3

SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_SRCROOT = "%SRCROOT%"  # repository-relative URIs, as GitHub code scanning expects
SARIF_FINGERPRINT = "pitstopFindingId/v1"
SARIF_LEVEL: dict[str, str] = {"error": "error", "warning": "warning", "info": "note"}

# Findings about the repository rather than the cluster (DESIGN.md "Finding and Fix").
REPOSITORY_KINDS = frozenset({"DjangoApp", "AlembicHistory", "File"})


@dataclass(frozen=True, slots=True)
class PlaybookStatus:
    """How one playbook's run ended.

    `unreachable` marks an `error` caused by a data source the playbook needs (cluster,
    registry, CI API) that could not be reached; it turns the exit code into 3 and `error`
    holds the one-line cause. `title` (the playbook's title) and `help_uri` only feed SARIF rules.
    """

    id: str
    status: PlaybookState
    duration_ms: int
    error: str | None = None
    unreachable: bool = False
    title: str = ""
    help_uri: str | None = None

    def __post_init__(self) -> None:
        if self.unreachable and self.status != "error":
            raise ValueError(f"playbook {self.id}: only an 'error' status can be unreachable, not {self.status!r}")


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    """What happened to one fix under `--apply`; `journal_id` is None when nothing was journaled."""

    fix_id: str
    finding_id: str
    journal_id: str | None
    result: ApplyResult
    verification: Verification | None
    message: str


@dataclass(frozen=True, slots=True)
class RunResult:
    """One headless run. `started_at` must be timezone-aware; `applied` is None unless `--apply` was given."""

    context: str
    started_at: datetime
    duration_ms: int
    playbooks: tuple[PlaybookStatus, ...]
    findings: tuple[Finding, ...]
    applied: tuple[ApplyOutcome, ...] | None = None

    def __post_init__(self) -> None:
        if self.started_at.tzinfo is None or self.started_at.utcoffset() is None:
            raise ValueError("RunResult.started_at must be timezone-aware (use datetime.now(UTC))")


# ---------------------------------------------------------------------------------------------
# exit code


def exit_code(run: RunResult, fail_on: FailOn = "error") -> int:
    """The process exit code for a headless run (DESIGN.md "Command line").

    3 when a playbook could not reach a data source it needs (it wins over 1: the report is
    incomplete, and CI should say why rather than only that it failed); 1 when a finding is at or
    above `fail_on`, or a playbook failed for another reason (a check that did not run is
    never an all clear); 0 otherwise. Skipped playbooks do not count. 2 (usage) is the CLI's.
    """
    if fail_on not in FAIL_ON_LEVELS:
        raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON_LEVELS)}, not {fail_on!r}")
    if any(p.status == "error" and p.unreachable for p in run.playbooks):
        return EXIT_UNREACHABLE
    threshold = SEVERITY_ORDER[fail_on]
    if any(SEVERITY_ORDER[f.severity] <= threshold for f in run.findings):
        return EXIT_FINDINGS
    if any(p.status == "error" for p in run.playbooks):
        return EXIT_FINDINGS
    return EXIT_OK


def unreachable_cause(run: RunResult) -> str | None:
    """The one line for stderr when `exit_code` is 3: which playbook could not reach what."""
    for p in run.playbooks:
        if p.status == "error" and p.unreachable:
            return f"playbook {p.id}: {_one_line(p.error or 'a data source it needs could not be reached')}"
    return None


# ---------------------------------------------------------------------------------------------
# writing


def write(run: RunResult, fmt: OutputFormat, stream: TextIO | None = None) -> None:
    """Write the report in `fmt` to `stream` (default: stdout) — the one place reports are written.

    JSON, SARIF and JUnit go to the stream's binary buffer when it has one, so they are UTF-8
    whatever the locale; text is coloured only when the stream is a terminal (and NO_COLOR unset).
    """
    out = sys.stdout if stream is None else stream
    if fmt == "text":
        render_text(run, Console(file=out, highlight=False))
        out.flush()
        return
    if fmt == "json":
        data = to_json(run)
    elif fmt == "sarif":
        data = to_sarif(run)
    elif fmt == "junit":
        data = to_junit(run)
    else:
        raise ValueError(f"unknown report format {fmt!r}; use one of {', '.join(OUTPUT_FORMATS)}")
    buffer = getattr(out, "buffer", None)
    out.flush()
    if buffer is not None:
        buffer.write(data)
        buffer.flush()
    else:
        out.write(data.decode())
        out.flush()


# ---------------------------------------------------------------------------------------------
# JSON (DESIGN.md "Finding and Fix", schema in playbooks/schema/report.schema.json)


def report_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the `--output json` report, shipped as package data."""
    text = resources.files("playbooks").joinpath("schema/report.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = orjson.loads(text)
    return schema


def to_json(run: RunResult) -> bytes:
    """The version-1 JSON report: findings most severe first, `applied` only when fixes were applied."""
    doc: dict[str, Any] = {
        "version": REPORT_VERSION,
        "context": run.context,
        "started_at": _timestamp(run.started_at),
        "duration_ms": run.duration_ms,
        "playbooks": [
            {"id": p.id, "status": p.status, "duration_ms": p.duration_ms, "error": p.error} for p in run.playbooks
        ],
        "findings": [_finding_json(f) for f in _sorted(run)],
    }
    if run.applied is not None:
        doc["applied"] = [
            {
                "fix_id": a.fix_id,
                "finding_id": a.finding_id,
                "journal_id": a.journal_id,
                "result": a.result,
                "verification": a.verification,
                "message": a.message,
            }
            for a in run.applied
        ]
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)


def _finding_json(f: Finding) -> dict[str, Any]:
    return {
        "id": f.id,
        "playbook": f.playbook,
        "severity": f.severity,
        "object": _object_json(f.object),
        "title": f.title,
        "explanation": f.explanation,
        "location": _location_json(f.location),
        "evidence": [
            {"kind": e.kind, "text": e.text, "source": e.source, "location": _location_json(e.location)}
            for e in f.evidence
        ],
        "fixes": [
            {
                "id": x.id,
                "title": x.title,
                "target": _target_json(x.target),
                "diff": x.diff,
                "risk": x.risk,
                "notes": x.notes,
            }
            for x in f.fixes
        ],
        "related": list(f.related),
    }


def _object_json(obj: ObjectRef) -> dict[str, Any]:
    return {"kind": obj.kind, "namespace": obj.namespace, "name": obj.name}


def _location_json(loc: Location | None) -> dict[str, Any] | None:
    return None if loc is None else {"path": loc.path, "line": loc.line}


def _target_json(target: LiveTarget | FileTarget) -> dict[str, Any]:
    if isinstance(target, LiveTarget):
        return {"type": "live", "kind": target.kind, "namespace": target.namespace, "name": target.name}
    return {"type": "file", "path": target.path}


# ---------------------------------------------------------------------------------------------
# SARIF 2.1.0


def to_sarif(run: RunResult) -> bytes:
    """SARIF 2.1.0 with one run: playbooks are rules, findings are results.

    A result's location is the finding's file location, else its first evidence with a file
    location, else the line its first file fix changes; live objects are logical locations
    (`namespace/Kind/name`, kind `resource`). File fixes become `fixes` with exact replacements
    when the fix carries the file text; live fixes are listed under the result's properties.
    """
    rules: list[dict[str, Any]] = []
    rule_index: dict[str, int] = {}
    titles = {p.id: p for p in run.playbooks}
    for pid in _playbook_ids(run):
        status = titles.get(pid)
        rule: dict[str, Any] = {
            "id": pid,
            "name": _pascal(pid),
            "shortDescription": {"text": (status.title if status and status.title else pid)},
        }
        if status is not None and status.help_uri:
            rule["helpUri"] = status.help_uri
        rule_index[pid] = len(rules)
        rules.append(rule)

    driver: dict[str, Any] = {"name": "pitstop", "rules": rules}
    version = _pitstop_version()
    if version:
        driver["version"] = version

    notifications = [
        {
            "level": "error" if p.status == "error" else "note",
            "message": {
                "text": f"playbook {p.id} {'failed' if p.status == 'error' else 'was skipped'}: "
                f"{_one_line(p.error or p.status)}"
            },
            "associatedRule": {"id": p.id, "index": rule_index[p.id]},
        }
        for p in run.playbooks
        if p.status in ("error", "skipped")
    ]
    invocation: dict[str, Any] = {
        "executionSuccessful": not any(p.status == "error" for p in run.playbooks),
        "startTimeUtc": _timestamp(run.started_at),
        "endTimeUtc": _timestamp(run.started_at + timedelta(milliseconds=run.duration_ms)),
    }
    if notifications:
        invocation["toolExecutionNotifications"] = notifications

    doc = {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                "invocations": [invocation],
                "columnKind": "unicodeCodePoints",  # replacement offsets are Python string indices
                "results": [_sarif_result(f, rule_index[f.playbook]) for f in _sorted(run)],
                "properties": {"context": run.context},
            }
        ],
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)


def _sarif_result(f: Finding, rule_index: int) -> dict[str, Any]:
    text = f"{f.object}: {f.title}"
    if f.explanation:
        text += f"\n\n{f.explanation}"
    result: dict[str, Any] = {
        "ruleId": f.playbook,
        "ruleIndex": rule_index,
        "level": SARIF_LEVEL[f.severity],
        "message": {"text": text},
    }

    primary, related = _physical_locations(f)
    location: dict[str, Any] = {}
    if primary is not None:
        location["physicalLocation"] = _sarif_physical(primary)
    logical = _logical_location(f.object)
    if logical is not None:
        location["logicalLocations"] = [logical]
    if location:
        result["locations"] = [location]
    if related:
        result["relatedLocations"] = [
            {"id": i, "physicalLocation": _sarif_physical(loc), "message": {"text": msg}}
            for i, (loc, msg) in enumerate(related, start=1)
        ]

    result["partialFingerprints"] = {SARIF_FINGERPRINT: f.id}

    fixes: list[dict[str, Any]] = []
    other: list[Fix] = []
    for x in f.fixes:
        sarif_fix = _sarif_fix(x)
        if sarif_fix is None:
            other.append(x)
        else:
            fixes.append(sarif_fix)
    if fixes:
        result["fixes"] = fixes
    properties: dict[str, Any] = {"object": _object_json(f.object), "findingId": f.id}
    if other:
        properties["otherFixes"] = [
            {"id": x.id, "title": x.title, "target": _target_text(x.target), "risk": x.risk, "diff": x.diff}
            for x in other
        ]
    if f.related:
        properties["related"] = list(f.related)
    result["properties"] = properties
    return result


def _physical_locations(f: Finding) -> tuple[Location | None, list[tuple[Location, str]]]:
    """The result's primary file location and the other evidence locations (with their text)."""
    evidence = [e for e in f.evidence if e.location is not None]
    evidence.sort(key=lambda e: e.kind != "file")  # file evidence first, otherwise in order
    candidates: list[tuple[Location, str]] = [(e.location, e.text) for e in evidence if e.location is not None]
    primary: Location | None = f.location
    if primary is None and f.object.kind == "File":
        primary = Location(f.object.name)
    if primary is None and candidates:
        primary = candidates.pop(0)[0]
    if primary is None:
        for x in f.fixes:
            if isinstance(x.target, FileTarget) and not x.target.create:
                primary = Location(x.target.path, _first_changed_line(x.diff))
                break
    related: list[tuple[Location, str]] = []
    for loc, text in candidates:
        if loc != primary and all(loc != r for r, _ in related):
            related.append((loc, text))
    return primary, related


def _sarif_physical(loc: Location) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": loc.path, "uriBaseId": SARIF_SRCROOT}}
    if loc.line is not None and loc.line >= 1:
        physical["region"] = {"startLine": loc.line}
    return physical


def _logical_location(obj: ObjectRef) -> dict[str, Any] | None:
    if obj.kind == "File":
        return None  # the physical location says it all
    if obj.kind in REPOSITORY_KINDS:
        return {"name": obj.name, "fullyQualifiedName": f"{obj.kind}/{obj.name}", "kind": "module"}
    fqn = f"{obj.namespace}/{obj.kind}/{obj.name}" if obj.namespace else f"{obj.kind}/{obj.name}"
    return {"name": obj.name, "fullyQualifiedName": fqn, "kind": "resource"}


def _sarif_fix(x: Fix) -> dict[str, Any] | None:
    """A SARIF fix for a file fix whose plan carries the text; None for live fixes."""
    if not isinstance(x.target, FileTarget) or not isinstance(x.plan, FilePlan):
        return None
    before = "" if x.plan.before is None else x.plan.before
    after = x.plan.after
    start = _common_prefix(before, after)
    end_b, end_a = len(before), len(after)
    while end_b > start and end_a > start and before[end_b - 1] == after[end_a - 1]:
        end_b -= 1
        end_a -= 1
    description = f"{x.title} (risk {x.risk})"
    if x.notes:
        description += f". {x.notes}"
    return {
        "description": {"text": description},
        "artifactChanges": [
            {
                "artifactLocation": {"uri": x.target.path, "uriBaseId": SARIF_SRCROOT},
                "replacements": [
                    {
                        "deletedRegion": {"charOffset": start, "charLength": end_b - start},
                        "insertedContent": {"text": after[start:end_a]},
                    }
                ],
            }
        ],
        "properties": {"fixId": x.id, "risk": x.risk, "newFile": x.target.create, "diff": x.diff},
    }


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _pascal(playbook_id: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", playbook_id) if part)


def _pitstop_version() -> str | None:
    try:
        return package_version("pitstop")
    except PackageNotFoundError:  # running from a source checkout
        return None


# ---------------------------------------------------------------------------------------------
# JUnit XML


def to_junit(run: RunResult) -> bytes:
    """JUnit XML as GitLab, Jenkins and pytest read it: a testsuite per playbook.

    A testcase per object with findings: errors and warnings fail it (one `<failure>`, typed
    by the worst severity, all findings in its text); info-only objects pass with the text
    in `<system-out>`. A playbook without findings has one passing testcase; an errored one
    an `<error>` testcase, a skipped one a `<skipped>` testcase.
    """
    root = ET.Element("testsuites", name="pitstop")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    statuses = {p.id: p for p in run.playbooks}
    by_playbook: dict[str, list[Finding]] = {}
    for f in _sorted(run):
        by_playbook.setdefault(f.playbook, []).append(f)
    timestamp = _timestamp(run.started_at)

    for pid in _playbook_ids(run):
        status = statuses.get(pid)
        seconds = _seconds(status.duration_ms if status else 0)
        suite = ET.SubElement(root, "testsuite", name=pid, timestamp=timestamp, time=seconds)
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="context", value=_xml_text(run.context))
        ET.SubElement(props, "property", name="status", value=status.status if status else "findings")
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}

        if status is not None and status.status == "error":
            case = ET.SubElement(suite, "testcase", classname=pid, name="playbook run", time=seconds)
            cause = _xml_text(status.error or "the playbook failed")
            err = ET.SubElement(
                case, "error", message=_one_line(cause), type="unreachable" if status.unreachable else "error"
            )
            err.text = cause
            counts["tests"] += 1
            counts["errors"] += 1
        elif status is not None and status.status == "skipped":
            case = ET.SubElement(suite, "testcase", classname=pid, name="playbook run", time=seconds)
            ET.SubElement(case, "skipped", message=_one_line(_xml_text(status.error or "skipped")))
            counts["tests"] += 1
            counts["skipped"] += 1

        findings = by_playbook.get(pid, [])
        for obj, group in _group_by_object(findings):
            case = ET.SubElement(suite, "testcase", classname=pid, name=_xml_text(str(obj)), time="0.000")
            loc = next((f.location for f in group if f.location is not None), None)
            if loc is not None:
                case.set("file", _xml_text(loc.path))
                if loc.line is not None:
                    case.set("line", str(loc.line))
            body = _xml_text("\n\n".join(_finding_plain(f) for f in group))
            failing = [f for f in group if f.severity in ("error", "warning")]
            counts["tests"] += 1
            if failing:
                failure = ET.SubElement(
                    case, "failure", message=_xml_text("; ".join(f.title for f in failing)), type=failing[0].severity
                )  # group is sorted: worst first
                failure.text = body
                counts["failures"] += 1
            else:
                ET.SubElement(case, "system-out").text = body

        if not findings and (status is None or status.status in ("ok", "findings")):
            ET.SubElement(suite, "testcase", classname=pid, name="no findings", time=seconds)
            counts["tests"] += 1
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value

    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", _seconds(run.duration_ms))
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def _group_by_object(findings: list[Finding]) -> Iterator[tuple[ObjectRef, list[Finding]]]:
    groups: dict[tuple[str, str, str], tuple[ObjectRef, list[Finding]]] = {}
    for f in findings:
        key = (f.object.kind, f.object.namespace or "", f.object.name)
        groups.setdefault(key, (f.object, []))[1].append(f)
    yield from groups.values()


def _finding_plain(f: Finding) -> str:
    """A finding as plain text: the JUnit failure body."""
    lines = [f"[{f.severity.upper()}] {f.title}"]
    if f.location is not None:
        lines.append(f"at {_location_text(f.location)}")
    if f.explanation:
        lines.append(f.explanation)
    if f.evidence:
        lines.append("Evidence:")
        lines.extend(f"  - {_evidence_text(e)}" for e in f.evidence)
    if f.fixes:
        lines.append("Fixes:")
        for x in f.fixes:
            lines.append(f"  - {x.title} [{_target_text(x.target)}, risk {x.risk}] (fix {x.id})")
            if x.notes:
                lines.append(f"    {x.notes}")
            lines.extend(f"    {line}" for line in x.diff.splitlines())
    lines.append(f"(finding {f.id})")
    return "\n".join(lines)


# XML 1.0 forbids most C0 controls; logs quoted as evidence can carry them.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_text(s: str) -> str:
    return _XML_INVALID.sub("", _strip_ansi(s))


# ---------------------------------------------------------------------------------------------
# text


_BADGE_STYLE = {"error": "bold white on red", "warning": "bold black on yellow", "info": "bold white on blue"}
_SEVERITY_STYLE = {"error": "red", "warning": "yellow", "info": "blue"}
_DIFF_STYLE = {"header": "bold", "add": "green", "del": "red", "hunk": "cyan", "context": "", "other": "dim"}
_APPLY_STYLE = {"applied": "green", "dry-run": "cyan", "refused": "yellow", "failed": "red"}


def render_text(run: RunResult, console: Console) -> None:
    """The report for people: a header, each finding with evidence and fixes, then applied fixes.

    Colour (and nothing beyond ASCII of our own) only when `console` is a colour terminal;
    otherwise the output is plain ASCII decoration around the findings' own text. Control
    sequences in quoted log lines are stripped so evidence cannot drive the terminal.
    """
    plain = not console.is_terminal or console.no_color or console.color_system is None

    def style(s: str) -> str:
        return "" if plain else s

    def emit(text: Text, indent: int = 0, wrap: bool = True, hang: int = 0) -> None:
        # Piped output is never wrapped: CI logs are wide and lines must stay greppable.
        if plain or not wrap:
            console.print(Text(" " * indent) + text, soft_wrap=True, highlight=False)
            return
        width = max(console.width - indent - hang, 20)
        for n, line in enumerate(text.wrap(console, width)):
            line.rstrip()
            console.print(Text(" " * (indent + (hang if n else 0))) + line, soft_wrap=True, highlight=False)

    findings = _sorted(run)
    counts = {sev: sum(1 for f in findings if f.severity == sev) for sev in SEVERITY_ORDER}
    header = Text()
    header.append("pitstop", style("bold"))
    header.append(f"  context {_clean(run.context)}  {_duration(run.duration_ms)}  ")
    header.append(f"{len(run.playbooks)} playbook{'s' if len(run.playbooks) != 1 else ''}  ")
    for i, sev in enumerate(SEVERITY_ORDER):
        if i:
            header.append(", ")
        n = counts[sev]
        label = sev if sev == "info" or n == 1 else f"{sev}s"
        header.append(f"{n} {label}", style(_SEVERITY_STYLE[sev] if n else "dim"))
    emit(header)

    for p in run.playbooks:
        if p.status == "error":
            why = "could not reach a data source" if p.unreachable else "failed"
            emit(Text(f"! playbook {p.id} {why}: {_clean(p.error or 'no cause given')}", style("bold red")))
        elif p.status == "skipped":
            emit(Text(f"- playbook {p.id} skipped{': ' + _clean(p.error) if p.error else ''}", style("dim")))

    if not findings:
        incomplete = any(p.status == "error" for p in run.playbooks)
        console.print()
        emit(
            Text(
                "No findings, but the checks above did not run: this is not an all clear."
                if incomplete
                else "No findings.",
                style("bold red" if incomplete else "green"),
            )
        )

    for f in findings:
        console.print()
        line = Text()
        label = f.severity.upper()
        line.append(f" {label} " if not plain else f"[{label}]", style(_BADGE_STYLE[f.severity]))
        line.append(" ")
        line.append(_clean(str(f.object)), style("bold"))
        line.append(f"  {f.playbook}", style("dim"))
        emit(line)
        emit(Text(_clean(f.title), style("bold")), indent=2)
        if f.location is not None:
            emit(Text(f"at {_clean(_location_text(f.location))}", style("cyan")), indent=2)
        if f.explanation:
            emit(Text(_clean(f.explanation)), indent=2)
        if f.evidence:
            emit(Text("Evidence", style("bold")), indent=2)
            for e in f.evidence:
                bullet = Text("- ")
                bullet.append(_clean(e.text))
                bullet.append(f"  ({_clean(e.source)})", style("dim"))
                emit(bullet, indent=4, hang=2)
        for n, x in enumerate(f.fixes, start=1):
            fix_line = Text()
            fix_line.append(f"Fix {n}: {_clean(x.title)}", style("bold"))
            fix_line.append(f"  [{_clean(_target_text(x.target))}, risk {x.risk}]", style("dim"))
            emit(fix_line, indent=2)
            if x.notes:
                emit(Text(_clean(x.notes)), indent=4)
            for kind, diff_line in _diff_lines(x.diff):
                emit(Text(_clean(diff_line), style(_DIFF_STYLE[kind])), indent=4, wrap=False)
        emit(Text(f"finding {f.id}", style("dim")), indent=2)

    if run.applied is not None:
        console.print()
        emit(Text("Applied fixes", style("bold")))
        if not run.applied:
            emit(Text("none", style("dim")), indent=2)
        fixes = {(f.id, x.id): (f, x) for f in findings for x in f.fixes}
        for a in run.applied:
            found = fixes.get((a.finding_id, a.fix_id))
            what = f"{found[1].title} on {found[0].object}" if found else f"fix {a.fix_id}"
            line = Text()
            line.append(f"{a.result:<9}", style(_APPLY_STYLE[a.result]))
            line.append(f" {_clean(what)}")
            if a.verification is not None:
                line.append(" - ")
                line.append(a.verification, style("green" if a.verification == "verified" else "yellow"))
            if a.message:
                line.append(f" - {_clean(a.message)}")
            if a.journal_id:
                line.append(f"  (journal {a.journal_id})", style("dim"))
            emit(line, indent=2, hang=10)


def _diff_lines(diff: str) -> Iterator[tuple[str, str]]:
    """Classify unified-diff lines (header, hunk, add, del, context, other), counting hunk lengths
    so a removed line that itself starts with `--` is not taken for a file header."""
    old_left = new_left = 0
    for line in diff.splitlines():
        if old_left > 0 or new_left > 0:
            if line.startswith("+"):
                new_left -= 1
                yield "add", line
                continue
            if line.startswith("-"):
                old_left -= 1
                yield "del", line
                continue
            if line.startswith(" ") or line == "":
                old_left -= 1
                new_left -= 1
                yield "context", line
                continue
        m = _HUNK.match(line)
        if m:
            old_left = int(m.group(2)) if m.group(2) is not None else 1
            new_left = int(m.group(4)) if m.group(4) is not None else 1
            yield "hunk", line
        elif line.startswith(("--- ", "+++ ", "diff ", "index ", "new file", "deleted file")):
            yield "header", line
        else:
            yield "other", line  # "\ No newline at end of file", or text around the diff


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def _first_changed_line(diff: str) -> int | None:
    """The line in the current file that a diff's first change touches, for a SARIF region."""
    old_line: int | None = None
    for kind, line in _diff_lines(diff):
        if kind == "hunk":
            m = _HUNK.match(line)
            assert m is not None
            old_line = int(m.group(1))
        elif old_line is not None:
            if kind in ("add", "del"):
                return max(old_line, 1)
            if kind == "context":
                old_line += 1
    return None


# ---------------------------------------------------------------------------------------------
# shared


def _sorted(run: RunResult) -> list[Finding]:
    return sort_findings(list(run.findings))


def _playbook_ids(run: RunResult) -> list[str]:
    """The run's playbooks in order, then any playbook that reported findings without a status."""
    ids = [p.id for p in run.playbooks]
    seen = set(ids)
    for f in _sorted(run):
        if f.playbook not in seen:
            seen.add(f.playbook)
            ids.append(f.playbook)
    return ids


def _timestamp(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.3f}"


def _duration(ms: int) -> str:
    return f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def _location_text(loc: Location) -> str:
    return f"{loc.path}:{loc.line}" if loc.line is not None else loc.path


def _target_text(target: LiveTarget | FileTarget) -> str:
    if isinstance(target, LiveTarget):
        where = f"{target.namespace}/{target.name}" if target.namespace else target.name
        return f"live {target.kind} {where}"
    return f"file {target.path}{' (new)' if target.create else ''}"


def _evidence_text(e: Evidence) -> str:
    return f"{e.kind}: {e.text} ({e.source})"


_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _strip_ansi(s: str) -> str:
    return _ANSI.sub("", s)


def _clean(s: str) -> str:
    """Text safe for a terminal: escape sequences and control characters removed, tabs and newlines kept."""
    return _CONTROL.sub("", _strip_ansi(s))


def _one_line(s: str) -> str:
    return " ".join(s.split())
