"""Django migrations replayed statically agree with Django's autodetector about which fields are missing.

The oracle runs the real Django from the test venv in a subprocess (`MigrationAutodetector` between
the migrations' state and the models, as `makemigrations --check --dry-run` does); pitstop itself
never imports the project or Django.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from diagnostics.migrations import django as dj
from diagnostics.migrations import replay
from tests.diagnostics import migration_projects as mp

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "sandbox" / "scenarios" / "demo-repo"
NOW = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _project(root: Path) -> dj.DjangoProject:
    [project] = dj.find_projects(root)
    return project


def _drifts(root: Path) -> dict[str, replay.AppDrift]:
    project = _project(root)
    return {d.app.label: d for d in replay.check_project(project, dj.load_graph(project))}


def _missing(drift: replay.AppDrift) -> list[str]:
    return sorted(f"{m.model.name.lower()}.{m.field.name}" for m in drift.missing_fields)


def _write_fix(root: Path, drift: replay.AppDrift) -> replay.WrittenMigration:
    project = _project(root)
    written = replay.add_field_migration(project, dj.load_graph(project), drift, now=NOW)
    target = project.repo / written.path
    assert not target.exists()
    target.write_text(written.text)
    return written


# --- the oracle ----------------------------------------------------------------------------------

_AUTODETECTOR = """
import json, sys
import django
django.setup()
from django.apps import apps
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.questioner import NonInteractiveMigrationQuestioner
from django.db.migrations.state import ProjectState
loader = MigrationLoader(None, ignore_no_migrations=True)
questioner = NonInteractiveMigrationQuestioner(specified_apps=None, dry_run=True)
detector = MigrationAutodetector(loader.project_state(), ProjectState.from_apps(apps), questioner)
changes = detector.changes(graph=loader.graph)
ops, names, deps = [], {}, {}
for app, migrations in changes.items():
    names[app] = [m.name for m in migrations]
    deps[app] = [sorted(map(list, m.dependencies)) for m in migrations]
    for m in migrations:
        for o in m.operations:
            model = getattr(o, "model_name", None)
            ops.append([app, type(o).__name__, (model or o.name).lower(), o.name if model else None])
