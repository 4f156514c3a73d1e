"""Repository playbooks parse Python on worker threads side by side: the parses must take turns.

CPython 3.11's AST constructor keeps its recursion depth per interpreter; two parses at
once on different threads ended a demo run with `SystemError: AST constructor recursion
depth mismatch`. The error is rare and timing-bound, so this checks the remedy: no two
parses ever overlap, and the results are the plain parser's.
"""

from __future__ import annotations

import ast
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from diagnostics import pyast


def test_parses_from_many_threads_never_overlap(monkeypatch: pytest.MonkeyPatch) -> None:
    real = ast.parse
    inside, most = 0, 0
    guard = threading.Lock()

    def slow_parse(*args: Any, **kwargs: Any) -> Any:
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        time.sleep(0.002)  # a long parse: others get every chance to start meanwhile
        try:
            return real(*args, **kwargs)
        finally:
            with guard:
                inside -= 1

    monkeypatch.setattr(ast, "parse", slow_parse)
    with ThreadPoolExecutor(8) as pool:
        trees = list(pool.map(lambda i: pyast.parse(f"x = {i}"), range(40)))
    assert most == 1
    assert [ast.dump(t) for t in trees] == [ast.dump(real(f"x = {i}")) for i in range(40)]
    assert isinstance(pyast.parse("1 + 1", mode="eval"), ast.Expression)
