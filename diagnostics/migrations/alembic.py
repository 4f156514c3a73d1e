"""Alembic revision histories read statically: heads, missing revisions, cycles, merge revisions.

Script directories are found from `alembic.ini` (or `[tool.alembic]` in pyproject.toml, or a
directory holding `env.py` and `versions/`). Revision files are read with `ast`, never imported;
heads are computed the way `ScriptDirectory.get_heads()` computes them (file order kept, a
`depends_on` does not stop a revision being a head). A merge revision is rendered from the
project's own `script.py.mako` by a small renderer of the Mako subset revision templates use,
falling back to the form of Alembic's default template when the project's needs more.
"""

from __future__ import annotations

import ast
import configparser
import html
import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from diagnostics import pyast
from diagnostics.findings import Location
from diagnostics.migrations import networkx
from diagnostics.migrations.cache import ParseCache

ProblemKind = Literal[
    "multiple-heads", "missing-dependency", "cycle", "syntax-error", "unreadable", "duplicate-revision"
]

DEFAULT_FILE_TEMPLATE = "%(rev)s_%(slug)s"
_PARSER_VERSION = "alembic-revisions-1"
_SOURCE_FILE = re.compile(r"(?!\.\#|__init__)(.*\.py)$")
_LEGACY_REV = re.compile(r"([a-f0-9]+)\.py$")
_ILLEGAL = set("@-+:")
_SKIP_DIRS = {"node_modules", "__pycache__", "site-packages", "dist-packages"}

MULTIPLE_HEADS_ERROR = (
    "Multiple head revisions are present for given argument 'head'; please specify a specific target "
    "revision, '<branchname>@head' to narrow to a specific head, or 'heads' for all heads"
)


@dataclass(frozen=True, slots=True)
class AlembicHistory:
    """One Alembic script directory and the configuration that shapes its files."""

    repo: Path  # absolute repository root; paths below are relative to it
    script_location: str
    config_path: str | None = None  # alembic.ini or pyproject.toml it was configured in
    version_locations: tuple[str, ...] = ()  # empty: `<script_location>/versions`
    file_template: str = DEFAULT_FILE_TEMPLATE
    truncate_slug_length: int = 40
    timezone: str | None = None
    recursive_version_locations: bool = False
    sourceless: bool = False
    notes: tuple[str, ...] = ()

    @property
    def script_path(self) -> Path:
        return self.repo / self.script_location

    @property
    def version_paths(self) -> list[Path]:
        if self.version_locations:
            return [self.repo / v for v in self.version_locations]
        return [self.script_path / "versions"]


@dataclass(frozen=True, slots=True)
class Revision:
    revision: str
    down_revision: tuple[str, ...]  # () for a base; several for a merge
    branch_labels: tuple[str, ...]
    depends_on: tuple[str, ...]
    path: str  # relative to the repository
    line: int | None  # of the `revision = ...` assignment
    doc: str = ""  # the first paragraph of the module docstring (the message)

    @property
    def location(self) -> Location:
        return Location(self.path, self.line)


@dataclass(frozen=True, slots=True)
class Problem:
    """Something that stops `alembic upgrade head`. `details` per kind: multiple-heads → the heads;
    missing-dependency → (revision that is missing, "down_revision"|"depends_on"); cycle → the revisions
    Alembic refuses; others → the revision id when known."""

    kind: ProblemKind
    script_location: str
    message: str
    path: str | None
    line: int | None
    details: tuple[str, ...] = ()
    locations: tuple[Location, ...] = ()


# ---------------------------------------------------------------------------------------------
# finding script directories


def _rel(repo: Path, path: Path) -> str:
    try:
        return path.relative_to(repo).as_posix() or "."
    except ValueError:
        return path.as_posix()


def _split_locations(value: str, separator: str | None) -> list[str]:
    seps = {"space": " ", "newline": "\n", "os": os.pathsep, ":": ":", ";": ";"}
    if separator is None:
        return [v for v in re.split(r", *|(?: +)", value) if v]
    sep = seps.get(separator, separator)
    return [x.strip() for x in value.split(sep) if x]