print(json.dumps({"ops": sorted(ops, key=str), "names": names, "deps": deps}))
"""


def django_changes(root: Path, settings: str) -> dict[str, Any]:
    """What `makemigrations --check --dry-run` would write: each operation as [app, kind, model, field],
    the migration names per app and their dependencies."""
    env = mp._env(root, settings)
    proc = subprocess.run(
        [sys.executable, "-c", _AUTODETECTOR], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        raise AssertionError(f"autodetector oracle failed:\n{proc.stdout}\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _added(changes: dict[str, Any]) -> list[str]:
    return sorted(f"{app}:{model}.{name}" for app, kind, model, name in changes["ops"] if kind == "AddField")


# --- the demo repository (I8) --------------------------------------------------------------------


def _demo_copy(tmp_path: Path) -> Path:
    repo = mp.copy_tree(DEMO, tmp_path / "repo")
    (repo / "backend" / "oracle_settings.py").write_text(
        "from license_platform.settings.base import *  # noqa: F403\n"
        'SECRET_KEY = "oracle"\n'
        'INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "users", "tenants", "licenses"]\n'
        f'DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": {str(tmp_path / "db.sqlite3")!r}}}}}\n'
    )
    return repo


def test_demo_tenants_organization_stripe_customer_id_has_no_migration():
    drifts = _drifts(DEMO)
    assert set(drifts) == {"users", "tenants", "licenses"}
    assert {label: d.drifted or bool(d.problems) for label, d in drifts.items()} == {
        "users": False,
        "tenants": True,
        "licenses": False,
    }
    tenants = drifts["tenants"]
    [missing] = tenants.missing_fields
    assert (missing.model.name, missing.field.name) == ("Organization", "stripe_customer_id")
    assert missing.field.at == replay.Place("backend/tenants/models.py", 16)
    assert missing.field.source == 'models.CharField(max_length=255, blank=True, default="")'
    assert not (tenants.stale_fields or tenants.missing_models or tenants.stale_models)
    assert tenants.leaves == ("0003_organization_billing_email",) and tenants.migrations == 3
    # billing_email is added by a later AddField: it must not count as missing
    assert "billing_email" in tenants.state["organization"].fields
    # licenses has two leaves (I7); both branches are replayed, so the renewal fields are known
    assert {"auto_renew", "renewal_period_days"} <= set(drifts["licenses"].state["license"].fields)


def test_demo_replay_agrees_with_djangos_autodetector_and_the_fix_satisfies_it(tmp_path):
    repo = _demo_copy(tmp_path)
    backend = repo / "backend"
    before = django_changes(backend, "oracle_settings")
    tenants = _drifts(repo)["tenants"]
    assert _added(before) == [f"tenants:{m}" for m in _missing(tenants)] == ["tenants:organization.stripe_customer_id"]

    written = _write_fix(repo, tenants)

    assert written.path == "backend/tenants/migrations/0004_organization_stripe_customer_id.py"
    assert [written.name] == before["names"]["tenants"]
    assert before["deps"]["tenants"] == [[["tenants", "0003_organization_billing_email"]]]
    assert written.text.startswith("# Generated by Django 5.2.19 on 2025-06-01 ")
    assert "field=models.CharField(max_length=255, blank=True, default='')," in written.text
    assert written.unresolved == () and written.not_null == ()
    assert django_changes(backend, "oracle_settings")["ops"] == []
    assert not _drifts(repo)["tenants"].drifted


# --- generated projects against the autodetector ----------------------------------------------------


def _drift_models(root: Path, spec: mp.DjangoSpec, rnd: random.Random) -> dict[str, list[str]]:
    """Add fields to the generated models.py files that no migration adds, in the forms real models
    use; returns the app labels and `model.field` added per app."""
    added: dict[str, list[str]] = {}
    for index, app in enumerate(spec.apps):
        if rnd.random() < 0.3:
            continue
        path = root.joinpath(*app.module.split(".")) / "models.py"
        text = path.read_text()
        header = (
            "import uuid\n\nfrom django.conf import settings\nfrom django.db import models\n"
            "from django.utils import timezone\n\n\nSTATUS_LENGTH = 12\n\n\n"
            "def default_code():\n    return 'x'\n\n\n"
            "class Stamped(models.Model):\n    stamped_at = models.DateTimeField(default=timezone.now)\n\n"
            "    class Meta:\n        abstract = True\n"
        )
        text = header + text.replace("from django.db import models\n", "", 1)
        models = list(app.models)
        model = rnd.choice(models)
        other = rnd.choice([m for m in models if m != model] or models)
        # a class defined above is named, one below (or the model itself) is given as a string
        target = other if models.index(other) < models.index(model) else repr(other)
        # later apps depend on earlier ones: a foreign key the other way would make Django write a cycle
        other_app = rnd.choice(spec.labels[: index + 1])
        other_model = rnd.choice(list(spec.app(other_app).models))
        candidates = {
            "note": "models.CharField(max_length=200, blank=True)",
            "code": "models.CharField(max_length=STATUS_LENGTH, default=default_code)",
            "token": "models.UUIDField(default=uuid.uuid4, editable=False)",
            "seen_at": "models.DateTimeField(null=True, blank=True)",
            "parent": f"models.ForeignKey({target}, on_delete=models.SET_NULL, null=True, related_name='+')",
            "peer": f"models.ForeignKey('{other_app}.{other_model}', on_delete=models.CASCADE, null=True, related_name='+')",
            "owner": "models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name='+')",
            "kind": "models.CharField(max_length=10, choices=Kind.choices, default=Kind.BIG)",
            "tags": "models.JSONField(default=dict, blank=True)",
        }
        chosen = rnd.sample(sorted(candidates), rnd.randint(1, 3))
        if app.label == "accounts":
            chosen = [c for c in chosen if c != "owner"] or ["note"]  # the user model pointing at itself
        lines = [f"    {name} = {candidates[name]}" for name in chosen]
        if "kind" in chosen:
            lines = [
                "    class Kind(models.TextChoices):",
                '        BIG = "big", "Big"',
                "        SMALL = 'small'",
                *lines,
            ]
        block = f"class {model}(models.Model):\n"
        body = text.split(block, 1)
        rest = body[1].replace("    pass\n", "", 1) if body[1].startswith("    pass\n") else body[1]
        stamped = rnd.random() < 0.5  # the field comes from an abstract base
        if stamped:
            chosen.append("stamped_at")
        text = (
            body[0] + (block.replace("models.Model", "Stamped") if stamped else block) + "\n".join(lines) + "\n" + rest
        )
        path.write_text(text)
        added[app.label] = sorted(f"{model.lower()}.{name}" for name in chosen)
    return added


SEEDS = [11, 12, 13, 14, 15, 16]


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed{s}" for s in SEEDS])
def test_generated_projects_missing_fields_agree_with_django_and_the_fix_satisfies_it(tmp_path, seed):
    spec = mp.generate_django(seed, apps=4, per_app=6, branch_rate=0.0, operations=True, contrib=False)
    root = mp.write_django(tmp_path / "project", spec)
    assert django_changes(root, "proj.settings.dev")["ops"] == []  # the generator writes models in sync
    assert not any(d.drifted or d.problems for d in _drifts(root).values())

    added = _drift_models(root, spec, random.Random(seed))
    oracle = django_changes(root, "proj.settings.dev")
    drifts = _drifts(root)
    ours = sorted(f"{label}:{m}" for label, d in drifts.items() for m in _missing(d))
    assert ours == _added(oracle) == sorted(f"{label}:{m}" for label, ms in added.items() for m in ms)
    assert not any(d.stale_fields or d.missing_models or d.stale_models or d.problems for d in drifts.values())

    written = {label: _write_fix(root, d) for label, d in drifts.items() if d.missing_fields}
    for label, w in written.items():
        assert oracle["names"][label] == [w.name], label
        assert w.unresolved == () and w.not_null == ()
    after = django_changes(root, "proj.settings.dev")
    assert after["ops"] == [], after
    assert not any(d.drifted for d in _drifts(root).values())


# --- small projects: near misses, warnings, bad input -----------------------------------------------


def _mini(root: Path, apps: dict[str, dict[str, str]]) -> Path:
    """A project with `apps` = {label: {"models.py": text, "migrations/0001_initial.py": text, ...}}."""
    (root / "proj").mkdir(parents=True)
    (root / "proj" / "__init__.py").touch()
    (root / "manage.py").write_text('import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")\n')
    (root / "proj" / "settings.py").write_text(
        f"INSTALLED_APPS = {['django.contrib.auth', 'django.contrib.contenttypes', *apps]!r}\n"
        'DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}\n'
        'DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"\nUSE_TZ = True\n'
    )
    for label, files in apps.items():
        (root / label / "migrations").mkdir(parents=True)
        (root / label / "__init__.py").touch()
        (root / label / "migrations" / "__init__.py").touch()
        for name, text in files.items():
            (root / label / name).write_text(textwrap.dedent(text).lstrip())
    return root


def _migration(deps: list[tuple[str, str]], ops: str) -> str:
    return (
        "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n"
        f"    dependencies = {deps!r}\n"
        f"    operations = [\n{textwrap.indent(textwrap.dedent(ops).strip(), '        ')}\n    ]\n"
    )


ID_FIELD = "('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID'))"
SHOP_MODELS = """
    from django.db import models


    class Product(models.Model):
        name = models.CharField(max_length=100)
        price_cents = models.IntegerField(default=0)
