"""The names a `.env` file defines — never its values, which are skipped as the file is read.

The format is python-dotenv's and docker compose's: `NAME=value`, `export NAME=value`, comments,
and quoted values running over several lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from diagnostics.pymodules import walk

FILES = (".env.example", ".env.sample", ".env.template", ".env.dist", ".env")  # per directory, the first found
DEPTH = 2  # directories below the root searched (backend/.env.example)

_LINE = re.compile(r"^\s*(?:export\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(?P<rest>.*)$")


def names(text: str) -> list[str]:
    """The names a .env file defines, in order; values are skipped as they are read and never kept.

    `export NAME=…` and quoted values over several lines (python-dotenv's format) are understood.
    """
    found: list[str] = []
    quote: str | None = None
    for line in text.splitlines():
        if quote is not None:  # inside a multi-line quoted value
            if quote in line:
                quote = None
            continue
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            continue
        if m["name"] not in found:
            found.append(m["name"])
        rest = m["rest"].strip()
        if rest[:1] in ("'", '"') and rest[0] not in rest[1:]:  # the value goes on over the next lines
            quote = rest[0]
    return found


@dataclass(frozen=True, slots=True)
class Dotenv:
    path: str  # relative to the repository root
    names: tuple[str, ...]
    example: bool  # a committed example (fixable), not a developer's own .env

    def __str__(self) -> str:
        return self.path


def files(root: Path) -> list[Dotenv]:
    """One .env file per directory (the example if there is one), near the root; unreadable ones are skipped."""
    out: list[Dotenv] = []
    for here, _dirs, present in walk(root, depth=DEPTH):
        for name in FILES:
            if name not in present:
                continue
            path = here / name
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            out.append(Dotenv(path.relative_to(root).as_posix(), tuple(names(text)), name != ".env"))
            break
    return out