def history_from_config(repo: Path, config: Path, section: str = "alembic") -> AlembicHistory | None:
    """The script directory an `alembic.ini` (or a pyproject.toml with `[tool.alembic]`) configures."""
    repo = repo.resolve()
    config = config.resolve()
    here = config.parent
    options: dict[str, Any] = {}
    notes: list[str] = []
    if config.suffix == ".ini":
        parser = configparser.ConfigParser(defaults={"here": here.as_posix()})
        try:
            parser.read(config, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as exc:
            notes.append(f"{_rel(repo, config)} could not be read: {exc}.")
        if parser.has_section(section):
            for key in parser.options(section):
                try:
                    options[key] = parser.get(section, key)
                except configparser.Error:
                    notes.append(f"{_rel(repo, config)}: option {key} could not be interpolated.")
        toml = here / "pyproject.toml"
    else:
        toml = config
    if toml.is_file():
        import tomllib  # only projects configured in pyproject.toml need it

        try:
            data = tomllib.loads(toml.read_text(encoding="utf-8")).get("tool", {}).get("alembic", {})
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            data = {}
        if isinstance(data, dict):
            subst = {"here": here.as_posix()}
            for key, value in data.items():
                if key in options:
                    continue
                if isinstance(value, str):
                    options[key] = value % subst if "%(" in value else value
                elif isinstance(value, list):
                    options[key] = [v % subst if isinstance(v, str) and "%(" in v else v for v in value]
                else:
                    options[key] = value
    location = options.get("script_location")
    if not isinstance(location, str) or not location:
        return None
    if not os.path.isabs(location) and ":" in location:
        package, _, resource = location.partition(":")
        location = str(Path(*package.split("."), resource))
    script_dir = (here / location).resolve()
    versions = options.get("version_locations")
    if isinstance(versions, str) and versions:
        separator = options.get("path_separator", options.get("version_path_separator"))
        version_list = _split_locations(versions, separator if isinstance(separator, str) else None)
    elif isinstance(versions, list):
        version_list = [str(v) for v in versions]
    else:
        version_list = []
    tsl = options.get("truncate_slug_length")
    timezone = options.get("timezone")

    def flag(name: str) -> bool:
        value = options.get(name, False)
        return value is True or value == "true"

    return AlembicHistory(
        repo=repo,
        script_location=_rel(repo, script_dir),
        config_path=_rel(repo, config),
        version_locations=tuple(_rel(repo, (here / v).resolve()) for v in version_list),
        file_template=str(options.get("file_template", DEFAULT_FILE_TEMPLATE)),
        truncate_slug_length=int(tsl) if isinstance(tsl, str | int) and str(tsl).isdigit() and int(tsl) else 40,
        timezone=timezone if isinstance(timezone, str) and timezone else None,
        recursive_version_locations=flag("recursive_version_locations"),
        sourceless=flag("sourceless"),
        notes=tuple(notes),
    )


def find_histories(repo: Path) -> list[AlembicHistory]:
    """Every Alembic script directory in `repo`: configured by an alembic.ini or pyproject.toml, or a
    directory that looks like one (`env.py` next to `versions/`)."""
    repo = repo.resolve()
    found: dict[str, AlembicHistory] = {}
    env_dirs: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(repo):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".")
            and d not in _SKIP_DIRS
            and not os.path.exists(os.path.join(dirpath, d, "pyvenv.cfg"))
        )
        here = Path(dirpath)
        for name in sorted(filenames):
            if (name.endswith(".ini") and name != "pytest.ini") or name == "pyproject.toml":
                history = history_from_config(repo, here / name)
                if history is not None and history.script_path.is_dir():
                    found.setdefault(history.script_location, history)
        if "env.py" in filenames and "versions" in dirnames:
            env_dirs.append(here)
    for directory in env_dirs:
        location = _rel(repo, directory)
        if location not in found:
            found[location] = AlembicHistory(
                repo=repo,
                script_location=location,
                notes=("No alembic.ini configures this directory; defaults assumed.",),
            )
    return [found[k] for k in sorted(found)]


# ---------------------------------------------------------------------------------------------
# reading revision files


def _list_files(history: AlembicHistory) -> Iterator[Path]:
    """Revision files in the order Alembic loads them: each location, each directory's files sorted."""
    seen: set[Path] = set()
    for location in history.version_paths:
        if not location.exists():
            continue
        for root, dirs, files in os.walk(location):
            dirs.sort()
            if Path(root).name.endswith("__pycache__"):
                continue
            for name in sorted(files):
                path = Path(root, name).resolve()
                if path in seen or not _SOURCE_FILE.match(name):
                    continue
                seen.add(path)
                yield path
            if not history.recursive_version_locations:
                break


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _DYNAMIC


_DYNAMIC = object()