"""


def _shop(extra: dict[str, str] | None = None, models: str = SHOP_MODELS) -> dict[str, str]:
    files = {
        "models.py": models,
        "migrations/0001_initial.py": _migration(
            [],
            f"migrations.CreateModel(name='Product', fields=[{ID_FIELD}, ('title', models.CharField(max_length=100)),"
            " ('price', models.IntegerField(default=0))]),",
        ),
    }
    files.update(extra or {})
    return files


def test_fields_renamed_or_added_by_later_migrations_do_not_fire(tmp_path):
    root = _mini(
        tmp_path,
        {
            "shop": _shop(
                {
                    "migrations/0002_rename.py": _migration(
                        [("shop", "0001_initial")],
                        "migrations.RenameField(model_name='product', old_name='title', new_name='name'),",
                    ),
                    "migrations/0003_price.py": _migration(
                        [("shop", "0002_rename")],
                        """
                        migrations.RenameField('product', 'price', 'price_old'),
                        migrations.RemoveField(model_name='product', name='price_old'),
                        migrations.AddField(model_name='product', name='price_cents', field=models.IntegerField(default=0)),
                        """,
                    ),
                }
            )
        },
    )
    shop = _drifts(root)["shop"]
    assert not shop.drifted and not shop.problems, shop
    assert set(shop.state["product"].fields) == {"id", "name", "price_cents"}
    assert shop.state["product"].fields["name"].at == replay.Place("shop/migrations/0002_rename.py", 7)


def test_a_field_the_migrations_add_and_the_model_dropped_is_a_warning_not_an_error(tmp_path):
    root = _mini(
        tmp_path,
        {
            "shop": _shop(
                {
                    "migrations/0002_rename.py": _migration(
                        [("shop", "0001_initial")],
                        "migrations.RenameField(model_name='product', old_name='title', new_name='name'),",
                    )
                }
            )
        },
    )
    [stale] = _drifts(root)["shop"].stale_fields
    assert (stale.model.name, stale.field.name) == ("Product", "price")
    assert stale.field.at.path == "shop/migrations/0001_initial.py"
    assert [m.field.name for m in _drifts(root)["shop"].missing_fields] == ["price_cents"]


def test_a_model_without_createmodel_is_missing_and_one_deleted_or_renamed_is_followed(tmp_path):
    models = SHOP_MODELS + textwrap.indent(
        textwrap.dedent("""

        class Order(models.Model):
            total = models.IntegerField()


        class Basket(models.Model):
            size = models.IntegerField()


        class Coupon(models.Model):
            code = models.CharField(max_length=10)
        """),
        "    ",
    )
    root = _mini(
        tmp_path,
        {
            "shop": _shop(
                {
                    "migrations/0002_more.py": _migration(
                        [("shop", "0001_initial")],
                        f"""
                        migrations.RenameField('product', 'title', 'name'),
                        migrations.RenameField('product', 'price', 'price_cents'),
                        migrations.CreateModel(name='Order', fields=[{ID_FIELD}, ('total', models.IntegerField())]),
                        migrations.DeleteModel(name='Order'),
                        migrations.CreateModel(name='Cart', fields=[{ID_FIELD}, ('size', models.IntegerField())]),
                        migrations.RenameModel(old_name='Cart', new_name='Basket'),
                        migrations.CreateModel(name='Gone', fields=[{ID_FIELD}]),
                        """,
                    )
                },
                models=models,
            )
        },
    )
    shop = _drifts(root)["shop"]
    assert [c.name for c in shop.missing_models] == ["Order", "Coupon"]
    assert [m.name for m in shop.stale_models] == ["Gone"]
    assert not shop.missing_fields and not shop.stale_fields


def test_abstract_bases_are_inherited_and_proxy_unmanaged_and_open_models_are_left_alone(tmp_path):
    models = """
        from django.contrib.auth.models import AbstractUser
        from django.db import models


        class Stamped(models.Model):
            created_at = models.DateTimeField(auto_now_add=True)

            class Meta:
                abstract = True


        class Product(Stamped):
            name = models.CharField(max_length=100)
            objects = models.Manager()


        class Cheap(Product):
            class Meta:
                proxy = True


        class Legacy(models.Model):
            code = models.CharField(max_length=5)

            class Meta:
                managed = False


        class Member(AbstractUser):
            nickname = models.CharField(max_length=30, blank=True)
    """
    root = _mini(
        tmp_path,
        {
            "shop": {
                "models.py": models,
                "migrations/0001_initial.py": _migration(
                    [],
                    f"""
                    migrations.CreateModel(name='Product', fields=[{ID_FIELD}, ('name', models.CharField(max_length=100))]),
                    migrations.CreateModel(name='Member', fields=[{ID_FIELD}, ('username', models.CharField(max_length=150))]),
                    """,
                ),
            }
        },
    )
    shop = _drifts(root)["shop"]
    assert [(m.model.name, m.field.name, m.field.owner) for m in shop.missing_fields] == [
        ("Product", "created_at", "Stamped"),
        ("Member", "nickname", "Member"),
    ]
    # Member inherits from AbstractUser, which pitstop cannot read: username is not reported as dropped
    assert not shop.stale_fields and not shop.missing_models and not shop.stale_models
    by_name = {m.name: m for m in shop.models}
    assert by_name["Stamped"].abstract and by_name["Cheap"].proxy and not by_name["Legacy"].managed
    assert by_name["Member"].open and not by_name["Product"].open


def test_separate_database_and_state_is_replayed_and_runpython_runsql_are_noted(tmp_path):
    root = _mini(
        tmp_path,
        {
            "shop": _shop(
                {
                    "migrations/0002_state.py": _migration(
                        [("shop", "0001_initial")],
                        """
                        migrations.SeparateDatabaseAndState(state_operations=[
                            migrations.RenameField('product', 'title', 'name'),
                        ]),
                        migrations.RunSQL("ALTER TABLE shop_product ADD COLUMN price_cents integer"),
                        migrations.RunPython(migrations.RunPython.noop),
                        """,
                    )
                }
            )
        },
    )
    shop = _drifts(root)["shop"]
    assert _missing(shop) == ["product.price_cents"]
    assert [(n.operation, n.at.line) for n in shop.not_replayed] == [("RunSQL", 10), ("RunPython", 11)]
    # the SQL's state_operations (third positional argument) tell the state about the column
    (root / "shop" / "migrations" / "0003_sql.py").write_text(
        _migration(
            [("shop", "0002_state")],
            "migrations.RunSQL('ALTER TABLE shop_product ADD COLUMN price_cents integer', migrations.RunSQL.noop,"
            " [migrations.AddField('product', 'price_cents', models.IntegerField(default=0))]),",
        )
    )
    assert _missing(_drifts(root)["shop"]) == []


def test_unparsable_models_or_migration_is_reported_and_other_apps_still_checked(tmp_path):
    root = _mini(
        tmp_path,
        {
            "shop": _shop(models="from django.db import models\n\nclass Product(models.Model)\n    pass\n"),
            "stock": _shop({"migrations/0002_broken.py": "from django.db import migrations\n\nclass Migration(:\n"}),
            "cart": _shop({"migrations/0002_dynamic.py": _migration([("cart", "0001_initial")], "*OPS,")}),
            "ok": _shop(),
        },
    )
    drifts = _drifts(root)
    assert drifts["shop"].problems == (("shop/models.py", "could not check shop/models.py: expected ':' at line 3", 3),)
    [(path, message, _)] = drifts["stock"].problems
    assert path == "stock/migrations/0002_broken.py"
    assert message.startswith("could not check stock/migrations/0002_broken.py: ") and "line 3" in message
    [(path, message, _)] = drifts["cart"].problems
    assert (
        message
        == "could not check cart/migrations/0002_dynamic.py: the operation at line 7 is not a call pitstop can read"
    )
    assert _missing(drifts["ok"]) == ["product.name", "product.price_cents"]


def test_unreadable_models_file_is_reported(tmp_path, monkeypatch):
    root = _mini(tmp_path, {"shop": _shop(), "ok": _shop()})
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "models.py" and self.parent.name == "shop":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    drifts = _drifts(root)
    assert drifts["shop"].problems == (("shop/models.py", "could not check shop/models.py: Permission denied", None),)
    assert _missing(drifts["ok"]) == ["product.name", "product.price_cents"]


def test_an_app_with_two_leaves_gets_no_addfield_migration_until_they_are_merged(tmp_path):
    branch = _migration([("shop", "0001_initial")], "migrations.RenameField('product', 'title', 'name'),")
    other = _migration([("shop", "0001_initial")], "migrations.AlterModelOptions(name='product', options={}),")
    root = _mini(tmp_path, {"shop": _shop({"migrations/0002_a.py": branch, "migrations/0002_b.py": other})})
    project = _project(root)
    graph = dj.load_graph(project)
    [shop] = replay.check_project(project, graph)
    assert shop.leaves == ("0002_a", "0002_b")
    assert _missing(shop) == ["product.price_cents"]  # both branches replayed: name is known
    with pytest.raises(ValueError, match=r"2 leaf migrations \(0002_a, 0002_b\); merge them first"):
        replay.add_field_migration(project, graph, shop, now=NOW)


def test_migration_names_follow_djangos_suggest_name():
    def missing(*pairs: str) -> list[replay.MissingField]:
        out = []
        for pair in pairs:
            model, name = pair.split(".")
            cls = replay.ModelClass(model, replay.Place("m.py", 1), "app.models", ())
            expr = replay.ast.Call(replay.ast.Name("F"), [], [])
            out.append(replay.MissingField(cls, replay.ModelField(name, cls.at, "F", "F()", model, "app.models", expr)))
        return out

    assert replay.migration_name(missing("Organization.stripe_customer_id"), "0003_x") == (
        "0004_organization_stripe_customer_id"
    )
    assert replay.migration_name(missing("Shop.a", "Shop.b"), "0009_squashed_0012_y") == "0013_shop_a_shop_b"
    long = missing("Organization.stripe_customer_id", "Organization.vat", "Organization.region")
    assert replay.migration_name(long, "custom") == "0001_organization_stripe_customer_id_organization_vat_and_more"
    assert len("organization_stripe_customer_id_organization_vat") <= 52


def test_not_null_fields_without_default_are_flagged_and_references_made_importable(tmp_path):
    models = """
        from django.conf import settings
        from django.db import models
        from django.utils.translation import gettext_lazy as _

        from shop.fields import MoneyField


        class Product(models.Model):
            class Size(models.IntegerChoices):
                SMALL = 1, _("Small")
                LARGE = 2

            name = models.CharField(max_length=100)
            price_cents = models.IntegerField(default=0)
            sku = models.CharField(_("stock keeping unit"), max_length=20)
            size = models.IntegerField(choices=Size.choices, default=Size.LARGE)
            buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True)
            cost = MoneyField(null=True)
            weird = models.IntegerField(default=compute())
    """
    root = _mini(
        tmp_path,
        {
            "shop": _shop(
                {"fields.py": "from django.db import models\nMoneyField = models.IntegerField\n"}, models=models
            )
        },
    )
    (root / "shop" / "migrations" / "0002_rename.py").write_text(
        _migration([("shop", "0001_initial")], "migrations.RenameField('product', 'title', 'name'),")
    )
    project = _project(root)
    graph = dj.load_graph(project)
    [shop] = replay.check_project(project, graph)
    written = replay.add_field_migration(project, graph, shop, now=NOW)
    assert written.name == "0003_product_buyer_product_cost_product_price_cents_and_more"
    assert written.not_null == ("Product.sku",)
    assert written.unresolved == ("compute",)
    text = written.text
    assert "migrations.swappable_dependency(settings.AUTH_USER_MODEL)," in text
    assert "        ('shop', '0002_rename'),\n        migrations.swappable_dependency" in text
    assert re.search(
        r"^import shop\.fields\nfrom django\.conf import settings\nfrom django\.db import migrations, models\n",
        text,
        re.M,
    )
    assert "field=models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True)," in text
    assert "field=models.IntegerField(choices=[(1, 'Small'), (2, 'Large')], default=2)," in text
    assert "field=models.CharField('stock keeping unit', max_length=20)," in text
    assert "field=shop.fields.MoneyField(null=True)," in text
    compile(text, written.path, "exec")
