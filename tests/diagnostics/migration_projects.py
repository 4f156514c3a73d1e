"""Synthetic Django projects and Alembic histories, seeded, for the migration tests and the bench,
and the oracles that run the real Django and Alembic on them.

A Django project is generated as a spec first (apps, migrations, squashes, run_before, swappable
and cross-app dependencies, branches) and then written to disk as Django would lay it out, with a
settings package that exercises what pitstop reads statically (`from .base import *`, list
concatenation, `+=`, AppConfig paths, a label override, MIGRATION_MODULES).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Key = tuple[str, str]
SWAP = ("__setting__", "AUTH_USER_MODEL")

WORDS = [
    "add_field",
    "rename_index",
    "x",
    "phase1_step6_license_sessions",
    "auto",
    "alter_options",
    "remove_constraint",
    "backfill",
    "user_company_name_user_full_name",
    "seat",
    "tune",
]


@dataclass
class Mig:
    app: str
    name: str
    index: int
    deps: list[Key] = field(default_factory=list)
    run_before: list[Key] = field(default_factory=list)
    replaces: list[Key] = field(default_factory=list)
    initial: bool = False
    ops: list[str] = field(default_factory=list)

    @property
    def key(self) -> Key:
        return (self.app, self.name)


@dataclass
class AppSpec:
    label: str
    module: str  # the app's Python package
    entry: str  # as listed in INSTALLED_APPS
    config_class: str | None = None
    label_override: bool = False
    migrations_module: str = ""
    explicit_migrations: bool = False
    models: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class DjangoSpec:
    apps: list[AppSpec]
    migrations: list[Mig]
    deleted: set[Key] = field(default_factory=set)  # replaced by a squash and not written
    contrib: bool = False
    settings_package: str = "proj"
    django_pin: str | None = None
    broken: dict[Key, str] = field(default_factory=dict)  # files written with this text instead

    @property
    def labels(self) -> list[str]:
        return [a.label for a in self.apps]

    def app(self, label: str) -> AppSpec:
        return next(a for a in self.apps if a.label == label)


def _number(name: str) -> int | None:
    m = re.match(r"^\d+", name)
    return int(m[0]) if m else None


def generate_django(
    seed: int,
    *,
    apps: int = 4,
    per_app: int = 8,
    branch_rate: float = 0.2,
    merge_rate: float = 0.3,
    squash: bool = True,
    run_before: bool = True,
    swappable: bool = True,
    cross_app: bool = True,
    contrib: bool = False,
    operations: bool = False,
    odd_names: bool = True,
    models_per_app: int = 3,
) -> DjangoSpec:
    """A random but reproducible project; with branch_rate=0 it has no conflicts."""
    rnd = random.Random(seed)
    labels = ["accounts", "catalog", "orders", "billing", "shop", "shipping", "reports", "audit", "search", "media"]
    specs: list[AppSpec] = []
    for i in range(apps):
        label = labels[i % len(labels)] + ("" if i < len(labels) else str(i // len(labels)))
        if label == "shop":
            spec = AppSpec(label, "shop_core", "shop_core.apps.ShopConfig", "ShopConfig", label_override=True)
        elif i % 3 == 2:
            spec = AppSpec(label, f"apps.{label}", f"apps.{label}.apps.{label.title()}Config", f"{label.title()}Config")
        elif i % 3 == 1:
            spec = AppSpec(label, label, label, f"{label.title()}Config")
        else:
            spec = AppSpec(label, label, label)
        spec.migrations_module = f"{spec.module}.migrations"
        if label == "orders":
            spec.migrations_module, spec.explicit_migrations = f"{spec.module}.db_migrations", True
        spec.models = {
            ("User" if label == "accounts" and m == 0 else f"{label.title()}{m}"): [] for m in range(models_per_app)
        }
        specs.append(spec)

    migs: list[Mig] = []
    by_app: dict[str, list[Mig]] = {}
    counter = 0

    def new(app: str, name: str) -> Mig:
        nonlocal counter
        counter += 1
        mig = Mig(app, name, counter)
        migs.append(mig)
        by_app.setdefault(app, []).append(mig)
        return mig

    def app_leaves(app: str) -> list[Mig]:
        nodes = by_app[app]
        parents = {p for m in nodes for p in m.deps if p[0] == app}
        return [m for m in nodes if m.key not in parents]

    def create_ops(spec: AppSpec) -> list[str]:
        return [
            f"migrations.CreateModel(name={model!r}, fields=[('id', models.BigAutoField(auto_created=True, "
            "primary_key=True, serialize=False, verbose_name='ID'))])"
            for model in spec.models
        ]

    for ai, spec in enumerate(specs):
        app = spec.label
        first = new(app, "0001_initial")
        first.initial = True
        if operations:
            first.ops = create_ops(spec)
        if ai and cross_app:
            other = rnd.choice(specs[:ai]).label
            first.deps.append((other, rnd.choice(["__first__", by_app[other][0].name, "__latest__"])))
        if ai and swappable and rnd.random() < 0.6:
            first.deps.append(SWAP)
        for _ in range(1, per_app):
            tips = app_leaves(app)
            word = rnd.choice(WORDS)
            if len(tips) > 1 and rnd.random() < merge_rate:
                pair = rnd.sample(tips, 2)
                number = max((_number(m.name) or 1) for m in pair) + 1
                mig = new(app, f"{number:04d}_merge_{counter + 1}")
                mig.deps += [m.key for m in pair]
                continue
            parent = rnd.choice(by_app[app]) if rnd.random() < branch_rate else rnd.choice(tips)
            number = (_number(parent.name) or 1) + 1
            if odd_names and rnd.random() < 0.08:
                name = f"custom_{word}_{counter + 1}"
            else:
                name = f"{number:04d}_{word}_{counter + 1}" if rnd.random() < 0.7 else f"{number:04d}_s{counter + 1}"
            mig = new(app, name)
            mig.deps.append(parent.key)
            if operations:
                model = rnd.choice(list(spec.models))
                fname = f"f{counter}"
                spec.models[model].append(fname)
                mig.ops.append(
                    f"migrations.AddField(model_name={model.lower()!r}, name={fname!r}, "
                    "field=models.IntegerField(default=0))"
                )
            if ai and cross_app and rnd.random() < 0.3:
                other = rnd.choice(specs[:ai]).label
                choice = rnd.random()
                target = (
                    (other, "__latest__")
                    if choice < 0.2
                    else (other, "__first__")
                    if choice < 0.35
                    else (other, rnd.choice(by_app[other]).name)
                )
                mig.deps.append(target)
            if ai and swappable and rnd.random() < 0.15:
                mig.deps.append(SWAP)
            if rnd.random() < 0.05:
                mig.deps.append((app, "__first__"))  # Django ignores these

    if run_before:
        for _ in range(max(1, len(migs) // 12)):
            a, b = sorted(rnd.sample(migs, 2), key=lambda m: m.index)
            if a.app == b.app and branch_rate == 0:
                continue  # would reorder a chain, which is fine, but keep conflict-free projects simple
            if b.key not in a.run_before and a.key not in b.deps:
                a.run_before.append(b.key)

    project = DjangoSpec(specs, migs, contrib=contrib)
    if squash:
        for app_spec in rnd.sample(specs, max(1, len(specs) // 2)):
            _squash(project, app_spec.label, rnd)
    return project


def _squash(spec: DjangoSpec, app: str, rnd: random.Random) -> None:
    """Squash a chain from the app's first migration, keeping or deleting the originals."""
    nodes = [m for m in spec.migrations if m.app == app and not m.replaces]
    children: dict[Key, list[Mig]] = {}
    for m in nodes:
        for p in m.deps:
            if p[0] == app:
                children.setdefault(p, []).append(m)
    chain = [nodes[0]]
    while len(chain) < 5:
        nxt = children.get(chain[-1].key, [])
        if len(nxt) != 1 or len([p for p in nxt[0].deps if p[0] == app]) != 1:
            break
        chain.append(nxt[0])
    if len(chain) < 2:
        return
    members = {m.key for m in chain}
    last = chain[-1]
    number = _number(last.name) or 1
    squash = Mig(app, f"0001_squashed_{number:04d}_{last.name.split('_', 1)[-1][:20]}", 10_000 + len(spec.migrations))
    squash.initial = True
    squash.replaces = [m.key for m in chain]
    for m in chain:
        for d in m.deps:
            if d not in members and d not in squash.deps and d != (app, "__first__"):
                squash.deps.append(d)
        for r in m.run_before:
            if r not in squash.run_before:
                squash.run_before.append(r)
        squash.ops += m.ops
    spec.migrations.append(squash)
    if rnd.random() < 0.5:
        spec.deleted |= members


