"""The cluster kept in memory: per kind a LIST, then a WATCH from its resourceVersion, for as long as it runs.

Like client-go's reflector: watch events and bookmarks advance the resourceVersion; a
`410 Expired` (the watch fell behind the server's history) means list again; a dropped
connection means watch again from where it stopped, after an exponential backoff with
jitter (0.5 s doubling to 30 s). A 403 marks the kind forbidden — never an empty list —
so playbooks say "could not check" instead of "all clear". Secrets arrive already reduced
to key names by the client.

`load_snapshot` is the one-shot form for headless runs: concurrent lists, no watch.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType

from diagnostics.kube import RESOURCES, KubeClient, KubeError, Unreachable, resource_for
from diagnostics.kubeconfig import ConfigError
from diagnostics.snapshot import Key, Obj, Snapshot, key_of

log = logging.getLogger("pitstop.cache")

Callback = Callable[[str, str, Obj], None]  # (kind, "ADDED" | "MODIFIED" | "DELETED", object)
KindSpec = tuple[str, str] | str  # ("apps/v1", "Deployment") or just "Deployment"
DEFAULT_KINDS: tuple[tuple[str, str], ...] = tuple((r.api_version, r.kind) for r in RESOURCES)
FORBIDDEN_RETRY = 30.0  # seconds between attempts on a forbidden kind (permissions can be granted meanwhile)


@dataclass(slots=True)
class KindState:
    """How one kind's list+watch is doing."""

    api_version: str
    kind: str
    synced: bool = False  # listed at least once; the objects are there (if disconnected, possibly stale)
    forbidden: bool = False  # the last attempt answered 403
    served: bool = True  # False: the server does not serve this kind (404 on the collection); it has no objects
    error: str | None = None  # the last failure, None once working again
    resource_version: str = ""
    lists: int = 0  # completed LISTs: more than one means relists after 410 Expired
    watches: int = 0  # WATCH requests opened


class WatchCache:
    """`async with WatchCache(client, kinds, namespace) as cache: await cache.synced(10); cache.snapshot()`.

    All methods run on the event loop that started the cache; callbacks are called there too.
    """

    def __init__(
        self,
        client: KubeClient,
        kinds: Sequence[KindSpec] = DEFAULT_KINDS,
        namespace: str | None = None,
        *,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        watch_timeout: int = 300,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.backoff_initial, self.backoff_max, self.watch_timeout = backoff_initial, backoff_max, watch_timeout
        self._states = {kind: KindState(api_version, kind) for api_version, kind in _kinds(kinds)}
        self._objects: dict[str, dict[Key, Obj]] = {kind: {} for kind in self._states}
        self._settled = {kind: asyncio.Event() for kind in self._states}
        self._subscribers: list[Callback] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> WatchCache:
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._run(st), name=f"pitstop-watch-{st.kind}") for st in self._states.values()
            ]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []

    async def synced(self, timeout: float | None = None) -> bool:
        """Wait until every kind has listed once (or turned out forbidden or not served); False on timeout."""
        try:
            async with asyncio.timeout(timeout):
                for ev in self._settled.values():
                    await ev.wait()
        except TimeoutError:
            return False
        return True

    def state(self, kind: str) -> KindState:
        return dataclasses.replace(self._states[kind])

    @property
    def states(self) -> dict[str, KindState]:
        return {kind: dataclasses.replace(st) for kind, st in self._states.items()}

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Call `callback(kind, type, obj)` for every change (relists report their differences); returns unsubscribe."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def snapshot(self) -> Snapshot:
        """The cache as it is now: one shallow copy per kind (a few ms for 10,000 pods)."""
        objects: dict[str, dict[Key, Obj]] = {}
        errors: dict[str, str] = {}
        forbidden: set[str] = set()
        for kind, st in self._states.items():
            if st.forbidden:
                forbidden.add(kind)
            elif st.synced:
                objects[kind] = self._objects[kind]
            else:
                errors[kind] = st.error or "not listed yet"
        return Snapshot(self.client.context, objects, forbidden=forbidden, errors=errors)

    # --- the per-kind loop -----------------------------------------------------------------

    async def _run(self, st: KindState) -> None:
        delay = self.backoff_initial
        need_list = True
        expired_in_a_row = 0
        while True:
            try:
                if need_list:
                    items, rv = await self.client.list(st.api_version, st.kind, self.namespace)
                    self._replace(st.kind, items)
                    st.resource_version, st.lists = rv, st.lists + 1
                    st.synced, st.forbidden, st.error = True, False, None
                    self._settled[st.kind].set()
                    need_list = False
                    delay = self.backoff_initial
                st.watches += 1
                async for kind, obj in self.client.watch(
                    st.api_version, st.kind, self.namespace, st.resource_version, True, self.watch_timeout
                ):
                    rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
                    if kind != "BOOKMARK":
                        self._apply(st.kind, kind, obj)
                    if rv:
                        st.resource_version = rv
                    st.error, delay, expired_in_a_row = None, self.backoff_initial, 0
                continue  # the server ended the watch (its timeout): watch again from the last version
            except asyncio.CancelledError:
                raise
            except KubeError as e:
                if e.expired:
                    need_list = True
                    expired_in_a_row += 1
                    if expired_in_a_row == 1:
                        continue  # relist at once; only a repeated 410 waits
                elif e.forbidden:
                    st.forbidden, st.synced, st.error = True, False, None
                    self._objects[st.kind] = {}
                    self._settled[st.kind].set()
                    need_list = True
                    await asyncio.sleep(_jitter(max(FORBIDDEN_RETRY, delay)))
                    continue
                elif e.not_found and need_list:
                    st.served, st.synced, st.error = False, True, None
                    self._settled[st.kind].set()
                    return  # nothing to watch: the cluster has no such resource
                else:
                    st.error = f"{e.status} {e.reason}: {e.message}"
            except (Unreachable, ConfigError) as e:  # ConfigError: an exec plugin that cannot log in again
                st.error = str(e)
            except Exception as e:  # a bug here must not end the watch for good
                log.exception("watch of %s failed", st.kind)
                st.error = f"{type(e).__name__}: {e}"
                need_list = True
            await asyncio.sleep(_jitter(delay))
            delay = min(delay * 2, self.backoff_max)

    def _apply(self, kind: str, event: str, obj: Obj) -> None:
        store = self._objects[kind]
        key = key_of(obj)
        if event == "DELETED":
            store.pop(key, None)
        else:
            store[key] = obj
        self._notify(kind, event, obj)

    def _replace(self, kind: str, items: list[Obj]) -> None:
        old = self._objects[kind]
        new = {key_of(o): o for o in items}
        self._objects[kind] = new
        if not self._subscribers:
            return
        for key, obj in new.items():
            before = old.get(key)
            if before is None:
                self._notify(kind, "ADDED", obj)
            elif _rv(before) != _rv(obj):
                self._notify(kind, "MODIFIED", obj)
        for key, obj in old.items():
            if key not in new:
                self._notify(kind, "DELETED", obj)

    def _notify(self, kind: str, event: str, obj: Obj) -> None:
        for cb in list(self._subscribers):
            try:
                cb(kind, event, obj)
            except Exception:  # one broken subscriber must not starve the others or stop the watch
                log.exception("cache subscriber %r failed on %s %s", cb, event, kind)


