"""The simulated container runtime: what a started container does, and what it prints.

`decide` is a pure function of the container (image, command, resolved environment),
the scenario's behaviours and a view of the cluster's Services. The first behaviour
whose image glob (and `command_contains`) matches wins; its checks run in a fixed
order -- `requires_env`, then `env_one_of`, then `connects` -- and the first failing
check makes the container exit 1 with that check's log text. Without a matching
behaviour a Job's containers (restartPolicy Never/OnFailure) and init containers
complete, and everything else keeps running and is ready.

The texts are what the real programs print: a scenario's `failures[NAME]` template
wins, otherwise a default chosen from the URL scheme or the variable's name.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal, Protocol
from urllib.parse import urlsplit

from sandbox.scenario import Behaviour

Reachability = Literal["ok", "unknown_host", "refused"]

# seconds on the fast clock a program needs before it crashes, completes, or is up
CRASH_AFTER = 1.5
COMPLETE_AFTER = 3.0
LOG_LINE_GAP = 0.4

_DEFAULT_PORTS = {
    "redis": 6379,
    "rediss": 6380,
    "postgres": 5432,
    "postgresql": 5432,
    "mysql": 3306,
    "mariadb": 3306,
    "mongodb": 27017,
    "amqp": 5672,
    "amqps": 5671,
    "http": 80,
    "https": 443,
    "nats": 4222,
    "kafka": 9092,
    "memcached": 11211,
}
_PLACEHOLDER = re.compile(r"\{(name|value|host|port|module_root)\}")
_PYTHON_HINTS = ("python", "manage.py", "gunicorn", "uvicorn", "celery", "django", "flask", "pytest")


class Cluster(Protocol):
    """What a container can see of the cluster network from its namespace."""

    def reachable(self, host: str, namespace: str) -> Reachability: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one run of a container does.

    `run`: starts and keeps running (ready); `exit`: runs `after` simulated seconds,
    then exits with `exit_code`. `lines` are its log lines, in order.
    """

    kind: Literal["run", "exit"]
    lines: tuple[str, ...]
    exit_code: int = 0
    after: float = 0.0

    @property
    def reason(self) -> str:
        return "Completed" if self.exit_code == 0 else "Error"


def matching_behaviour(behaviours: Sequence[Behaviour], image: str, command: Sequence[str]) -> Behaviour | None:
    joined = " ".join(command)
    for b in behaviours:
        if not fnmatchcase(image, b.image):
            continue
        if b.command_contains and b.command_contains not in joined:
            continue
        return b
    return None


def decide(
    *,
    image: str,
    container: str,
    command: Sequence[str],
    env: Mapping[str, str],
    namespace: str,
    behaviours: Sequence[Behaviour],
    cluster: Cluster,
    finishes: bool,
) -> Outcome:
    """The outcome of starting this container now.

    `finishes` says whether a container that passes its checks exits 0 when the
    behaviour does not say (`completes: null`): true for init containers and Jobs' pods.
    """
    b = matching_behaviour(behaviours, image, command)
    python = _looks_like_python(image, command)
    if b is not None:
        failed = _first_failure(b, env, namespace, cluster, python)
        if failed is not None:
            return Outcome("exit", failed, exit_code=1, after=CRASH_AFTER)
        completes = finishes if b.completes is None else b.completes
        lines = tuple(b.logs) or default_lines(image, container, command, completes)
    else:
        completes = finishes
        lines = default_lines(image, container, command, completes)
    if completes:
        return Outcome("exit", lines, exit_code=0, after=COMPLETE_AFTER)
    return Outcome("run", lines)