def _parse_revision(data: bytes) -> dict[str, Any]:
    """What a revision file declares at module level, as plain JSON data (the cache stores it)."""
    record: dict[str, Any] = {"error": None, "line": None, "doc": "", "values": {}}
    try:
        tree = pyast.parse(data)
    except SyntaxError as exc:
        record["error"] = ["syntax-error", exc.msg, exc.lineno or 1]
        text = data.decode("utf-8", "replace")
        for name in ("revision", "down_revision", "branch_labels", "depends_on"):
            m = re.search(rf"^{name}\s*(?::[^=\n]*)?=\s*(.+)$", text, re.MULTILINE)
            if m:
                try:
                    record["values"][name] = _jsonable(ast.literal_eval(m.group(1).strip()))
                except (ValueError, SyntaxError, TypeError):
                    continue
                if name == "revision":
                    record["line"] = text.count("\n", 0, m.start()) + 1
        return record
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        record["error"] = ["unreadable", str(exc) or type(exc).__name__, 1]
        return record
    doc = ast.get_docstring(tree, clean=False)
    record["doc"] = re.split("\n\n", doc.strip())[0] if doc else ""
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id in (
                "revision",
                "down_revision",
                "branch_labels",
                "depends_on",
            ):
                literal = _literal(value)
                if literal is _DYNAMIC:
                    record["values"].pop(target.id, None)
                    record.setdefault("dynamic", []).append([target.id, stmt.lineno])
                else:
                    record["values"][target.id] = _jsonable(literal)
                if target.id == "revision":
                    record["line"] = stmt.lineno
    return record


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list | set | frozenset):
        return {"t": [_jsonable(v) for v in value]}  # keep "a sequence" apart from a plain string
    return value


def _to_tuple(value: Any) -> tuple[str, ...]:
    """Alembic's `util.to_tuple`: None → (), a string → (s,), a sequence → its items."""
    if value is None:
        return ()
    if isinstance(value, dict) and "t" in value:
        return tuple(str(v) for v in value["t"])
    return (str(value),)


@dataclass(slots=True)
class _Rev:
    """A revision while the map is built (Alembic's Revision objects: identity matters for duplicates)."""

    rev: Revision
    dependencies: tuple[str, ...]
    resolved: tuple[str, ...] = ()
    nextrev: frozenset[str] = frozenset()
    all_nextrev: frozenset[str] = frozenset()


def load_revisions(history: AlembicHistory, *, cache: bool = True) -> tuple[list[Revision], list[Problem]]:
    """Every revision in load order, and the files that could not be read as revisions."""
    store = ParseCache("alembic", history.script_path, _PARSER_VERSION, enabled=cache)
    revisions: list[Revision] = []
    problems: list[Problem] = []
    loc = history.script_location
    for path in _list_files(history):
        rel = _rel(history.repo, path)
        try:
            st = path.stat()
            record = store.get(str(path), st.st_mtime_ns, st.st_size)
            if not isinstance(record, dict) or "values" not in record:
                record = _parse_revision(path.read_bytes())
                store.put(str(path), st.st_mtime_ns, st.st_size, record)
        except OSError as exc:
            problems.append(
                Problem("unreadable", loc, f"Revision file {rel} could not be read: {exc.strerror}.", rel, None)
            )
            continue
        values = record["values"]
        error = record["error"]
        if error is not None and error[0] == "syntax-error":
            problems.append(
                Problem(
                    "syntax-error",
                    loc,
                    f"Revision file {rel} has a syntax error at line {error[2]}: {error[1]}. Alembic cannot import it, "
                    "so every command on this history fails.",
                    rel,
                    error[2],
                    (str(values.get("revision", "")),),
                )
            )
        elif error is not None:
            problems.append(
                Problem("unreadable", loc, f"Revision file {rel} could not be read: {error[1]}.", rel, error[2])
            )
            continue
        for name, line in record.get("dynamic", []):
            problems.append(
                Problem(
                    "unreadable",
                    loc,
                    f"Revision file {rel} computes `{name}` at line {line}; pitstop reads files "
                    "without running them, so that part of the history is unknown.",
                    rel,
                    line,
                )
            )
        rev_id = values.get("revision")
        if rev_id is None or isinstance(rev_id, dict):
            legacy = _LEGACY_REV.match(path.name)
            if legacy is None:
                if error is None:
                    problems.append(
                        Problem(
                            "unreadable",
                            loc,
                            f"Could not determine revision id from filename {path.name}. "
                            "Be sure the 'revision' variable is declared inside the script.",
                            rel,
                            1,
                        )
                    )
                continue
            rev_id = legacy.group(1)
        if "down_revision" not in values and error is None and not record.get("dynamic"):
            problems.append(
                Problem(
                    "unreadable",
                    loc,
                    f"Revision file {rel} does not declare down_revision.",
                    rel,
                    record["line"],
                    (str(rev_id),),
                )
            )
            continue
        revisions.append(
            Revision(
                revision=str(rev_id),
                down_revision=_to_tuple(values.get("down_revision")),
                branch_labels=_to_tuple(values.get("branch_labels")),
                depends_on=_to_tuple(values.get("depends_on")),
                path=rel,
                line=record["line"],
                doc=record.get("doc", ""),
            )
        )
    store.save()
    return revisions, problems


