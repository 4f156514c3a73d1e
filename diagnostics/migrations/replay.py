"""Django migrations replayed statically and compared with the models: fields no migration adds.

Each app's migrations are read with `ast` (never imported) and their operations replayed in graph
order — CreateModel, AddField, RemoveField, RenameField, AlterField, DeleteModel, RenameModel, and
the state operations of SeparateDatabaseAndState and RunSQL — into the fields each model has after
the last migration. The model classes of the app's `models.py` (or `models/` package) are read the
same way: `name = models.XField(...)` in class bodies, fields of abstract bases merged in, proxy and
unmanaged models left out. What `makemigrations` would write is then the difference:

- a field the model declares that no migration adds (`missing_fields`, the I8 incident),
- a field the migrations add that the model no longer declares (`stale_fields`: a RemoveField is missing),
- a model no migration creates (`missing_models`), and one the migrations create that is gone
  (`stale_models`).

`add_field_migration` writes the migration `makemigrations` would for the missing fields: named
`NNNN_<model>_<field>[_...]` as Django's `Migration.suggest_name` does, depending on the app's leaf,
with each field copied from the model source and its names made importable from a migration
(`Organization` → `'tenants.organization'`, `timezone.now` → `django.utils.timezone.now`, a nested
`Role.choices` → the list of choices).

The surprising parts:

- Only field names are compared, not definitions: an AlterField that was never written is not found.
- RunPython and RunSQL are not replayed (their `state_operations` are); they are listed so a reader
  can tell when SQL may have added a column that the state does not know about.
- A model inheriting from a base pitstop cannot read (`AbstractUser`, a third-party mixin) may have
  more fields than it declares, so migration fields it does not declare are not reported for it.
"""

from __future__ import annotations

import ast
import builtins
import copy
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from diagnostics import pyast
from diagnostics.migrations.cache import ParseCache
from diagnostics.migrations.django import (
    DEFAULT_DJANGO_VERSION,
    DjangoApp,
    DjangoProject,
    Key,
    MigrationGraph,
    load_graph,
    parse_number,
)

_PARSER_VERSION = "django-replay-1"
_RELATION_FIELDS = ("ForeignKey", "OneToOneField", "ManyToManyField", "ForeignObject")
# private fields: on the model, never in a migration
_NOT_MIGRATED = ("GenericForeignKey", "GenericRelation")
_CHOICES_BASES = ("TextChoices", "IntegerChoices", "Choices")
_GETTEXT = ("gettext", "gettext_lazy", "ugettext", "ugettext_lazy", "pgettext", "pgettext_lazy")


# ---------------------------------------------------------------------------------------------
# data


@dataclass(frozen=True, slots=True)
class Place:
    """A line of a repository file (relative path)."""

    path: str
    line: int | None


@dataclass(frozen=True, slots=True)
class StateField:
    """A field as the migrations leave it, and the operation that last put it there."""

    name: str
    at: Place
    auto_created: bool = False  # the implicit `id`, a multi-table parent link


@dataclass(frozen=True, slots=True)
class StateModel:
    name: str  # as CreateModel (or RenameModel) spelled it
    at: Place  # the CreateModel
    fields: Mapping[str, StateField]
    proxy: bool = False
    managed: bool = True


@dataclass(frozen=True, slots=True)
class NotReplayed:
    """An operation that can change the database without telling the migration state."""

    operation: str  # RunPython, RunSQL
    at: Place


@dataclass(frozen=True, slots=True)
class ModelField:
    """`name = models.XField(...)` in a model class (or in an abstract base it inherits from)."""

    name: str
    at: Place
    kind: str  # the field class's name: CharField, ForeignKey
    source: str  # the expression as written, one line
    owner: str  # the class whose body declares it (an abstract base for inherited fields)
    module: str  # the dotted module of that class
    expr: ast.Call = field(compare=False, hash=False, repr=False)

    @property
    def is_relation(self) -> bool:
        return self.kind in _RELATION_FIELDS or self.kind == "ParentalKey"


@dataclass(frozen=True, slots=True)
class ModelClass:
    name: str
    at: Place
    module: str
    fields: tuple[ModelField, ...]
    abstract: bool = False
    proxy: bool = False
    managed: bool = True
    open: bool = False  # inherits from a base pitstop cannot read: it may have fields it does not declare
    assigned: frozenset[str] = frozenset()  # every name its body (and its bases' bodies) assigns
    db_table: str | None = None

    @property
    def checked(self) -> bool:
        """Whether makemigrations writes schema operations for it (proxies and unmanaged models are not)."""
        return not self.abstract and not self.proxy and self.managed


@dataclass(frozen=True, slots=True)
class MissingField:
    model: ModelClass
    field: ModelField


@dataclass(frozen=True, slots=True)
class StaleField:
    model: ModelClass
    field: StateField


@dataclass(frozen=True, slots=True)
class AppDrift:
    """What makemigrations would find for one app, or why it could not be checked (`problems`)."""

    app: DjangoApp
    leaves: tuple[str, ...] = ()
    migrations: int = 0  # replayed
    missing_fields: tuple[MissingField, ...] = ()
    stale_fields: tuple[StaleField, ...] = ()
    missing_models: tuple[ModelClass, ...] = ()
    stale_models: tuple[StateModel, ...] = ()
    not_replayed: tuple[NotReplayed, ...] = ()
    problems: tuple[tuple[str, str, int | None], ...] = ()  # (path, "could not check PATH: why", line)
    state: Mapping[str, StateModel] = field(default_factory=dict, compare=False, hash=False)
    models: tuple[ModelClass, ...] = field(default=(), compare=False, hash=False)
    sources: Mapping[str, _Module] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def drifted(self) -> bool:
        return bool(self.missing_fields or self.stale_fields or self.missing_models or self.stale_models)