def _kinds(kinds: Sequence[KindSpec]) -> list[tuple[str, str]]:
    """(apiVersion, kind) pairs; a bare Kind name is looked up in the client's resource table."""
    out: list[tuple[str, str]] = []
    for k in kinds:
        pair = (resource_for(k).api_version, k) if isinstance(k, str) else (k[0], k[1])
        if pair not in out:
            out.append(pair)
    return out


def _rv(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _jitter(delay: float) -> float:
    return delay * (1.0 + 0.25 * random.random())


async def load_snapshot(
    client: KubeClient, kinds: Sequence[KindSpec] = DEFAULT_KINDS, namespace: str | None = None
) -> Snapshot:
    """List every kind once, concurrently, into a Snapshot (headless runs).

    A 403 puts the kind in `snapshot.forbidden` and other API errors in `snapshot.errors`;
    only an unreachable server raises (Unreachable): then nothing could be checked.
    """
    taken_at = datetime.now(UTC)

    async def one(api_version: str, kind: str) -> list[Obj]:
        items, _ = await client.list(api_version, kind, namespace)
        return items

    pairs = _kinds(kinds)
    results = await asyncio.gather(*(one(av, k) for av, k in pairs), return_exceptions=True)
    objects: dict[str, dict[Key, Obj]] = {}
    forbidden: set[str] = set()
    errors: dict[str, str] = {}
    for (_, kind), result in zip(pairs, results, strict=True):
        if isinstance(result, Unreachable):
            raise result
        if isinstance(result, KubeError):
            if result.forbidden:
                forbidden.add(kind)
            elif result.not_found:
                objects[kind] = {}  # not served by this cluster: there are none
            else:
                errors[kind] = f"{result.status} {result.reason}: {result.message}"
        elif isinstance(result, BaseException):
            raise result
        else:
            objects[kind] = {key_of(o): o for o in result}
    return Snapshot(client.context, objects, taken_at=taken_at, forbidden=forbidden, errors=errors)
