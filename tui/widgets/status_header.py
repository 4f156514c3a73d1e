"""The one-line header: where you are, whether the cluster answers, and how bad things are."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from diagnostics.findings import Finding

_STATE_STYLE = {"connected": "green", "connecting": "yellow", "unreachable": "bold red", "offline": "dim"}


class StatusHeader(Static):
    """Context, namespace, cluster version, connection, environment badge and finding counts."""

    DEFAULT_CSS = """
    StatusHeader { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    context: reactive[str] = reactive("")
    namespace: reactive[str] = reactive("all")
    version: reactive[str] = reactive("")
    connection: reactive[str] = reactive("connecting")
    production: reactive[bool] = reactive(False)
    counts: reactive[tuple[int, int, int]] = reactive((0, 0, 0))
    busy: reactive[str] = reactive("")

    def set_findings(self, findings: Iterable[Finding]) -> None:
        c = Counter(f.severity for f in findings)
        self.counts = (c["error"], c["warning"], c["info"])

    def render(self) -> Text:
        t = Text()
        t.append("pitstop", style="bold")
        if self.production:
            t.append("  PROD ", style="bold white on red")
        t.append("  ctx ", style="dim")
        t.append(self.context or "-", style="bold")
        t.append("  ns ", style="dim")
        t.append(self.namespace or "all")
        if self.version:
            t.append("  k8s ", style="dim")
            t.append(self.version)
        t.append("  ● ", style=_STATE_STYLE.get(self.connection, ""))
        t.append(self.connection, style=_STATE_STYLE.get(self.connection, ""))
        errors, warnings, infos = self.counts
        t.append("   ")
        t.append(f"{errors} errors", style="bold red" if errors else "dim")
        t.append("  ")
        t.append(f"{warnings} warnings", style="yellow" if warnings else "dim")
        t.append("  ")
        t.append(f"{infos} info", style="blue" if infos else "dim")
        if self.busy:
            t.append(f"   {self.busy}", style="italic cyan")
        return t
