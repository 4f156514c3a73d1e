"""Alembic histories read statically agree with Alembic's ScriptDirectory and `alembic merge`.

Alembic runs in the test process as the oracle; pitstop's reader never imports it.
"""

from __future__ import annotations

import re
import warnings
from datetime import datetime
from pathlib import Path

import alembic
import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from diagnostics.migrations import alembic as al
from tests.diagnostics import migration_projects as mp

GENERIC = (Path(alembic.__file__).parent / "templates" / "generic" / "script.py.mako").read_text()
CUSTOM = '''"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

"""
## Mako comments never reach the file
from alembic import op
import sqlalchemy as sa
${imports if imports else ""}

# revision identifiers, used by Alembic.
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}
% if branch_labels:
# branch ${branch_labels | comma}
% elif down_revision and len(comma(down_revision).split(", ")) > 1:
# merges:
%   for rev in comma(down_revision).split(", "):
#   - ${rev}
%   endfor
% else:
# a plain revision
% endif
message = "${message.upper() | trim}"  # 100%% sure \\
continued


def upgrade():
    ${upgrades if upgrades else "pass"}


def downgrade():
    ${downgrades if downgrades else "pass"}
'''
CREATE_DATE = re.compile(r"^Create Date: .*$", re.MULTILINE)


@pytest.fixture(autouse=True)
def _quiet_and_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    warnings.filterwarnings("ignore", module="alembic")


def _history(root: Path) -> al.AlembicHistory:
    (history,) = al.find_histories(root)
    return history


def _oracle_heads(ini: Path) -> tuple[list[str], list[str]]:
    script = ScriptDirectory.from_config(Config(str(ini)))
    return script.get_heads(), script.get_heads(consider_depends_on=True)


def _masked(text: str) -> str:
    return CREATE_DATE.sub("Create Date: <now>", text)


HISTORIES = [
    (1, {}),
    (2, {"bases": 2}),
    (3, {"revisions": 30, "branch_rate": 0.4}),
    (4, {"bases": 3, "revisions": 24}),
    (5, {"merge_rate": 0.6, "revisions": 40}),
    (6, {"labels": False, "depends": False}),
    (7, {"revisions": 60, "bases": 2, "branch_rate": 0.35}),
    (8, {"revisions": 12}),
]


@pytest.mark.parametrize(("seed", "knobs"), HISTORIES, ids=[f"seed{s}" for s, _ in HISTORIES])
def test_heads_match_script_directory_get_heads(tmp_path, seed, knobs):
    revs = mp.generate_alembic(seed, **knobs)
    ini = mp.write_alembic(tmp_path, revs, template=GENERIC, typed=seed % 2 == 0)
    history = _history(tmp_path)
    assert history.script_location == "migrations" and history.config_path == "alembic.ini"

    heads, real_heads = _oracle_heads(ini)

    assert al.get_heads(history) == heads  # same revisions, same order
    revisions, problems = al.load_revisions(history)
    assert problems == []
    assert list(al.build_map(history, revisions).real_heads) == real_heads


def test_depends_on_does_not_make_a_head_but_counts_for_real_heads(tmp_path):
    revs = [
        mp.Rev("aaaa00000001", ()),
        mp.Rev("bbbb00000002", ("aaaa00000001",)),
        mp.Rev("cccc00000003", (), ("audit",), message="audit branch"),
        mp.Rev("dddd00000004", ("cccc00000003",), depends_on=("bbbb00000002",)),
    ]
    ini = mp.write_alembic(tmp_path, revs, template=GENERIC)
    heads, real_heads = _oracle_heads(ini)
    history = _history(tmp_path)
    rmap = al.build_map(history, al.load_revisions(history)[0])
    assert list(rmap.heads) == heads == ["bbbb00000002", "dddd00000004"]
    assert list(rmap.real_heads) == real_heads == ["dddd00000004"]
    assert al.analyze(history) == []  # two bases: independent branches, not a forgotten merge


