"""The console on 10,000 pods: time to the first full pod table, and keypress-to-repaint latency under watch events.

    python bench/tui.py [--pods 10000] [--rate 200] [--seconds 12] [--interval 0.1] [--profile out.pstats|out.html]

The sandbox runs in a child process, as a real cluster would: its API server and the
stream of changes it serves must not share the console's interpreter. The console runs
headless (`App.run_test(size=(160, 48))`); a frame counts as painted when Textual hands it
to the terminal driver (`App._display`, called in headless runs too, minus the write).

- first paint: from the watch cache reporting synced to the first frame whose pods table
  holds every pod. Target: under 1.5 s.
- keypress latency: while the child patches pod annotations at `--rate` a second, keys
  (`down`, `j`, `/` + text + `enter`, `/` + `escape`) arrive every `--interval` seconds the
  way the terminal driver posts them; each is timed to the first frame that shows it.
  Target: worst under 100 ms.

Then what held the event loop meanwhile: repaints, playbook runs, full garbage
collections, and which of them the slow keypresses overlapped. The pods are minutes old,
so every AGE cell changes every second: the pods table's worst case.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # ahead of bench/, whose tui.py is this file

FILTER_TEXT = "bench-1"  # a tenth of the pods; any --pods of 100 or more has some
TICK = "pitstop.dev/bench-tick"
SLOW = 0.1  # the keypress target, seconds


# --- the cluster, in a child process ------------------------------------------------------------


def serve(conn: Connection, pods: int, tmp: str) -> None:
    """Start the sandbox, report (kubeconfig, pod count) once all pods run, then churn on request."""
    from sandbox.server import SandboxThread

    # no bookmarks: one falling due while events queue up stalls the sandbox's watch (WatchStream.next with timeout 0)
    runner = SandboxThread("empty", extra_pods=pods, clock_speed=100.0, bookmark_interval=3600.0)
    with runner as sb:
        store = sb.store
        rt = store.rt("v1", "Pod")
        deadline = time.monotonic() + 600

        def running() -> int:
            return sum(e.obj.get("status", {}).get("phase") == "Running" for e in store.entries(rt))

        while runner.run(running) < pods:
            if time.monotonic() > deadline:
                conn.send(("error", f"the {pods} pods did not all start within 10 minutes"))
                return
            time.sleep(0.5)
        kubeconfig = sb.write_kubeconfig(Path(tmp) / "kubeconfig")
        conn.send(("ready", str(kubeconfig), runner.run(lambda: store.count(rt))))
        while (request := conn.recv()) is not None:
            rate, seconds = request
            conn.send(runner.call(churn(store, rate, seconds), timeout=seconds + 60))


async def churn(store: Any, rate: float, seconds: float) -> tuple[int, float]:
    """Patch pod annotations, `rate` a second for `seconds`, each one MODIFIED watch event; (count, time of the last)."""
    rt = store.rt("v1", "Pod")
    keys = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in store.list(rt)]
    loop = asyncio.get_running_loop()
    start, done, last = loop.time(), 0, time.time()
    while (elapsed := loop.time() - start) < seconds:
        for _ in range(int(elapsed * rate) - done):
            namespace, name = keys[done % len(keys)]
            tick = str(done)
            store.mutate(
                rt, namespace, name, lambda p, t=tick: p["metadata"].setdefault("annotations", {}).update({TICK: t})
            )
            done, last = done + 1, time.time()
        await asyncio.sleep(0.005)
    return done, last


# --- the console, instrumented ------------------------------------------------------------------


class Timeline:
    """What held the console's event loop, as (start, end) intervals by cause, in perf_counter seconds."""

    def __init__(self) -> None:
        self.spans: dict[str, list[tuple[float, float]]] = {}
        self._gc_started = 0.0

    def add(self, cause: str, start: float, end: float) -> None:
        self.spans.setdefault(cause, []).append((start, end))

    def within(self, cause: str, start: float, end: float) -> list[float]:
        """Durations of the `cause` spans that began in [start, end]."""
        return [e - s for s, e in self.spans.get(cause, ()) if start <= s <= end]

    def overlapping(self, start: float, end: float, longer_than: float = 0.0) -> set[str]:
        return {
            cause
            for cause, spans in self.spans.items()
            if any(s < end and e > start and e - s > longer_than for s, e in spans)
        }

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if info["generation"] == 0:
            return
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            cause = "full garbage collection" if info["generation"] == 2 else "middle garbage collection"
            self.add(cause, self._gc_started, time.perf_counter())

    async def watch_loop(self, tick: float = 0.005) -> None:
        """Note every stretch the event loop could not run a 5 ms timer on time (20 ms late or more)."""
        while True:
            start = time.perf_counter()
            await asyncio.sleep(tick)
            end = time.perf_counter()
            if end - start - tick >= 0.02:
                self.add("event loop stall", start + tick, end)