def _first_failure(
    b: Behaviour, env: Mapping[str, str], namespace: str, cluster: Cluster, python: bool
) -> tuple[str, ...] | None:
    for name in b.requires_env:
        if not env.get(name):
            fields = {"name": name, "value": "", "host": "", "port": "", "module_root": ""}
            return _text(b, name, fields) or _missing_env_text(name, python)
    for name, allowed in b.env_one_of.items():
        value = env.get(name)
        if value is None or value not in allowed:
            root = (value or "").split(".", 1)[0]
            fields = {"name": name, "value": value or "", "host": "", "port": "", "module_root": root}
            return _text(b, name, fields) or _bad_value_text(name, value, allowed, root, python)
    for name in b.connects:
        value = env.get(name)
        if not value:
            continue
        scheme, host, port = parse_endpoint(value)
        if not host:
            continue
        verdict = cluster.reachable(host, namespace)
        if verdict == "ok":
            continue
        fields = {"name": name, "value": value, "host": host, "port": str(port or ""), "module_root": ""}
        return _text(b, name, fields) or _connect_text(scheme, host, port, verdict, python)
    return None


def _text(b: Behaviour, name: str, fields: Mapping[str, str]) -> tuple[str, ...] | None:
    template = b.failures.get(name)
    if template is None:
        return None
    filled = _PLACEHOLDER.sub(lambda m: fields[m.group(1)], template)
    return tuple(filled.rstrip("\n").split("\n"))


def parse_endpoint(value: str) -> tuple[str, str, int | None]:
    """`redis://redis:6379/0` → (redis, redis, 6379); `db:5432` → ("", db, 5432); `cache` → ("", cache, None)."""
    value = value.strip()
    if "://" in value:
        parts = urlsplit(value)
        scheme = parts.scheme.lower()
        try:
            port = parts.port
        except ValueError:
            port = None
        return scheme, parts.hostname or "", port or _DEFAULT_PORTS.get(scheme)
    host, sep, port_text = value.rpartition(":")
    if sep and port_text.isdigit():
        return "", host.strip("[]"), int(port_text)
    return "", value.split("/", 1)[0], None


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _looks_like_python(image: str, command: Sequence[str]) -> bool:
    text = (image + " " + " ".join(command)).lower()
    return any(h in text for h in _PYTHON_HINTS) or "backend" in image.lower()


# --- default texts -----------------------------------------------------------------------------


def _traceback(*frames: tuple[str, int, str, str]) -> tuple[str, ...]:
    out = ["Traceback (most recent call last):"]
    for path, line, func, code in frames:
        out += [f'  File "{path}", line {line}, in {func}', f"    {code}"]
    return tuple(out)


def _missing_env_text(name: str, python: bool) -> tuple[str, ...]:
    if "SECRET_KEY" in name:
        return (
            *_traceback(
                ("/app/manage.py", 22, "<module>", "main()"),
                (
                    "/usr/local/lib/python3.12/site-packages/django/conf/__init__.py",
                    89,
                    "__getattr__",
                    'raise ImproperlyConfigured("The SECRET_KEY setting must not be empty.")',
                ),
            ),
            "django.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty.",
        )
    if python:
        return (
            *_traceback(
                ("/app/settings.py", 14, "<module>", f'{name.lower()} = os.environ["{name}"]'),
                ("<frozen os>", 714, "__getitem__", ""),
            ),
            f"KeyError: '{name}'",
        )
    return (f"error: required environment variable {name} is not set",)


def _bad_value_text(name: str, value: str | None, allowed: Sequence[str], root: str, python: bool) -> tuple[str, ...]:
    if name == "DJANGO_SETTINGS_MODULE":
        if not value:
            return (
                "django.core.exceptions.ImproperlyConfigured: Requested setting INSTALLED_APPS, but settings are not "
                "configured. You must either define the environment variable DJANGO_SETTINGS_MODULE or call "
                "settings.configure() before accessing settings.",
            )
        return (
            *_traceback(
                ("/app/manage.py", 22, "<module>", "main()"),
                (
                    "/usr/local/lib/python3.12/importlib/__init__.py",
                    90,
                    "import_module",
                    "return _bootstrap._gcd_import(name[level:], package, level)",
                ),
            ),
            f"ModuleNotFoundError: No module named '{root}'",
        )
    expected = ", ".join(allowed)
    if python:
        return (f"ValueError: invalid {name}={value!r}; expected one of: {expected}",)
    return (f'error: invalid value "{value or ""}" for {name}: expected one of: {expected}',)


