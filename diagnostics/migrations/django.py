"""Django migration graphs read statically: conflicts, missing dependencies, cycles, and merge migrations.

The graph is built the way Django's `MigrationLoader(None, ignore_no_migrations=True)` builds it
(what `makemigrations` uses, and `migrate` on an empty database): nodes for every migration file,
same-app dependencies first, then cross-app ones with `__first__`/`__latest__` resolved against the
graph as it stands, then squashed migrations swapped in for the ones they replace. Nothing of the
analysed project is imported or run: settings, `apps.py` and migration files are read with `ast`.

Apps listed in INSTALLED_APPS whose code is not in the repository (`django.contrib.auth`,
third-party packages) are "external": dependencies on them are taken as satisfied, since their
migrations ship with the package the image installs.
"""

from __future__ import annotations

import ast
import importlib.machinery
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from diagnostics import pyast
from diagnostics.migrations import networkx
from diagnostics.migrations.cache import ParseCache

if TYPE_CHECKING:
    # imported where problems are built: a clean graph never needs it (and hashlib with it)
    from diagnostics.findings import Location

Key = tuple[str, str]
ProblemKind = Literal["conflict", "missing-dependency", "cycle", "syntax-error", "unreadable"]
AppState = Literal["migrated", "unmigrated", "external"]

DEFAULT_DJANGO_VERSION = "5.2"
_PARSER_VERSION = "django-migrations-1"
_FIRST_LATEST = ("__first__", "__latest__")
_SKIP_DIRS = {"node_modules", "__pycache__", "site-packages", "dist-packages"}
# longest first, as inspect.getmodulename tries them
_MODULE_SUFFIXES = sorted(importlib.machinery.all_suffixes(), key=len, reverse=True)


# ---------------------------------------------------------------------------------------------
# data


@dataclass(frozen=True, slots=True)
class DjangoApp:
    """One INSTALLED_APPS entry: where its code and migrations are, or that they are not in the repository."""

    entry: str  # as written in INSTALLED_APPS
    label: str
    name: str  # the app's module (AppConfig.name)
    state: AppState
    path: str | None = None  # the app package, relative to the repository
    migrations_module: str | None = None
    migrations_dir: str | None = None  # relative to the repository; None unless state == "migrated"


@dataclass(frozen=True, slots=True)
class DjangoProject:
    """A directory with `manage.py`, and what its settings say, read without running them."""

    repo: Path  # absolute repository root; every path below is relative to it
    root: str  # the directory holding manage.py ("." for the repository root)
    settings_module: str | None
    settings_path: str | None
    installed_apps: tuple[str, ...]
    installed_apps_exact: bool  # False when INSTALLED_APPS depends on the environment or code we cannot read
    auth_user_model: str
    apps: tuple[DjangoApp, ...]
    settings: Mapping[str, Any] = field(default_factory=dict, hash=False)  # the UPPERCASE settings that could be read
    django_version: str | None = None  # from the requirements pin, as Django's get_version() prints it
    search_paths: tuple[str, ...] = ()  # where modules were looked up, absolute
    notes: tuple[str, ...] = ()  # what limited the analysis, one sentence each

    @property
    def root_path(self) -> Path:
        return self.repo / self.root

    def app(self, label: str) -> DjangoApp | None:
        return next((a for a in self.apps if a.label == label), None)


@dataclass(frozen=True, slots=True)
class MigrationNode:
    app_label: str
    name: str
    path: str  # relative to the repository
    line: int | None  # of `class Migration`
    dependencies: tuple[Key, ...] = ()  # as declared, swappable settings resolved
    run_before: tuple[Key, ...] = ()
    replaces: tuple[Key, ...] = ()
    initial: bool | None = None

    @property
    def key(self) -> Key:
        return (self.app_label, self.name)

    def __str__(self) -> str:
        return f"{self.app_label}.{self.name}"


@dataclass(frozen=True, slots=True)
class Problem:
    """Something that stops `migrate`: kind, the app it is about, one sentence, and where.

    `details` per kind: conflict → the leaf names (sorted as Django sorts them); missing-dependency →
    (app, name, "parent"|"child") of the node that does not exist; cycle → "app.name" of each member
    in cycle order; syntax-error / unreadable → the migration name. `locations` are the other files
    involved (each leaf, each cycle member).
    """

    kind: ProblemKind
    app_label: str
    message: str
    path: str | None
    line: int | None
    details: tuple[str, ...] = ()
    locations: tuple[Location, ...] = ()


@dataclass(frozen=True, slots=True)
class MissingDependency:
    origin: Key  # the migration that declares it
    target: Key  # the node that does not exist
    relation: Literal["parent", "child"]  # parent: in dependencies; child: in run_before
    path: str
    line: int | None


@dataclass(frozen=True, eq=False)
class MigrationGraph:
    """The graph after squashes are applied; edges point from a migration to the ones depending on it."""

    project: DjangoProject
    nodes: Mapping[Key, MigrationNode]
    parents: Mapping[Key, frozenset[Key]]
    children: Mapping[Key, frozenset[Key]]
    replaced: Mapping[Key, Key] = field(default_factory=dict)  # replaced migration → the squash used instead
    missing: tuple[MissingDependency, ...] = ()
    file_problems: tuple[Problem, ...] = ()
    edge_lines: Mapping[tuple[Key, Key], tuple[str, int | None]] = field(default_factory=dict)

    def leaf_nodes(self, app: str | None = None) -> list[Key]:
        """Nodes no migration of their own app depends on, sorted (Django's `leaf_nodes`)."""
        return sorted(
            k
            for k in self.nodes
            if (app is None or k[0] == app) and all(c[0] != k[0] for c in self.children.get(k, ()))
        )

    def root_nodes(self, app: str | None = None) -> list[Key]:
        return sorted(
            k for k in self.nodes if (app is None or k[0] == app) and all(p[0] != k[0] for p in self.parents.get(k, ()))
        )

    def forwards_plan(self, target: Key) -> list[Key]:
        """Every migration `target` needs, in the order Django applies them, ending with `target`."""
        if target not in self.nodes:
            raise KeyError(f"Node {target!r} not a valid node")
        visited: list[Key] = []
        done: set[Key] = set()
        stack: list[tuple[Key, bool]] = [(target, False)]
        while stack:
            node, processed = stack.pop()
            if node in done:
                continue
            if processed:
                done.add(node)
                visited.append(node)
            else:
                stack.append((node, True))
                stack += [(n, False) for n in sorted(self.parents.get(node, ()))]
        return visited

    def conflicts(self) -> dict[str, list[str]]:
        """Apps with more than one leaf and their leaf names, sorted (Django's `detect_conflicts`)."""
        seen: dict[str, set[str]] = {}
        for app, name in self.leaf_nodes():
            seen.setdefault(app, set()).add(name)
        return {app: sorted(names) for app, names in seen.items() if len(names) > 1}

    def to_networkx(self) -> Any:
        """A `networkx.DiGraph` (parent → child) with `path` and `line` on each node."""
        g = networkx().DiGraph()
        for key, node in self.nodes.items():
            g.add_node(key, path=node.path, line=node.line)
        for child, parents in self.parents.items():
            for parent in parents:
                if parent in self.nodes and child in self.nodes:
                    g.add_edge(parent, child)
        return g


