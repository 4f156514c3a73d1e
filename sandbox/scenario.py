"""Scenario files: the public drill format (see DESIGN.md, "Scenario file format")."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SCENARIO_DIR = Path(__file__).parent / "scenarios"


class ScenarioError(ValueError):
    """A scenario that cannot be loaded; the message names the file and the way out."""


@dataclass(frozen=True, slots=True)
class NodeSpec:
    name: str
    labels: dict[str, str]
    allocatable: dict[str, str]
    taints: tuple[dict[str, str], ...] = ()
    ready: bool = True


@dataclass(frozen=True, slots=True)
class RegistryHost:
    host: str
    auth: bool
    images: dict[str, tuple[str, ...]]  # repository -> tags


@dataclass(frozen=True, slots=True)
class Registries:
    default: str = "open"  # open | closed
    hosts: dict[str, RegistryHost] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How simulated containers whose image (and command) match behave; first match wins.

    `failures` maps an env name to the log text printed when its check fails; the
    placeholders `{name}`, `{value}`, `{host}`, `{port}` and `{module_root}` are filled in.
    """

    image: str = "*"
    command_contains: str | None = None
    requires_env: tuple[str, ...] = ()
    env_one_of: dict[str, tuple[str, ...]] = field(default_factory=dict)
    connects: tuple[str, ...] = ()
    completes: bool | None = None  # None: a Job's containers complete, others keep running
    logs: tuple[str, ...] = ()
    failures: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    nodes: tuple[NodeSpec, ...]
    registries: Registries
    behaviours: tuple[Behaviour, ...]
    objects: tuple[dict[str, Any], ...]
    github: dict[str, Any]
    repo: Path | None
    source: Path
    forbidden: tuple[str, ...] = ()  # resources the drill's user may not read (`secrets`, `deployments.apps`)


def _strs(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in (value or ()))


def scenario_path(name_or_path: str) -> Path:
    """`demo` → the bundled `scenarios/demo.yaml`; anything with a slash or suffix is a path."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or "/" in name_or_path or p.exists():
        return p
    return SCENARIO_DIR / f"{name_or_path}.yaml"


def available() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml") if not p.stem.startswith("_"))


def load(name_or_path: str) -> Scenario:
    path = scenario_path(name_or_path)
    if not path.is_file():
        raise ScenarioError(
            f"scenario {name_or_path!r} not found at {path}; use one of {', '.join(available())} or a path to a YAML file"
        )
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ScenarioError(f"scenario {path} is not valid YAML ({e}); fix the file and try again") from e
    if not isinstance(doc, dict):
        raise ScenarioError(f"scenario {path} must be a mapping with at least 'name' and 'nodes'")
    try:
        return _parse(doc, path)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ScenarioError(f"scenario {path} is malformed ({e}); see DESIGN.md's scenario format") from e


def _parse(doc: dict[str, Any], path: Path) -> Scenario:
    nodes = tuple(
        NodeSpec(
            name=str(n["name"]),
            labels={str(k): str(v) for k, v in (n.get("labels") or {}).items()},
            allocatable={
                str(k): str(v)
                for k, v in (n.get("allocatable") or {"cpu": "4", "memory": "16Gi", "pods": "110"}).items()
            },
            taints=tuple(dict(t) for t in (n.get("taints") or ())),
            ready=bool(n.get("ready", True)),
        )
        for n in doc.get("nodes") or ()
    )
    reg = doc.get("registries") or {}
    hosts = {
        str(h): RegistryHost(
            host=str(h),
            auth=bool((spec or {}).get("auth", False)),
            images={str(r): _strs(tags) for r, tags in ((spec or {}).get("images") or {}).items()},
        )
        for h, spec in (reg.get("hosts") or {}).items()
    }
    default = str(reg.get("default", "open"))
    if default not in ("open", "closed"):
        raise ValueError(f"registries.default must be 'open' or 'closed', not {default!r}")
    behaviours = tuple(
        Behaviour(
            image=str(b.get("image", "*")),
            command_contains=b.get("command_contains"),
            requires_env=_strs(b.get("requires_env")),
            env_one_of={str(k): _strs(v) for k, v in (b.get("env_one_of") or {}).items()},
            connects=_strs(b.get("connects")),
            completes=b.get("completes"),
            logs=_strs(b.get("logs")),
            failures={str(k): str(v) for k, v in (b.get("failures") or {}).items()},
        )
        for b in doc.get("behaviours") or ()
    )
    objects = tuple(o for o in (doc.get("objects") or ()) if o)
    for i, o in enumerate(objects):
        if not isinstance(o, dict) or "kind" not in o or "apiVersion" not in o:
            raise ValueError(f"objects[{i}] needs apiVersion and kind")
    repo = doc.get("repo")
    return Scenario(
        name=str(doc.get("name") or path.stem),
        description=str(doc.get("description") or ""),
        nodes=nodes,
        registries=Registries(default=default, hosts=hosts),
        behaviours=behaviours,
        objects=objects,
        github=dict(doc.get("github") or {}),
        repo=(path.parent / str(repo)) if repo else None,
        source=path,
        forbidden=_strs((doc.get("access") or {}).get("forbidden")),
    )