def instrumented_app() -> Any:
    from textual import on

    from tui.app import PitstopApp
    from tui.widgets.cluster_pane import ClusterPane

    class TimedApp(PitstopApp):
        """PitstopApp that notes when the cache synced, when the full pod table was painted, and what each frame shows."""

        def __init__(self, *args: Any, pods: int, timeline: Timeline, **kwargs: Any) -> None:
            self._cache_value: Any = None
            super().__init__(*args, **kwargs)
            self.pods_expected = pods
            self.timeline = timeline
            self.synced_at: float | None = None
            self.rows_at: float | None = None
            self.painted_at: float | None = None
            self.first_show = 0.0
            self.playbook_runs = 0
            self.ticks = 0  # churned pod changes that reached the cache
            self.last_tick = -1  # the newest of them: the console has caught up when it is the last one written
            self.last_tick_at = 0.0  # wall clock: the child process wrote it by the same clock
            self.frames = 0
            self.expect: Callable[[], bool] | None = None
            self.shown = asyncio.Event()
            self.shown_at = 0.0

        @property  # type: ignore[override]
        def cache(self) -> Any:
            return self._cache_value

        @cache.setter
        def cache(self, value: Any) -> None:
            if value is not None and self.synced_at is None:
                self.synced_at = time.perf_counter()  # set right after `await cache.synced(60)` returned
                value.subscribe(self._count_tick)
            self._cache_value = value

        def _count_tick(self, kind: str, event: str, obj: Any) -> None:
            tick = ((obj.get("metadata") or {}).get("annotations") or {}).get(TICK)
            if kind == "Pod" and tick is not None:
                self.ticks += 1
                if int(tick) > self.last_tick:
                    self.last_tick, self.last_tick_at = int(tick), time.time()

        def _repaint(self) -> None:
            start = time.perf_counter()
            super()._repaint()
            done = time.perf_counter()
            self.timeline.add("repaint", start, done)
            if self.rows_at is None and len(self.query_one(ClusterPane).pods.shown_rows) >= self.pods_expected:
                self.rows_at, self.first_show = done, done - start

        @on(PitstopApp.PlaybooksFinished)  # after PitstopApp's own handler, which stays as it is
        def _playbooks_timed(self, msg: PitstopApp.PlaybooksFinished) -> None:
            self.playbook_runs += 1
            end = time.perf_counter()  # the playbooks run concurrently: the run took as long as the slowest
            self.timeline.add("playbook run", end - max((o.duration_ms for o in msg.outcomes), default=0) / 1000, end)

        def _display(self, screen: Any, renderable: Any) -> None:
            super()._display(screen, renderable)
            if renderable is None:
                return
            now = time.perf_counter()
            self.frames += 1
            if self.rows_at is not None and self.painted_at is None:
                self.painted_at = now
            if self.expect is not None and self.expect():
                self.expect, self.shown_at = None, now
                self.shown.set()

    return TimedApp


