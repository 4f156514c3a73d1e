"""What playbooks report: findings about an object, with the evidence and the fixes that would clear them.

All plain frozen data, so findings cross threads, serialize to the JSON report unchanged,
and compare by value when the TUI reconciles one run's findings with the next.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
Risk = Literal["none", "low", "high"]
EvidenceKind = Literal["event", "condition", "log", "file", "registry", "node", "object"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """A cluster object (`Deployment` in a namespace) or a repository thing (`DjangoApp`, `File`)."""

    kind: str
    name: str
    namespace: str | None = None

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a repository file, relative to the repository root; lines count from 1."""

    path: str
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    kind: EvidenceKind
    text: str
    source: str  # where it was read: "event Pod coditect-staging/x", "registry gcr.io", "file k8s/x.yaml:12"
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class LiveTarget:
    """A live object and the resourceVersion the fix was computed against (the apply precondition)."""

    api_version: str
    kind: str
    namespace: str | None
    name: str
    resource_version: str


@dataclass(frozen=True, slots=True)
class FileTarget:
    path: str  # relative to the repository root
    create: bool = False  # a new file (a merge migration); never overwrites


@dataclass(frozen=True, slots=True)
class LivePlan:
    """How a live fix is carried out: replace the object, or delete and recreate it (immutable Jobs).

    `before` is the object as diagnosed (what undo restores) and `after` the object wanted;
    both are full objects as the API returned them, Secret values never among them.
    """

    mode: Literal["replace", "recreate"]
    before: dict[str, Any]
    after: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FilePlan:
    """A file edit: the exact text before (None for a new file) and after."""

    before: str | None
    after: str


@dataclass(frozen=True, slots=True)
class Fix:
    id: str
    title: str
    target: LiveTarget | FileTarget
    diff: str  # unified diff, for review
    risk: Risk
    notes: str
    plan: LivePlan | FilePlan


@dataclass(frozen=True, slots=True)
class Finding:
    id: str
    playbook: str
    severity: Severity
    object: ObjectRef
    title: str
    explanation: str
    evidence: tuple[Evidence, ...] = ()
    fixes: tuple[Fix, ...] = ()
    location: Location | None = None  # for findings about a file (SARIF needs it)
    cause: str = ""  # the machine-readable cause the id is derived from ("nodeSelector", "missing-key:db-password")
    related: tuple[str, ...] = field(default=())  # ids of findings that explain this one


def stable_id(*parts: str) -> str:
    """A short id that stays the same across runs for the same playbook, object and cause."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def finding_id(playbook: str, obj: ObjectRef, cause: str) -> str:
    return stable_id(playbook, obj.kind, obj.namespace or "", obj.name, cause)


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Most severe first, then by object, so reports and panes read the same way every run."""
    return sorted(
        findings,
        key=lambda f: (
            SEVERITY_ORDER[f.severity],
            f.object.namespace or "",
            f.object.kind,
            f.object.name,
            f.playbook,
            f.title,
        ),
    )
