"""The pitstop console: live panes over a watch cache, findings kept current, one-key reviewed fixes.

Workers do the cluster, registry and playbook work; widgets only change in message
handlers. Cluster changes arrive as `ClusterChanged` messages that replace each other
in the queue, and repaints are throttled, so a flood of watch events costs one repaint.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from diagnostics.apply import Applier
from diagnostics.cache import WatchCache
from diagnostics.findings import Finding, Fix
from diagnostics.journal import Journal
from diagnostics.kube import KubeClient, KubeError, Unreachable
from diagnostics.kubeconfig import ClusterConfig, ConfigError, load
from diagnostics.logs import LogReader
from diagnostics.registry import RegistryProbe, sandbox_mirrors
from diagnostics.repo import Repository
from diagnostics.snapshot import Key, Snapshot, key_of
from playbooks.base import Context, Playbook
from playbooks.catalog import all_playbooks, is_aggregate
from playbooks.runner import Outcome, all_findings, run_all_in_thread
from tui.commands import ContextCommands, FixCommands, NamespaceCommands, PlaybookCommands
from tui.gcpolicy import IdleCollector
from tui.widgets.cluster_pane import ClusterPane
from tui.widgets.events_pane import EventsPane
from tui.widgets.findings_pane import FindingsPane
from tui.widgets.jobs_pane import JobsPane
from tui.widgets.key_bar import KeyBar
from tui.widgets.status_header import StatusHeader
from tui.widgets.workloads import WorkloadsPane

KINDS = (
    "Namespace",
    "Node",
    "Pod",
    "Event",
    "Service",
    "Endpoints",
    "ConfigMap",
    "Secret",
    "PersistentVolumeClaim",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
)
REPAINT_EVERY = 0.1  # seconds: at most ten repaints a second, however fast events arrive
PLAYBOOK_DEBOUNCE = 1.0
TYPING_PAUSE = 0.3  # seconds without input that count as a pause in typing
PLAYBOOK_MAX_DEFER = 4.0  # findings wait at most this long for the operator to pause
JUMPS = (
    (":pods", "show the cluster pane (pods)"),
    (":nodes", "show the cluster pane (nodes)"),
    (":jobs", "show Jobs and CronJobs"),
    (":pipelines", "show the CI pipelines"),
    (":deploy :sts :ds", "show Deployments, StatefulSets and DaemonSets (g on a Deployment: migration Job)"),
    (":findings", "focus the findings"),
    (":migrate-job NAME", "generate a migration Job from Deployment NAME (review, then a writes it)"),
    (":readiness", "the deploy verdict of each namespace (R)"),
    (":ns NAME", "only namespace NAME (`:ns all` for every namespace)"),
    (":ctx NAME", "switch to kubeconfig context NAME"),
    ("/TEXT", "filter the focused table"),
)


class PitstopApp(App[int]):
    CSS_PATH = Path(__file__).with_name("pitstop.tcss")  # absolute: subclasses elsewhere find it too
    TITLE = "pitstop"
    COMMANDS = App.COMMANDS | {PlaybookCommands, NamespaceCommands, ContextCommands, FixCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("colon", "command", "Command", key_display=":"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("d", "review", "Diff"),
        Binding("p", "playbooks", "Run playbooks"),
        Binding("u", "undo", "Undo last fix"),
        Binding("R", "readiness", "Readiness"),
        Binding("1", "show('cluster')", "Cluster", show=False),
        Binding("2", "show('jobs')", "Jobs", show=False),
        Binding("3", "show('pipelines')", "Pipelines", show=False),
        Binding("4", "show('workloads')", "Workloads", show=False),
        Binding("escape", "dismiss_bar", "Close", show=False),
    ]

    class ClusterChanged(Message):
        """Something in the watch cache changed; one pending message stands for any number of changes."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, PitstopApp.ClusterChanged)

    class ConnectionChanged(Message):
        def __init__(self, state: str, detail: str = "") -> None:
            super().__init__()
            self.state, self.detail = state, detail

    class PlaybooksFinished(Message):
        def __init__(self, outcomes: list[Outcome]) -> None:
            super().__init__()
            self.outcomes = outcomes

    class FixApplied(Message):
        def __init__(self, text: str, verification: str | None, ok: bool, journal_id: str | None) -> None:
            super().__init__()
            self.text, self.verification, self.ok, self.journal_id = text, verification, ok, journal_id

    def __init__(
        self,
        config: ClusterConfig | None,
        *,
        repo: Path | None = None,
        namespace: str | None = None,
        kubeconfig: str | None = None,
        read_only: bool = False,
        journal: Journal | None = None,
        now: Callable[[], datetime] | None = None,
        snapshot: Snapshot | None = None,
        findings: Sequence[Finding] | None = None,
        pipelines: Any = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.repo_root = repo
        self.namespace = namespace
        self.kubeconfig = kubeconfig
        self.read_only = read_only
        self.journal = journal or Journal()
        self.now = now or (lambda: datetime.now(UTC))
        self._snapshot: Snapshot | None = snapshot
        self._snapshot_stale = False  # the cache changed since `_snapshot` was taken
        self._changed: dict[str, set[Key]] | None = None  # keys changed since the last repaint; None: all
        self.findings: list[Finding] = list(findings or [])
        self.offline = snapshot is not None  # canned data: screenshots and snapshot tests
        self.pipelines_settings = pipelines
        self.client: KubeClient | None = None
        self.cache: WatchCache | None = None
        self.registry: RegistryProbe | None = None
        # aggregates (readiness) run the others themselves: the live runs leave them out
        self.playbooks: dict[str, Playbook] = {k: p for k, p in all_playbooks().items() if not is_aggregate(p)}
        self.applied: list[str] = []  # journal ids of fixes applied in this session, newest last
        self._repaint_pending = False
        self._playbook_timer: Any = None
        self._playbooks_wanted_since = 0.0
        self._outcomes: dict[str, Outcome] = {}  # the latest outcome of each playbook
        self._kinds_changed: set[str] | None = None  # kinds changed since the playbooks last ran; None: all
        self._playbooks_running = False
        self._playbooks_dirty = False
        self._review: Any = None
        self.collector = IdleCollector()
        self._main_screen: Any = None

    # --- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="header")
        yield Static("", id="banner")
        with Horizontal(id="body"):
            with TabbedContent(id="tabs", initial="tab-cluster"):
                with TabPane("Cluster", id="tab-cluster"):
                    yield ClusterPane(id="cluster-pane", clock=self.now)
                with TabPane("Jobs", id="tab-jobs"):
                    yield JobsPane(id="jobs-pane")
                with TabPane("Pipelines", id="tab-pipelines"):
                    yield self._pipelines_pane()
                with TabPane("Workloads", id="tab-workloads"):
                    yield WorkloadsPane(id="workloads-pane")
            with Vertical(id="side"):
                yield FindingsPane(id="findings")
                yield EventsPane(id="events")
        yield Input(placeholder=":pods  :jobs  :ns NAME  :ctx NAME", id="command")
        yield Input(placeholder="filter", id="filter")
        yield KeyBar()

    def _pipelines_pane(self) -> Any:
        from diagnostics.github import SetupNeeded
        from tui.widgets.pipelines_pane import PipelinesPane

        settings = self.pipelines_settings
        if settings is None:
            settings = SetupNeeded(
                "Pipelines need a repository: start pitstop with --repo pointing at a GitHub checkout."
            )
        return PipelinesPane(settings, read_only=self.read_only)

    @property
    def main(self) -> Any:
        """The main screen, where the panes live, whatever modal is on top of it."""
        if self._main_screen is None:
            self._main_screen = self.screen_stack[0]
        return self._main_screen

    def on_mount(self) -> None:
        header = self.main.query_one(StatusHeader)
        header.context = self.config.context if self.config else self.snapshot.context if self.snapshot else "-"
        header.production = bool(self.config and self.config.production)
        header.namespace = self.namespace or "all"
        self.main.query_one("#banner", Static).display = False
        self.main.query_one("#command", Input).display = False
        self.main.query_one("#filter", Input).display = False
        self.main.query_one(ClusterPane).focus_pods()
        if self.offline:
            header.connection = "offline"
            self._repaint()
            self.main.query_one(FindingsPane).show(self.findings)
            header.set_findings(self.findings)
        elif self.config is not None:
            self.connect()
            self.set_interval(1.0, self._tick)

    # --- cluster connection ---------------------------------------------------------------------

    @work(exclusive=True, group="cluster")
    async def connect(self) -> None:
        """Connect, keep retrying while the cluster is unreachable, then feed the panes from the cache."""
        assert self.config is not None
        delay = 1.0
        while True:
            self.post_message(self.ConnectionChanged("connecting"))
            try:
                async with KubeClient(self.config) as client:
                    version = await client.version()
                    self.client = client
                    async with WatchCache(client, KINDS, self.namespace) as cache:
                        await cache.synced(60)
                        self.cache = cache
                        mirrors = (
                            sandbox_mirrors(str(self._sandbox_ext().get("registry"))) if self._sandbox_ext() else {}
                        )
                        async with RegistryProbe(mirrors=mirrors) as probe:
                            self.registry = probe
                            self._changed = None  # a new cache: everything is new to the panes
                            self._kinds_changed = None
                            self._snapshot_stale = True
                            unsubscribe = cache.subscribe(self._on_cache_change)
                            self.post_message(self.ConnectionChanged("connected", str(version.get("gitVersion", ""))))
                            self.post_message(self.ClusterChanged())
                            try:
                                await asyncio.Event().wait()  # until this worker is cancelled (quit, :ctx, :ns)
                            finally:
                                unsubscribe()
            except Unreachable as e:
                self.client = self.cache = None
                self.post_message(self.ConnectionChanged("unreachable", f"{e}; retrying in {delay:.0f}s"))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    @property
    def snapshot(self) -> Snapshot | None:
        """The cluster as the cache has it now: taken when first asked for after a change, not for every event."""
        if self._snapshot_stale and self.cache is not None:
            self._snapshot, self._snapshot_stale = self.cache.snapshot(), False
        return self._snapshot

    @snapshot.setter
    def snapshot(self, value: Snapshot | None) -> None:
        self._snapshot, self._snapshot_stale = value, False

    def _on_cache_change(self, kind: str, _event: str, obj: Any) -> None:
        if self._kinds_changed is not None:
            self._kinds_changed.add(kind)
        if self._changed is not None:
            self._changed.setdefault(kind, set()).add(key_of(obj))
        if not self._snapshot_stale:
            self._snapshot_stale = True
            self.post_message(self.ClusterChanged())  # replaces any still-queued ClusterChanged

    def _sandbox_ext(self) -> dict[str, Any]:
        ext = (self.config.extensions if self.config else {}).get("pitstop.dev/sandbox")
        return ext if isinstance(ext, dict) else {}

    @on(ConnectionChanged)
    def _connection(self, msg: ConnectionChanged) -> None:
        if not self.is_running:  # a late result while the app closes
            return
        header = self.main.query_one(StatusHeader)
        header.connection = msg.state
        banner = self.main.query_one("#banner", Static)
        if msg.state == "connected":
            header.version = msg.detail
            banner.display = False
        elif msg.state == "unreachable":
            banner.update(f"Cluster unreachable: {msg.detail}")
            banner.display = True

    @on(ClusterChanged)
    def _cluster_changed(self) -> None:
        if not self.is_running:  # a late result while the app closes
            return
        if self.cache is None:
            return
        if not self._repaint_pending:
            self._repaint_pending = True
            self.set_timer(REPAINT_EVERY, self._repaint)
        self._schedule_playbooks()

    def _repaint(self) -> None:
        if not self.is_running:  # a late result while the app closes
            return
        self._repaint_pending = False
        snapshot = self.snapshot
        if snapshot is None:
            return
        now = self.now()
        changed, self._changed = self._changed, {}
        self.main.query_one(ClusterPane).show(snapshot, now, changed)
        if changed is None and not self.offline:
            self.collector.start()  # the cache and its rows are loaded: full collections need not walk them again
        if changed is None or changed.keys() & {"Job", "CronJob"}:
            self.main.query_one(JobsPane).show(snapshot, now)
        if changed is None or "Event" in changed:
            self.main.query_one(EventsPane).show(snapshot, now)
        if changed is None or changed.keys() & {"Deployment", "StatefulSet", "DaemonSet"}:
            self.main.query_one(WorkloadsPane).show(snapshot, now)

    def _tick(self) -> None:
        """Once a second: durations and ages in the Jobs tables move on even when nothing changes."""
        if self.is_running and self._snapshot is not None:
            self.main.query_one(JobsPane).show(self._snapshot, self.now())
        self.collector.tick()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseDown | events.MouseScrollDown | events.MouseScrollUp):
            self.collector.input()
        await super().on_event(event)

    def on_unmount(self) -> None:
        self.collector.stop()

    # --- playbooks -------------------------------------------------------------------------------

    def _schedule_playbooks(self) -> None:
        """Throttle, not debounce: a cluster that never goes quiet (crash loops) still gets diagnosed."""
        if self._playbooks_running:
            self._playbooks_dirty = True
        elif self._playbook_timer is None:
            self._playbooks_wanted_since = time.monotonic()
            self._playbook_timer = self.set_timer(PLAYBOOK_DEBOUNCE, self._playbooks_due)

    def _playbooks_due(self) -> None:
        """Run now, unless the operator is typing: then wait for a pause, up to PLAYBOOK_MAX_DEFER."""
        waited = time.monotonic() - self._playbooks_wanted_since
        if self.collector.idle_for() < TYPING_PAUSE and waited < PLAYBOOK_MAX_DEFER:
            self._playbook_timer = self.set_timer(TYPING_PAUSE, self._playbooks_due)
            return
        self._playbook_timer = None
        self.run_playbooks(None, what_changed=True)

    def _playbook_context(self, snapshot: Snapshot, focus: Any = None) -> Context:
        repo = Repository(self.repo_root) if self.repo_root else None
        logs = LogReader(self.client) if self.client is not None else None
        return Context(snapshot, self.registry, repo, self.repo_root, self.namespace, focus, self.now(), logs)

    @work(group="playbooks")
    async def run_playbooks(self, only: str | None, *, what_changed: bool = False) -> None:
        """Run one playbook, all, or (`what_changed`) those reading a kind that changed since their last run."""
        snapshot = self.snapshot
        if snapshot is None or self._playbooks_running:
            self._playbooks_dirty = True
            return
        if only:
            chosen = [self.playbooks[only]]
        elif what_changed and self._kinds_changed is not None:
            kinds, self._kinds_changed = self._kinds_changed, set()
            chosen = [pb for pb in self.playbooks.values() if kinds.intersection(pb.kinds)]
        else:
            self._kinds_changed = set()
            chosen = list(self.playbooks.values())
        if not chosen:
            return
        self._playbooks_running, self._playbooks_dirty = True, False
        label = only or ("all playbooks" if len(chosen) == len(self.playbooks) else ", ".join(p.id for p in chosen))
        self.main.query_one(StatusHeader).busy = f"running {label}…"
        outcomes = await run_all_in_thread(chosen, self._playbook_context(snapshot))
        self.post_message(self.PlaybooksFinished(outcomes))

    @on(PlaybooksFinished)
    def _playbooks_finished(self, msg: PlaybooksFinished) -> None:
        if not self.is_running:  # a late result while the app closes
            return
        self._playbooks_running = False
        if self._playbooks_dirty:
            self._schedule_playbooks()
        self._outcomes.update((o.id, o) for o in msg.outcomes)  # the playbooks that did not run keep theirs
        self.findings = all_findings(list(self._outcomes.values()))
        errors = [f"{o.id}: {o.error}" for o in msg.outcomes if o.status == "error"]
        header = self.main.query_one(StatusHeader)
        header.busy = ""
        header.set_findings(self.findings)
        self.main.query_one(FindingsPane).show(self.findings, "; ".join(errors))
        if errors:
            self.notify("\n".join(errors), title="Some checks could not run", severity="warning", timeout=8)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Every worker failure becomes a visible error, never a silent log line."""
        if event.state in (WorkerState.ERROR, WorkerState.CANCELLED) and event.worker.group == "playbooks":
            self._playbooks_running = False
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            err = event.worker.error
            self.notify(
                f"{type(err).__name__}: {err}",
                title=f"{event.worker.group or 'worker'} failed",
                severity="error",
                timeout=10,
            )
            self.main.query_one(StatusHeader).busy = ""

    # --- review, apply, verify, undo ------------------------------------------------------------

    def action_review(self) -> None:
        finding = self.main.query_one(FindingsPane).highlighted
        if finding is None:
            self.notify("Select a finding first (the list on the right).", severity="warning")
            return
        self.open_review(finding)

    @on(FindingsPane.FindingChosen)
    def _finding_chosen(self, msg: FindingsPane.FindingChosen) -> None:
        self.open_review(msg.finding)

    def open_review(self, finding: Finding) -> None:
        from tui.screens.diff_review import DiffReview

        if not finding.fixes:
            self.notify(finding.explanation, title=finding.title, timeout=10)
            return
        self._review = DiffReview(
            finding,
            self.config.context if self.config else self.snapshot.context if self.snapshot else "-",
            bool(self.config and self.config.production),
            self.read_only or self.offline,
        )
        self.push_screen(self._review)

    def on_diff_review_apply_requested(self, msg: Any) -> None:
        self.apply_fix(msg.finding, msg.fix)

    @work(exclusive=True, group="apply")
    async def apply_fix(self, finding: Finding, fix: Fix) -> None:
        if self.read_only or self.config is None:
            self.post_message(self.FixApplied("read-only: nothing was changed", None, False, None))
            return
        applier = Applier(self.client, self.journal, self.config.context, self.repo_root)
        result = await applier.apply(finding, fix)
        verification = None
        if result.result == "applied":
            try:
                verification = await self._verify(finding)
            except (RuntimeError, KubeError, Unreachable) as e:  # the connection went away (reconnect, quit)
                verification = f"not verified: {e}"
        self.post_message(self.FixApplied(result.message, verification, result.result == "applied", result.journal_id))

    async def _verify(self, finding: Finding, timeout: float = 60.0) -> str:
        from diagnostics.cache import load_snapshot

        pb = self.playbooks.get(finding.playbook)
        if pb is None:  # a generated file (a migration Job): nothing to re-run
            return "written"
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            snap = (
                self.cache.snapshot()
                if self.cache
                else (await load_snapshot(self.client, KINDS) if self.client else None)
            )
            if snap is None:
                return "not yet resolved"
            (outcome,) = await run_all_in_thread([pb], self._playbook_context(snap, finding.object))
            if outcome.status in ("ok", "findings") and all(f.id != finding.id for f in outcome.findings):
                return "verified"
            if loop.time() >= end:
                return "not yet resolved"
            await asyncio.sleep(0.5)

    @on(FixApplied)
    def _fix_applied(self, msg: FixApplied) -> None:
        if not self.is_running:  # a late result while the app closes
            return
        if msg.ok and msg.journal_id:
            self.applied.append(msg.journal_id)
        if self._review is not None and self._review.is_attached:
            self._review.show_outcome(msg.text, msg.verification, msg.ok)
        text = f"{msg.text} — {msg.verification}" if msg.verification else msg.text
        self.notify(text, severity="information" if msg.ok else "error", timeout=8)
        self.run_playbooks(None)

    def action_undo(self) -> None:
        if not self.applied:
            self.notify("Nothing applied in this session to undo.", severity="warning")
            return
        if self.config and self.config.production:
            from tui.screens.confirm_context import ConfirmContext

            def confirmed(ok: bool | None) -> None:
                if ok:
                    self.undo_last()

            self.push_screen(ConfirmContext(self.config.context), confirmed)
            return
        self.undo_last()

    @work(exclusive=True, group="apply")
    async def undo_last(self) -> None:
        assert self.config is not None
        journal_id = self.applied[-1]
        result = await Applier(self.client, self.journal, self.config.context, self.repo_root).undo(journal_id)
        if result.result == "applied":
            self.applied.pop()
        self.post_message(self.FixApplied(f"undo: {result.message}", None, result.result == "applied", None))

    # --- navigation ------------------------------------------------------------------------------

    def action_show(self, tab: str) -> None:
        """Switch panes, taking focus along: TabbedContent follows the focused widget back otherwise."""
        self.main.query_one(TabbedContent).active = f"tab-{tab}"
        if tab == "cluster":
            self.main.query_one(ClusterPane).focus_pods()
        elif tab == "jobs":
            self.main.query_one(JobsPane).focus_jobs()
        elif tab == "workloads":
            self.main.query_one(WorkloadsPane).focus_table()
        else:
            pane = self.main.query_one(f"#tab-{tab}")
            target = next((w for w in pane.query("*") if w.focusable), None)
            if target is not None:
                target.focus()
            else:
                self.set_focus(None)

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        self.push_screen(HelpScreen(JUMPS))

    def action_command(self) -> None:
        bar = self.main.query_one("#command", Input)
        bar.value = ":"
        bar.display = True
        bar.focus()

    def action_filter(self) -> None:
        bar = self.main.query_one("#filter", Input)
        bar.display = True
        bar.focus()

    def action_dismiss_bar(self) -> None:
        for bar in self.main.query(Input):
            if bar.display and bar.id in ("command", "filter"):
                bar.display = False
                if bar.id == "filter":
                    bar.value = ""
                    self._filtered_pane().set_filter("")

    def _filtered_pane(self) -> Any:
        """The pane `/` filters: the one on the visible tab (Pipelines has nothing to filter)."""
        tab = self.main.query_one(TabbedContent).active
        if tab == "tab-jobs":
            return self.main.query_one(JobsPane)
        if tab == "tab-workloads":
            return self.main.query_one(WorkloadsPane)
        return self.main.query_one(ClusterPane)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._filtered_pane().set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.input.display = False
        tab = self.main.query_one(TabbedContent).active.removeprefix("tab-")
        self.action_show(tab if tab in ("cluster", "jobs", "workloads") else "cluster")

    @on(Input.Submitted, "#command")
    def _command(self, event: Input.Submitted) -> None:
        event.input.display = False
        self.run_command(event.value)

    def run_command(self, text: str) -> None:
        """`:pods`, `:jobs`, `:ns NAME`, `:ctx NAME` — what k9s users type."""
        words = text.strip().lstrip(":").split()
        if not words:
            return
        verb, arg = words[0].lower(), (words[1] if len(words) > 1 else "")
        if verb in ("pods", "po", "pod", "nodes", "no", "node", "cluster"):
            self.action_show("cluster")
            self.main.query_one(ClusterPane).focus_pods()
        elif verb in ("jobs", "job", "cronjobs", "cj"):
            self.action_show("jobs")
        elif verb in ("pipelines", "runs", "ci"):
            self.action_show("pipelines")
        elif verb in ("deploy", "deployments", "deployment", "sts", "statefulsets", "ds", "daemonsets", "workloads"):
            self.action_show("workloads")
        elif verb in ("migrate-job", "mj", "genjob"):
            self.generate_job(self.namespace or (self.config.namespace if self.config else None) or "default", arg)
        elif verb in ("readiness", "ready"):
            self.action_readiness()
        elif verb in ("findings", "f"):
            self.main.query_one(FindingsPane).query_one("OptionList").focus()
        elif verb in ("ns", "namespace"):
            self.switch_namespace(None if arg in ("", "all", "-A") else arg)
        elif verb in ("ctx", "context"):
            self.switch_context(arg)
        else:
            self.notify(f"Unknown command :{verb}; press ? for the list.", severity="warning")

    def switch_namespace(self, namespace: str | None) -> None:
        from diagnostics.kubeconfig import validate_namespace

        if namespace is not None:
            try:
                validate_namespace(namespace)
            except ConfigError as e:
                self.notify(str(e), severity="error")
                return
        self.namespace = namespace
        self.main.query_one(StatusHeader).namespace = namespace or "all"
        if not self.offline and self.config is not None:
            self.connect()

    def switch_context(self, name: str) -> None:
        if not name:
            self.notify("Name a context: :ctx NAME", severity="warning")
            return
        try:
            self.config = load(self.kubeconfig, name, self.namespace)
        except ConfigError as e:
            self.notify(str(e), severity="error")
            return
        header = self.main.query_one(StatusHeader)
        header.context, header.production = self.config.context, self.config.production
        self.findings = []
        self._outcomes = {}
        self.applied = []
        self.connect()

    def generate_job(self, namespace: str, name: str) -> None:
        """Review a migration Job generated from Deployment namespace/name; `a` in the review writes it to the repo."""
        from diagnostics import jobgen

        if not name:
            self.notify("Name a Deployment: :migrate-job NAME", severity="warning")
            return
        snapshot = self.snapshot
        deployment = snapshot.get("Deployment", namespace, name) if snapshot else None
        if deployment is None:
            self.notify(f"Deployment {name} not found in namespace {namespace}; try :ns NAME first.", severity="error")
            return
        assert snapshot is not None
        repo = Repository(self.repo_root) if self.repo_root else None
        result = jobgen.generate(deployment, snapshot, repo)
        if isinstance(result, jobgen.Refused):
            problems = "\n".join(p.message for p in result.problems)
            self.notify(problems, title=f"No Job from {name}: it would fail", severity="error", timeout=12)
            return
        if not result.diff:
            self.notify(f"{result.path} already holds this Job; nothing to change.", timeout=6)
            return
        self.open_review(result.finding())

    def action_readiness(self) -> None:
        if self.offline or self.snapshot is None:
            self.notify("Readiness needs a live cluster: connect first.", severity="warning")
            return
        self.run_readiness()

    @work(exclusive=True, group="readiness")
    async def run_readiness(self) -> None:
        """Every playbook plus each workload's image, as `pitstop --playbook readiness`: off the event loop."""
        from playbooks.catalog import all_playbooks as catalog

        snapshot = self.snapshot
        if snapshot is None:
            return
        header = self.main.query_one(StatusHeader)
        header.busy = "checking readiness…"
        try:
            (outcome,) = await run_all_in_thread([catalog()["readiness"]], self._playbook_context(snapshot))
        finally:
            header.busy = ""
        self.post_message(self.ReadinessChecked(list(outcome.findings), outcome.error))

    class ReadinessChecked(Message):
        def __init__(self, findings: list[Finding], problem: str | None) -> None:
            super().__init__()
            self.findings, self.problem = findings, problem

    @on(ReadinessChecked)
    def _readiness_checked(self, msg: ReadinessChecked) -> None:
        from tui.screens.readiness import ReadinessScreen

        if not self.is_running:
            return

        def chosen(finding: Finding | None) -> None:
            if finding is not None:
                self.open_review(finding)

        self.push_screen(ReadinessScreen(msg.findings, msg.problem), chosen)

    def action_playbooks(self) -> None:
        from tui.screens.run_playbooks import RunPlaybooks

        def chosen(pid: str | None) -> None:
            if pid is not None:
                self.run_playbooks(None if pid == "all" else pid)

        self.push_screen(RunPlaybooks(list(self.playbooks.values())), chosen)

    @on(ClusterPane.PodSelected)
    def _pod_selected(self, msg: Any) -> None:
        self._details("Pod", msg.namespace, msg.name)

    @on(WorkloadsPane.WorkloadSelected)
    def _workload_selected(self, msg: Any) -> None:
        self._details(msg.kind, msg.namespace, msg.name)

    @on(WorkloadsPane.GenerateJob)
    def _generate_job(self, msg: Any) -> None:
        self.generate_job(msg.namespace, msg.name)

    @on(JobsPane.JobSelected)
    def _job_selected(self, msg: Any) -> None:
        self._details(msg.kind, msg.namespace, msg.name)

    def _details(self, kind: str, namespace: str, name: str) -> None:
        from tui.screens.details import DetailsScreen

        if self.snapshot is None:
            return
        obj = self.snapshot.get(kind, namespace, name)
        if obj is None:
            self.notify(f"{kind} {namespace}/{name} is gone.", severity="warning")
            return
        client = self.client

        async def read_logs(ns: str, pod: str, container: str | None, previous: bool) -> str:
            if client is None:
                return "not connected"
            return await client.logs(ns, pod, container, previous=previous, tail_lines=500)

        self.push_screen(DetailsScreen(obj, self.snapshot, read_logs if client else None))