async def until(pilot: Any, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        await pilot.pause(0.05)
    raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")


def key_plan(count: int) -> list[tuple[str, str | None]]:
    """(key, character) presses: cursor moves, a filter typed and kept, moves in it, the filter cleared; repeated."""
    text = [(c if c.isalnum() else "minus", c) for c in FILTER_TEXT]
    cycle: list[tuple[str, str | None]] = [("down", None), ("j", "j"), ("down", None), ("j", "j")]
    cycle += [("slash", "/"), *text, ("enter", "\r"), ("down", None), ("j", "j"), ("slash", "/"), ("escape", None)]
    return [cycle[i % len(cycle)] for i in range(count)]


def start_profile(path: Path | None) -> Any:
    if path is None:
        return None
    if path.suffix == ".html":
        from pyinstrument import Profiler  # pip install pyinstrument

        profiler = Profiler(interval=0.001, async_mode="disabled")
        profiler.start()
        return profiler
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    return profiler


def stop_profile(profiler: Any, path: Path) -> None:
    if path.suffix == ".html":
        profiler.stop()
        path.write_text(profiler.output_html())
        return
    import pstats

    profiler.disable()
    profiler.dump_stats(path)
    pstats.Stats(str(path), stream=sys.stderr).sort_stats("cumulative").print_stats(r"tui/|playbooks/|diagnostics/", 30)


async def measure(conn: Connection, kubeconfig: str, pods: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from textual import events
    from textual.widgets import Input

    from diagnostics.github import SetupNeeded
    from diagnostics.journal import Journal
    from diagnostics.kubeconfig import load
    from tui.widgets.cluster_pane import ClusterPane

    timeline = Timeline()
    app = instrumented_app()(
        load(kubeconfig),
        repo=tmp,
        kubeconfig=kubeconfig,
        journal=Journal(tmp / "journal.jsonl"),
        pipelines=SetupNeeded("no pipelines in the benchmark"),
        pods=pods,
        timeline=timeline,
    )
    out: dict[str, Any] = {"timeline": timeline}
    gc.callbacks.append(timeline.on_gc)
    async with app.run_test(size=(160, 48)) as pilot:
        watcher = asyncio.create_task(timeline.watch_loop())
        await until(pilot, lambda: app.painted_at, 300, "the first full pod table")
        out["first_paint"] = app.painted_at - app.synced_at
        out["first_show"] = app.first_show
        await until(pilot, lambda: app.playbook_runs, 120, "the first playbook run")

        table = app.query_one(ClusterPane).pods
        bar = app.query_one("#filter", Input)

        def subtitle() -> str:
            return str(table.border_subtitle)

        def reflects(key: str, typed: str) -> Callable[[], bool]:
            """What a frame must show for `key` to count as handled."""
            if key in ("down", "j"):
                before = table.cursor_key
                return lambda: table.cursor_key != before
            if key == "slash":
                return lambda: bar.display and app.focused is bar
            if key == "enter":
                return lambda: not bar.display and app.focused is table
            if key == "escape":
                return lambda: not bar.display and subtitle() == str(len(table.shown_rows))
            return lambda: bar.value == typed and subtitle().startswith(f"/{typed} ")

        plan = key_plan(int(args.seconds / args.interval))
        presses: list[tuple[str, float, float]] = []  # (key, pressed, shown)
        ticks_before, frames_before = app.ticks, app.frames
        conn.send((args.rate, args.seconds + 1.0))  # a second of lead-in: the stream is flowing before the first key
        await asyncio.sleep(1.0)
        profiler = start_profile(args.profile)
        started = time.perf_counter()
        typed = ""  # what the filter bar holds
        for i, (key, char) in enumerate(plan):
            await asyncio.sleep(max(0.0, started + i * args.interval - time.perf_counter()))
            if key == "escape":
                typed = ""
            elif key not in ("down", "j", "slash", "enter"):
                typed += char or ""
            app.shown.clear()
            app.expect = reflects(key, typed)
            pressed = time.perf_counter()
            app.post_message(events.Key(key, char))  # as the terminal driver posts it
            try:
                await asyncio.wait_for(app.shown.wait(), 10)
            except TimeoutError:
                raise SystemExit(f"key {key!r} (press {i}) was not shown within 10 s; focus on {app.focused}") from None
            presses.append((key, pressed, app.shown_at))
            if key == "escape":
                table.focus()  # PitstopApp.action_dismiss_bar leaves nothing focused; an operator would tab back
        ended = time.perf_counter()
        if profiler is not None:
            stop_profile(profiler, args.profile)
        ticks_in_window = app.ticks - ticks_before
        written, last_written_at = await asyncio.to_thread(conn.recv)
        caught_up = await eventually(pilot, lambda: app.last_tick >= written - 1, 60)
        out |= {
            "presses": presses,
            "window": (started, ended),
            "ticks_per_s": ticks_in_window / (ended - started + 1.0),
            "written_per_s": written / (args.seconds + 1.0),
            "written": written,
            "behind": app.last_tick_at - last_written_at if caught_up and written else None,
            "frames_per_s": (app.frames - frames_before) / (ended - started),
            "playbook_runs": app.playbook_runs,
            "watches": app.cache.states if app.cache is not None else {},
        }
        watcher.cancel()
        await pilot.press("q")
    gc.callbacks.remove(timeline.on_gc)
    return out


async def eventually(pilot: Any, predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await pilot.pause(0.02)
    return True


def report(r: dict[str, Any], pods: int, interval: float) -> None:
    ms = 1000
    timeline: Timeline = r["timeline"]
    start, end = r["window"]
    lat = [(key, shown - pressed, pressed, shown) for key, pressed, shown in r["presses"]]
    values = [x for _, x, _, _ in lat]
    print(
        f"first paint, {pods} pods           : {r['first_paint'] * ms:7.0f} ms after the cache synced  (target < 1500)"
    )
    print(f"  of which ClusterPane.show          : {r['first_show'] * ms:7.0f} ms")
    print(f"pod changes reaching the console    : {r['ticks_per_s']:7.0f} /s  ({r['written_per_s']:.0f}/s written)")
    behind = f"{r['behind'] * ms:.0f} ms" if r["behind"] is not None else "never (60 s)" if r["written"] else "-"
    print(f"  the last change reached it after  : {behind}")
    again = [f"{k} {st.lists - 1}x" for k, st in r["watches"].items() if st.lists > 1]
    errors = [f"{k}: {st.error}" for k, st in r["watches"].items() if st.error]
    print(
        f"  relisted since the first LIST     : {', '.join(again) or 'nothing'}; errors: {'; '.join(errors) or 'none'}"
    )
    print(f"keypresses                          : {len(values):7d}  one every {interval * ms:.0f} ms")
    print(f"keypress to repaint, median         : {statistics.median(values) * ms:7.1f} ms")
    print(f"keypress to repaint, worst          : {max(values) * ms:7.1f} ms  (target < 100)")
    by_key: dict[str, list[float]] = {}
    for key, x, _, _ in lat:
        by_key.setdefault(key, []).append(x)
    for key, xs in sorted(by_key.items()):
        print(f"  {key:<8} n={len(xs):<4} median {statistics.median(xs) * ms:6.1f} ms   worst {max(xs) * ms:6.1f} ms")
    print(f"frames painted under load           : {r['frames_per_s']:7.1f} /s")
    print("what held the event loop during the keypresses:")
    causes = ("repaint", "playbook run", "full garbage collection", "middle garbage collection", "event loop stall")
    for cause in causes:
        xs = timeline.within(cause, start, end)
        if xs:
            print(
                f"  {cause:<24} n={len(xs):<4} median {statistics.median(xs) * ms:6.1f} ms   worst {max(xs) * ms:6.1f} ms"
            )
        else:
            print(f"  {cause:<24} none")
    slow = [(p, s) for _, x, p, s in lat if x >= SLOW]
    print(f"keypresses over {SLOW * ms:.0f} ms                : {len(slow)}")
    for i, (key, x, p, s) in enumerate(lat):
        if x >= SLOW:
            held = ", ".join(sorted(timeline.overlapping(p, s, longer_than=0.02) - {"event loop stall"})) or "-"
            after = lat[i - 1][0] if i else "-"
            print(f"  {key} (after {after}): {x * ms:.0f} ms; overlapping over 20 ms: {held}")
    for cause in ("playbook run", "full garbage collection", "repaint"):
        hit = sum(cause in timeline.overlapping(p, s, longer_than=0.05) for p, s in slow)
        print(f"  overlapping a {cause + ' over 50 ms':<36}: {hit}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=10_000)
    ap.add_argument("--rate", type=float, default=200.0, help="watch events a second during the key presses")
    ap.add_argument("--seconds", type=float, default=12.0, help="how long to press keys under the event stream")
    ap.add_argument("--interval", type=float, default=0.1, help="seconds between key presses")
    ap.add_argument("--profile", type=Path, help="profile the key presses: .pstats (cProfile) or .html (pyinstrument)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pitstop-bench-") as tmp:
        os.environ["XDG_STATE_HOME"] = str(Path(tmp) / "state")
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=serve, args=(child, args.pods, tmp), name="pitstop-bench-sandbox", daemon=True)
        t0 = time.perf_counter()
        proc.start()
        try:
            reply = parent.recv()
            if reply[0] != "ready":
                print(reply[1], file=sys.stderr)
                return 1
            _, kubeconfig, pods = reply
            print(f"{pods} pods Running {time.perf_counter() - t0:.1f}s after start (sandbox in a child process)")
            repo = Path(tmp) / "repo"
            repo.mkdir()
            result = asyncio.run(measure(parent, kubeconfig, pods, args, repo))
        finally:
            with contextlib.suppress(OSError):  # the child may be gone already
                parent.send(None)
            proc.join(30)
            if proc.is_alive():
                proc.terminate()
    report(result, pods, args.interval)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
