"""`ctrl+p`: command palette providers built from what the console holds when the palette opens.

`playbook: run pod-pending`, `namespace: coditect-staging`, `context: switch to NAME`,
`fix: review TITLE (OBJECT)`. Each provider lists its commands once, in `startup()`, from
the running `PitstopApp`; discovery and every keystroke's search then read that list.
Titles come from the cluster and the findings, so they are shown as plain text, never
parsed as markup (an event like `[/celery] not ready` must not break the palette).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Matcher, Provider
from textual.content import Content
from textual.markup import escape

from diagnostics.findings import Finding
from diagnostics.kubeconfig import ConfigError, contexts, is_production_name

if TYPE_CHECKING:
    from tui.app import PitstopApp


@dataclass(frozen=True, slots=True)
class PaletteCommand:
    title: str  # what is shown and fuzzy-matched: `playbook: run pod-pending`
    help: str  # plain text (escaped before the palette reads it as markup), one line under the title
    run: Callable[[], object]


def highlighted(matcher: Matcher, title: str) -> Content:
    """`title` with the matched letters styled; unlike `Matcher.highlight`, brackets in it stay text."""
    score, offsets = matcher.fuzzy_search.match(matcher.query, title)
    content = Content(title)
    if score:
        for offset in offsets:
            if not title[offset].isspace():
                content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class StateCommands(Provider):
    """A provider whose commands are listed once from the app's state; subclasses say how."""

    commands: list[PaletteCommand]

    @property
    def pitstop(self) -> PitstopApp:
        return cast("PitstopApp", self.app)

    async def startup(self) -> None:
        self.commands = await self.build()

    async def build(self) -> list[PaletteCommand]:
        raise NotImplementedError

    async def discover(self) -> Hits:
        for command in self.commands:
            yield DiscoveryHit(Content(command.title), command.run, text=command.title, help=escape(command.help))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self.commands:
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(
                    score,
                    highlighted(matcher, command.title),
                    command.run,
                    text=command.title,
                    help=escape(command.help),
                )


def playbook_commands(app: PitstopApp) -> list[PaletteCommand]:
    """`playbook: run all`, then one per playbook, in catalog order."""

    def run(pid: str | None) -> Callable[[], object]:
        return lambda: app.run_playbooks(pid)  # looked up when chosen: tests replace the method

    commands = [PaletteCommand("playbook: run all", "every playbook, now: " + ", ".join(app.playbooks), run(None))]
    commands += [PaletteCommand(f"playbook: run {pid}", pb.title, run(pid)) for pid, pb in app.playbooks.items()]
    return commands


def namespace_commands(app: PitstopApp) -> list[PaletteCommand]:
    """`namespace: all`, then every namespace the snapshot knows of (Namespace objects or anything in one)."""
    snapshot = app.snapshot
    names = {app.namespace} if app.namespace else set()
    if snapshot is not None:
        names |= {str((ns.get("metadata") or {}).get("name")) for ns in snapshot.list("Namespace")}
        names |= {key[0] for objects in snapshot.objects.values() for key in objects if key[0]}

    def show(namespace: str | None) -> Callable[[], object]:
        return lambda: app.switch_namespace(namespace)

    def help_for(namespace: str | None) -> str:
        pods = "" if snapshot is None or namespace is None else f"{len(snapshot.list('Pod', namespace))} pods"
        current = "shown now" if namespace == app.namespace else ""
        return " · ".join(p for p in (pods, current) if p) or "show every namespace"

    commands = [PaletteCommand("namespace: all", help_for(None), show(None))]
    commands += [PaletteCommand(f"namespace: {ns}", help_for(ns), show(ns)) for ns in sorted(names)]
    return commands


def context_commands(app: PitstopApp, names: list[str], kubeconfig_current: str) -> list[PaletteCommand]:
    """One per kubeconfig context; the one the console is on (else the kubeconfig's current) is marked."""
    current = app.config.context if app.config else kubeconfig_current

    def switch(name: str) -> Callable[[], object]:
        return lambda: app.switch_context(name)

    def help_for(name: str) -> str:
        parts = ["current context, choosing it reconnects" if name == current else "reconnect to this context"]
        if is_production_name(name):
            parts.append("PRODUCTION: fixes need the context name typed")
        return " · ".join(parts)

    ordered = sorted(names, key=lambda n: (n != current, n))
    return [PaletteCommand(f"context: switch to {n}", help_for(n), switch(n)) for n in ordered]


def fix_commands(app: PitstopApp) -> list[PaletteCommand]:
    """One per finding that has fixes, in the findings pane's order; choosing it opens the diff review."""

    def review(finding: Finding) -> Callable[[], object]:
        return lambda: app.open_review(finding)

    def help_for(finding: Finding) -> str:
        more = f" (+{len(finding.fixes) - 1} more)" if len(finding.fixes) > 1 else ""
        return f"{finding.severity} · {finding.fixes[0].title}{more}"

    return [
        PaletteCommand(f"fix: review {f.title} ({f.object})", help_for(f), review(f)) for f in app.findings if f.fixes
    ]


class PlaybookCommands(StateCommands):
    async def build(self) -> list[PaletteCommand]:
        return playbook_commands(self.pitstop)


class NamespaceCommands(StateCommands):
    async def build(self) -> list[PaletteCommand]:
        return namespace_commands(self.pitstop)


class ContextCommands(StateCommands):
    async def build(self) -> list[PaletteCommand]:
        app = self.pitstop
        try:  # a file read: off the event loop, the kubeconfig may sit on a slow mount
            names, current = await asyncio.to_thread(contexts, app.kubeconfig)
        except ConfigError as e:
            message = f"Cannot list the contexts: {e}"
            return [PaletteCommand("context: switch to …", message, lambda: app.notify(message, severity="error"))]
        return context_commands(app, names, current)


class FixCommands(StateCommands):
    async def build(self) -> list[PaletteCommand]:
        return fix_commands(self.pitstop)
