"""The repository the cluster is deployed from: find a manifest by kind/namespace/name, edit it in place.

Every `*.yaml`/`*.yml` file under the root is indexed (multi-document files included);
`find` answers with the path, document index and line of the manifest, and `edit` turns
a change to that document into a `FilePlan` whose diff touches only the changed lines.

The surprising parts:

- Documents are split on their `---` lines first and parsed one by one, so an edit leaves
  every other document of the file untouched byte for byte, and one broken document does
  not hide the others. `ManifestRef.document` counts the file's non-empty documents from 0.
- Editing is ruamel.yaml round-trip (comments, key order, quoting kept), then a line merge
  against an unchanged round-trip of the same document: whatever ruamel would re-indent or
  re-wrap on its own is discarded, only the lines the change produced are taken. The result
  is parsed again and must equal the changed document, or the plain round-trip is used.
- A manifest without `metadata.namespace` matches the namespace asked when the namespace
  it will land in says so: a `kustomization.yaml` above it setting `namespace:`, or else the
  namespace the other documents of its file share. Failing both it matches any namespace,
  after every exact match.
- Helm chart templates (`templates/` under a `Chart.yaml`) are not manifests and are skipped,
  as are vendored trees (`node_modules`, `vendor`, `.venv`, ...) and files over 2 MB.
"""

from __future__ import annotations

import difflib
import io
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.representer import RoundTripRepresenter

from diagnostics.findings import FilePlan, Location

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        ".venv",
        "venv",
        "vendor",
        "third_party",
        ".tox",
        ".nox",
        ".terraform",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "site-packages",
        ".idea",
    }
)
MAX_FILE_BYTES = 2 * 1024 * 1024
_SEPARATOR = re.compile(r"---(?:[ \t]|$)")
_PLAIN_SEPARATOR = re.compile(r"---[ \t]*(?:#.*)?")
_END = re.compile(r"\.\.\.(?:[ \t]|$)")
_INDENTS = ((2, 2, 0), (2, 4, 2), (4, 4, 2), (4, 4, 0), (4, 6, 4), (3, 3, 1))  # mapping, sequence, offset
_KUSTOMIZATIONS = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# plain strings YAML 1.1 readers (kubectl among them) take for booleans or null
_AMBIGUOUS = re.compile(r"(?i:y|n|yes|no|on|off|true|false|null|~)")


class RepositoryError(ValueError):
    """A repository operation refused; the message names the file and the way out."""


class Problem(NamedTuple):
    """A YAML file that does not parse: where, and the parser's complaint in one line."""

    path: str
    line: int | None
    message: str


@dataclass(frozen=True, slots=True)
class ManifestRef:
    """One Kubernetes manifest in the repository.

    `path` is relative to the root (POSIX separators), `document` the 0-based index among
    the file's non-empty documents, `line` the 1-based line of the document's first key.
    `namespace` is as written (None when absent); `implied_namespace` the namespace a
    namespace-less manifest lands in, when the repository says (see the module docstring).
    """

    path: str
    document: int
    line: int
    kind: str
    name: str
    namespace: str | None = None
    api_version: str = ""
    implied_namespace: str | None = None

    @property
    def location(self) -> Location:
        return Location(self.path, self.line)


@dataclass(frozen=True, slots=True)
class _Segment:
    """A slice of a file's lines holding at most one document: its `---` line (if any) and body."""

    start: int  # index of the segment's first line in the file
    lines: list[str] = field(hash=False, compare=False)
    has_separator: bool = False

    @property
    def is_document(self) -> bool:
        body = self.lines[1:] if self.has_separator else self.lines
        if self.has_separator and not _PLAIN_SEPARATOR.fullmatch(self.lines[0].rstrip("\r\n")):
            return True  # `--- |` or `--- !tag`: content on the separator line
        return any(s and not s.startswith(("#", "%")) and not _END.match(s) for s in (line.strip() for line in body))

    def parse_range(self) -> tuple[int, str]:
        """(first line index, text) to hand the parser: without a plain `---` line."""
        if self.has_separator and _PLAIN_SEPARATOR.fullmatch(self.lines[0].rstrip("\r\n")):
            return self.start + 1, "".join(self.lines[1:])
        return self.start, "".join(self.lines)


