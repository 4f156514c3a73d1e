"""The apply journal: one fsync'd JSON line per step of every apply and undo.

It is the record of what pitstop changed, and what `undo` restores from. Objects are
stored whole (workloads only; Secrets never pass through the fix machinery), so undo
can put back exactly what was there.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson


def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "pitstop"


def default_path() -> Path:
    return state_dir() / "journal.jsonl"


def new_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


class JournalError(RuntimeError):
    """The journal cannot be read or written; the message says which file and why."""


class Journal:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()

    def append(self, entry: dict[str, Any]) -> None:
        """Write one entry durably (flush and fsync) before the caller goes on."""
        record = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), **entry}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, orjson.dumps(record) + b"\n")
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as e:
            raise JournalError(f"cannot write the journal {self.path} ({e.strerror}); nothing was applied") from e

    def entries(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        try:
            lines = self.path.read_bytes().splitlines()
        except OSError as e:
            raise JournalError(f"cannot read the journal {self.path} ({e.strerror})") from e
        for line in lines:
            if line.strip():
                try:
                    yield orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue  # a torn last line from a crash mid-write is not an entry

    def last(self, entry_id: str) -> dict[str, Any] | None:
        """The newest record of an apply or undo id (its final phase)."""
        found = None
        for e in self.entries():
            if e.get("id") == entry_id:
                found = e
        return found

    def history(self) -> list[dict[str, Any]]:
        """The final record of every id, oldest first."""
        final: dict[str, dict[str, Any]] = {}
        for e in self.entries():
            final[e["id"]] = e
        return list(final.values())