def test_forked_heads_are_a_problem_with_each_heads_file_and_line(tmp_path):
    revs = [
        mp.Rev("1a2b3c4d5e6f", (), message="create tables"),
        mp.Rev("2b3c4d5e6f70", ("1a2b3c4d5e6f",), message="add renewal fields"),
        mp.Rev("3c4d5e6f7081", ("1a2b3c4d5e6f",), message="license sessions"),
    ]
    mp.write_alembic(tmp_path, revs, template=GENERIC)
    (problem,) = al.analyze(_history(tmp_path))
    assert problem.kind == "multiple-heads"
    assert problem.message == al.MULTIPLE_HEADS_ERROR
    assert problem.details == ("2b3c4d5e6f70", "3c4d5e6f7081")
    assert [(loc.path, loc.line) for loc in problem.locations] == [
        ("migrations/versions/2b3c4d5e6f70_add_renewal_fields.py", 14),
        ("migrations/versions/3c4d5e6f7081_license_sessions.py", 14),
    ]
    assert Path(tmp_path / problem.path).read_text().splitlines()[13] == "revision: str = '3c4d5e6f7081'"


def test_a_labelled_branch_forked_on_purpose_is_not_reported(tmp_path):
    revs = [
        mp.Rev("1a2b3c4d5e6f", ()),
        mp.Rev("2b3c4d5e6f70", ("1a2b3c4d5e6f",)),
        mp.Rev("3c4d5e6f7081", ("1a2b3c4d5e6f",), ("reporting",)),
        mp.Rev("4d5e6f708192", ("3c4d5e6f7081",)),
    ]
    mp.write_alembic(tmp_path, revs, template=GENERIC)
    history = _history(tmp_path)
    assert al.get_heads(history) == ["2b3c4d5e6f70", "4d5e6f708192"]
    assert al.analyze(history) == []


@pytest.mark.parametrize(
    ("seed", "template", "file_template"),
    [
        (11, GENERIC, None),
        (12, CUSTOM, None),
        (13, GENERIC, "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s"),
        (14, CUSTOM, "%%(rev)s"),
    ],
    ids=["generic", "custom", "generic-dated-file-template", "custom-rev-only-file-template"],
)
def test_merge_revision_is_what_alembic_merge_writes(tmp_path, seed, template, file_template):
    revs = mp.generate_alembic(seed, revisions=20, branch_rate=0.5, merge_rate=0.1)
    ini = mp.write_alembic(tmp_path, revs, template=template, file_template=file_template)
    history = _history(tmp_path)
    heads = al.get_heads(history)
    assert len(heads) > 1

    path, text = al.merge_revision(history, heads, rev_id="ab12cd34ef56")
    script = command.merge(Config(str(ini)), heads, message="merge heads", rev_id="ab12cd34ef56")

    assert script is not None
    assert (tmp_path / path).resolve() == Path(script.path).resolve()
    assert _masked(text) == _masked(Path(script.path).read_text())
    assert al.get_heads(history) == _oracle_heads(ini)[0] == ["ab12cd34ef56"]


def test_merge_of_partial_ids_with_a_long_message_and_a_timezone(tmp_path):
    revs = mp.generate_alembic(15, revisions=14, branch_rate=0.6, merge_rate=0.0)
    ini = mp.write_alembic(tmp_path, revs, template=GENERIC, timezone="UTC")
    history = _history(tmp_path)
    heads = al.get_heads(history)
    message = "merge the reporting and billing heads before the q3 release"
    short = [h[:8] for h in heads]

    path, text = al.merge_revision(history, short, message=message, rev_id="0123456789ab")
    script = command.merge(Config(str(ini)), short, message=message, rev_id="0123456789ab")

    assert path == f"migrations/versions/0123456789ab_{Path(script.path).name.split('_', 1)[1]}"
    assert _masked(text) == _masked(Path(script.path).read_text())
    assert re.search(r"^Create Date: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\+00:00$", text, re.MULTILINE)


def test_merge_header_uses_the_injected_time_and_fresh_rev_ids(tmp_path):
    revs = [
        mp.Rev("aaaa00000001", ()),
        mp.Rev("bbbb00000002", ("aaaa00000001",)),
        mp.Rev("cccc00000003", ("aaaa00000001",)),
    ]
    mp.write_alembic(tmp_path, revs, template=GENERIC)
    history = _history(tmp_path)
    path, text = al.merge_revision(history, ["bbbb00000002", "cccc00000003"], now=datetime(2025, 5, 20, 17, 30, 5))
    rev = re.search(r"^revision: str = '([0-9a-f]{12})'$", text, re.MULTILINE)
    assert rev and path == f"migrations/versions/{rev.group(1)}_merge_heads.py"
    assert "Create Date: 2025-05-20 17:30:05\n" in text
    assert "Revises: bbbb00000002, cccc00000003\n" in text
    assert "down_revision: Union[str, Sequence[str], None] = ('bbbb00000002', 'cccc00000003')\n" in text
    compile(text, path, "exec")
    with pytest.raises(ValueError, match="not a head revision"):
        al.merge_revision(history, ["aaaa00000001", "bbbb00000002"])


