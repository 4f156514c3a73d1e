"""`d` on a finding: its fixes, one at a time — target, risk, notes and the coloured diff — and `a` to apply.

The screen never writes anything itself. `a` posts `DiffReview.ApplyRequested`; the app
applies (precondition, dry run, journal, verify) and calls `show_outcome` with what
happened, and the modal stays open to show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static

from diagnostics.findings import FileTarget, Finding, Fix, LivePlan, LiveTarget
from tui.screens.confirm_context import ConfirmContext
from tui.widgets.diff_view import DiffView

State = Literal["idle", "confirming", "applying", "applied"]
_SEVERITY = {"error": "bold white on red", "warning": "bold black on yellow", "info": "bold white on blue"}
_RISK = {"none": "green", "low": "yellow", "high": "bold red"}
_EXPLANATION_CHARS = 320


def describe_target(fix: Fix) -> str:
    """`live Deployment ns/name` or `file path` — where the fix writes."""
    t = fix.target
    if isinstance(t, LiveTarget):
        return f"live {t.kind} {t.namespace}/{t.name}" if t.namespace else f"live {t.kind} {t.name}"
    assert isinstance(t, FileTarget)
    return f"file {t.path}" + (" (new file)" if t.create else "")


def _short(text: str, limit: int = _EXPLANATION_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class DiffReview(ModalScreen["DiffReview.Result | None"]):
    """Review and apply the fixes of one finding; dismisses with the last outcome shown, None if nothing was tried."""

    DEFAULT_CSS = """
    DiffReview { align: center middle; }
    DiffReview > #review {
        width: 94%; height: 92%; padding: 0 1;
        border: thick $accent; background: $surface;
    }
    DiffReview #review-heading, DiffReview #review-about, DiffReview #review-fixes,
    DiffReview #review-fix, DiffReview #review-outcome { height: auto; }
    DiffReview #review-about, DiffReview #review-fixes { margin-bottom: 1; }
    DiffReview DiffView { height: 1fr; min-height: 5; border: round $primary-darken-2; }
    DiffReview #review-outcome { min-height: 1; }
    DiffReview #review-keys { color: $text-muted; height: 1; }
    """
    BINDINGS = [
        Binding("tab", "next_fix", "Next fix", priority=True),
        Binding("shift+tab", "next_fix(-1)", "Previous fix", show=False, priority=True),
        Binding("a", "apply", "Apply"),
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
    ]

    @dataclass(frozen=True, slots=True)
    class Result:
        """What the review ended with: the fix the app applied and the outcome it reported."""

        finding: Finding
        fix: Fix
        ok: bool
        text: str
        verification: str | None

    class ApplyRequested(Message):
        """The operator asked to apply `fix` (and confirmed the context name where that is needed)."""

        def __init__(self, review: DiffReview, finding: Finding, fix: Fix) -> None:
            super().__init__()
            self.review = review
            self.finding = finding
            self.fix = fix

        @property
        def control(self) -> DiffReview:
            return self.review

    def __init__(self, finding: Finding, context: str, production: bool = False, read_only: bool = False) -> None:
        super().__init__()
        self.finding = finding
        self.context_name = context
        self.production = production
        self.read_only = read_only
        self.index = 0
        self.state: State = "idle"
        self.result: DiffReview.Result | None = None
        self._outcome_text = ""

    @property
    def fix(self) -> Fix | None:
        """The fix on display."""
        return self.finding.fixes[self.index] if self.finding.fixes else None

    @property
    def outcome(self) -> str:
        """The outcome line's plain text ("" before anything happened)."""
        return self._outcome_text

    # --- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        f = self.finding
        with Vertical(id="review"):
            heading = Text.assemble(
                (f" {f.severity.upper()} ", _SEVERITY.get(f.severity, "bold")), " ", (f.title, "bold")
            )
            yield Static(heading, id="review-heading")
            about = Text.assemble((str(f.object), "bold"), ("  " + f.playbook, "dim"), "\n", _short(f.explanation))
            yield Static(about, id="review-about")
            yield Static(id="review-fixes")
            yield Static(id="review-fix")
            yield DiffView(id="review-diff")
            yield Static(id="review-outcome")
            yield Static(self._keys(), id="review-keys")

    def on_mount(self) -> None:
        title = Text(f"Review fix · context {self.context_name}")  # Text: a context name is not markup
        if self.production:
            title.append(" PROD ", style="bold white on red")
        self.query_one("#review").border_title = title
        if self.read_only:
            self.query_one("#review").border_subtitle = "read-only"
        self._show_fix()
        self.query_one(DiffView).focus()

    def _keys(self) -> str:
        keys = ["tab next fix"] if len(self.finding.fixes) > 1 else []
        keys += ["a apply" if not self.read_only else "a (read-only)", "↑↓ pgup pgdn scroll", "escape close"]
        return " · ".join(keys)

    def _show_fix(self) -> None:
        fix = self.fix
        fixes = Text()
        for i, candidate in enumerate(self.finding.fixes):
            mark, style = ("▶ ", "bold reverse") if i == self.index else ("  ", "")
            fixes.append(f"{mark}{i + 1}. {describe_target(candidate)}", style=style)
            fixes.append(f"  {candidate.title}\n", style="dim" if i != self.index else "")
        if fix is None:
            fixes.append("This finding has no fix pitstop can apply; its explanation says what to do.", style="yellow")
        fixes.rstrip()
        self.query_one("#review-fixes", Static).update(fixes)
        self.query_one("#review-fix", Static).update(self._fix_details(fix) if fix else "")
        self.query_one(DiffView).show(fix.diff if fix else "")

    def _fix_details(self, fix: Fix) -> Group:
        lines = [Text.assemble(("Fix     ", "dim"), (fix.title, "bold"))]
        lines.append(Text.assemble(("Target  ", "dim"), describe_target(fix)))
        if isinstance(fix.plan, LivePlan) and fix.plan.mode == "recreate":
            lines.append(
                Text.assemble(
                    ("Plan    ", "dim"),
                    ("delete and recreate", "bold yellow"),
                    ": the object is deleted and created again with the new spec (its template is immutable)",
                )
            )
        risk = Text.assemble(("Risk    ", "dim"), (fix.risk, _RISK.get(fix.risk, "")))
        if fix.risk == "high":
            risk.append("  ⚠ high risk: this can disrupt what is running — read the diff and notes first", "bold red")
        lines.append(risk)
        if fix.notes:
            lines.append(Text.assemble(("Notes   ", "dim"), fix.notes))
        return Group(*lines)

    def _say(self, text: str, style: str) -> None:
        self._outcome_text = text
        self.query_one("#review-outcome", Static).update(Text(text, style=style))

    # --- keys -------------------------------------------------------------------------------

    def action_next_fix(self, step: int = 1) -> None:
        if len(self.finding.fixes) < 2 or self.state in ("confirming", "applying", "applied"):
            return  # the outcome on display belongs to the fix being applied
        self.index = (self.index + step) % len(self.finding.fixes)
        self._show_fix()
        if self._outcome_text:
            self._say("", "")

    def action_apply(self) -> None:
        fix = self.fix
        if self.state != "idle":
            return  # already confirming, applying, or applied: a second `a` does nothing
        if fix is None:
            self._say("Nothing to apply: this finding has no fix.", "yellow")
            return
        if self.read_only:
            text = (
                "Read-only: pitstop was started with --read-only, so nothing is applied. Restart without it to apply."
            )
            self._say(text, "bold yellow")
            self.notify(text, title="read-only", severity="warning")
            return
        if self.production:
            self.state = "confirming"
            self.app.push_screen(ConfirmContext(self.context_name), self._confirmed)
            return
        self._request(fix)

    def _confirmed(self, confirmed: bool | None) -> None:
        self.state = "idle"
        if confirmed and self.fix is not None:
            self._request(self.fix)
        else:
            self._say(f"Not applied: the context name {self.context_name} was not confirmed.", "yellow")

    def _request(self, fix: Fix) -> None:
        self.state = "applying"
        self._say(f"Applying to {describe_target(fix)}…", "bold")
        self.post_message(self.ApplyRequested(self, self.finding, fix))

    def show_outcome(self, text: str, verification: str | None = None, ok: bool = True) -> None:
        """Show what the app's apply did: `applied … — verified`, `… — not yet resolved`, or the refusal.

        Called again (after verification finishes, say) it replaces the line. After a
        refusal or failure the operator may press `a` again; after success not.
        """
        fix = self.fix
        if fix is None:
            return  # nothing was requested: a finding without fixes never posts ApplyRequested
        self.state = "applied" if ok else "idle"
        self.result = self.Result(self.finding, fix, ok, text, verification)
        if not ok:
            line, style = f"✗ {text}", "bold red"
        elif verification is None:
            line, style = f"✓ {text}", "bold green"
        else:
            line = f"✓ {text} — {verification}"
            style = "bold green" if verification == "verified" else "bold yellow"
        if not self.is_attached:
            self._outcome_text = line
            return
        self._say(line, style)
        if ok:
            self.query_one("#review-keys", Static).update("applied · ↑↓ pgup pgdn scroll · escape close")

    def action_close(self) -> None:
        self.dismiss(self.result)