# ---------------------------------------------------------------------------------------------
# reading settings statically


class _Unknown:
    """A value only running the code would tell (environment variables, function calls)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Any = _Unknown()


def _find_module(roots: Sequence[Path], dotted: str) -> tuple[Path, bool] | None:
    """The source file of a module (`pkg/__init__.py` or `mod.py`) and whether it is a package."""
    parts = dotted.split(".")
    if not all(p.isidentifier() for p in parts):
        return None
    for root in roots:
        base = root.joinpath(*parts)
        init = base / "__init__.py"
        if init.is_file():
            return init, True
        mod = base.with_name(base.name + ".py")
        if mod.is_file():
            return mod, False
    return None


def _find_package_dir(roots: Sequence[Path], dotted: str) -> Path | None:
    """The directory of a package, namespace packages included."""
    parts = dotted.split(".")
    if not all(p.isidentifier() for p in parts):
        return None
    for root in roots:
        base = root.joinpath(*parts)
        if base.is_dir():
            return base
    return None


def _parse_file(path: Path) -> ast.Module | None:
    try:
        return pyast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _concat(left: Any, right: Any) -> Any:
    if isinstance(left, list) and isinstance(right, list):
        return left + right
    if isinstance(left, tuple) and isinstance(right, tuple):
        return left + right
    if isinstance(left, str) and isinstance(right, str):
        return left + right
    return UNKNOWN


class _SettingsReader:
    """Evaluates settings modules' top-level statements over literals, following `from .x import *`."""

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = roots
        self.visiting: set[str] = set()
        self.uncertain: set[str] = set()
        self.notes: list[str] = []

    def module(self, name: str) -> dict[str, Any] | None:
        found = _find_module(self.roots, name)
        if found is None:
            return None
        path, is_pkg = found
        if name in self.visiting:
            return {}
        tree = _parse_file(path)
        if tree is None:
            self.notes.append(f"Settings module {name} ({path.name}) could not be parsed; its settings were skipped.")
            return {}
        self.visiting.add(name)
        ns: dict[str, Any] = {}
        try:
            self._exec(tree.body, ns, name if is_pkg else name.rpartition(".")[0], False)
        except RecursionError:
            self.notes.append(f"Settings module {name} nests too deeply to read; what follows in it was skipped.")
        self.visiting.discard(name)
        return ns

    def _set(self, ns: dict[str, Any], name: str, value: Any, cond: bool) -> None:
        ns[name] = value
        if cond:
            self.uncertain.add(name)

    def _assign(self, target: ast.expr, value: Any, ns: dict[str, Any], cond: bool) -> None:
        if isinstance(target, ast.Name):
            self._set(ns, target.id, value, cond)
        elif isinstance(target, ast.Tuple | ast.List):
            values = list(value) if isinstance(value, list | tuple) and len(value) == len(target.elts) else None
            for i, elt in enumerate(target.elts):
                self._assign(elt, values[i] if values is not None else UNKNOWN, ns, cond)

    def _exec(self, body: Sequence[ast.stmt], ns: dict[str, Any], package: str, cond: bool) -> None:
        for stmt in body:
            if isinstance(stmt, ast.Assign):
                value = self._eval(stmt.value, ns)
                for target in stmt.targets:
                    self._assign(target, value, ns, cond)
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                self._assign(stmt.target, self._eval(stmt.value, ns), ns, cond)
            elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
                current, extra = ns.get(stmt.target.id, UNKNOWN), self._eval(stmt.value, ns)
                result: Any = UNKNOWN
                if isinstance(stmt.op, ast.Add):
                    # `list += tuple` extends, where `list + tuple` is a TypeError
                    result = _concat(
                        current, list(extra) if isinstance(current, list) and isinstance(extra, tuple) else extra
                    )
                self._set(ns, stmt.target.id, result, cond)
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                self._call_statement(stmt.value, ns, cond)
            elif isinstance(stmt, ast.ImportFrom):
                self._import_from(stmt, ns, package, cond)
            elif isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    self._set(ns, alias.asname or alias.name.partition(".")[0], UNKNOWN, cond)
            elif isinstance(stmt, ast.If):
                test = self._eval(stmt.test, ns)
                if test is UNKNOWN or isinstance(test, _Unknown):
                    self._exec(stmt.body, ns, package, True)
                    self._exec(stmt.orelse, ns, package, True)
                else:
                    self._exec(stmt.body if test else stmt.orelse, ns, package, cond)
            elif isinstance(stmt, ast.Try):
                self._exec(stmt.body, ns, package, cond)
                self._exec(stmt.orelse, ns, package, cond)
                self._exec(stmt.finalbody, ns, package, cond)
            elif isinstance(stmt, ast.With):
                self._exec(stmt.body, ns, package, cond)
            elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self._set(ns, stmt.name, UNKNOWN, cond)
            elif isinstance(stmt, ast.For | ast.While):
                for node in ast.walk(stmt):  # whatever a loop touches is unknown afterwards
                    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                        self._set(ns, node.id, UNKNOWN, True)
                    elif (
                        isinstance(node, ast.Call)
                        and isinstance(node.func, ast.Attribute)
                        and isinstance(node.func.value, ast.Name)
                    ):
                        self.uncertain.add(node.func.value.id)

    def _call_statement(self, call: ast.Call, ns: dict[str, Any], cond: bool) -> None:
        func = call.func
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
            return
        target = ns.get(func.value.id)
        if not isinstance(target, list):
            return
        args = [self._eval(a, ns) for a in call.args]
        if any(isinstance(a, _Unknown) for a in args) or call.keywords:
            self._set(ns, func.value.id, UNKNOWN, cond)
            return
        new = list(target)
        try:
            if func.attr == "append" and len(args) == 1:
                new.append(args[0])
            elif func.attr == "extend" and len(args) == 1 and isinstance(args[0], list | tuple):
                new.extend(args[0])
            elif func.attr == "insert" and len(args) == 2 and isinstance(args[0], int):
                new.insert(args[0], args[1])
            elif func.attr == "remove" and len(args) == 1:
                new.remove(args[0])
            else:
                return
        except ValueError:
            return
        self._set(ns, func.value.id, new, cond)

    def _import_from(self, stmt: ast.ImportFrom, ns: dict[str, Any], package: str, cond: bool) -> None:
        if stmt.level:
            base = package.split(".") if package else []
            if stmt.level > 1:
                base = base[: len(base) - (stmt.level - 1)]
            name = ".".join([*base, stmt.module] if stmt.module else base)
        else:
            name = stmt.module or ""
        names = [a.name for a in stmt.names]
        mod = self.module(name) if name else None
        if names == ["*"]:
            if mod is None:
                self.notes.append(f"`from {name} import *` names a module that is not in the repository.")
                return
            exported = mod.get("__all__")
            for key, value in mod.items():
                if (isinstance(exported, list | tuple) and key in exported) or (
                    not isinstance(exported, list | tuple) and not key.startswith("_")
                ):
                    self._set(ns, key, value, cond)
            self.uncertain.update(k for k in mod if k in self.uncertain)
            return
        for alias in stmt.names:
            value = mod.get(alias.name, UNKNOWN) if mod is not None else UNKNOWN
            self._set(ns, alias.asname or alias.name, value, cond)

    def _eval(self, node: ast.expr, ns: Mapping[str, Any]) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            items: list[Any] = []
            for elt in node.elts:
                if isinstance(elt, ast.Starred):
                    inner = self._eval(elt.value, ns)
                    if not isinstance(inner, list | tuple):
                        return UNKNOWN
                    items.extend(inner)
                else:
                    items.append(self._eval(elt, ns))
            if isinstance(node, ast.Tuple):
                return tuple(items)
            return items if isinstance(node, ast.List) else UNKNOWN
        if isinstance(node, ast.Dict):
            out: dict[Any, Any] = {}
            for k, v in zip(node.keys, node.values, strict=True):
                if k is None:
                    inner = self._eval(v, ns)
                    if not isinstance(inner, dict):
                        return UNKNOWN
                    out.update(inner)
                    continue
                key = self._eval(k, ns)
                if isinstance(key, _Unknown | list | dict):
                    return UNKNOWN
                out[key] = self._eval(v, ns)
            return out
        if isinstance(node, ast.Name):
            return ns.get(node.id, UNKNOWN)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return _concat(self._eval(node.left, ns), self._eval(node.right, ns))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            value = self._eval(node.operand, ns)
            return UNKNOWN if isinstance(value, _Unknown) else not value
        if isinstance(node, ast.IfExp):
            test = self._eval(node.test, ns)
            if isinstance(test, _Unknown):
                return UNKNOWN
            return self._eval(node.body if test else node.orelse, ns)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("list", "tuple")
            and len(node.args) == 1
            and not node.keywords
        ):
            inner = self._eval(node.args[0], ns)
            if isinstance(inner, list | tuple):
                return list(inner) if node.func.id == "list" else tuple(inner)
        return UNKNOWN