def test_templates_beyond_the_supported_subset_fall_back_to_the_default_form(tmp_path):
    revs = [
        mp.Rev("aaaa00000001", ()),
        mp.Rev("bbbb00000002", ("aaaa00000001",)),
        mp.Rev("cccc00000003", ("aaaa00000001",)),
    ]
    mp.write_alembic(tmp_path, revs, template="<%! import re %>\n" + GENERIC)
    _, fallback = al.merge_revision(_history(tmp_path), ["bbbb00000002", "cccc00000003"], rev_id="ffff00000004")
    (tmp_path / "migrations" / "script.py.mako").write_text(GENERIC)
    _, rendered = al.merge_revision(_history(tmp_path), ["bbbb00000002", "cccc00000003"], rev_id="ffff00000004")
    assert _masked(fallback) == _masked(rendered)


# --- broken histories ---------------------------------------------------------------------------


def test_missing_down_revision_is_reported_where_alembic_would_crash(tmp_path):
    revs = [
        mp.Rev("aaaa00000001", ()),
        mp.Rev("bbbb00000002", ("aaaa00000001",)),
        mp.Rev("cccc00000003", ("9999deadbeef",), message="orphan"),
    ]
    ini = mp.write_alembic(tmp_path, revs, template=GENERIC)
    with pytest.raises(KeyError):
        _oracle_heads(ini)
    problems = al.analyze(_history(tmp_path))
    assert [(p.kind, p.details, p.path) for p in problems] == [
        ("missing-dependency", ("9999deadbeef", "down_revision"), "migrations/versions/cccc00000003_orphan.py")
    ]


def test_cycle_is_reported_with_alembics_message(tmp_path):
    revs = [
        mp.Rev("aaaa00000001", ()),
        mp.Rev("bbbb00000002", ("aaaa00000001", "dddd00000004")),
        mp.Rev("cccc00000003", ("bbbb00000002",)),
        mp.Rev("dddd00000004", ("cccc00000003",)),
        mp.Rev("eeee00000005", ("aaaa00000001",)),
    ]
    ini = mp.write_alembic(tmp_path, revs, template=GENERIC)
    with pytest.raises(Exception, match="Cycle") as caught:
        _oracle_heads(ini)
    problems = al.analyze(_history(tmp_path))
    assert [p.kind for p in problems] == ["cycle"]
    assert problems[0].message == str(caught.value)
    assert {loc.path.split("/")[-1][:12] for loc in problems[0].locations} == {
        "bbbb00000002",
        "cccc00000003",
        "dddd00000004",
    }


def test_syntax_error_in_a_revision_file_is_reported_with_its_line(tmp_path):
    revs = [mp.Rev("aaaa00000001", ()), mp.Rev("bbbb00000002", ("aaaa00000001",), message="broken")]
    mp.write_alembic(tmp_path, revs, template=GENERIC)
    broken = tmp_path / "migrations" / "versions" / "bbbb00000002_broken.py"
    lines = broken.read_text().splitlines()
    lines.insert(20, "def upgrade(:")
    broken.write_text("\n".join(lines) + "\n")
    with pytest.raises(SyntaxError) as caught:
        compile(broken.read_text(), str(broken), "exec")

    problems = al.analyze(_history(tmp_path))

    assert [(p.kind, p.line) for p in problems] == [("syntax-error", caught.value.lineno)]
    assert al.get_heads(_history(tmp_path)) == ["bbbb00000002"]  # its header still says where it sits


def test_histories_configured_in_pyproject_and_bare_env_directories_are_found(tmp_path):
    (tmp_path / "svc" / "db" / "versions").mkdir(parents=True)
    (tmp_path / "svc" / "pyproject.toml").write_text('[tool.alembic]\nscript_location = "%(here)s/db"\n')
    (tmp_path / "legacy" / "versions").mkdir(parents=True)
    (tmp_path / "legacy" / "env.py").write_text("")
    found = {h.script_location: h for h in al.find_histories(tmp_path)}
    assert set(found) == {"svc/db", "legacy"}
    assert found["svc/db"].config_path == "svc/pyproject.toml"
    assert found["legacy"].config_path is None
