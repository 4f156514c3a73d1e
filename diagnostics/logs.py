"""Container logs as playbooks read them: the last lines, credentials masked, remembered briefly.

Secrets reach pitstop as key names only, so their values cannot be looked for in a log.
What a program prints about its own settings can still hold one (a database URL with a
password, `SECRET_KEY=…`), so every line is masked before a playbook sees it: URL
credentials, `key=value`/`key: value` pairs whose key names a secret, bearer tokens,
and long opaque strings.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from diagnostics.kube import KubeClient, KubeError, Unreachable

MASK = "****"
TAIL = 50  # lines: enough for a Python traceback and what printed before it
TTL = 10.0  # seconds a read is reused: one playbook run asks for the same pod more than once

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@")
_SECRET_PAIR = re.compile(
    r"(?P<key>\b[\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential)"
    r"[\w.-]*['\"]?\s*[:=]\s*)(?P<value>'[^']*'|\"[^\"]*\"|[^\s,;'\"]+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<key>\b(?:bearer|basic)\s+)(?P<value>[A-Za-z0-9._~+/=-]{8,})", re.IGNORECASE)
_OPAQUE = re.compile(r"\b(?=[A-Za-z0-9+_-]*\d)(?=[A-Za-z0-9+_-]*[A-Za-z])[A-Za-z0-9+_-]{32,}={0,2}")


def mask(line: str) -> str:
    """`line` with anything that looks like a credential replaced by ****."""
    line = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", line)
    line = _SECRET_PAIR.sub(lambda m: m["key"] + MASK, line)
    line = _BEARER.sub(lambda m: m["key"] + MASK, line)
    return _OPAQUE.sub(MASK, line)


@dataclass(frozen=True, slots=True)
class Logs:
    """What a read gave: the masked lines, or why there are none (`problem`)."""

    lines: tuple[str, ...]
    problem: str | None = None  # "forbidden", "container has not started", "unreachable: …"

    @property
    def read(self) -> bool:
        return self.problem is None


class LogReader:
    """`await reader.tail(namespace, pod, container, previous=True)`; never raises for a log it cannot read."""

    def __init__(self, client: KubeClient, tail: int = TAIL, ttl: float = TTL) -> None:
        self.client, self.tail_lines, self.ttl = client, tail, ttl
        self._cache: dict[tuple[str, str, str | None, bool, int], tuple[float, Logs]] = {}

    async def tail(
        self, namespace: str, pod: str, container: str | None = None, *, previous: bool = False, lines: int = 0
    ) -> Logs:
        """The last `lines` (default TAIL) lines of the container's log; `previous`: its last terminated instance."""
        count = lines or self.tail_lines
        key = (namespace, pod, container, previous, count)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        try:
            text = await self.client.logs(namespace, pod, container, previous=previous, tail_lines=count)
            logs = Logs(tuple(mask(line) for line in text.splitlines()[-count:]))
        except KubeError as e:
            if e.forbidden:
                problem = "forbidden"
            elif e.not_found:
                problem = "the pod is gone"
            else:  # 400: the container has not started, or has no previous instance
                problem = mask(e.message) or f"{e.status} {e.reason}"
            logs = Logs((), problem)
        except Unreachable as e:
            logs = Logs((), f"unreachable: {e}")
        self._cache[key] = (now, logs)
        return logs