# ---------------------------------------------------------------------------------------------
# finding projects and apps


def _walk(repo: Path, filename: str) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(repo):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".")
            and d not in _SKIP_DIRS
            and not os.path.exists(os.path.join(dirpath, d, "pyvenv.cfg"))
        )
        if filename in filenames:
            yield Path(dirpath) / filename


def _settings_module_from(path: Path) -> str | None:
    """The DJANGO_SETTINGS_MODULE a script sets with `os.environ.setdefault(...)` or assignment."""
    tree = _parse_file(path)
    if tree is None:
        return None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "setdefault"
            and len(node.args) == 2
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == "DJANGO_SETTINGS_MODULE"
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            return node.args[1].value
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Subscript)
            and isinstance(node.targets[0].slice, ast.Constant)
            and node.targets[0].slice.value == "DJANGO_SETTINGS_MODULE"
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    return None


def find_projects(repo: Path, *, search_paths: Sequence[Path] = ()) -> list[DjangoProject]:
    """Every Django project in `repo` (a directory with `manage.py`), sorted by path.

    `search_paths` are extra directories to find apps in (a site-packages the image installs, say);
    apps found nowhere are external.
    """
    repo = repo.resolve()
    return [load_project(repo, manage.parent, search_paths=search_paths) for manage in _walk(repo, "manage.py")]


def load_project(
    repo: Path, root: Path, *, settings_module: str | None = None, search_paths: Sequence[Path] = ()
) -> DjangoProject:
    """The project whose `manage.py` is in `root`; `settings_module` overrides the one manage.py sets
    (the DJANGO_SETTINGS_MODULE of a Job, say)."""
    repo = repo.resolve()
    root = (repo / root).resolve()
    rel_root = _rel(repo, root)
    roots = list(dict.fromkeys([root, *(p.resolve() for p in search_paths), repo]))
    notes: list[str] = []
    module = settings_module or _settings_module_from(root / "manage.py")
    if module is None:
        for candidate in sorted(root.glob("*/[wa]sgi.py")):
            module = _settings_module_from(candidate)
            if module:
                break
    reader = _SettingsReader(roots)
    ns: dict[str, Any] | None = None
    settings_path: str | None = None
    if module is None:
        notes.append(f"{rel_root}/manage.py does not set DJANGO_SETTINGS_MODULE; INSTALLED_APPS is unknown.")
    else:
        found = _find_module(roots, module)
        if found is None:
            notes.append(f"The settings module {module} is not in the repository; INSTALLED_APPS is unknown.")
        else:
            settings_path = _rel(repo, found[0])
            ns = reader.module(module)
    notes.extend(reader.notes)
    settings = {k: v for k, v in (ns or {}).items() if k.isupper() and not isinstance(v, _Unknown)}
    raw_apps = (ns or {}).get("INSTALLED_APPS", UNKNOWN)
    exact = isinstance(raw_apps, list | tuple) and "INSTALLED_APPS" not in reader.uncertain
    entries = tuple(a for a in raw_apps if isinstance(a, str)) if isinstance(raw_apps, list | tuple) else ()
    if isinstance(raw_apps, list | tuple) and len(entries) != len(raw_apps):
        exact = False
    if ns is not None and not exact:
        notes.append(
            "INSTALLED_APPS depends on the environment or on code pitstop does not run; "
            "dependencies on apps it cannot see are assumed to exist."
        )
    auth_user_model = settings.get("AUTH_USER_MODEL")
    if not isinstance(auth_user_model, str):
        auth_user_model = "auth.User"
    migration_modules = settings.get("MIGRATION_MODULES")
    if not isinstance(migration_modules, dict):
        migration_modules = {}
    apps = tuple(_locate_app(repo, roots, entry, migration_modules) for entry in entries)
    return DjangoProject(
        repo=repo,
        root=rel_root,
        settings_module=module,
        settings_path=settings_path,
        installed_apps=entries,
        installed_apps_exact=exact,
        auth_user_model=auth_user_model,
        apps=apps,
        settings=settings,
        django_version=_pinned_django_version(repo, root),
        search_paths=tuple(str(r) for r in roots),
        notes=tuple(notes),
    )