# ---------------------------------------------------------------------------------------------
# the revision map


@dataclass(frozen=True, eq=False)
class RevisionMap:
    """The revision map as Alembic builds it; `heads` in Alembic's order, problems that stop it."""

    revisions: tuple[Revision, ...]
    by_id: Mapping[str, Revision]  # revision ids and branch labels
    heads: tuple[str, ...]
    real_heads: tuple[str, ...]  # heads also counting depends_on (`get_heads(consider_depends_on=True)`)
    bases: tuple[str, ...]
    problems: tuple[Problem, ...]


def build_map(history: AlembicHistory, revisions: Sequence[Revision]) -> RevisionMap:
    """Alembic's RevisionMap over these revisions; what would make Alembic fail becomes a problem."""
    loc = history.script_location
    problems: list[Problem] = []
    revs = [_Rev(r, r.depends_on) for r in revisions]
    map_: dict[str, _Rev] = {}
    for r in revs:
        rid = r.rev.revision
        if r.rev.down_revision and rid in r.rev.down_revision:
            problems.append(
                Problem(
                    "cycle",
                    loc,
                    f"Self-loop is detected in revisions ({rid})",
                    r.rev.path,
                    r.rev.line,
                    (rid,),
                    (r.rev.location,),
                )
            )
        elif rid in r.dependencies:
            problems.append(
                Problem(
                    "cycle",
                    loc,
                    f"Dependency self-loop is detected in revisions ({rid})",
                    r.rev.path,
                    r.rev.line,
                    (rid,),
                    (r.rev.location,),
                )
            )
        bad = sorted(_ILLEGAL.intersection(rid))
        if bad:
            problems.append(
                Problem(
                    "unreadable",
                    loc,
                    f"Character(s) '{', '.join(bad)}' not allowed in revision identifier '{rid}'",
                    r.rev.path,
                    r.rev.line,
                    (rid,),
                )
            )
        if rid in map_:
            first = map_[rid].rev
            problems.append(
                Problem(
                    "duplicate-revision",
                    loc,
                    f"Revision {rid} is present more than once ({first.path} and {r.rev.path}).",
                    r.rev.path,
                    r.rev.line,
                    (rid,),
                    (first.location, r.rev.location),
                )
            )
        map_[rid] = r
    heads: dict[int, _Rev] = {id(r): r for r in revs}  # an ordered set of objects, as Alembic's
    real_heads: dict[int, _Rev] = dict(heads)
    bases = [r for r in revs if not r.rev.down_revision]
    real_bases = [r for r in revs if not r.rev.down_revision and not r.dependencies]
    plain = dict(map_)
    for r in revs:
        for label in r.rev.branch_labels:
            if label in map_:
                problems.append(
                    Problem(
                        "unreadable",
                        loc,
                        f"Branch name '{label}' in revision {r.rev.revision} "
                        f"already used by revision {map_[label].rev.revision}",
                        r.rev.path,
                        r.rev.line,
                        (r.rev.revision,),
                    )
                )
                continue
            map_[label] = r
    for r in revs:
        found = []
        for dep in r.dependencies:
            target = map_.get(dep)
            if target is None:
                problems.append(_missing(loc, r.rev, dep, "depends_on"))
            else:
                found.append(target.rev.revision)
        r.resolved = tuple(found)
    unique = list({id(r): r for r in map_.values()}.values())
    for r in unique:
        for down in dict.fromkeys(r.rev.down_revision + r.resolved):
            target = map_.get(down)
            if target is None:
                if down not in r.dependencies:
                    problems.append(_missing(loc, r.rev, down, "down_revision"))
                continue
            target.all_nextrev = target.all_nextrev | {r.rev.revision}
            if target.rev.revision in r.rev.down_revision:
                target.nextrev = target.nextrev | {r.rev.revision}
            if down in r.rev.down_revision:
                heads.pop(id(target), None)
            real_heads.pop(id(target), None)
    if not any(p.kind in ("missing-dependency", "duplicate-revision") for p in problems):
        problems += _cycles(loc, plain, map_, list(heads.values()), bases, list(real_heads.values()), real_bases)
    return RevisionMap(
        revisions=tuple(revisions),
        by_id={k: v.rev for k, v in map_.items()},
        heads=tuple(r.rev.revision for r in heads.values()),
        real_heads=tuple(r.rev.revision for r in real_heads.values()),
        bases=tuple(r.rev.revision for r in bases),
        problems=tuple(problems),
    )