# ---------------------------------------------------------------------------------------------
# writing


def _render_key(key: Key) -> str:
    if key == SWAP:
        return "migrations.swappable_dependency(settings.AUTH_USER_MODEL)"
    return f"({key[0]!r}, {key[1]!r})"


def render_migration(m: Mig) -> str:
    uses_settings = SWAP in m.deps
    lines = ["# Generated by Django 5.2 on 2025-01-01 00:00", ""]
    if uses_settings:
        lines.append("from django.conf import settings")
    lines += ["from django.db import migrations, models", "", "", "class Migration(migrations.Migration):", ""]
    if m.initial:
        lines += ["    initial = True", ""]
    if m.replaces:
        lines.append(f"    replaces = [{', '.join(_render_key(k) for k in m.replaces)}]")
        lines.append("")
    lines.append("    dependencies = [")
    lines += [f"        {_render_key(d)}," for d in m.deps]
    lines += ["    ]", ""]
    if m.run_before:
        lines.append("    run_before = [")
        lines += [f"        {_render_key(d)}," for d in m.run_before]
        lines += ["    ]", ""]
    lines.append("    operations = [")
    lines += [f"        {op}," for op in m.ops]
    lines.append("    ]")
    return "\n".join(lines) + "\n"


def _package(root: Path, dotted: str) -> Path:
    path = root
    for part in dotted.split("."):
        path = path / part
        path.mkdir(exist_ok=True)
        (path / "__init__.py").touch()
    return path


