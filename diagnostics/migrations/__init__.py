"""Migration histories read statically: Django migration graphs and Alembic revision histories.

Nothing here imports Django, Alembic or the analysed project: every file is read with `ast`,
so a broken repository produces problems to report, never an exception or a side effect.
`diagnostics.migrations.django` and `diagnostics.migrations.alembic` hold the two readers;
`diagnostics.migrations.cache` remembers parsed files between runs.
"""

from __future__ import annotations

from typing import Any


def networkx() -> Any:
    """The networkx module, imported on first use: it takes 0.3 s, and only cycles and paths need it."""
    import networkx as nx  # type: ignore[import-untyped]

    return nx