def _missing(loc: str, rev: Revision, target: str, attr: str) -> Problem:
    return Problem(
        "missing-dependency",
        loc,
        f"Revision {target} referenced from {rev.revision} ({rev.path}) as its {attr} is not present",
        rev.path,
        rev.line,
        (target, attr),
        (rev.location,),
    )


def _reach(starts: Iterable[_Rev], step: Callable[[_Rev], Iterable[str]], map_: Mapping[str, _Rev]) -> set[str]:
    seen: set[str] = set()
    todo = list(starts)
    while todo:
        r = todo.pop()
        if r.rev.revision in seen:
            continue
        seen.add(r.rev.revision)
        todo.extend(map_[n] for n in step(r) if n in map_)
    return seen


def _cycles(
    loc: str,
    plain: Mapping[str, _Rev],
    map_: Mapping[str, _Rev],
    heads: list[_Rev],
    bases: list[_Rev],
    real_heads: list[_Rev],
    real_bases: list[_Rev],
) -> list[Problem]:
    """Alembic's `_detect_cycles`: revisions not both reachable from a head and from a base."""
    if not plain:
        return []
    for kind, hs, bs, down, up in (
        ("Cycle", heads, bases, lambda r: r.rev.down_revision, lambda r: r.nextrev),
        (
            "Dependency cycle",
            real_heads,
            real_bases,
            lambda r: r.rev.down_revision + r.resolved,
            lambda r: r.all_nextrev,
        ),
    ):
        if not hs or not bs:
            refused = list(plain)
        else:
            refused = sorted(set(plain) - (_reach(hs, down, plain) & _reach(bs, up, plain)))
        if refused:
            members = _cycle_members(plain, map_, down)
            locations = tuple(plain[m].rev.location for m in (members or refused) if m in plain)
            first = locations[0] if locations else None
            return [
                Problem(
                    "cycle",
                    loc,
                    f"{kind} is detected in revisions ({', '.join(refused)})",
                    first.path if first else None,
                    first.line if first else None,
                    tuple(refused),
                    locations,
                )
            ]
    return []


def _cycle_members(
    plain: Mapping[str, _Rev], map_: Mapping[str, _Rev], down: Callable[[_Rev], Iterable[str]]
) -> list[str]:
    """The revisions on a real cycle, for file:line evidence (networkx only on this rare path)."""
    nx = networkx()
    g = nx.DiGraph()
    for rid, r in plain.items():
        for d in down(r):
            if d in map_:
                g.add_edge(rid, map_[d].rev.revision)
    members: list[str] = []
    for comp in nx.strongly_connected_components(g):
        if len(comp) > 1 or any(g.has_edge(n, n) for n in comp):
            members += sorted(comp)
    return members


def get_heads(history: AlembicHistory, *, cache: bool = True) -> list[str]:
    """The heads `ScriptDirectory.get_heads()` returns, in its order."""
    revisions, _ = load_revisions(history, cache=cache)
    return list(build_map(history, revisions).heads)


def analyze(history: AlembicHistory, *, cache: bool = True) -> list[Problem]:
    """What would stop `alembic upgrade head`: unreadable files, missing revisions, cycles, and heads that
    fork from a common history without a merge.

    Heads that start from different bases, or whose own branches carry branch labels, are independent
    branches on purpose (`upgrade heads` applies them) and are not reported.
    """
    revisions, problems = load_revisions(history, cache=cache)
    rmap = build_map(history, revisions)
    problems += rmap.problems
    if len(rmap.heads) > 1 and not any(p.kind in ("cycle", "missing-dependency") for p in problems):
        for group in _forked_heads(rmap):
            locations = tuple(rmap.by_id[h].location for h in group)
            problems.append(
                Problem(
                    "multiple-heads",
                    history.script_location,
                    MULTIPLE_HEADS_ERROR,
                    locations[-1].path,
                    locations[-1].line,
                    tuple(group),
                    locations,
                )
            )
    return problems


def _forked_heads(rmap: RevisionMap) -> list[list[str]]:
    """Heads grouped by shared ancestry, leaving out heads whose own branch carries a branch label
    (the stretch from the head down to where it forked off: a labelled branch is made on purpose)."""
    children: dict[str, int] = {}
    for r in rmap.revisions:
        for d in r.down_revision:
            children[d] = children.get(d, 0) + 1

    def ancestry(rid: str) -> set[str]:
        seen: set[str] = set()
        todo = [rid]
        while todo:
            r = rmap.by_id.get(todo.pop())
            if r is None or r.revision in seen:
                continue
            seen.add(r.revision)
            todo.extend(r.down_revision)
        return seen

    def labelled(rid: str) -> bool:
        r = rmap.by_id.get(rid)
        while r is not None:
            if r.branch_labels:
                return True
            if len(r.down_revision) != 1 or children.get(r.down_revision[0], 0) > 1:
                return False
            r = rmap.by_id.get(r.down_revision[0])
        return False

    lines = {h: ancestry(h) for h in rmap.heads}
    groups: list[list[str]] = []
    for h in rmap.heads:
        if labelled(h):
            continue
        for group in groups:
            if lines[group[0]] & lines[h]:
                group.append(h)
                break
        else:
            groups.append([h])
    return [g for g in groups if len(g) > 1]