def _connect_text(scheme: str, host: str, port: int | None, verdict: Reachability, python: bool) -> tuple[str, ...]:
    p = port if port is not None else 80
    unknown = verdict == "unknown_host"
    if scheme.startswith("redis"):
        if unknown:
            return (f"redis.exceptions.ConnectionError: Error -2 connecting to {host}:{p}. Name or service not known.",)
        return (f"redis.exceptions.ConnectionError: Error 111 connecting to {host}:{p}. Connection refused.",)
    if scheme.startswith("postgres"):
        if unknown:
            return (
                f'psycopg2.OperationalError: could not translate host name "{host}" to address: Name or service not known',
            )
        return (f'psycopg2.OperationalError: connection to server at "{host}", port {p} failed: Connection refused',)
    if scheme in ("mysql", "mariadb"):
        if unknown:
            return (f"MySQLdb.OperationalError: (2005, \"Unknown MySQL server host '{host}' (-2)\")",)
        return (f"MySQLdb.OperationalError: (2002, \"Can't connect to MySQL server on '{host}' (111)\")",)
    if scheme.startswith("amqp"):
        errno = "[Errno -2] Name or service not known" if unknown else "[Errno 111] Connection refused"
        return (f"kombu.exceptions.OperationalError: {errno}",)
    if scheme in ("http", "https"):
        cause = (
            f"NameResolutionError(\"<urllib3.connection.HTTPConnection object>: Failed to resolve '{host}' "
            '([Errno -2] Name or service not known)")'
            if unknown
            else "NewConnectionError('<urllib3.connection.HTTPConnection object>: Failed to establish a new "
            "connection: [Errno 111] Connection refused')"
        )
        return (
            f"requests.exceptions.ConnectionError: HTTPConnectionPool(host='{host}', port={p}): Max retries exceeded "
            f"with url: / (Caused by {cause})",
        )
    if python:
        errno = "[Errno -2] Name or service not known" if unknown else "[Errno 111] Connection refused"
        return (f"ConnectionError: {errno}: ('{host}', {p})",)
    if unknown:
        return (f"dial tcp: lookup {host} on 10.96.0.10:53: no such host",)
    return (f"dial tcp {host}:{p}: connect: connection refused",)


def default_lines(image: str, container: str, command: Sequence[str], completes: bool) -> tuple[str, ...]:
    """Startup (or run-to-completion) lines of a well-known image, else a generic pair."""
    name = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0].lower()
    joined = " ".join(command)
    if "migrate" in joined:
        return (
            "Operations to perform:",
            "  Apply all migrations: admin, auth, contenttypes, sessions",
            "Running migrations:",
            "  No migrations to apply.",
        )
    if completes:
        return (f"{container}: starting", f"{container}: finished successfully")
    if name.startswith("nginx"):
        return (
            "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration",
            "/docker-entrypoint.sh: Looking for shell scripts in /docker-entrypoint.d/",
            "/docker-entrypoint.sh: Configuration complete; ready for start up",
            '[notice] 1#1: using the "epoll" event method',
            "[notice] 1#1: start worker processes",
        )
    if name.startswith("redis"):
        return (
            "1:C * oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo",
            "1:M * Server initialized",
            "1:M * Ready to accept connections tcp",
        )
    if name.startswith("postgres"):
        return (
            "LOG:  starting PostgreSQL 16.4 on x86_64-pc-linux-gnu",
            'LOG:  listening on IPv4 address "0.0.0.0", port 5432',
            "LOG:  database system is ready to accept connections",
        )
    if name.startswith("coredns"):
        return (
            ".:53",
            "[INFO] plugin/reload: Running configuration SHA512 = " + hashlib.sha512(image.encode()).hexdigest()[:128],
            "CoreDNS-1.11.3",
            "linux/amd64, go1.22.7, a6338e9",
        )
    if name.startswith("busybox") or name.startswith("alpine"):
        return ()
    if _looks_like_python(image, command):
        return (
            "[INFO] Starting gunicorn 23.0.0",
            "[INFO] Listening at: http://0.0.0.0:8000 (1)",
            "[INFO] Using worker: sync",
            "[INFO] Booting worker with pid: 7",
        )
    return (f"{container}: starting", f"{container}: listening on :8080")
