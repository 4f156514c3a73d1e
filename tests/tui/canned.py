"""The demo incident, canned: what a settled `pitstop --demo` shows, frozen at one moment.

`fixtures/demo_snapshot.json` is written by `fixtures/make_demo_snapshot.py` from a real
demo sandbox: the cluster objects with every timestamp moved so that their ages count
back from `NOW`, and the findings the playbooks made of them. Loading it needs no
sandbox, registry or clock, so the snapshot tests paint the same screen on every run
and machine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from diagnostics.findings import (
    Evidence,
    FilePlan,
    FileTarget,
    Finding,
    Fix,
    LivePlan,
    LiveTarget,
    Location,
    ObjectRef,
)
from diagnostics.podstatus import summarize
from diagnostics.snapshot import Key, Obj, Snapshot, key_of

FIXTURE = Path(__file__).parent / "fixtures" / "demo_snapshot.json"
DEMO_REPO = Path(__file__).parents[2] / "sandbox" / "scenarios" / "demo-repo"
NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
SIZE = (160, 48)
FORMAT = 1  # bump when the file's layout changes, and regenerate

# where a demo pod stays once the incident has run a while; ContainerCreating, Error or Running 0/1 are on the way
STUCK = frozenset({"Pending", "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError"})

# the frozen dataclasses a finding is made of, tagged by class name in the file
_TYPES = {
    c.__name__: c for c in (ObjectRef, Location, Evidence, LiveTarget, FileTarget, LivePlan, FilePlan, Fix, Finding)
}
_TAG = "@type"


@dataclass(frozen=True, slots=True)
class Canned:
    """The demo as the app gets it offline: one snapshot, its findings, and the moment it was taken."""

    snapshot: Snapshot
    findings: tuple[Finding, ...]
    now: datetime

    def finding(self, playbook: str, name: str) -> Finding:
        """The finding `playbook` made about the object called `name` (`"pod-pending", "coditect-worker"`)."""
        for f in self.findings:
            if f.playbook == playbook and f.object.name == name:
                return f
        have = ", ".join(f"{f.playbook}:{f.object.name}" for f in self.findings)
        raise LookupError(f"no {playbook} finding about {name} in {FIXTURE.name} (it has {have}); regenerate it")


def steady(pods: Iterable[Obj]) -> bool:
    """The demo as an operator meets it a minute in: every pod ready, finished, or stuck with its reason.

    Stricter than `Sandbox.settled` (which takes the first reason shown): the backend has
    gone from Running 0/1 to CrashLoopBackOff and the nightly report's pod has completed.
    """
    for pod in pods:
        s = summarize(pod)
        if not ((s.status == "Running" and s.ready == s.total) or s.status == "Completed" or s.status in STUCK):
            return False
    return True


def encode(value: Any) -> Any:
    """Findings to plain JSON; dataclasses carry their class name so `decode` can rebuild them."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            _TAG: type(value).__name__,
            **{f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)},
        }
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    return value  # str, numbers, None, and the plans' Kubernetes objects (already plain JSON)


def decode(value: Any) -> Any:
    """The inverse of `encode`: lists in a dataclass field are its tuples; objects inside plans stay as they are."""
    if isinstance(value, dict) and _TAG in value:
        cls = _TYPES[value[_TAG]]
        fields = {k: decode(v) for k, v in value.items() if k != _TAG}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def dump(context: str, kinds: list[str], objects: list[Obj], findings: list[Finding]) -> bytes:
    """The fixture's bytes: stable key order and indentation, so a regeneration diffs line by line.

    `kinds` are the kinds that were listed, so a kind with no objects loads as empty, not unknown.
    """
    doc = {
        "format": FORMAT,
        "context": context,
        "kinds": sorted(kinds),
        "now": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "objects": objects,
        "findings": [encode(f) for f in findings],
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def load(path: Path = FIXTURE) -> Canned:
    doc = orjson.loads(path.read_bytes())
    if doc.get("format") != FORMAT:
        raise ValueError(
            f"{path} has format {doc.get('format')}, not {FORMAT}; run {path.parent}/make_demo_snapshot.py"
        )
    now = datetime.strptime(doc["now"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    by_kind: dict[str, dict[Key, Obj]] = {kind: {} for kind in doc["kinds"]}
    for obj in doc["objects"]:
        by_kind[obj["kind"]][key_of(obj)] = obj
    snapshot = Snapshot(doc["context"], by_kind, taken_at=now)
    return Canned(snapshot, tuple(decode(f) for f in doc["findings"]), now)


def offline_app(canned: Canned | None = None) -> Any:
    """The console painting the canned demo: no cluster, no pipelines, the clock stopped at `NOW`."""
    from diagnostics.github import SetupNeeded
    from tui.app import PitstopApp

    canned = canned or load()
    return PitstopApp(
        config=None,
        snapshot=canned.snapshot,
        findings=list(canned.findings),
        now=lambda: canned.now,
        repo=DEMO_REPO,
        pipelines=SetupNeeded("Pipelines need a repository: start pitstop with --repo pointing at a GitHub checkout."),
    )
