"""`ast.parse` that threads may call at the same time.

CPython 3.11 keeps the AST constructor's recursion depth in per-interpreter state, so two
threads parsing at once can fail with `SystemError: AST constructor recursion depth
mismatch` (the repository playbooks parse on worker threads, side by side). One lock
makes the parses take turns; each is a few milliseconds.
"""

from __future__ import annotations

import ast
import threading
from typing import Literal, overload

_LOCK = threading.Lock()


@overload
def parse(source: str | bytes, filename: str = ..., mode: Literal["exec"] = ...) -> ast.Module: ...
@overload
def parse(source: str | bytes, filename: str = ..., *, mode: Literal["eval"]) -> ast.Expression: ...


def parse(source: str | bytes, filename: str = "<unknown>", mode: str = "exec") -> ast.Module | ast.Expression:
    with _LOCK:
        tree = ast.parse(source, filename, mode)
    assert isinstance(tree, ast.Module | ast.Expression)
    return tree