def _segments(text: str) -> list[_Segment]:
    segments: list[_Segment] = []
    current: list[str] = []
    start, sep = 0, False
    for i, line in enumerate(text.splitlines(keepends=True)):
        if _SEPARATOR.match(line):
            if current or sep:
                segments.append(_Segment(start, current, sep))
            current, start, sep = [line], i, True
            continue
        current.append(line)
        if _END.match(line):
            segments.append(_Segment(start, current, sep))
            current, start, sep = [], i + 1, False
    if current or sep:
        segments.append(_Segment(start, current, sep))
    return segments


class _Representer(RoundTripRepresenter):
    """Round-trip output that quotes a new `yes`/`on`/`n` string, so kubectl does not read a boolean."""

    def represent_str(self, data: str) -> Any:
        if _AMBIGUOUS.fullmatch(data):
            return self.represent_scalar("tag:yaml.org,2002:str", data, style="'")
        return super().represent_str(data)


_Representer.add_representer(str, _Representer.represent_str)


def _yaml(indent: tuple[int, int, int] = (2, 2, 0)) -> YAML:
    y = YAML(typ="rt")
    y.Representer = _Representer
    y.preserve_quotes = True
    y.width = 1 << 16  # never re-wrap long lines
    y.indent(mapping=indent[0], sequence=indent[1], offset=indent[2])
    return y


def _dump(data: Any, indent: tuple[int, int, int]) -> str:
    buf = io.StringIO()
    _yaml(indent).dump(data, buf)
    return buf.getvalue()


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _problem_of(exc: YAMLError, first_line: int) -> tuple[int | None, str]:
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = first_line + mark.line + 1 if mark is not None else None
        parts = [p for p in (exc.context, exc.problem) if p]
        return line, _one_line(", ".join(parts) or str(exc))
    return None, _one_line(str(exc)) or type(exc).__name__


def _merge(original: str, base: str, changed: str) -> str | None:
    """Apply the line changes between `base` and `changed` to `original`, which `base` approximates.

    None when a changed region of `base` has no exact counterpart in `original`.
    """
    o = original.splitlines(keepends=True)
    b = base.splitlines(keepends=True)
    n = changed.splitlines(keepends=True)
    align: dict[int, int] = {}
    for block in difflib.SequenceMatcher(None, o, b, autojunk=False).get_matching_blocks():
        for k in range(block.size):
            align[block.b + k] = block.a + k
    out: list[str] = []
    pos = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, b, n, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if i1 < i2:
            mapped = [align.get(i) for i in range(i1, i2)]
            first = mapped[0]
            if first is None or mapped != list(range(first, first + len(mapped))):
                return None
            start, end = first, first + len(mapped)
        elif i1 in align:
            start = end = align[i1]
        elif i1 - 1 in align:
            start = end = align[i1 - 1] + 1
        elif i1 == 0:
            start = end = 0
        else:
            return None
        if start < pos:
            return None
        out += o[pos:start] + n[j1:j2]
        pos = end
    out += o[pos:]
    return "".join(out)


def _same_data(text: str, data: Any) -> bool:
    """Whether `text` parses to `data` (a merge that broke the document is caught here)."""
    try:
        return bool(_plain(_yaml().load(text)) == _plain(data))
    except YAMLError:
        return False


def _least_change(text: str, before: CommentedMap, after: CommentedMap) -> str:
    """`after` as text that differs from `text` (which parsed to `before`) in as few lines as possible.

    Each indentation style is tried, the closest first: a style that reproduces `text` exactly
    gives the changed dump as is; otherwise the changed lines are merged into `text`. When no
    merge reproduces `after`, the plain round-trip of the closest style is the answer.
    """
    dumps = []
    for indent in _INDENTS:
        base = _dump(before, indent)
        if base == text:
            return _dump(after, indent)
        dumps.append((indent, base))
    lines = text.splitlines()
    dumps.sort(key=lambda d: -difflib.SequenceMatcher(None, lines, d[1].splitlines(), autojunk=False).ratio())
    for indent, base in dumps:
        changed = _dump(after, indent)
        merged = _merge(text, base, changed)
        if merged is not None and _same_data(merged, after):
            return merged
    return _dump(after, dumps[0][0])