def write_django(root: Path, spec: DjangoSpec) -> Path:
    """Write the project under `root` (manage.py at its top) and return `root`."""
    root.mkdir(parents=True, exist_ok=True)
    pkg = spec.settings_package
    (root / "manage.py").write_text(
        "#!/usr/bin/env python\nimport os\nimport sys\n\n\ndef main():\n"
        f'    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{pkg}.settings.dev")\n'
        "    from django.core.management import execute_from_command_line\n\n"
        '    execute_from_command_line(sys.argv)\n\n\nif __name__ == "__main__":\n    main()\n'
    )
    settings = _package(root, f"{pkg}.settings")
    contrib = ["django.contrib.contenttypes", "django.contrib.auth"] if spec.contrib else []
    half = max(1, len(spec.apps) // 2)
    first = [a.entry for a in spec.apps[:half]]
    rest = [a.entry for a in spec.apps[half:]]
    migration_modules = {a.label: a.migrations_module for a in spec.apps if a.explicit_migrations}
    (settings / "base.py").write_text(
        "from pathlib import Path\n\n"
        "BASE_DIR = Path(__file__).resolve().parent.parent.parent\n"
        'SECRET_KEY = "generated-for-tests"\n'
        f"DJANGO_APPS = {contrib!r}\n"
        f"LOCAL_APPS = {first!r}\n"
        "INSTALLED_APPS = DJANGO_APPS + LOCAL_APPS\n"
        'AUTH_USER_MODEL = "accounts.User"\n'
        'DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"\n'
        "USE_TZ = True\n"
        f"MIGRATION_MODULES = {migration_modules!r}\n"
    )
    (settings / "dev.py").write_text(
        "from .base import *  # noqa: F403\n"
        "from .base import BASE_DIR\n\n"
        f"INSTALLED_APPS += {rest!r}\n"
        'DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}\n'
    )
    if spec.django_pin:
        (root / "requirements.txt").write_text(f"Django=={spec.django_pin}\nrequests==2.32.0\n")
    for app in spec.apps:
        app_dir = _package(root, app.module)
        if app.config_class:
            label_line = f'    label = "{app.label}"\n' if app.label_override else ""
            (app_dir / "apps.py").write_text(
                "from django.apps import AppConfig\n\n\n"
                f"class {app.config_class}(AppConfig):\n"
                '    default_auto_field = "django.db.models.BigAutoField"\n'
                f'    name = "{app.module}"\n{label_line}'
            )
        models = ["from django.db import models", ""]
        for model, fields in app.models.items():
            models += ["", f"class {model}(models.Model):"]
            models += [f"    {f} = models.IntegerField(default=0)" for f in fields] or ["    pass"]
        (app_dir / "models.py").write_text("\n".join(models) + "\n")
        _package(root, app.migrations_module)
    for m in spec.migrations:
        if m.key in spec.deleted:
            continue
        directory = root.joinpath(*spec.app(m.app).migrations_module.split("."))
        (directory / f"{m.name}.py").write_text(spec.broken.get(m.key, render_migration(m)))
    return root


# ---------------------------------------------------------------------------------------------
# oracles


_LOADER_ORACLE = """
import json, sys
import django
django.setup()
from django.db.migrations.loader import MigrationLoader
labels = set(sys.argv[1:])
try:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    graph = loader.graph
    out = {
        "conflicts": loader.detect_conflicts(),
        "nodes": {
            "%s.%s" % key: sorted("%s.%s" % p.key for p in graph.node_map[key].parents if p.key[0] in labels)
            for key in graph.nodes if key[0] in labels
        },
        "error": None,
    }
except Exception as exc:
    out = {"error": type(exc).__name__, "message": str(exc), "lineno": getattr(exc, "lineno", None),
           "filename": getattr(exc, "filename", None)}
print(json.dumps(out))
"""


def _env(root: Path, settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(DJANGO_SETTINGS_MODULE=settings, PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(root))
    return env


def django_loader_oracle(root: Path, settings: str, labels: Sequence[str]) -> dict[str, Any]:
    """What Django's MigrationLoader(None, ignore_no_migrations=True) sees: conflicts, nodes and their
    parents among `labels`, or the exception it raises."""
    proc = subprocess.run(
        [sys.executable, "-c", _LOADER_ORACLE, *labels],
        cwd=root,
        env=_env(root, settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"oracle failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def django_merge_oracle(root: Path, settings: str) -> dict[str, str]:
    """Run the real `manage.py makemigrations --merge --noinput` in `root`; the files it created."""
    before = {p for p in root.rglob("*.py")}
    proc = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--merge", "--noinput"],
        cwd=root,
        env=_env(root, settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"makemigrations --merge failed:\n{proc.stdout}\n{proc.stderr}")
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(set(root.rglob("*.py")) - before)}


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "db.sqlite3"))
    return dst


# ---------------------------------------------------------------------------------------------
# Alembic


@dataclass
class Rev:
    revision: str
    down: tuple[str, ...]
    labels: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    message: str = "change"


def generate_alembic(
    seed: int,
    *,
    revisions: int = 16,
    branch_rate: float = 0.25,
    merge_rate: float = 0.3,
    bases: int = 1,
    labels: bool = True,
    depends: bool = True,
) -> list[Rev]:
    """A random history: forks, merges (tuple down_revision), extra bases with branch labels, depends_on."""
    rnd = random.Random(seed)
    revs: list[Rev] = []

    def rid() -> str:
        return f"{rnd.getrandbits(48):012x}"

    def heads() -> list[Rev]:
        used = {d for r in revs for d in r.down}
        return [r for r in revs if r.revision not in used]

    revs.append(Rev(rid(), (), ("main",) if labels else (), message="create tables"))
    for b in range(1, bases):
        revs.append(Rev(rid(), (), (f"branch{b}",), message=f"start branch {b}"))
    while len(revs) < revisions:
        hs = heads()
        roll = rnd.random()
        if len(hs) > 1 and roll < merge_rate:
            pair = rnd.sample(hs, 2)
            revs.append(Rev(rid(), tuple(r.revision for r in pair), message="merge"))
            continue
        parent = rnd.choice(revs) if roll < merge_rate + branch_rate else rnd.choice(hs)
        rev = Rev(rid(), (parent.revision,), message=rnd.choice(["add column", "drop index", "backfill data"]))
        if depends and len(revs) > 3 and rnd.random() < 0.2:
            target = rnd.choice(revs[:-1])
            if target is not parent:
                named = [lbl for lbl in target.labels]
                rev.depends_on = (rnd.choice(named),) if named and rnd.random() < 0.5 else (target.revision,)
        if labels and rnd.random() < 0.08:
            rev.labels = (f"feature{len(revs)}",)
        revs.append(rev)
    return revs


def render_revision(rev: Rev, *, typed: bool = True) -> str:
    down: Any = None if not rev.down else rev.down[0] if len(rev.down) == 1 else rev.down
    labels: Any = None if not rev.labels else rev.labels if len(rev.labels) > 1 or typed else rev.labels[0]
    depends: Any = None if not rev.depends_on else rev.depends_on[0] if len(rev.depends_on) == 1 else rev.depends_on
    ann = (": str", ": Union[str, Sequence[str], None]") if typed else ("", "")
    return (
        f'"""{rev.message}\n\nRevision ID: {rev.revision}\nRevises: {", ".join(rev.down)}\n'
        'Create Date: 2025-01-01 00:00:00.000000\n\n"""\n'
        "from typing import Sequence, Union\n\nfrom alembic import op\nimport sqlalchemy as sa\n\n\n"
        f"revision{ann[0]} = {rev.revision!r}\n"
        f"down_revision{ann[1]} = {down!r}\n"
        f"branch_labels{ann[1]} = {labels!r}\n"
        f"depends_on{ann[1]} = {depends!r}\n\n\n"
        "def upgrade() -> None:\n    pass\n\n\ndef downgrade() -> None:\n    pass\n"
    )


def write_alembic(
    root: Path,
    revs: Sequence[Rev],
    *,
    template: str,
    file_template: str | None = None,
    typed: bool = True,
    timezone: str | None = None,
) -> Path:
    """An alembic.ini with script_location `%(here)s/migrations`, its env.py, the given script.py.mako
    and one file per revision; returns the ini's path."""
    scripts = root / "migrations"
    (scripts / "versions").mkdir(parents=True, exist_ok=True)
    lines = ["[alembic]", "script_location = %(here)s/migrations", "path_separator = os", "prepend_sys_path = ."]
    if file_template:
        lines.append(f"file_template = {file_template}")
    if timezone:
        lines.append(f"timezone = {timezone}")
    lines += ["sqlalchemy.url = sqlite:///%(here)s/app.db", "", "[loggers]", "keys = root", ""]
    ini = root / "alembic.ini"
    ini.write_text("\n".join(lines) + "\n")
    (scripts / "env.py").write_text("raise RuntimeError('env.py is not run by these tests')\n")
    (scripts / "script.py.mako").write_text(template)
    for rev in revs:
        slug = "_".join(re.findall(r"\w+", rev.message)).lower()
        (scripts / "versions" / f"{rev.revision}_{slug}.py").write_text(render_revision(rev, typed=typed))
    return ini
