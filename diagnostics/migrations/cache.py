"""Parsed migration files remembered between runs, so an unchanged tree is not parsed again.

One orjson file per analysed directory under `$XDG_CACHE_HOME/pitstop/`, mapping each file's
path to `[mtime_ns, size, record]`. A record is whatever the parser returned for that file
(plain JSON data); it is reused only while the file's mtime and size are unchanged, and the
whole cache is dropped when the parser's version changes. Files not seen in a run are pruned
when it is saved, so the cache follows the tree instead of growing forever.
"""

from __future__ import annotations

import binascii
import os
from pathlib import Path
from typing import Any

import orjson


def cache_home() -> Path:
    """`$XDG_CACHE_HOME/pitstop`, or `~/.cache/pitstop` when the variable is unset or relative."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "pitstop"


class ParseCache:
    """The parse results for one directory tree; `get` and `put` by path, `save` once at the end.

    Beside it, a "clean" stamp: the digest of a tree that was last analysed without problems, so
    an unchanged clean tree is answered without building anything.
    """

    def __init__(self, namespace: str, root: Path, version: str, *, enabled: bool = True) -> None:
        # a short name per tree; entries are keyed by absolute path, so a clash only costs a re-parse
        digest = f"{binascii.crc32(str(root).encode()):08x}"
        self.path = cache_home() / f"{namespace}-{root.name or 'root'}-{digest}.json"
        self.version = version
        self.enabled = enabled
        self._entries: dict[str, list[Any]] = {}
        self._seen: set[str] = set()
        self._dirty = False
        self._loaded = False

    def _load(self) -> None:
        self._loaded = True
        if not self.enabled:
            return
        try:
            data = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return  # no cache yet, or a torn one: parse everything again
        if isinstance(data, dict) and data.get("version") == self.version and isinstance(data.get("files"), dict):
            self._entries = data["files"]

    def get(self, path: str, mtime_ns: int, size: int) -> Any:
        """The record stored for `path` if the file still has this mtime and size, else None."""
        if not self._loaded:
            self._load()
        self._seen.add(path)
        entry = self._entries.get(path)
        if entry is not None and entry[0] == mtime_ns and entry[1] == size:
            return entry[2]
        return None

    def put(self, path: str, mtime_ns: int, size: int, record: Any) -> None:
        if not self._loaded:
            self._load()
        self._seen.add(path)
        self._entries[path] = [mtime_ns, size, record]
        self._dirty = True

    def save(self) -> None:
        """Write the cache if anything changed; a cache directory that cannot be written only costs speed."""
        if not self.enabled or not self._loaded:
            return
        stale = self._entries.keys() - self._seen
        if stale:
            for path in stale:
                del self._entries[path]
            self._dirty = True
        if self._dirty and _write_atomic(self.path, orjson.dumps({"version": self.version, "files": self._entries})):
            self._dirty = False

    @property
    def _clean_path(self) -> Path:
        return self.path.with_suffix(".clean")

    def is_clean(self, stamp: str) -> bool:
        """Whether the tree with this digest was last analysed without problems."""
        if not self.enabled:
            return False
        try:
            return self._clean_path.read_text() == f"{self.version}\n{stamp}"
        except OSError:
            return False

    def mark_clean(self, stamp: str | None) -> None:
        """Remember `stamp` as a clean tree, or forget the last clean one (None)."""
        if not self.enabled:
            return
        if stamp is not None:
            _write_atomic(self._clean_path, f"{self.version}\n{stamp}".encode())
            return
        try:
            self._clean_path.unlink()
        except OSError:
            return  # nothing was remembered


def _write_atomic(path: Path, payload: bytes) -> bool:
    """Replace `path` in one step, so a concurrent reader sees the old or the new file; False if it cannot
    be written (read-only home, full disk), which only costs the next run some speed."""
    import tempfile  # only a changed tree pays for it

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        return False
    return True
