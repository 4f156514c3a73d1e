"""What a crashed program's last log lines (and its container's last state) say went wrong.

Shared by `crash-loop` and `job-failed`. The log is read from its end: the last line that
names a known cause wins, because a Python traceback's final line is the exception that
ended the program (an earlier `KeyError` in a chained traceback is only how it started).
A cause's `key` is what findings put into their `cause` (and so their id), and what
`playbooks.links` reads back to find the finding that explains it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

CauseKind = Literal["dependency", "missing-setting", "module-not-found", "permission-denied", "oom", "exit"]
TAIL_SHOWN = 6  # log lines quoted as evidence: the exception and what led to it


@dataclass(frozen=True, slots=True)
class Cause:
    kind: CauseKind
    detail: str  # "redis:6379", "SECRET_KEY", "coditect_license", "backend" (oom), "1" (exit code)
    line: str = ""  # the log line that says so ("" when read from the container's state)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.detail}" if self.detail else self.kind

    @property
    def host(self) -> str | None:
        """For a dependency: the host name the program could not reach."""
        if self.kind != "dependency" or not self.detail:
            return None
        return self.detail.rsplit(":", 1)[0] if self.detail.rsplit(":", 1)[-1].isdigit() else self.detail

    def summary(self) -> str:
        """The cause in a few words, for titles."""
        if self.kind == "dependency":
            return f"cannot reach {self.detail}" if self.detail else "cannot reach a service it needs"
        if self.kind == "missing-setting":
            return f"setting {self.detail} is missing" if self.detail else "a required setting is missing"
        if self.kind == "module-not-found":
            return f"module {self.detail} not found" if self.detail else "a module cannot be imported"
        if self.kind == "permission-denied":
            return "permission denied"
        if self.kind == "oom":
            return "killed for using more memory than its limit (OOMKilled)"
        return f"exits with code {self.detail}"

    def meaning(self) -> str:
        """What the cause means for the operator, and where the way out usually is."""
        if self.kind == "dependency":
            where = f" ({self.detail})" if self.detail else ""
            return (
                f"The program cannot reach a service it connects to at start-up{where}: the name does not resolve "
                "or nothing listens there. Deploy the dependency (or its Service), or point the setting at one "
                "that exists."
            )
        if self.kind == "missing-setting":
            what = f" {self.detail}" if self.detail else ""
            return (
                f"The program stops because a required setting{what} is empty or not set: an environment variable "
                "(or the Secret/ConfigMap key behind it) is missing from the pod template."
            )
        if self.kind == "module-not-found":
            what = f" {self.detail}" if self.detail else ""
            return (
                f"Python cannot import the module{what}: a setting names a module that is not in the image (often "
                "DJANGO_SETTINGS_MODULE or the app module in the command), or the image lacks a dependency."
            )
        if self.kind == "permission-denied":
            return (
                "The program was refused access to a file, directory or port: the container's user (securityContext "
                "runAsUser/fsGroup), a read-only filesystem or volume permissions do not allow what it does."
            )
        if self.kind == "oom":
            return "The kernel killed the container because it used more memory than its limit."
        return "The log does not name a cause pitstop recognises; read the last lines below."


# --- log patterns: (kind, pattern, how to get the detail) ------------------------------------------

_DEPENDENCY: tuple[re.Pattern[str], ...] = (
    re.compile(r"Error -?\d+ connecting to (?P<host>[\w.-]+):(?P<port>\d+)"),  # redis-py
    re.compile(r'connection to server at "(?P<host>[^"]+)"(?: \([^)]*\))?, port (?P<port>\d+) failed'),  # psycopg
    re.compile(r'could not translate host name "(?P<host>[^"]+)"'),  # psycopg
    re.compile(r"Unknown MySQL server host '(?P<host>[^']+)'"),
    re.compile(r"Can't connect to MySQL server on '(?P<host>[^']+)'"),
    re.compile(r"HTTPS?ConnectionPool\(host='(?P<host>[^']+)', port=(?P<port>\d+)\)"),  # requests
    re.compile(r"Failed to resolve '(?P<host>[^']+)'"),  # urllib3
    re.compile(r"dial tcp: lookup (?P<host>[\w.-]+)"),  # Go
    re.compile(r"dial tcp (?P<host>[\w.-]+):(?P<port>\d+): connect: connection refused"),  # Go
    re.compile(r"getaddrinfo (?:ENOTFOUND|EAI_AGAIN) (?P<host>[\w.-]+)"),  # Node
    re.compile(r"connect ECONNREFUSED (?P<host>[\w.-]+):(?P<port>\d+)"),  # Node
    re.compile(r"\('(?P<host>[\w.-]+)', (?P<port>\d+)\)"),  # Python socket errors quoting the address
    re.compile(
        r"Name or service not known|Temporary failure in name resolution|nodename nor servname provided"
        r"|Connection refused|No route to host|ECONNREFUSED|ENOTFOUND"
    ),
)
_SETTING_NAME = (
    re.compile(r"The (?P<name>[A-Z][A-Z0-9_]+) setting must not be empty"),  # Django
    re.compile(r"define the environment variable (?P<name>[A-Z][A-Z0-9_]+)"),  # Django, settings not configured
    re.compile(r"Set the (?P<name>[A-Z][A-Z0-9_]+) environment variable"),  # django-environ
    re.compile(r"(?:environment variable|env var)\s+['\"]?(?P<name>[A-Z][A-Z0-9_]{2,})['\"]?", re.IGNORECASE),
    re.compile(r"\b(?P<name>[A-Z][A-Z0-9_]{2,})\b"),
)
_ENV_KEYERROR = re.compile(r"^KeyError: '(?P<name>[A-Z][A-Z0-9_]+)'$")
_MODULE = (
    re.compile(r"ModuleNotFoundError: No module named '(?P<name>[^']+)'"),
    re.compile(r"ImportError: cannot import name '(?P<name>[^']+)'"),
    re.compile(r"ImportError: (?P<name>.+)"),
    re.compile(r"Error: Cannot find module '(?P<name>[^']+)'"),  # Node
)
_PERMISSION = re.compile(
    r"PermissionError|Permission denied|EACCES|[Oo]peration not permitted|Read-only file system|EROFS"
)


def _setting_name(line: str) -> str:
    for pattern in _SETTING_NAME:
        m = pattern.search(line.split(":", 1)[-1] if pattern is _SETTING_NAME[-1] else line)
        if m:
            return m["name"]
    return ""


def _line_cause(line: str, before: str) -> Cause | None:
    text = line.strip()
    if not text:
        return None
    for pattern in _MODULE:
        m = pattern.search(text)
        if m:
            name = m["name"].strip()
            return Cause("module-not-found", name if " " not in name else "", text)
    if "ImproperlyConfigured" in text:
        return Cause("missing-setting", _setting_name(text), text)
    m = _ENV_KEYERROR.match(text)
    if m and (any(w in before for w in ("environ", "getenv", "<frozen os>", "os.py")) or "_" in m["name"]):
        return Cause("missing-setting", m["name"], text)
    if re.search(r"environment variable", text, re.IGNORECASE) and re.search(
        r"\b(?:not set|missing|required|must be set|is unset|undefined)\b", text, re.IGNORECASE
    ):
        return Cause("missing-setting", _setting_name(text), text)
    if _PERMISSION.search(text):
        return Cause("permission-denied", "", text)
    for pattern in _DEPENDENCY:
        m = pattern.search(text)
        if m:
            groups = m.groupdict()
            host = groups.get("host") or ""
            port = groups.get("port") or ""
            return Cause("dependency", f"{host}:{port}" if host and port else host, text)
    return None


def from_logs(lines: Sequence[str]) -> Cause | None:
    """The cause the log names, read from the end; None when no line names one."""
    for i in range(len(lines) - 1, -1, -1):
        found = _line_cause(lines[i], lines[i - 1] if i else "")
        if found is not None:
            return found
    return None


def from_state(container: str, terminated: Mapping[str, Any]) -> Cause:
    """The cause a terminated state alone tells: OOMKilled, else the exit code."""
    if terminated.get("reason") == "OOMKilled":
        return Cause("oom", container)
    return Cause("exit", str(terminated.get("exitCode", "?")))


def exit_meaning(terminated: Mapping[str, Any]) -> str:
    """What an exit code says when the log does not (128+n: killed by signal n)."""
    code = terminated.get("exitCode")
    if not isinstance(code, int):
        return ""
    if code == 137:
        return "exit code 137: killed with SIGKILL (a failed liveness probe, or memory, or a forced stop)"
    if code == 143:
        return "exit code 143: stopped with SIGTERM"
    if code == 127:
        return "exit code 127: the command was not found in the image"
    if code == 126:
        return "exit code 126: the command is not executable"
    return f"exit code {code}"


def said(line: str) -> str:
    """The sentence quoting a log line, without a second full stop after one the line already has."""
    end = "" if line.rstrip().endswith((".", "!", "?")) else "."
    return f'Its last log says: "{line.strip()}"{end}'


def tail_text(lines: Sequence[str], count: int = TAIL_SHOWN) -> str:
    """The last lines worth quoting: blank lines and traceback caret markers left out."""
    kept = [ln.rstrip() for ln in lines if ln.strip() and set(ln.strip()) - set("^~")]
    return "\n".join(kept[-count:])