def _edit_document(body: str, change: Callable[[CommentedMap], None], what: str) -> str:
    """`body` (one document's text) with `change` applied, touching as few lines as possible."""
    added_newline = not body.endswith("\n")
    text = body + "\n" if added_newline else body
    try:
        before = _yaml().load(text)
        after = _yaml().load(text)
    except YAMLError as e:
        raise RepositoryError(f"{what} does not parse as YAML ({_one_line(str(e))}); fix the file first") from e
    if not isinstance(after, CommentedMap):
        raise RepositoryError(f"{what} is not a YAML mapping; only manifests can be edited")
    change(after)
    result = _least_change(text, before, after)
    if added_newline and result.endswith("\n"):
        result = result[:-1]
    return result


class Repository:
    """Kubernetes manifests under `root`, indexed on first use (`refresh()` re-reads the tree)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise RepositoryError(f"repository root {self.root} is not a directory; pass --repo PATH")
        self._real_root = self.root.resolve()
        self._lock = threading.Lock()
        self._manifests: list[ManifestRef] | None = None
        self._problems: list[Problem] = []

    # --- paths -------------------------------------------------------------------------------

    def resolve(self, relpath: str | os.PathLike[str]) -> Path:
        """The real path of `relpath` under the root; `RepositoryError` for anything that would leave it.

        Absolute paths, `..` climbing out, and symlinks pointing out of the root are refused.
        """
        raw = os.fspath(relpath)
        if not raw or "\x00" in raw:
            raise RepositoryError(f"refusing file path {raw!r}: it is empty or holds a NUL byte")
        if os.path.isabs(raw) or raw.startswith("~"):
            raise RepositoryError(
                f'refusing file path "{raw}": it is absolute; file fixes take paths relative to the '
                f"repository root {self.root}"
            )
        candidate = self.root / raw
        real = candidate.resolve()
        if not real.is_relative_to(self._real_root):
            how = "climbs out with .." if ".." in Path(raw).parts else "goes through a symlink"
            raise RepositoryError(
                f'refusing file path "{raw}": it {how} to {real}, outside the repository root {self.root}'
            )
        return real

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    # --- index -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Forget the index; the next question re-reads the tree."""
        with self._lock:
            self._manifests = None
            self._problems = []

    def _index(self) -> list[ManifestRef]:
        with self._lock:
            if self._manifests is None:
                self._manifests, self._problems = self._build()
            return self._manifests

    def manifests(self) -> list[ManifestRef]:
        """Every manifest (a document with `kind` and `metadata.name`), by path then document."""
        return list(self._index())

    @property
    def problems(self) -> list[Problem]:
        """YAML files (or documents) that do not parse, by path: never raised, only reported."""
        self._index()
        return list(self._problems)

    def _yaml_files(self) -> Iterator[Path]:
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info"))
            here = Path(dirpath)
            for name in sorted(filenames):
                if not name.lower().endswith((".yaml", ".yml")):
                    continue
                path = here / name
                if path.is_symlink() and not path.resolve().is_relative_to(self._real_root):
                    continue
                if self._is_helm_template(path):
                    continue
                yield path

    def _is_helm_template(self, path: Path) -> bool:
        parts = path.relative_to(self.root).parts
        return any(
            part == "templates" and (self.root.joinpath(*parts[:i]) / "Chart.yaml").is_file()
            for i, part in enumerate(parts[:-1])
        )

    def _build(self) -> tuple[list[ManifestRef], list[Problem]]:
        found: list[ManifestRef] = []
        problems: list[Problem] = []
        kustomize_ns: dict[Path, str] = {}
        for path in self._yaml_files():
            rel = self._rel(path)
            try:
                if path.stat().st_size > MAX_FILE_BYTES:
                    continue
                text = path.read_bytes().decode("utf-8-sig")
            except UnicodeDecodeError:
                problems.append(Problem(rel, None, "not UTF-8 text"))
                continue
            except OSError as e:
                problems.append(Problem(rel, None, f"cannot be read: {e.strerror or e}"))
                continue
            docs: list[ManifestRef] = []
            index = -1
            for segment in _segments(text.replace("\r\n", "\n")):
                if not segment.is_document:
                    continue
                index += 1
                first, body = segment.parse_range()
                try:
                    data = _yaml().load(body)
                except YAMLError as e:
                    line, message = _problem_of(e, first)
                    problems.append(Problem(rel, line, message))
                    continue
                if not isinstance(data, CommentedMap):
                    continue
                if path.name in _KUSTOMIZATIONS and isinstance(data.get("namespace"), str):
                    kustomize_ns[path.parent] = data["namespace"]
                ref = _manifest_ref(rel, index, first, data)
                if ref is not None:
                    docs.append(ref)
            shared = {d.namespace for d in docs if d.namespace}
            file_ns = shared.pop() if len(shared) == 1 else None
            found += [
                ManifestRef(d.path, d.document, d.line, d.kind, d.name, d.namespace, d.api_version, file_ns)
                if d.namespace is None
                else d
                for d in docs
            ]
        resolved = [self._with_kustomize(ref, kustomize_ns) for ref in found]
        return resolved, problems

    def _with_kustomize(self, ref: ManifestRef, kustomize_ns: dict[Path, str]) -> ManifestRef:
        if ref.namespace is not None:
            return ref
        folder = (self.root / ref.path).parent
        while True:
            if folder in kustomize_ns:
                return ManifestRef(
                    ref.path, ref.document, ref.line, ref.kind, ref.name, None, ref.api_version, kustomize_ns[folder]
                )
            if folder == self.root or folder.parent == folder:
                return ref
            folder = folder.parent

    def find(self, kind: str, namespace: str | None, name: str) -> ManifestRef | None:
        """The manifest for `kind namespace/name`: an exact namespace match first, then one without
        `metadata.namespace` that lands in `namespace`, then one without any namespace at all.

        An empty or None `namespace` (cluster-scoped kinds) matches any manifest of that kind and name.
        """
        candidates = [m for m in self._index() if m.kind == kind and m.name == name]
        if not namespace:
            return candidates[0] if candidates else None
        for accept in (
            lambda m: m.namespace == namespace,
            lambda m: m.namespace is None and m.implied_namespace == namespace,
            lambda m: m.namespace is None and m.implied_namespace is None,
        ):
            for m in candidates:
                if accept(m):
                    return m
        return None

    # --- reading and editing -----------------------------------------------------------------

    def _read(self, relpath: str) -> tuple[Path, str]:
        path = self.resolve(relpath)
        try:
            return path, path.read_bytes().decode("utf-8")
        except FileNotFoundError as e:
            raise RepositoryError(f"{relpath} no longer exists in {self.root}; re-run the playbook") from e
        except UnicodeDecodeError as e:
            raise RepositoryError(f"{relpath} is not UTF-8 text; pitstop edits only UTF-8 YAML") from e
        except OSError as e:
            raise RepositoryError(f"{relpath} cannot be read: {e.strerror or e}") from e

    def _locate(self, ref: ManifestRef, text: str) -> tuple[list[_Segment], int]:
        segments = _segments(text)
        docs = [i for i, s in enumerate(segments) if s.is_document]
        if ref.document >= len(docs):
            raise RepositoryError(
                f"{ref.path} changed since it was read: it has no document {ref.document} any more; re-run the playbook"
            )
        position = docs[ref.document]
        _, body = segments[position].parse_range()
        try:
            data = _yaml().load(body)
        except YAMLError as e:
            raise RepositoryError(
                f"{ref.path} document {ref.document} does not parse as YAML ({_one_line(str(e))}); fix the file first"
            ) from e
        current = _manifest_ref(ref.path, ref.document, 0, data) if isinstance(data, CommentedMap) else None
        if current is None or (current.kind, current.name) != (ref.kind, ref.name):
            raise RepositoryError(
                f"{ref.path} changed since it was read: document {ref.document} is no longer "
                f"{ref.kind} {ref.name}; re-run the playbook"
            )
        return segments, position

    def document(self, ref: ManifestRef) -> CommentedMap:
        """The manifest as it is in the file now (round-trip types, with line information)."""
        _, text = self._read(ref.path)
        segments, position = self._locate(ref, _split_newlines(text)[0])
        data: CommentedMap = _yaml().load(segments[position].parse_range()[1])
        return data

    def line_of(self, ref: ManifestRef, keys: Sequence[str | int]) -> int | None:
        """The 1-based line in the file of the value at `keys` (`("spec", "template", "spec", "nodeSelector")`)."""
        _, text = self._read(ref.path)
        segments, position = self._locate(ref, _split_newlines(text)[0])
        first, body = segments[position].parse_range()
        node: Any = _yaml().load(body)
        line: int | None = node.lc.line if isinstance(node, CommentedMap | CommentedSeq) else None
        for key in keys:
            try:
                if isinstance(node, CommentedMap) and key in node:
                    line = node.lc.key(key)[0]
                elif isinstance(node, CommentedSeq) and isinstance(key, int) and -len(node) <= key < len(node):
                    line = node.lc.item(key % len(node))[0]
                else:
                    return None
            except (KeyError, TypeError, AttributeError):
                return None
            node = node[key]
        return None if line is None else first + line + 1

    def edit(self, ref: ManifestRef, change: Callable[[CommentedMap], None]) -> FilePlan:
        """The file with `change` applied to the manifest's document, as a plan (nothing is written).

        `change` mutates the document in place with mapping/sequence operations. Comments, key
        order, quoting and indentation survive; other documents stay byte for byte; the file's
        line endings and a UTF-8 BOM are kept. `RepositoryError` when the file moved on since
        `ref` was read.
        """
        _, before = self._read(ref.path)
        text, crlf, bom = _split_newlines(before)
        segments, position = self._locate(ref, text)
        segment = segments[position]
        first, body = segment.parse_range()
        if segment.has_separator and first == segment.start:
            raise RepositoryError(
                f"{ref.path} document {ref.document} starts on its `---` line (a tag or a block "
                "scalar); pitstop cannot edit it in place, edit the file by hand"
            )
        head = "".join(segment.lines[: first - segment.start])
        new_body = _edit_document(body, change, f"{ref.path} document {ref.document}")
        lines = [
            *("".join(s.lines) for s in segments[:position]),
            head + new_body,
            *("".join(s.lines) for s in segments[position + 1 :]),
        ]
        after = "".join(lines)
        if crlf:
            after = after.replace("\n", "\r\n")
        return FilePlan(before, ("\ufeff" if bom else "") + after)

    def new_file(self, relpath: str, text: str) -> FilePlan:
        """A plan creating `relpath` with `text`; `RepositoryError` if anything is already there."""
        path = self.resolve(relpath)
        if os.path.lexists(path) or os.path.lexists(self.root / relpath):
            raise RepositoryError(f"{relpath} already exists; pitstop creates new files but never overwrites one")
        return FilePlan(None, text)


def _split_newlines(text: str) -> tuple[str, bool, bool]:
    """(text with LF newlines and no BOM, whether it used CRLF, whether it had a BOM)."""
    bom = text.startswith("\ufeff")
    if bom:
        text = text[1:]
    crlf = "\r\n" in text
    return (text.replace("\r\n", "\n") if crlf else text), crlf, bom


def _manifest_ref(path: str, index: int, first: int, data: CommentedMap) -> ManifestRef | None:
    kind = data.get("kind")
    meta = data.get("metadata")
    if not isinstance(kind, str) or not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str):
        return None
    namespace = meta.get("namespace")
    return ManifestRef(
        path=path,
        document=index,
        line=first + data.lc.line + 1,
        kind=kind,
        name=str(meta["name"]),
        namespace=str(namespace) if isinstance(namespace, str) and namespace else None,
        api_version=str(data.get("apiVersion") or ""),
    )
