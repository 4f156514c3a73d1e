"""The playbooks pitstop knows: its own, and third-party ones from the `pitstop.playbooks` entry points."""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points

from diagnostics.kube import RESOURCES
from playbooks.base import Playbook

log = logging.getLogger("pitstop.playbooks")

BUILTIN = (
    "playbooks.pod_pending",
    "playbooks.image_pull",
    "playbooks.secret_missing",
    "playbooks.env_drift",
    "playbooks.crash_loop",
    "playbooks.dependency_missing",
    "playbooks.job_failed",
    "playbooks.migration_conflict",
    "playbooks.schema_drift",
    "playbooks.contract_drift",
    "playbooks.manifest_syntax",
    "playbooks.readiness",
)
ENTRY_POINT_GROUP = "pitstop.playbooks"
KNOWN_KINDS = frozenset(r.kind for r in RESOURCES)  # what the snapshot can hold


class UnknownPlaybook(ValueError):
    """A playbook id nobody provides; the message lists the ones that exist."""


def all_playbooks() -> dict[str, Playbook]:
    """Built-in playbooks first, then entry-point ones; a broken plugin is skipped with a warning."""
    found: dict[str, Playbook] = {}
    for module in BUILTIN:
        pb = importlib.import_module(module).PLAYBOOK
        found[pb.id] = pb
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            pb = ep.load()
            pb = pb() if isinstance(pb, type) else pb
        except Exception as e:  # a third-party plugin must not take pitstop down
            log.warning("playbook plugin %s could not be loaded: %s", ep.name, e)
            continue
        if not isinstance(pb, Playbook):
            log.warning("playbook plugin %s does not provide id, title, kinds and run(); skipped", ep.name)
            continue
        if pb.id in found:
            log.warning("playbook plugin %s reuses the id %r; the built-in one is kept", ep.name, pb.id)
            continue
        kinds = pb.kinds if isinstance(pb.kinds, tuple | list) else (repr(pb.kinds),)
        unknown = [str(k) for k in kinds if k not in KNOWN_KINDS]
        if unknown:  # the snapshot could not list them, and would fail for every playbook
            log.warning(
                "playbook plugin %s reads %s, which pitstop cannot list (it knows %s); skipped",
                ep.name,
                ", ".join(unknown),
                ", ".join(sorted(KNOWN_KINDS)),
            )
            continue
        found[pb.id] = pb
    return found


def is_aggregate(pb: Playbook) -> bool:
    """A playbook that runs the others (readiness)."""
    return bool(getattr(pb, "aggregate", False))


def select(spec: str) -> list[Playbook]:
    """`all` or a comma-separated list of ids, in the order given (an id named twice counts once)."""
    known = all_playbooks()
    if spec.strip() == "all":  # aggregates (readiness) run the others themselves: asked for by name only
        return [pb for pb in known.values() if not is_aggregate(pb)]
    chosen: list[Playbook] = []
    for pid in (p.strip() for p in spec.split(",")):
        if not pid:
            continue
        if pid not in known:
            raise UnknownPlaybook(f"unknown playbook {pid!r}; known playbooks: {', '.join(known)} (or 'all')")
        if known[pid] not in chosen:  # named twice, run once: the report would list it twice
            chosen.append(known[pid])
    if not chosen:
        raise UnknownPlaybook(f"no playbook named; known playbooks: {', '.join(known)} (or 'all')")
    return chosen