# ---------------------------------------------------------------------------------------------
# merge revisions


class _Unsupported(Exception):
    """A template construct the renderer does not handle; the default template form is used instead."""


class _Undefined:
    """Mako's UNDEFINED: false in tests, an error when printed."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False


_UNDEFINED = _Undefined()


def format_as_comma(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Iterable):
        return ", ".join(value)
    raise _Unsupported(f"cannot comma-format {value!r}")


_FILTERS: dict[str, Callable[[Any], Any]] = {
    "str": str,
    "trim": lambda v: str(v).strip(),
    "h": lambda v: html.escape(str(v)),
    "u": lambda v: quote_plus(str(v)),
    "x": lambda v: html.escape(str(v)),
}
_SAFE_CALLS: dict[str, Callable[..., Any]] = {
    "repr": repr,
    "str": str,
    "len": len,
    "sorted": sorted,
    "tuple": tuple,
    "list": list,
}


def _eval(node: ast.expr, ctx: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in ctx:
            return ctx[node.id]
        if node.id in _SAFE_CALLS:
            return _SAFE_CALLS[node.id]
        if node.id in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[node.id]
        return _UNDEFINED
    if isinstance(node, ast.Tuple | ast.List):
        items = [_eval(e, ctx) for e in node.elts]
        return tuple(items) if isinstance(node, ast.Tuple) else items
    if isinstance(node, ast.IfExp):
        return _eval(node.body, ctx) if _eval(node.test, ctx) else _eval(node.orelse, ctx)
    if isinstance(node, ast.BoolOp):
        value: Any = None
        for operand in node.values:
            value = _eval(operand, ctx)
            if (isinstance(node.op, ast.And) and not value) or (isinstance(node.op, ast.Or) and value):
                return value
        return value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not _eval(node.operand, ctx)
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, right = _eval(node.left, ctx), _eval(node.comparators[0], ctx)
        op = node.ops[0]
        compare: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
            ast.Eq: lambda a, b: bool(a == b),
            ast.NotEq: lambda a, b: bool(a != b),
            ast.Is: lambda a, b: a is b,
            ast.IsNot: lambda a, b: a is not b,
            ast.In: lambda a, b: a in b,
            ast.NotIn: lambda a, b: a not in b,
            ast.Lt: lambda a, b: bool(a < b),
            ast.LtE: lambda a, b: bool(a <= b),
            ast.Gt: lambda a, b: bool(a > b),
            ast.GtE: lambda a, b: bool(a >= b),
        }
        if type(op) in compare:
            return compare[type(op)](left, right)
    if isinstance(node, ast.Call) and not node.keywords:
        func = _eval(node.func, ctx)
        if callable(func) and (func in _SAFE_CALLS.values() or func is format_as_comma or _is_str_method(func)):
            args = [_eval(a, ctx) for a in node.args]
            if any(isinstance(a, _Undefined) for a in args):
                raise _Unsupported("undefined argument")
            return func(*args)
    # no str.format: its replacement fields can reach attributes the template should not print
    if isinstance(node, ast.Attribute) and not node.attr.startswith("_") and node.attr not in ("format", "format_map"):
        base = _eval(node.value, ctx)
        if isinstance(base, str | datetime | tuple):
            return getattr(base, node.attr)
    raise _Unsupported(ast.dump(node))


def _is_str_method(func: Any) -> bool:
    return getattr(func, "__self__", None).__class__ in (str, datetime, tuple) and callable(func)


def _split_filters(expr: str) -> tuple[str, list[str]]:
    depth, quote, last = 0, "", -1
    for i, ch in enumerate(expr):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "|" and depth == 0:
            last = i
    if last >= 0:
        filters = [f.strip() for f in expr[last + 1 :].split(",")]
        if filters and all(f.isidentifier() for f in filters):
            return expr[:last], filters
    return expr, []


def _expression(expr: str, ctx: Mapping[str, Any]) -> str:
    source, filters = _split_filters(expr)
    try:
        tree = pyast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise _Unsupported(source) from exc
    value = _eval(tree.body, ctx)
    apply_default = "n" not in filters
    for name in filters:
        if name == "n":
            continue
        func = ctx.get(name, _FILTERS.get(name))
        if func is None or not callable(func):
            raise _Unsupported(f"filter {name}")
        value = func(value)
    if isinstance(value, _Undefined):
        raise _Unsupported("undefined name printed")
    return str(value) if apply_default or not isinstance(value, str) else value


def _substitute(line: str, ctx: Mapping[str, Any]) -> str:
    out: list[str] = []
    i = 0
    while True:
        start = line.find("${", i)
        if start < 0:
            out.append(line[i:])
            return "".join(out)
        out.append(line[i:start])
        depth, quote, j = 0, "", start + 2
        while j < len(line):
            ch = line[j]
            if quote:
                if ch == quote:
                    quote = ""
            elif ch in "'\"":
                quote = ch
            elif ch == "{":
                depth += 1
            elif ch == "}":
                if depth == 0:
                    break
                depth -= 1
            j += 1
        else:
            raise _Unsupported("unterminated ${")
        out.append(_expression(line[start + 2 : j], ctx))
        i = j + 1


_CONTROL = re.compile(r"^[ \t]*%(?!%)[ \t]*(\w+)(.*?):?[ \t]*$")


def render_template(text: str, ctx: Mapping[str, Any]) -> str:
    """Render the Mako subset revision templates use: `${expr | filters}`, `## comments`, `% if/elif/else/
    endif`, `% for/endfor`, `\\` line continuations. Raises `_Unsupported` on anything else."""
    if re.search(r"<%|%>|</%", text):
        raise _Unsupported("Mako tags")
    text = re.sub(r"\\\n", "", text)
    lines = text.splitlines(keepends=True)
    out: list[str] = []

    def run(start: int, end: int, scope: dict[str, Any]) -> None:
        i = start
        while i < end:
            line = lines[i]
            stripped = line.lstrip(" \t")
            if stripped.startswith("##"):
                i += 1
                continue
            m = _CONTROL.match(line.rstrip("\r\n"))
            if m is None:
                out.append(_substitute(line.replace("%%", "%", 1) if stripped.startswith("%%") else line, scope))
                i += 1
                continue
            keyword, rest = m.group(1), m.group(2).strip()
            if keyword == "if":
                branches, close = _block(i, end, ("elif", "else"), "endif")
                for pos, (kw, cond, _) in enumerate(branches):
                    stop = branches[pos + 1][2] if pos + 1 < len(branches) else close
                    if kw == "else" or _eval(pyast.parse(cond, mode="eval").body, scope):
                        run(branches[pos][2] + 1, stop, scope)
                        break
                i = close + 1
            elif keyword == "for":
                target, _, iterable = rest.partition(" in ")
                _, close = _block(i, end, (), "endfor")
                names = [n.strip() for n in target.strip("() ").split(",") if n.strip()]
                for item in _eval(pyast.parse(iterable, mode="eval").body, scope):
                    inner = dict(scope)
                    if len(names) == 1:
                        inner[names[0]] = item
                    else:
                        inner.update(zip(names, item, strict=True))
                    run(i + 1, close, inner)
                i = close + 1
            else:
                raise _Unsupported(f"% {keyword}")

    def _block(i: int, end: int, middles: tuple[str, ...], closer: str) -> tuple[list[tuple[str, str, int]], int]:
        first = _CONTROL.match(lines[i].rstrip("\r\n"))
        assert first is not None
        branches = [(first.group(1), first.group(2).strip(), i)]
        depth = 0
        for j in range(i + 1, end):
            m = _CONTROL.match(lines[j].rstrip("\r\n"))
            if m is None:
                continue
            kw = m.group(1)
            if kw in ("if", "for"):
                depth += 1
            elif kw in ("endif", "endfor"):
                if depth == 0:
                    if kw != closer:
                        raise _Unsupported("mismatched block")
                    return branches, j
                depth -= 1
            elif depth == 0 and kw in middles:
                branches.append((kw, m.group(2).strip(), j))
        raise _Unsupported("unclosed block")

    run(0, len(lines), dict(ctx))
    return "".join(out)


def _default_template(ctx: Mapping[str, Any]) -> str:
    """The file Alembic's default `generic` template produces for these values."""
    return (
        f'"""{ctx["message"]}\n\n'
        f"Revision ID: {ctx['up_revision']}\n"
        f"Revises: {format_as_comma(ctx['down_revision'])}\n"
        f"Create Date: {ctx['create_date']}\n\n"
        '"""\n'
        "from typing import Sequence, Union\n\n"
        "from alembic import op\n"
        "import sqlalchemy as sa\n\n\n"
        "# revision identifiers, used by Alembic.\n"
        f"revision: str = {ctx['up_revision']!r}\n"
        f"down_revision: Union[str, Sequence[str], None] = {ctx['down_revision']!r}\n"
        f"branch_labels: Union[str, Sequence[str], None] = {ctx['branch_labels']!r}\n"
        f"depends_on: Union[str, Sequence[str], None] = {ctx['depends_on']!r}\n\n\n"
        "def upgrade() -> None:\n"
        '    """Upgrade schema."""\n'
        "    pass\n\n\n"
        "def downgrade() -> None:\n"
        '    """Downgrade schema."""\n'
        "    pass\n"
    )