def _rel(repo: Path, path: Path) -> str:
    try:
        rel = path.relative_to(repo).as_posix()
    except ValueError:
        return path.as_posix()
    return rel or "."


def _app_configs(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """AppConfig subclasses defined in a module, with their literal `name`, `label` and `default`."""
    tree = _parse_file(path)
    if tree is None:
        return []
    known: dict[str, dict[str, Any]] = {}
    for stmt in tree.body:
        if not isinstance(stmt, ast.ClassDef):
            continue
        attrs: dict[str, Any] | None = None
        for base in stmt.bases:
            base_name = base.id if isinstance(base, ast.Name) else base.attr if isinstance(base, ast.Attribute) else ""
            if base_name == "AppConfig":
                attrs = {}
            elif base_name in known:
                attrs = dict(known[base_name])
            if attrs is not None:
                break
        if attrs is None:
            continue
        for item in stmt.body:
            if isinstance(item, ast.Assign) and len(item.targets) == 1 and isinstance(item.targets[0], ast.Name):
                target, value = item.targets[0].id, item.value
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value is not None:
                target, value = item.target.id, item.value
            else:
                continue
            if target in ("name", "label", "default") and isinstance(value, ast.Constant):
                attrs[target] = value.value
        known[stmt.name] = attrs
    return sorted(known.items())  # inspect.getmembers order


def _locate_app(repo: Path, roots: Sequence[Path], entry: str, migration_modules: Mapping[Any, Any]) -> DjangoApp:
    config: dict[str, Any] | None = None
    name = entry
    module = _find_module(roots, entry) or (
        (d / "__init__.py", True) if (d := _find_package_dir(roots, entry)) is not None else None
    )
    if module is not None:
        apps_py = module[0].parent / "apps.py" if module[1] else None
        if apps_py is not None and apps_py.is_file():
            configs = [(n, c) for n, c in _app_configs(apps_py) if c.get("default", True)]
            if len(configs) != 1:
                configs = [(n, c) for n, c in configs if c.get("default", False)]
            if len(configs) == 1:
                config = configs[0][1]
    else:
        mod_path, _, cls_name = entry.rpartition(".")
        found = _find_module(roots, mod_path) if mod_path else None
        if found is not None:
            config = dict(_app_configs(found[0])).get(cls_name)
        if config is None:
            # not in the repository: a Django contrib app or an installed package
            base = mod_path if cls_name[:1].isupper() else entry
            if base.endswith(".apps"):
                base = base[: -len(".apps")]
            return DjangoApp(entry=entry, label=base.rpartition(".")[2], name=base, state="external")
    if config is not None and isinstance(config.get("name"), str):
        name = config["name"]
    label = config["label"] if config is not None and isinstance(config.get("label"), str) else name.rpartition(".")[2]
    app_dir = _find_package_dir(roots, name)
    if app_dir is None:
        return DjangoApp(entry=entry, label=label, name=name, state="external")
    if label in migration_modules:
        mig_module = migration_modules[label]
        if not isinstance(mig_module, str):
            return DjangoApp(entry=entry, label=label, name=name, state="unmigrated", path=_rel(repo, app_dir))
    else:
        mig_module = f"{name}.migrations"
    mig_dir = _find_package_dir(roots, mig_module)
    if mig_dir is None or not (mig_dir / "__init__.py").is_file():
        # Django treats a missing module, a plain migrations.py and a namespace package alike: no migrations
        return DjangoApp(
            entry=entry,
            label=label,
            name=name,
            state="unmigrated",
            path=_rel(repo, app_dir),
            migrations_module=mig_module,
        )
    return DjangoApp(
        entry=entry,
        label=label,
        name=name,
        state="migrated",
        path=_rel(repo, app_dir),
        migrations_module=mig_module,
        migrations_dir=_rel(repo, mig_dir),
    )


_PIN = re.compile(r"^\s*django\s*(?:\[[^\]]*\])?\s*===?\s*([0-9][0-9A-Za-z.]*)", re.IGNORECASE | re.MULTILINE)
_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(?:(a|b|rc)(\d+))?$")


def _pinned_django_version(repo: Path, root: Path) -> str | None:
    """Django's version as `get_version()` prints it (5.2.0 → "5.2"), from an exact requirements pin."""
    candidates: list[Path] = []
    for base in dict.fromkeys([root, repo]):
        candidates += sorted(base.glob("requirements*.txt")) + sorted(base.glob("requirements/*.txt"))
        candidates += [base / "pyproject.toml", base / "setup.cfg", base / "Pipfile"]
    for path in candidates:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if path.name in ("pyproject.toml", "Pipfile"):
            text = "\n".join(s.strip("'\", ") for s in text.splitlines())
        match = _PIN.search(text)
        if match:
            return django_version_string(match.group(1))
    return None


def django_version_string(pin: str) -> str:
    """A pinned version in the form Django's own `get_version()` gives: "5.2.0" → "5.2", "5.2.19" stays."""
    m = _VERSION.match(pin)
    if not m:
        return pin
    major, minor, micro, pre, serial = m.groups()
    main = f"{major}.{minor}" if not micro or int(micro) == 0 else f"{major}.{minor}.{micro}"
    return main + (f"{pre}{serial}" if pre else "")


# ---------------------------------------------------------------------------------------------
# parsing migration files


def _migration_names(directory: Path) -> Iterator[tuple[str, os.DirEntry[str] | None]]:
    """The module names pkgutil.iter_modules finds in a migrations package, as Django filters them,
    with the source file's entry (None for a module that only exists compiled)."""
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return
    sources = {e.name: e for e in entries if e.name.endswith(".py")}
    seen: set[str] = set()
    for entry in entries:
        fn = entry.name
        if fn.endswith(".py"):  # the common case first; no other suffix ends like it
            modname: str | None = fn[:-3]
        else:
            modname = next((fn[: -len(s)] for s in _MODULE_SUFFIXES if fn.endswith(s)), None)
        if modname == "__init__" or (modname is not None and modname in seen):
            continue
        if modname is None:
            if "." not in fn and entry.is_dir() and any(f.startswith("__init__.") for f in os.listdir(entry.path)):
                seen.add(fn)  # a package: Django skips it, and a same-named module after it
            continue
        if "." in modname:
            continue
        seen.add(modname)
        if modname[0] in "_~":
            continue
        yield modname, sources.get(f"{modname}.py")


def _dep_value(node: ast.expr) -> list[Any] | None:
    """A dependency as [app, name, line], or ["__setting__", SETTING, line] for swappable ones."""
    if isinstance(node, ast.Tuple | ast.List) and len(node.elts) == 2:
        a, b = node.elts
        if (
            isinstance(a, ast.Constant)
            and isinstance(b, ast.Constant)
            and isinstance(a.value, str)
            and isinstance(b.value, str)
        ):
            return [a.value, b.value, node.lineno]
    if isinstance(node, ast.Call) and len(node.args) == 1:
        func = node.func
        fname = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if fname == "swappable_dependency":
            arg = node.args[0]
            if isinstance(arg, ast.Attribute):
                return ["__setting__", arg.attr, node.lineno]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                return [arg.value.split(".", 1)[0], "__first__", node.lineno]
    return None


def _parse_migration(data: bytes) -> dict[str, Any]:
    """What a migration file declares, as plain JSON data (the cache stores it as is)."""
    record: dict[str, Any] = {
        "line": None,
        "deps": [],
        "run_before": [],
        "replaces": [],
        "initial": None,
        "error": None,
        "dynamic": [],
    }
    try:
        tree = pyast.parse(data)
    except SyntaxError as exc:
        record["error"] = ["syntax-error", exc.msg, exc.lineno or 1]
        _salvage(data.decode("utf-8", "replace"), record)
        return record
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        record["error"] = ["unreadable", str(exc) or type(exc).__name__, 1]
        return record
    cls: ast.ClassDef | None = None
    bound = False
    for stmt in tree.body:
        if isinstance(stmt, ast.ClassDef) and stmt.name == "Migration":
            cls, bound = stmt, True
        elif isinstance(stmt, ast.Assign | ast.AnnAssign | ast.ImportFrom | ast.Import):
            targets = (
                [t for t in stmt.targets if isinstance(t, ast.Name)]
                if isinstance(stmt, ast.Assign)
                else [stmt.target]
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                else []
            )
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if isinstance(stmt, ast.ImportFrom | ast.Import):
                names = [a.asname or a.name for a in stmt.names]
            if "Migration" in names:
                cls, bound = None, True
    if cls is None:
        record["error"] = ["no-class" if not bound else "dynamic-class", "", 1]
        return record
    record["line"] = cls.lineno
    for item in cls.body:
        if isinstance(item, ast.Assign) and len(item.targets) == 1 and isinstance(item.targets[0], ast.Name):
            target, value, augment = item.targets[0].id, item.value, False
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value is not None:
            target, value, augment = item.target.id, item.value, False
        elif isinstance(item, ast.AugAssign) and isinstance(item.target, ast.Name):
            target, value, augment = item.target.id, item.value, True
        else:
            continue
        if target == "initial":
            record["initial"] = value.value if isinstance(value, ast.Constant) else True
        elif target in ("dependencies", "run_before", "replaces"):
            slot = "deps" if target == "dependencies" else target
            if not isinstance(value, ast.List | ast.Tuple):
                record["dynamic"].append([target, value.lineno])
                continue
            values = []
            for elt in value.elts:
                dep = _dep_value(elt)
                if dep is None or (dep[0] == "__setting__" and target != "dependencies"):
                    record["dynamic"].append([target, elt.lineno])
                else:
                    values.append(dep)
            record[slot] = record[slot] + values if augment else values
    return record


_SALVAGE_PAIR = re.compile(
    r"""\(\s*(['"])(\w+)\1\s*,\s*(['"])([^'"\n]+)\3\s*\)|swappable_dependency\(\s*settings\.(\w+)\s*\)"""
)


def _salvage(text: str, record: dict[str, Any]) -> None:
    """Read what a file that does not parse still says plainly, so one typo does not make its
    neighbours look like a conflict."""
    cls = re.search(r"^class\s+Migration\b", text, re.MULTILINE)
    if cls:
        record["line"] = text.count("\n", 0, cls.start()) + 1
    for attr, slot in (("dependencies", "deps"), ("run_before", "run_before"), ("replaces", "replaces")):
        m = re.search(rf"^\s*{attr}\s*=\s*[\[(]", text, re.MULTILINE)
        if not m:
            continue
        depth, end = 0, len(text)
        for i in range(m.end() - 1, len(text)):
            if text[i] in "[(":
                depth += 1
            elif text[i] in "])":
                depth -= 1
                if depth == 0:
                    end = i
                    break
        for pair in _SALVAGE_PAIR.finditer(text, m.end(), end):
            line = text.count("\n", 0, pair.start()) + 1
            if pair.group(5):
                if slot == "deps":
                    record[slot].append(["__setting__", pair.group(5), line])
            else:
                record[slot].append([pair.group(2), pair.group(4), line])
    record["salvaged"] = True


# ---------------------------------------------------------------------------------------------
# building the graph as Django's loader does


@dataclass(slots=True)
class _Disk:
    key: Key
    path: str
    record: dict[str, Any]


class _Builder:
    """Django's MigrationGraph operations on plain dicts: node sets keyed by (app, name)."""

    def __init__(self) -> None:
        self.nodes: dict[Key, None] = {}  # insertion-ordered, dummies included, like graph.nodes
        self.parents: dict[Key, set[Key]] = {}
        self.children: dict[Key, set[Key]] = {}
        self.dummy: dict[Key, str] = {}
        self.by_app: dict[str, list[Key]] = {}
        self._memo: dict[tuple[str, str], list[Key]] = {}

    def add_node(self, key: Key) -> None:
        self.nodes[key] = None
        self.parents.setdefault(key, set())
        self.children.setdefault(key, set())
        self.by_app.setdefault(key[0], []).append(key)
        self._forget(key[0])

    def _forget(self, app: str) -> None:
        self._memo.pop(("root", app), None)
        self._memo.pop(("leaf", app), None)

    def add_dependency(self, origin: Key, child: Key, parent: Key) -> None:
        for key, role in ((child, "child"), (parent, "parent")):
            if key not in self.nodes:
                self.add_node(key)
                self.dummy[key] = (
                    f"Migration {origin[0]}.{origin[1]} dependencies reference nonexistent {role} node {key!r}"
                )
        self.parents[child].add(parent)
        self.children[parent].add(child)
        if child[0] == parent[0]:
            self._forget(child[0])

    def ends(self, kind: str, app: str) -> list[Key]:
        """root_nodes(app) / leaf_nodes(app), remembered until the app's own edges change."""
        memo = self._memo.get((kind, app))
        if memo is None:
            links = self.parents if kind == "root" else self.children
            memo = sorted(k for k in self.by_app.get(app, ()) if k in self.nodes and all(o[0] != app for o in links[k]))
            self._memo[(kind, app)] = memo
        return memo

    def remove_replaced_nodes(self, replacement: Key, replaced: Iterable[Key]) -> None:
        gone = set(replaced)
        for key in gone:
            if key not in self.nodes:
                continue
            del self.nodes[key]
            self.dummy.pop(key, None)
            self.by_app[key[0]].remove(key)
            self._forget(key[0])
            for child in self.children.pop(key):
                self.parents[child].discard(key)
                if child not in gone:
                    self.children[replacement].add(child)
                    self.parents[child].add(replacement)
                    self._forget(child[0])
            for parent in self.parents.pop(key):
                self.children[parent].discard(key)
                if parent not in gone:
                    self.parents[replacement].add(parent)
                    self.children[parent].add(replacement)
                    self._forget(parent[0])
        self._forget(replacement[0])


def _read_disk(project: DjangoProject, cache: ParseCache) -> list[_Disk]:
    disk: list[_Disk] = []
    repo = project.repo
    for app in project.apps:
        if app.state != "migrated" or app.migrations_dir is None:
            continue
        directory = repo / app.migrations_dir
        for name, source in _migration_names(directory):
            rel = f"{app.migrations_dir}/{name}.py"
            if source is None:
                disk.append(_Disk((app.label, name), rel, {"error": ["no-source", "", None], "line": None}))
                continue
            try:
                st = source.stat()
                record = cache.get(source.path, st.st_mtime_ns, st.st_size)
                if not isinstance(record, dict) or "deps" not in record:
                    with open(source.path, "rb") as fh:
                        record = _parse_migration(fh.read())
                    cache.put(source.path, st.st_mtime_ns, st.st_size, record)
            except OSError as exc:
                record = {"error": ["unreadable", exc.strerror or str(exc), None], "line": None}
            disk.append(_Disk((app.label, name), rel, record))
    return disk


def _keys(items: Iterable[list[Any]]) -> tuple[Key, ...]:
    return tuple((str(i[0]), str(i[1])) for i in items)


def load_graph(project: DjangoProject, *, cache: bool = True) -> MigrationGraph:
    """The migration graph Django's loader builds for this project with an empty database.

    Files that cannot be read become `file_problems`; dependencies on nodes that do not exist
    become `missing`. Parsed files are cached (see `diagnostics.migrations.cache`) unless `cache=False`.
    """
    store = ParseCache("django", project.root_path, _PARSER_VERSION, enabled=cache)
    disk = _read_disk(project, store)
    store.save()

    labels = {a.label: a for a in project.apps}
    migrated = {a.label for a in project.apps if a.state == "migrated"}
    unmigrated = {a.label for a in project.apps if a.state == "unmigrated"}
    external = {a.label for a in project.apps if a.state == "external"}
    file_problems: list[Problem] = []
    broken: set[Key] = set()
    nodes: dict[Key, MigrationNode] = {}
    edge_lines: dict[tuple[Key, Key], tuple[str, int | None]] = {}
    unknown_apps: list[MissingDependency] = []

    def setting_dep(dep: list[Any]) -> list[Any] | None:
        if dep[0] != "__setting__":
            return dep
        value = project.settings.get(dep[1], "auth.User" if dep[1] == "AUTH_USER_MODEL" else None)
        if not isinstance(value, str):
            return None  # a swappable setting we cannot read: treat as external
        return [value.split(".", 1)[0], "__first__", dep[2]]

    for item in disk:
        rec = item.record
        error = rec.get("error")
        if error is not None:
            problem = _file_problem(item, error)
            file_problems.append(problem)
            if error[0] != "syntax-error":
                broken.add(item.key)
                continue
        for slot, line in rec.get("dynamic", []):
            file_problems.append(
                Problem(
                    "unreadable",
                    item.key[0],
                    f"Migration {item.key[0]}.{item.key[1]} computes its {slot} at line {line}; pitstop reads files "
                    "without running them, so that part of the graph is unknown.",
                    item.path,
                    line,
                    (item.key[1],),
                )
            )
        deps = [d for d in (setting_dep(d) for d in rec["deps"]) if d is not None]
        nodes[item.key] = MigrationNode(
            app_label=item.key[0],
            name=item.key[1],
            path=item.path,
            line=rec.get("line"),
            dependencies=_keys(deps),
            run_before=_keys(rec["run_before"]),
            replaces=_keys(rec["replaces"]),
            initial=rec.get("initial"),
        )
        for d in deps:
            edge_lines[(item.key, (d[0], d[1]))] = (item.path, d[2])
        for d in rec["run_before"]:
            edge_lines[((d[0], d[1]), item.key)] = (item.path, d[2])

    b = _Builder()
    for key in nodes:
        b.add_node(key)
    for key, node in nodes.items():  # internal dependencies first, so __first__ finds the right root
        for parent in node.dependencies:
            if parent[0] == key[0] and parent[1] != "__first__":
                b.add_dependency(key, key, parent)

    def check_key(dep: Key, current_app: str, origin: Key, relation: Literal["parent", "child"]) -> Key | None:
        if dep[1] not in _FIRST_LATEST or dep in b.nodes:
            return dep
        if dep[0] == current_app or dep[0] in unmigrated:
            return None
        if dep[0] in migrated:
            ends = b.ends("root" if dep[1] == "__first__" else "leaf", dep[0])
            return ends[0] if ends else None
        if dep[0] not in external and project.installed_apps_exact:
            line = edge_lines.get((origin, dep) if relation == "parent" else (dep, origin), (nodes[origin].path, None))
            unknown_apps.append(MissingDependency(origin, dep, relation, line[0], line[1]))
        return None

    def counts(target: Key) -> bool:
        """Dependencies on apps whose migrations we cannot see are taken as satisfied."""
        if target[0] in migrated or target[0] in unmigrated:
            return True
        return target[0] not in external and project.installed_apps_exact and target[0] not in labels

    for key, node in nodes.items():
        for parent in node.dependencies:
            if parent[0] == key[0]:
                continue
            resolved = check_key(parent, key[0], key, "parent")
            if resolved is not None and counts(resolved):
                b.add_dependency(key, key, resolved)
                if resolved != parent and (key, parent) in edge_lines:
                    edge_lines[(key, resolved)] = edge_lines[(key, parent)]
        for child in node.run_before:
            resolved = check_key(child, key[0], key, "child")
            if resolved is not None and counts(resolved):
                b.add_dependency(key, resolved, key)
                if resolved != child and (child, key) in edge_lines:
                    edge_lines[(resolved, key)] = edge_lines[(child, key)]

    replaced_by: dict[Key, Key] = {}
    for key in _replacement_order(nodes):
        if key not in b.nodes:
            continue
        for target in nodes[key].replaces:
            if target in nodes:
                replaced_by[target] = key
        b.remove_replaced_nodes(key, nodes[key].replaces)

    missing: list[MissingDependency] = list(unknown_apps)
    for key, node in nodes.items():
        if key not in b.nodes:
            continue
        for parent in node.dependencies:
            target = parent
            if parent[0] != key[0] and parent[1] in _FIRST_LATEST:
                continue  # resolved (or dropped) by check_key
            if target in b.dummy and target not in broken:
                path, line = edge_lines.get((key, parent), (node.path, node.line))
                missing.append(MissingDependency(key, target, "parent", path, line))
        for child in node.run_before:
            if child in b.dummy and child not in broken:
                path, line = edge_lines.get((child, key), (node.path, node.line))
                missing.append(MissingDependency(key, child, "child", path, line))

    real = {k: nodes[k] for k in b.nodes if k in nodes}
    return MigrationGraph(
        project=project,
        nodes=real,
        parents={k: frozenset(p for p in b.parents[k] if p in real) for k in real},
        children={k: frozenset(c for c in b.children[k] if c in real) for k in real},
        replaced=replaced_by,
        missing=tuple(missing),
        file_problems=tuple(file_problems),
        edge_lines=edge_lines,
    )


def _replacement_order(nodes: Mapping[Key, MigrationNode]) -> list[Key]:
    """Squashes in loader order, except that a squash another squash replaces comes first
    (Django's order there depends on set iteration and can fail; this is the order that works)."""
    squashes = [k for k, n in nodes.items() if n.replaces]
    inner = {t for k in squashes for t in nodes[k].replaces}
    return [k for k in squashes if k in inner] + [k for k in squashes if k not in inner]


def _file_problem(item: _Disk, error: list[Any]) -> Problem:
    app, name = item.key
    kind, detail, line = error
    if kind == "syntax-error":
        return Problem(
            "syntax-error",
            app,
            f"Migration {app}.{name} has a syntax error at line {line}: {detail}. Django cannot import it, "
            "so migrate and makemigrations stop there.",
            item.path,
            line,
            (name,),
        )
    if kind == "no-class":
        message = f"Migration {name} in app {app} has no Migration class"
    elif kind == "dynamic-class":
        message = (
            f"Migration {app}.{name} gets its Migration class from elsewhere; pitstop reads files "
            "without running them, so its dependencies are unknown."
        )
    elif kind == "no-source":
        message = f"Migration {app}.{name} exists only compiled, without a .py file to read."
    else:
        message = f"Migration {app}.{name} could not be read: {detail}."
    return Problem("unreadable", app, message, item.path, line, (name,))


# ---------------------------------------------------------------------------------------------
# problems


def conflict_error(conflicts: Mapping[str, Sequence[str]]) -> str:
    """The CommandError text `migrate` and `makemigrations` print for these conflicts.

    Django orders several apps by set iteration, which varies between runs; this orders them by label.
    """
    names = "; ".join(f"{', '.join(leaves)} in {app}" for app, leaves in sorted(conflicts.items()))
    return (
        f"Conflicting migrations detected; multiple leaf nodes in the migration graph: ({names}).\n"
        "To fix them run 'python manage.py makemigrations --merge'"
    )


def _tree_stamp(project: DjangoProject) -> str:
    """A digest of everything the analysis reads: the project as its settings describe it, and each
    migrations directory's entries with their mtimes and sizes."""
    import hashlib

    digest = hashlib.sha256(
        repr((project.apps, project.installed_apps_exact, sorted(project.settings.items()))).encode()
    )
    for app in project.apps:
        if app.migrations_dir is None:
            continue
        try:
            entries = sorted(os.scandir(project.repo / app.migrations_dir), key=lambda e: e.name)
        except OSError:
            digest.update(b"\0missing")
            continue
        for entry in entries:
            try:
                st = entry.stat()
            except OSError:
                continue
            digest.update(f"{app.label}/{entry.name}\0{st.st_mtime_ns}\0{st.st_size}\0{entry.is_dir()}\n".encode())
    return digest.hexdigest()


def analyze(project: DjangoProject, *, graph: MigrationGraph | None = None, cache: bool = True) -> list[Problem]:
    """Everything that would stop `migrate`: unreadable files, missing dependencies, cycles, conflicts.

    With the cache on, a tree that is unchanged since it was last found clean is answered from a
    digest of its directory entries, without parsing or building the graph.
    """
    if graph is not None or not cache:
        return _problems(project, graph if graph is not None else load_graph(project, cache=False))
    store = ParseCache("django", project.root_path, _PARSER_VERSION)
    stamp = _tree_stamp(project)
    if store.is_clean(stamp):
        return []
    problems = _problems(project, load_graph(project))
    store.mark_clean(None if problems else stamp)
    return problems


def _problems(project: DjangoProject, graph: MigrationGraph) -> list[Problem]:
    problems = list(graph.file_problems)
    for m in graph.missing:
        if (
            m.target[1] in _FIRST_LATEST
            and m.target not in graph.nodes
            and m.target[0] not in {a.label for a in project.apps}
        ):
            message = f"Dependency on unknown app: {m.target[0]}"
        else:
            message = (
                f"Migration {m.origin[0]}.{m.origin[1]} dependencies reference nonexistent "
                f"{m.relation} node {m.target!r}"
            )
        problems.append(
            Problem("missing-dependency", m.origin[0], message, m.path, m.line, (m.target[0], m.target[1], m.relation))
        )
    problems += _cycles(graph)
    conflicts = graph.conflicts()
    if conflicts:
        from diagnostics.findings import Location
    for app, leaves in sorted(conflicts.items()):
        locations = tuple(Location(graph.nodes[(app, n)].path, graph.nodes[(app, n)].line) for n in leaves)
        last = locations[-1]
        problems.append(
            Problem(
                "conflict",
                app,
                conflict_error({app: leaves}).split("\n", 1)[0],
                last.path,
                last.line,
                tuple(leaves),
                locations,
            )
        )
    return problems


def _cycles(graph: MigrationGraph) -> list[Problem]:
    # Kahn's algorithm on dicts first: networkx is only worth importing when there is a cycle
    indegree = {k: len(p) for k, p in graph.parents.items()}
    ready = [k for k, n in indegree.items() if n == 0]
    done = 0
    while ready:
        key = ready.pop()
        done += 1
        for child in graph.children[key]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if done == len(indegree):
        return []
    from diagnostics.findings import Location

    nx = networkx()
    g = graph.to_networkx()
    problems = []
    components = [c for c in nx.strongly_connected_components(g) if len(c) > 1 or g.has_edge(*(2 * list(c)))]
    for component in sorted(components, key=min):
        start = min(component)
        edges = nx.find_cycle(g.subgraph(component), source=start)
        order = [edge[0] for edge in edges]  # parent → child, so each migration is followed by one depending on it
        members = [f"{a}.{n}" for a, n in order]
        locations = []
        for i, key in enumerate(order):
            child = order[(i + 1) % len(order)]
            path, line = graph.edge_lines.get((child, key), (graph.nodes[child].path, graph.nodes[child].line))
            locations.append(Location(path, line))
        problems.append(
            Problem(
                "cycle",
                order[0][0],
                f"Circular dependency between migrations: {', '.join([*members, members[0]])}. "
                f"Django stops with CircularDependencyError.",
                locations[0].path,
                locations[0].line,
                tuple(members),
                tuple(locations),
            )
        )
    return problems


# ---------------------------------------------------------------------------------------------
# merge migrations


def parse_number(name: str) -> int | None:
    """The number a migration name starts with; for a squash (`0001_squashed_0004_x`) the second one."""
    if squashed := re.search(r".*_squashed_(\d+)", name):
        return int(squashed[1])
    match = re.match(r"^\d+", name)
    return int(match[0]) if match else None


def merge_migration(
    project: DjangoProject,
    app_label: str,
    leaves: Sequence[str] | None = None,
    *,
    now: datetime | None = None,
    graph: MigrationGraph | None = None,
    django_version: str | None = None,
) -> tuple[str, str]:
    """(path relative to the repository, file text) of the merge migration
    `python manage.py makemigrations --merge --noinput` writes for `app_label`'s leaves.

    The name is `NNNN_merge_<leaves>`, or `NNNN_merge_<YYYYMMDD_HHMM>` (local time) when the leaf names
    joined pass 47 characters; the header carries the pinned Django version and `now` (UTC when
    USE_TZ, Django's default). Raises ValueError when the leaves share no ancestor, as Django does.
    """
    graph = graph if graph is not None else load_graph(project)
    app = project.app(app_label)
    if app is None or app.migrations_dir is None:
        raise ValueError(f"App {app_label!r} has no migrations package in the repository.")
    names = sorted(leaves) if leaves is not None else graph.conflicts().get(app_label, [])
    if len(names) < 2:
        raise ValueError(f"App {app_label!r} has no conflicting leaves to merge.")
    for name in names:
        if (app_label, name) not in graph.nodes:
            raise ValueError(f"Migration {app_label}.{name} is not in the migration graph.")
    ancestries = [[k for k in graph.forwards_plan((app_label, n)) if k[0] == app_label] for n in names]
    common = 0
    for generation in zip(*ancestries, strict=False):
        if not all(item == generation[0] for item in generation[1:]):
            break
        common += 1
    if not common:
        raise ValueError(f"Could not find common ancestor of {names}")

    moment = now if now is not None else datetime.now().astimezone()
    numbers = [n for n in (parse_number(name) for name in names) if n is not None]
    biggest = max(numbers) if numbers else 1
    leaf_names = "_".join(names)
    suffix = moment.astimezone().strftime("%Y%m%d_%H%M") if len(leaf_names) > 47 else leaf_names
    migration_name = f"{biggest + 1:04d}_merge_{suffix}"
    use_tz = project.settings.get("USE_TZ", True)
    stamp = moment.astimezone(UTC) if use_tz else moment.astimezone()
    version = django_version or project.django_version or DEFAULT_DJANGO_VERSION
    dependencies = sorted(f"        ({app_label!r}, {name!r})," for name in names)
    text = (
        f"# Generated by Django {version} on {stamp.strftime('%Y-%m-%d %H:%M')}\n"
        "\n"
        "from django.db import migrations\n"
        "\n"
        "\n"
        "class Migration(migrations.Migration):\n"
        "\n"
        "    dependencies = [\n" + "".join(f"{d}\n" for d in dependencies) + "    ]\n"
        "\n"
        "    operations = [\n"
        "    ]\n"
    )
    return f"{app.migrations_dir}/{migration_name}.py", text