class ReplayError(ValueError):
    """A file that cannot be read statically; the message is one sentence naming it."""

    def __init__(self, path: str, why: str, line: int | None = None) -> None:
        super().__init__(f"could not check {path}: {why}")
        self.path, self.line = path, line


# ---------------------------------------------------------------------------------------------
# reading migration operations


def _const_str(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _callee(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _args(call: ast.Call, names: Sequence[str]) -> dict[str, ast.expr]:
    """A call's arguments by parameter name, positional ones matched to `names` in order."""
    out: dict[str, ast.expr] = {}
    for name, arg in zip(names, call.args, strict=False):
        if isinstance(arg, ast.Starred):
            break
        out[name] = arg
    for kw in call.keywords:
        if kw.arg is not None:
            out[kw.arg] = kw.value
    return out


def _is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


class _OpError(Exception):
    def __init__(self, line: int, why: str) -> None:
        super().__init__(why)
        self.line = line


def _need_str(node: ast.expr | None, what: str, call: ast.Call) -> str:
    value = _const_str(node)
    if value is None:
        line = node.lineno if node is not None else call.lineno
        raise _OpError(line, f"the {what} of {_callee(call.func)} at line {line} is not a plain string")
    return value


def _option_flags(node: ast.expr | None) -> dict[str, bool]:
    flags: dict[str, bool] = {}
    if isinstance(node, ast.Dict):
        for k, v in zip(node.keys, node.values, strict=True):
            key = _const_str(k) if k is not None else None
            if key in ("proxy", "managed") and isinstance(v, ast.Constant) and isinstance(v.value, bool):
                flags[key] = v.value
    return flags


def _operation(call: ast.Call) -> list[dict[str, Any]]:
    """One operation call as JSON records (several for SeparateDatabaseAndState)."""
    op = _callee(call.func)
    line = call.lineno
    if op == "CreateModel":
        a = _args(call, ("name", "fields", "options", "bases", "managers"))
        fields = a.get("fields")
        if not isinstance(fields, ast.List | ast.Tuple):
            raise _OpError(line, f"the fields of CreateModel at line {line} are not a literal list")
        out_fields = []
        for item in fields.elts:
            if not (isinstance(item, ast.Tuple | ast.List) and len(item.elts) == 2):
                raise _OpError(item.lineno, f"a field of CreateModel at line {item.lineno} is not a (name, field) pair")
            fname = _need_str(item.elts[0], "field name", call)
            fexpr = item.elts[1]
            auto = isinstance(fexpr, ast.Call) and _is_true(_args(fexpr, ()).get("auto_created"))
            out_fields.append([fname, item.lineno, auto])
        flags = _option_flags(a.get("options"))
        return [
            {
                "op": op,
                "line": line,
                "name": _need_str(a.get("name"), "name", call),
                "fields": out_fields,
                "proxy": flags.get("proxy", False),
                "managed": flags.get("managed", True),
            }
        ]
    if op == "DeleteModel":
        return [{"op": op, "line": line, "name": _need_str(_args(call, ("name",)).get("name"), "name", call)}]
    if op == "RenameModel":
        a = _args(call, ("old_name", "new_name"))
        return [
            {
                "op": op,
                "line": line,
                "old": _need_str(a.get("old_name"), "old name", call),
                "new": _need_str(a.get("new_name"), "new name", call),
            }
        ]
    if op == "AlterModelOptions":
        a = _args(call, ("name", "options"))
        return [
            {"op": op, "line": line, "name": _need_str(a.get("name"), "name", call), **_option_flags(a.get("options"))}
        ]
    if op in ("AddField", "AlterField"):
        a = _args(call, ("model_name", "name", "field", "preserve_default"))
        given = a.get("field")
        auto = isinstance(given, ast.Call) and _is_true(_args(given, ()).get("auto_created"))
        return [
            {
                "op": op,
                "line": line,
                "model": _need_str(a.get("model_name"), "model name", call),
                "name": _need_str(a.get("name"), "field name", call),
                "auto": auto,
            }
        ]
    if op == "RemoveField":
        a = _args(call, ("model_name", "name"))
        return [
            {
                "op": op,
                "line": line,
                "model": _need_str(a.get("model_name"), "model name", call),
                "name": _need_str(a.get("name"), "field name", call),
            }
        ]
    if op == "RenameField":
        a = _args(call, ("model_name", "old_name", "new_name"))
        return [
            {
                "op": op,
                "line": line,
                "model": _need_str(a.get("model_name"), "model name", call),
                "old": _need_str(a.get("old_name"), "old name", call),
                "new": _need_str(a.get("new_name"), "new name", call),
            }
        ]
    if op in ("SeparateDatabaseAndState", "RunSQL"):
        names = (
            ("database_operations", "state_operations")
            if op != "RunSQL"
            else ("sql", "reverse_sql", "state_operations")
        )
        a = _args(call, names)
        state = a.get("state_operations")
        out = [] if op != "RunSQL" else [{"op": op, "line": line}]
        return out + (_operation_list(state) if state is not None else [])
    if op == "RunPython":
        return [{"op": op, "line": line}]
    return []  # indexes, constraints, options: they do not change which fields exist


def _operation_list(node: ast.expr) -> list[dict[str, Any]]:
    if not isinstance(node, ast.List | ast.Tuple):
        raise _OpError(node.lineno, f"the operations at line {node.lineno} are not a literal list")
    out: list[dict[str, Any]] = []
    for item in node.elts:
        if not isinstance(item, ast.Call):
            raise _OpError(item.lineno, f"the operation at line {item.lineno} is not a call pitstop can read")
        out += _operation(item)
    return out


def parse_operations(data: bytes) -> dict[str, Any]:
    """The operations a migration file declares, as plain JSON data: `{"ops": [...]}` or
    `{"error": [line, why]}` when they cannot be read without running the file."""
    try:
        tree = pyast.parse(data)
    except SyntaxError as exc:
        return {"error": [exc.lineno or 1, f"{exc.msg} at line {exc.lineno or 1}"]}
    except (ValueError, RecursionError, MemoryError) as exc:
        return {"error": [1, str(exc) or type(exc).__name__]}
    cls = next((s for s in tree.body if isinstance(s, ast.ClassDef) and s.name == "Migration"), None)
    if cls is None:
        return {"error": [1, "it has no Migration class"]}
    ops: list[dict[str, Any]] = []
    try:
        for item in cls.body:
            if isinstance(item, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "operations" for t in item.targets
            ):
                ops = _operation_list(item.value)
            elif (
                isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.target.id == "operations"
            ):
                ops = _operation_list(item.value) if item.value is not None else []
            elif (
                isinstance(item, ast.AugAssign) and isinstance(item.target, ast.Name) and item.target.id == "operations"
            ):
                ops += _operation_list(item.value)
    except _OpError as exc:
        return {"error": [exc.line, str(exc)]}
    except RecursionError:
        return {"error": [cls.lineno, "it nests too deeply to read"]}
    return {"ops": ops}


def _app_order(graph: MigrationGraph, app: str) -> list[Key] | None:
    """The app's migrations in an order Django could apply them (Kahn's algorithm, ties by name);
    None when they depend on each other in a cycle."""
    nodes = sorted(k for k in graph.nodes if k[0] == app)
    indegree = {k: sum(1 for p in graph.parents.get(k, ()) if p[0] == app) for k in nodes}
    ready = sorted(k for k, n in indegree.items() if n == 0)
    order: list[Key] = []
    while ready:
        key = ready.pop(0)
        order.append(key)
        for child in sorted(graph.children.get(key, ())):
            if child[0] != app:
                continue
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
                ready.sort()
    return order if len(order) == len(nodes) else None


@dataclass
class _Model:
    name: str
    at: Place
    fields: dict[str, StateField]
    proxy: bool
    managed: bool


def replay(
    project: DjangoProject, graph: MigrationGraph, app: DjangoApp, *, cache: ParseCache | None = None
) -> tuple[dict[str, StateModel], list[NotReplayed], int]:
    """The models (by lower-case name) the app's migrations leave, the RunPython/RunSQL operations
    that were not replayed, and how many migrations were replayed. Raises ReplayError."""
    order = _app_order(graph, app.label)
    if order is None:
        where = app.migrations_dir or app.label
        raise ReplayError(where, "its migrations depend on each other in a cycle; fix that first (migration-conflict)")
    state: dict[str, _Model] = {}
    noted: list[NotReplayed] = []
    for key in order:
        node = graph.nodes[key]
        record = _read_ops(project.repo / node.path, cache)
        if "error" in record:
            raise ReplayError(node.path, str(record["error"][1]), record["error"][0])
        for op in record["ops"]:
            _apply(state, op, Place(node.path, op["line"]), noted)
    models = {k: StateModel(m.name, m.at, dict(m.fields), proxy=m.proxy, managed=m.managed) for k, m in state.items()}
    return models, noted, len(order)


def _read_ops(path: Path, cache: ParseCache | None) -> dict[str, Any]:
    try:
        st = path.stat()
        record = cache.get(str(path), st.st_mtime_ns, st.st_size) if cache is not None else None
        if not isinstance(record, dict) or not ("ops" in record or "error" in record):
            record = parse_operations(path.read_bytes())
            if cache is not None:
                cache.put(str(path), st.st_mtime_ns, st.st_size, record)
    except OSError as exc:
        return {"error": [None, exc.strerror or str(exc)]}
    return record


def _apply(state: dict[str, _Model], op: dict[str, Any], at: Place, noted: list[NotReplayed]) -> None:
    kind = op["op"]
    if kind in ("RunPython", "RunSQL"):
        noted.append(NotReplayed(kind, at))
    elif kind == "CreateModel":
        fields = {name: StateField(name, Place(at.path, line), bool(auto)) for name, line, auto in op["fields"]}
        state[op["name"].lower()] = _Model(op["name"], at, fields, op["proxy"], op["managed"])
    elif kind == "DeleteModel":
        state.pop(op["name"].lower(), None)
    elif kind == "RenameModel":
        model = state.pop(op["old"].lower(), None)
        if model is not None:
            model.name = op["new"]
            state[op["new"].lower()] = model
    elif kind == "AlterModelOptions":
        model = state.get(op["name"].lower())
        if model is not None:
            model.proxy = op.get("proxy", model.proxy)
            model.managed = op.get("managed", model.managed)
    else:
        model = state.get(op["model"].lower())
        if model is None:
            return  # Django would stop here with a KeyError; migration-conflict is not the place, nor is this
        if kind in ("AddField", "AlterField"):
            model.fields[op["name"]] = StateField(op["name"], at, bool(op.get("auto")))
        elif kind == "RemoveField":
            model.fields.pop(op["name"], None)
        elif kind == "RenameField":
            old = model.fields.pop(op["old"], None)
            if old is not None:
                model.fields[op["new"]] = StateField(op["new"], at, old.auto_created)


# ---------------------------------------------------------------------------------------------
# reading the models


@dataclass
class _Module:
    """One parsed models module: what its names are bound to."""

    name: str  # dotted
    path: str  # relative to the repository
    tree: ast.Module
    text: str
    imports: dict[str, str] = field(default_factory=dict)  # local name → dotted target
    star: bool = False  # `from x import *`: names may come from anywhere
    top: dict[str, ast.stmt] = field(default_factory=dict)  # top-level def/class/assign by name


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def _load_module(project: DjangoProject, dotted: str, path: Path) -> _Module:
    rel = path.relative_to(project.repo).as_posix() if path.is_relative_to(project.repo) else path.as_posix()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReplayError(rel, exc.strerror or str(exc)) from exc
    try:
        tree = pyast.parse(data, filename=rel)
    except SyntaxError as exc:
        raise ReplayError(rel, f"{exc.msg} at line {exc.lineno or 1}", exc.lineno or 1) from exc
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ReplayError(rel, str(exc) or type(exc).__name__) from exc
    mod = _Module(dotted, rel, tree, data.decode("utf-8", "replace"))
    is_package = path.name == "__init__.py"
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    mod.imports[alias.asname] = alias.name
                else:
                    first = alias.name.partition(".")[0]
                    mod.imports[first] = first
        elif isinstance(stmt, ast.ImportFrom):
            source = _resolve_relative(dotted, is_package, stmt.level, stmt.module) if stmt.level else stmt.module or ""
            for alias in stmt.names:
                if alias.name == "*":
                    mod.star = True
                else:
                    mod.imports[alias.asname or alias.name] = f"{source}.{alias.name}"
        elif isinstance(stmt, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            mod.top[stmt.name] = stmt
            mod.imports.pop(stmt.name, None)
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    mod.top[target.id] = stmt
                    mod.imports.pop(target.id, None)
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
            mod.top[stmt.target.id] = stmt
    return mod


def _module_path(project: DjangoProject, dotted: str) -> Path | None:
    """The file of a module inside one of the project's apps (`tenants.models` → tenants/models.py)."""
    for app in project.apps:
        if app.path is None or not (dotted == app.name or dotted.startswith(app.name + ".")):
            continue
        rest = dotted[len(app.name) :].lstrip(".").split(".") if dotted != app.name else []
        base = project.repo / app.path
        target = base.joinpath(*rest) if rest else base
        if (target / "__init__.py").is_file():
            return target / "__init__.py"
        candidate = target.with_name(target.name + ".py")
        if rest and candidate.is_file():
            return candidate
    return None


def _is_models_module(target: str) -> bool:
    return target == "django.db.models"


def _dotted(node: ast.expr) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


class _ModelsReader:
    """Model classes of the project's models modules, bases followed across the project's apps."""

    def __init__(self, project: DjangoProject) -> None:
        self.project = project
        self.modules: dict[str, _Module] = {}
        self.classes: dict[tuple[str, str], ModelClass | None] = {}  # None: not a model
        self.visiting: set[tuple[str, str]] = set()

    def module(self, dotted: str) -> _Module | None:
        if dotted in self.modules:
            return self.modules[dotted]
        path = _module_path(self.project, dotted)
        if path is None:
            return None
        mod = _load_module(self.project, dotted, path)
        self.modules[dotted] = mod
        return mod

    def _field_call(self, mod: _Module, value: ast.expr) -> tuple[str, ast.Call] | None:
        """(field class name, call) when `value` constructs a model field."""
        if not isinstance(value, ast.Call):
            return None
        parts = _dotted(value.func)
        if parts is None:
            return None
        name = parts[-1]
        root = mod.imports.get(parts[0], "")
        from_models = (len(parts) == 2 and _is_models_module(root)) or (
            len(parts) == 1 and root.rpartition(".")[0] == "django.db.models"
        )
        if name in _NOT_MIGRATED:
            return None
        if from_models and (name.endswith("Field") or name in _RELATION_FIELDS):
            return name, value
        if name.endswith("Field") or name in _RELATION_FIELDS or name == "ParentalKey":
            return name, value  # a custom or third-party field class
        return None

    def _base(self, mod: _Module, node: ast.expr) -> tuple[str, ModelClass | None] | None:
        """What a base class is: ("root", None) for models.Model, ("model", cls) for a model pitstop read,
        ("other", None) for a plain class it read, None for one it cannot read."""
        parts = _dotted(node)
        if parts is None:
            return None
        if parts[-1] == "Model" and (
            (len(parts) == 2 and _is_models_module(mod.imports.get(parts[0], "")))
            or (len(parts) == 1 and mod.imports.get("Model") == "django.db.models.Model")
        ):
            return "root", None
        if len(parts) == 1 and parts[0] in mod.top:
            cls = self.model(mod, parts[0])
            return ("model", cls) if cls is not None else ("other", None)
        target = mod.imports.get(parts[0])
        if target is None:
            return None
        dotted = ".".join([target, *parts[1:]])
        owner, _, cls_name = dotted.rpartition(".")
        other = self.module(owner) if owner else None
        if other is None or cls_name not in other.top:
            return None
        cls = self.model(other, cls_name)
        return ("model", cls) if cls is not None else ("other", None)

    def model(self, mod: _Module, name: str) -> ModelClass | None:
        key = (mod.name, name)
        if key in self.classes:
            return self.classes[key]
        stmt = mod.top.get(name)
        if not isinstance(stmt, ast.ClassDef) or key in self.visiting:
            return None
        self.visiting.add(key)
        try:
            result = self._read_class(mod, stmt)
        finally:
            self.visiting.discard(key)
        self.classes[key] = result
        return result

    def _read_class(self, mod: _Module, stmt: ast.ClassDef) -> ModelClass | None:
        is_model = False
        open_ = False
        inherited: dict[str, ModelField] = {}
        assigned: set[str] = set()
        for base in stmt.bases:
            kind = self._base(mod, base)
            if kind is None:
                open_ = True
            elif kind[0] == "root":
                is_model = True
            elif kind[0] == "model" and kind[1] is not None:
                is_model = True
                parent = kind[1]
                open_ = open_ or parent.open
                assigned |= parent.assigned
                if parent.abstract:
                    for f in parent.fields:
                        inherited.setdefault(f.name, f)
        own: dict[str, ModelField] = {}
        removed: set[str] = set()
        meta: dict[str, Any] = {}
        for item in stmt.body:
            targets: list[ast.expr] = []
            value: ast.expr | None = None
            if isinstance(item, ast.Assign):
                targets, value = item.targets, item.value
            elif isinstance(item, ast.AnnAssign) and item.value is not None:
                targets, value = [item.target], item.value
            elif isinstance(item, ast.ClassDef) and item.name == "Meta":
                meta = _meta(item)
                continue
            elif isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                assigned.add(item.name)
                continue
            for target in targets:
                if not isinstance(target, ast.Name):
                    continue
                assigned.add(target.id)
                call = self._field_call(mod, value) if value is not None else None
                if call is not None:
                    segment = ast.get_source_segment(mod.text, value) if value is not None else None
                    source = " ".join((segment or ast.unparse(call[1])).split())
                    own[target.id] = ModelField(
                        target.id,
                        Place(mod.path, item.lineno),
                        call[0],
                        source,
                        stmt.name,
                        mod.name,
                        call[1],
                    )
                elif isinstance(value, ast.Constant) and value.value is None:
                    removed.add(target.id)  # `username = None` drops an inherited field
        if not is_model and not (open_ and own):
            return None
        fields = {k: v for k, v in inherited.items() if k not in removed and k not in own}
        fields.update(own)
        return ModelClass(
            name=stmt.name,
            at=Place(mod.path, stmt.lineno),
            module=mod.name,
            fields=tuple(fields.values()),
            abstract=bool(meta.get("abstract", False)),
            proxy=bool(meta.get("proxy", False)),
            managed=bool(meta.get("managed", True)),
            open=open_,
            assigned=frozenset(assigned),
            db_table=meta.get("db_table") if isinstance(meta.get("db_table"), str) else None,
        )


def _meta(cls: ast.ClassDef) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in cls.body:
        if (
            isinstance(item, ast.Assign)
            and len(item.targets) == 1
            and isinstance(item.targets[0], ast.Name)
            and isinstance(item.value, ast.Constant)
        ):
            out[item.targets[0].id] = item.value.value
    return out


def _models_modules(project: DjangoProject, app: DjangoApp) -> list[tuple[str, Path]]:
    """The app's models module(s): `models.py`, or every module of a `models/` package."""
    if app.path is None:
        return []
    base = project.repo / app.path
    if (base / "models.py").is_file():
        return [(f"{app.name}.models", base / "models.py")]
    package = base / "models"
    if not (package / "__init__.py").is_file():
        return []
    out = [(f"{app.name}.models", package / "__init__.py")]
    for entry in sorted(os.scandir(package), key=lambda e: e.name):
        if entry.name.endswith(".py") and entry.name != "__init__.py" and entry.is_file():
            out.append((f"{app.name}.models.{entry.name[:-3]}", Path(entry.path)))
    return out


def read_models(project: DjangoProject, app: DjangoApp) -> tuple[list[ModelClass], dict[str, _Module], bool]:
    """The app's model classes in source order, the modules read, and whether the list is complete
    (no `import *`, no model classes imported from elsewhere). Raises ReplayError."""
    reader = _ModelsReader(project)
    found: list[ModelClass] = []
    complete = True
    for dotted, path in _models_modules(project, app):
        mod = _load_module(project, dotted, path)
        reader.modules[dotted] = mod
        complete = complete and not mod.star
        for name, stmt in mod.top.items():
            if isinstance(stmt, ast.ClassDef):
                cls = reader.model(mod, name)
                if cls is not None and cls.module == mod.name:
                    found.append(cls)
        if any(t.startswith(f"{app.name}.") and not t.startswith(f"{app.name}.models") for t in mod.imports.values()):
            complete = False  # a model may live in a module we do not read
    seen: set[str] = set()
    unique = []
    for cls in sorted(found, key=lambda c: (c.at.path, c.at.line or 0)):
        if cls.name not in seen:
            seen.add(cls.name)
            unique.append(cls)
    return unique, reader.modules, complete


# ---------------------------------------------------------------------------------------------
# comparing


def check_app(
    project: DjangoProject, graph: MigrationGraph, app: DjangoApp, *, cache: ParseCache | None = None
) -> AppDrift:
    """Replay one app's migrations and compare them with its models."""
    leaves = tuple(name for _, name in graph.leaf_nodes(app.label))
    broken = [
        p
        for p in graph.file_problems
        if p.app_label == app.label
        and p.kind == "unreadable"
        and p.details
        and (app.label, p.details[0]) not in graph.nodes
    ]
    if broken:
        p = broken[0]
        return AppDrift(app, leaves, problems=((p.path or "", f"could not check {p.path}: {p.message}", p.line),))
    try:
        models, modules, complete = read_models(project, app)
        state, noted, count = replay(project, graph, app, cache=cache)
    except ReplayError as exc:
        return AppDrift(app, leaves, problems=((exc.path, str(exc), exc.line),))
    missing_fields: list[MissingField] = []
    stale_fields: list[StaleField] = []
    missing_models: list[ModelClass] = []
    declared_models = set()
    for cls in models:
        declared_models.add(cls.name.lower())
        if not cls.checked:
            continue
        have = state.get(cls.name.lower())
        if have is None:
            missing_models.append(cls)
            continue
        if have.proxy or not have.managed:
            continue
        names = {f.name for f in cls.fields}
        missing_fields += [MissingField(cls, f) for f in cls.fields if f.name not in have.fields]
        if not cls.open:
            stale_fields += [
                StaleField(cls, sf)
                for sf in have.fields.values()
                if not sf.auto_created and sf.name not in names and sf.name not in cls.assigned
            ]
    # models.py missing, `import *`, models imported from other modules: a model may exist that we did not read
    stale_models = [m for key, m in state.items() if key not in declared_models] if complete and modules else []
    return AppDrift(
        app,
        leaves,
        count,
        tuple(missing_fields),
        tuple(stale_fields),
        tuple(missing_models),
        tuple(stale_models),
        tuple(noted),
        state=state,
        models=tuple(models),
        sources=modules,
    )


def check_project(project: DjangoProject, graph: MigrationGraph | None = None, *, cache: bool = True) -> list[AppDrift]:
    """Every app of the project that has migrations in the repository, checked (see `check_app`)."""
    graph = graph if graph is not None else load_graph(project, cache=cache)
    store = ParseCache("django-replay", project.root_path, _PARSER_VERSION, enabled=cache)
    out = [check_app(project, graph, app, cache=store) for app in project.apps if app.state == "migrated"]
    store.save()
    return out


# ---------------------------------------------------------------------------------------------
# writing the AddField migration


def column_of(f: ModelField) -> str | None:
    """The database column a field gets (`db_column`, or `<name>_id` for a foreign key); None for a
    many-to-many, which is a table of its own."""
    if f.kind == "ManyToManyField":
        return None
    for kw in f.expr.keywords:
        if kw.arg == "db_column" and (value := _const_str(kw.value)) is not None:
            return value
    return f"{f.name}_id" if f.is_relation else f.name


def table_of(app: DjangoApp, cls: ModelClass) -> str:
    return cls.db_table or f"{app.label}_{cls.name.lower()}"


def migration_name(fields: Sequence[MissingField], leaf: str | None) -> str:
    """`NNNN_<fragments>` as the autodetector names a migration of AddField operations: the number
    after the leaf's, fragments `<model>_<field>` joined by `_` while the name stays within 52
    characters, else ending in `_and_more` (Django's `Migration.suggest_name`)."""
    number = ((parse_number(leaf) or 0) if leaf is not None else 0) + 1
    fragments = [re.sub(r"\W+", "_", f"{m.model.name.lower()}_{m.field.name.lower()}") for m in fields]
    name = fragments[0]
    for fragment in fragments[1:]:
        joined = f"{name}_{fragment}"
        if len(joined) > 52:
            name = f"{name}_and_more"
            break
        name = joined
    return f"{number:04d}_{name[:100]}"


@dataclass
class _Written:
    imports: set[str] = field(default_factory=set)
    dependencies: set[Key] = field(default_factory=set)
    unresolved: list[str] = field(default_factory=list)


_BUILTINS = frozenset(dir(builtins))


class _FieldWriter(ast.NodeTransformer):
    """Rewrites a field expression from a models module so that it means the same in a migration."""

    def __init__(
        self,
        project: DjangoProject,
        graph: MigrationGraph,
        app: DjangoApp,
        modules: Mapping[str, _Module],
        f: ModelField,
        out: _Written,
    ) -> None:
        self.project, self.graph, self.app, self.modules, self.f, self.out = project, graph, app, modules, f, out
        self.mod = modules[f.module]
        owner = self.mod.top.get(f.owner)
        self.local: dict[str, ast.ClassDef] = (
            {s.name: s for s in owner.body if isinstance(s, ast.ClassDef)} if isinstance(owner, ast.ClassDef) else {}
        )

    # --- references to models -----------------------------------------------------------------

    def _model_label(self, node: ast.expr) -> tuple[ast.expr, str | None]:
        """A relation's target as Django writes it in migrations ('app.model'), and the app it is in
        (None for the swappable user model and for 'self')."""
        text = _const_str(node)
        if text is not None:
            if text == "self":
                return node, None
            if "." in text:
                label, _, model = text.partition(".")
                return ast.Constant(f"{label}.{model.lower()}"), label
            return ast.Constant(f"{self.app.label}.{text.lower()}"), self.app.label
        parts = _dotted(node)
        if parts is not None and parts[-1] == "AUTH_USER_MODEL":
            self.out.dependencies.add(("__setting__", "AUTH_USER_MODEL"))
            self.out.imports.add("from django.conf import settings")
            return ast.Attribute(ast.Name("settings", ast.Load()), "AUTH_USER_MODEL", ast.Load()), None
        if parts is not None and len(parts) == 1 and isinstance(self.mod.top.get(parts[0]), ast.ClassDef):
            return ast.Constant(f"{self.app.label}.{parts[0].lower()}"), self.app.label
        if parts is not None and parts[0] in self.mod.imports:
            target = ".".join([self.mod.imports[parts[0]], *parts[1:]])
            owner, _, cls_name = target.rpartition(".")
            for other in self.project.apps:
                if owner in (f"{other.name}.models",) or owner.startswith(f"{other.name}.models."):
                    return ast.Constant(f"{other.label}.{cls_name.lower()}"), other.label
        return self.visit(node), None

    def _depend_on(self, label: str | None) -> None:
        if label is None or label == self.app.label:
            return
        other = self.project.app(label)
        leaves = self.graph.leaf_nodes(label) if other is not None and other.state == "migrated" else []
        self.out.dependencies.add(leaves[0] if leaves else (label, "__first__"))

    def _target(self, node: ast.expr) -> ast.expr:
        target, label = self._model_label(node)
        self._depend_on(label)
        return target

    def rewrite(self) -> str:
        call = copy.deepcopy(self.f.expr)  # the transformer edits in place; the model's tree stays as read
        args = list(call.args)
        new_args: list[ast.expr] = []
        has_target = self.f.is_relation and bool(args) and not isinstance(args[0], ast.Starred)
        if has_target:
            new_args.append(self._target(args.pop(0)))
        new_args += [self.visit(a) for a in args]
        keywords = [
            ast.keyword("to", self._target(k.value))
            if self.f.is_relation and k.arg == "to" and not has_target
            else ast.keyword(k.arg, self.visit(k.value))
            for k in call.keywords
        ]
        new_call = ast.Call(func=self.visit(call.func), args=new_args, keywords=keywords)
        return ast.unparse(ast.fix_missing_locations(new_call))

    # --- names --------------------------------------------------------------------------------

    def _reference(self, dotted: str, attrs: Sequence[str]) -> ast.expr:
        """`dotted.attrs...` as an expression, with the import that makes it resolvable."""
        if dotted == "django.db.models" or dotted.startswith("django.db.models."):
            rest = dotted.split(".")[3:] + list(attrs)
            self.out.imports.add("from django.db import models")
            return _build(["models", *rest])
        if dotted == "django.conf.settings":
            self.out.imports.add("from django.conf import settings")
            return _build(["settings", *attrs])
        module, _, name = dotted.rpartition(".")
        # `from pkg import mod; mod.attr`: mod is a module when it is lower case and used as one
        if attrs and name.islower() and module:
            self.out.imports.add(f"import {dotted}")
        elif module:
            self.out.imports.add(f"import {module}")
        else:
            self.out.imports.add(f"import {dotted}")
        return _build([*dotted.split("."), *attrs])

    def _choices(self, cls: ast.ClassDef, attrs: Sequence[str]) -> ast.expr | None:
        """`Role.choices` / `Role.MEMBER` of a TextChoices/IntegerChoices class, computed."""
        if not any(_callee(b) in _CHOICES_BASES for b in cls.bases) or len(attrs) != 1:
            return None
        members: list[tuple[str, Any, Any]] = []
        for item in cls.body:
            if not (isinstance(item, ast.Assign) and len(item.targets) == 1 and isinstance(item.targets[0], ast.Name)):
                continue
            value = item.value
            label: Any = item.targets[0].id.replace("_", " ").title()
            if isinstance(value, ast.Tuple) and len(value.elts) == 2:
                label_node = value.elts[1]
                if isinstance(label_node, ast.Call) and _callee(label_node.func) in (*_GETTEXT, "_"):
                    label_node = label_node.args[0] if label_node.args else label_node
                value = value.elts[0]
                label = label_node.value if isinstance(label_node, ast.Constant) else None
            if not isinstance(value, ast.Constant) or label is None:
                return None
            members.append((item.targets[0].id, value.value, label))
        if attrs[0] == "choices":
            return ast.List(
                [ast.Tuple([ast.Constant(v), ast.Constant(lbl)], ast.Load()) for _, v, lbl in members], ast.Load()
            )
        found = next((v for n, v, _ in members if n == attrs[0]), None)
        return ast.Constant(found) if found is not None else None

    def _name(self, parts: list[str], node: ast.expr) -> ast.expr:
        root, attrs = parts[0], parts[1:]
        if root in self.local:
            computed = self._choices(self.local[root], attrs)
            if computed is not None:
                return computed
            return self._reference(f"{self.f.module}.{self.f.owner}.{root}", attrs)
        stmt = self.mod.top.get(root)
        if stmt is not None:
            if isinstance(stmt, ast.ClassDef):
                computed = self._choices(stmt, attrs)
                if computed is not None:
                    return computed
            if isinstance(stmt, ast.Assign) and not attrs:
                try:
                    ast.literal_eval(stmt.value)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    pass
                else:
                    return stmt.value
            return self._reference(f"{self.f.module}.{root}", attrs)
        if root in self.mod.imports:
            return self._reference(self.mod.imports[root], attrs)
        if root in _BUILTINS:
            return node
        self.out.unresolved.append(".".join(parts))
        return node

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return self._name([node.id], node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        parts = _dotted(node)
        if parts is None:
            return self.generic_visit(node)  # type: ignore[return-value]
        return self._name(parts, node)

    def visit_Call(self, node: ast.Call) -> ast.expr:
        name = _callee(node.func)
        target = self.mod.imports.get(name, "") if isinstance(node.func, ast.Name) else ""
        if (
            target.startswith("django.utils.translation.")
            and len(node.args) == 1
            and _const_str(node.args[0]) is not None
        ):
            return node.args[0]  # Django writes lazy strings as plain ones
        return self.generic_visit(node)  # type: ignore[return-value]


def _build(parts: Sequence[str]) -> ast.expr:
    node: ast.expr = ast.Name(parts[0], ast.Load())
    for part in parts[1:]:
        node = ast.Attribute(node, part, ast.Load())
    return node


@dataclass(frozen=True, slots=True)
class WrittenMigration:
    path: str  # relative to the repository
    name: str
    text: str
    dependencies: tuple[Key, ...]  # ("__setting__", "AUTH_USER_MODEL") for the swappable user model
    unresolved: tuple[str, ...]  # names in the copied fields pitstop could not make importable
    not_null: tuple[str, ...]  # `model.field` that makemigrations would ask a one-off default for


def _needs_default(f: ModelField) -> bool:
    """Whether makemigrations would ask for a one-off default (the field is NOT NULL, has none, and
    cannot be filled with an empty string or the clock)."""
    kw = {k.arg: k.value for k in f.expr.keywords if k.arg}
    if _is_true(kw.get("null")) or "default" in kw or "db_default" in kw or f.kind == "ManyToManyField":
        return False
    strings = f.kind in ("CharField", "TextField", "SlugField", "EmailField", "URLField", "FilePathField", "FileField")
    if _is_true(kw.get("blank")) and strings:
        return False
    if f.kind in ("DateField", "DateTimeField", "TimeField") and _is_true(kw.get("auto_now")):
        return False
    return not f.kind.endswith("AutoField")


def add_field_migration(
    project: DjangoProject,
    graph: MigrationGraph,
    drift: AppDrift,
    *,
    now: datetime | None = None,
    django_version: str | None = None,
) -> WrittenMigration:
    """The migration `python manage.py makemigrations APP` would write for the app's missing fields.

    Operations are sorted by model and field (the autodetector's order); the migration depends on
    the app's leaf. Raises ValueError when there is nothing to write, when the app has no migration
    yet (makemigrations would write `0001_initial` with CreateModel), and when it has several leaves:
    makemigrations refuses to run until they are merged, and a migration depending on all of them
    would itself become a second leaf next to the merge migration.
    """
    app = drift.app
    missing = sorted(drift.missing_fields, key=lambda m: (m.model.name.lower(), m.field.name))
    if not missing or app.migrations_dir is None:
        raise ValueError(f"App {app.label} has no missing fields to add a migration for.")
    if len(drift.leaves) != 1:
        if not drift.leaves:
            raise ValueError(
                f"App {app.label} has no migration yet; run `python manage.py makemigrations {app.label}`."
            )
        raise ValueError(
            f"App {app.label} has {len(drift.leaves)} leaf migrations ({', '.join(drift.leaves)}); merge them first "
            "(python manage.py makemigrations --merge, or the migration-conflict fix), then add the fields after the merge."
        )
    out = _Written()
    out.imports.add("from django.db import models")
    out.dependencies.add((app.label, drift.leaves[0]))
    operations = []
    for m in missing:
        expr = _FieldWriter(project, graph, app, drift.sources, m.field, out).rewrite()
        operations.append(
            "        migrations.AddField(\n"
            f"            model_name={m.model.name.lower()!r},\n"
            f"            name={m.field.name!r},\n"
            f"            field={expr},\n"
            "        ),\n"
        )
    name = migration_name(missing, drift.leaves[0])
    moment = now if now is not None else datetime.now().astimezone()
    use_tz = project.settings.get("USE_TZ", True)
    stamp = moment.astimezone(UTC) if use_tz else moment.astimezone()
    version = django_version or project.django_version or DEFAULT_DJANGO_VERSION
    deps = []
    for dep in out.dependencies:
        if dep[0] == "__setting__":
            deps.append(f"        migrations.swappable_dependency(settings.{dep[1]}),")
            out.imports.add("from django.conf import settings")
        else:
            deps.append(f"        {dep!r},")
    imports = set(out.imports)
    imports.discard("from django.db import models")
    imports.add("from django.db import migrations, models")
    ordered = sorted(imports, key=lambda i: (i.split()[0] == "from", i.split()[1]))
    text = (
        f"# Generated by Django {version} on {stamp.strftime('%Y-%m-%d %H:%M')}\n"
        "\n" + "".join(f"{line}\n" for line in ordered) + "\n"
        "\n"
        "class Migration(migrations.Migration):\n"
        "\n"
        "    dependencies = [\n" + "".join(f"{d}\n" for d in sorted(deps)) + "    ]\n"
        "\n"
        "    operations = [\n" + "".join(operations) + "    ]\n"
    )
    return WrittenMigration(
        path=f"{app.migrations_dir}/{name}.py",
        name=name,
        text=text,
        dependencies=tuple(sorted(out.dependencies)),
        unresolved=tuple(dict.fromkeys(out.unresolved)),
        not_null=tuple(f"{m.model.name}.{m.field.name}" for m in missing if _needs_default(m.field)),
    )