def _resolve(rmap: RevisionMap, ident: str) -> list[str]:
    if ident == "heads":
        return list(rmap.heads)
    if ident in rmap.by_id:
        return [rmap.by_id[ident].revision]
    matches = sorted({r.revision for r in rmap.revisions if r.revision.startswith(ident)})
    if len(matches) == 1:
        return matches
    if matches:
        raise ValueError(f"Multiple revisions start with '{ident}': {', '.join(matches)}")
    raise ValueError(f"No such revision or branch '{ident}'")


def merge_revision(
    script_dir: AlembicHistory | Path,
    heads: Sequence[str],
    message: str | None = "merge heads",
    rev_id: str | None = None,
    *,
    now: datetime | None = None,
    cache: bool = True,
) -> tuple[str, str]:
    """(path relative to the repository, file text) of what `alembic merge -m MESSAGE HEADS...` writes.

    The text comes from the project's `script.py.mako`; `rev_id` defaults to a fresh one as Alembic makes
    them, `now` to the current time (in the configured `timezone`, if any). A `script_dir` given as a
    path is read with Alembic's defaults.
    """
    history = (
        script_dir
        if isinstance(script_dir, AlembicHistory)
        else AlembicHistory(repo=Path(script_dir).resolve(), script_location=".")
    )
    revisions, _ = load_revisions(history, cache=cache)
    rmap = build_map(history, revisions)
    resolved = [rid for ident in heads for rid in _resolve(rmap, ident)]
    if len(set(resolved)) != len(resolved):
        raise ValueError("Duplicate head revisions specified")
    for rid in resolved:
        if rid not in rmap.heads:
            raise ValueError(
                f"Revision {rid} is not a head revision; please specify --splice to create a new "
                "branch from this revision"
            )
    revid = rev_id or uuid.uuid4().hex[-12:]
    bad = sorted(_ILLEGAL.intersection(revid))
    if bad:
        raise ValueError(f"Character(s) '{', '.join(bad)}' not allowed in revision identifier '{revid}'")
    create_date = _create_date(history, now)
    version_paths = history.version_paths
    directory = version_paths[0]
    if len(version_paths) > 1 and resolved:
        directory = (history.repo / rmap.by_id[resolved[0]].path).parent
    slug = "_".join(re.findall(r"\w+", message or "")).lower()
    if len(slug) > history.truncate_slug_length:
        slug = slug[: history.truncate_slug_length].rsplit("_", 1)[0] + "_"
    tokens = {
        "rev": revid,
        "slug": slug,
        "epoch": int(create_date.timestamp()),
        "year": create_date.year,
        "month": create_date.month,
        "day": create_date.day,
        "hour": create_date.hour,
        "minute": create_date.minute,
        "second": create_date.second,
    }
    try:
        filename = history.file_template % tokens
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(
            f"file_template {history.file_template!r} in {history.config_path} is not usable: {exc}"
        ) from exc
    ctx: dict[str, Any] = {
        "up_revision": revid,
        "down_revision": None if not resolved else resolved[0] if len(resolved) == 1 else tuple(resolved),
        "branch_labels": None,
        "depends_on": None,
        "create_date": create_date,
        "comma": format_as_comma,
        "message": message if message is not None else "empty message",
    }
    try:
        template = (history.script_path / "script.py.mako").read_text(encoding="utf-8")
        text = render_template(template, ctx)
    except Exception:  # any template this renderer cannot handle: the default form, as documented
        text = _default_template(ctx)
    return _rel(history.repo, directory / f"{filename}.py"), text


def _create_date(history: AlembicHistory, now: datetime | None) -> datetime:
    if history.timezone is None:
        if now is None:
            return datetime.now()
        return now.astimezone().replace(tzinfo=None) if now.tzinfo is not None else now
    try:
        tz = ZoneInfo(history.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        try:
            tz = ZoneInfo(history.timezone.upper())
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"Can't locate timezone: {history.timezone}") from exc
    moment = now if now is not None else datetime.now(tz=UTC)
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.astimezone(tz)
