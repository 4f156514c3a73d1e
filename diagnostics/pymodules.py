"""A repository's Python modules as `import` would find them, read from paths only (nothing is imported or run).

The Python roots are the directories a program's `sys.path` usually starts from: those with
`manage.py`, `pyproject.toml`, `setup.py` or `setup.cfg` (and their `src/`), and the repository
root for top-level packages. Below a root, only packages (directories with `__init__.py`) count.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from diagnostics.findings import Location
from diagnostics.repo import SKIP_DIRS

PROJECT_MARKERS = ("manage.py", "pyproject.toml", "setup.py", "setup.cfg")
SCAN_FILES = 5000  # Python files read to find where a name is quoted
SCAN_BYTES = 512 * 1024


def walk(root: Path, depth: int | None = None) -> Iterator[tuple[Path, list[str], list[str]]]:
    """os.walk without VCS, dependency, cache and virtualenv directories; `depth` levels below `root` at most."""
    base = len(root.parts)
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in SKIP_DIRS
            and not d.startswith(".")
            and not d.endswith(".egg-info")
            and not (here / d / "pyvenv.cfg").exists()
        )
        if depth is not None and len(here.parts) - base >= depth:
            dirnames[:] = []
        yield here, dirnames, filenames


@dataclass
class PythonTree:
    """A repository's Python modules as `import` would find them from its Python roots, read from paths only."""

    root: Path
    roots: list[Path] = field(default_factory=list)
    _modules: list[str] | None = None

    @classmethod
    def of(cls, root: Path) -> PythonTree:
        roots: list[Path] = []
        for here, _dirs, files in walk(root):
            if any(m in files for m in PROJECT_MARKERS):
                roots.append(here)
                if (here / "src").is_dir():
                    roots.append(here / "src")
        roots.append(root)  # top-level packages
        return cls(root, list(dict.fromkeys(roots)))

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def find(self, dotted: str) -> Path | None:
        """The file of module `dotted` (`pkg/mod.py` or `pkg/mod/__init__.py`), or its namespace package directory."""
        parts = dotted.split(".")
        if not all(p.isidentifier() for p in parts):
            return None
        for root in self.roots:
            base = root.joinpath(*parts)
            for candidate in (base.with_name(base.name + ".py"), base / "__init__.py"):
                if candidate.is_file():
                    return candidate
            if base.is_dir() and any(base.glob("*.py")):
                return base
        return None

    def modules(self) -> list[str]:
        """Every module under the roots, dotted: top-level files, and packages (directories with `__init__.py`)."""
        if self._modules is None:
            found: set[str] = set()
            for root in self.roots:
                for here, dirs, files in walk(root, depth=8):
                    rel = here.relative_to(root).parts
                    # below the root, only packages: `backend/` without __init__.py is a root, not a package
                    dirs[:] = [d for d in dirs if d.isidentifier() and (here / d / "__init__.py").is_file()]
                    for f in files:
                        if f.endswith(".py") and f[:-3].isidentifier():
                            parts = [*rel] if f == "__init__.py" else [*rel, f[:-3]]
                            if parts:
                                found.add(".".join(parts))
            self._modules = sorted(found)
        return self._modules

    def has_python(self) -> bool:
        return bool(self.modules())

    def closest(self, dotted: str) -> str | None:
        """The existing module most like `dotted`: the longest shared tail (`settings.production`), then the name."""
        want = dotted.split(".")
        best, best_key = None, (0, 0.0)
        for mod in self.modules():
            parts = mod.split(".")
            tail = 0
            while tail < min(len(parts), len(want)) and parts[-1 - tail] == want[-1 - tail]:
                tail += 1
            head = 0
            while head < min(len(parts), len(want)) and parts[head] == want[head]:
                head += 1
            ratio = difflib.SequenceMatcher(None, dotted, mod).ratio()
            key = (tail + head, ratio)
            if (tail + head > 0 or ratio >= 0.75) and (len(parts) == len(want) or tail >= 2) and key > best_key:
                best, best_key = mod, key
        return best

    def readers(self, names: Sequence[str]) -> dict[str, Location]:
        """For each env name, the first place a Python file of the project quotes it ("NAME" / 'NAME')."""
        if not names:
            return {}
        pattern = re.compile(r"""["'](""" + "|".join(re.escape(n) for n in names) + r""")["']""")
        out: dict[str, Location] = {}
        seen = 0
        for root in self.roots[:-1] or self.roots:
            for here, _dirs, files in walk(root):
                for f in files:
                    if not f.endswith(".py"):
                        continue
                    path = here / f
                    seen += 1
                    if seen > SCAN_FILES or len(out) == len(names):
                        return out
                    try:
                        if path.stat().st_size > SCAN_BYTES:
                            continue
                        text = path.read_text(encoding="utf-8", errors="replace")
                    except OSError:
                        continue
                    for lineno, line in enumerate(text.splitlines(), 1):
                        for m in pattern.finditer(line):
                            out.setdefault(m[1], Location(self.rel(path), lineno))
        return out
