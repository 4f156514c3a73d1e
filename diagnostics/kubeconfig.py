"""Which cluster, user and namespace to talk to, resolved from kubeconfig files the way kubectl does.

`load()` merges the files named by `KUBECONFIG` (or `~/.kube/config`, or one explicit
`--kubeconfig` file), picks the context, and returns a `ClusterConfig` with every file it
points at already read. Merging follows client-go: the first file that defines a named
cluster, user or context wins whole (a later file's entry of the same name is ignored,
even its fields the first one leaves out), the first file that sets `current-context`
wins, missing files in `KUBECONFIG` are skipped, and relative paths are resolved against
the directory of the file that holds them.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import yaml  # type: ignore[import-untyped, unused-ignore]

DEFAULT_NAMESPACE = "default"
ENVIRONMENT_EXTENSION = "pitstop.dev/environment"
EXEC_CLUSTER_EXTENSION = "client.authentication.k8s.io/exec"  # reserved: handed to exec plugins as spec.cluster.config
EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
EXEC_TIMEOUT = 60.0  # seconds; a plugin that waits for a browser login must not hang the console forever

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_PROD_WORDS = frozenset({"prod", "production"})


class ConfigError(Exception):
    """A kubeconfig problem the user can fix; the message is one sentence naming it and the way out."""


@dataclass(frozen=True, slots=True)
class ExecConfig:
    """A `users[].user.exec` credential plugin: run `command args...` (never through a shell)."""

    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    api_version: str = "client.authentication.k8s.io/v1"
    install_hint: str = ""
    provide_cluster_info: bool = False
    interactive_mode: str = "IfAvailable"


@dataclass(frozen=True, slots=True)
class ExecCredential:
    """What an exec plugin printed: a bearer token, or a client certificate and key (PEM)."""

    token: str | None = field(default=None, repr=False)
    client_certificate_data: bytes | None = field(default=None, repr=False)
    client_key_data: bytes | None = field(default=None, repr=False)
    expires_at: datetime | None = None

    def expired(self, now: datetime | None = None, leeway: float = 10.0) -> bool:
        if self.expires_at is None:
            return False
        return (now or datetime.now(UTC)).timestamp() + leeway >= self.expires_at.timestamp()


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """One resolved context: where the API server is, how to trust it and how to authenticate.

    Credentials are kept out of `repr` so a config printed in a traceback leaks nothing.
    File references (`certificate-authority`, `client-certificate`, `client-key`) are read at
    load time into the `*_data` fields; `token_file` is read by the client (it may rotate).
    """

    context: str
    cluster: str
    user: str
    server: str
    namespace: str
    source: str = ""  # the kubeconfig file(s) it came from, for messages
    ca_data: bytes | None = field(default=None, repr=False)
    ca_file: str | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    client_certificate_data: bytes | None = field(default=None, repr=False)
    client_certificate_file: str | None = None
    client_key_data: bytes | None = field(default=None, repr=False)
    client_key_file: str | None = None
    token: str | None = field(default=None, repr=False)
    token_file: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    exec: ExecConfig | None = None
    extensions: dict[str, Any] = field(default_factory=dict, repr=False)
    context_extensions: dict[str, Any] = field(default_factory=dict, repr=False)
    production: bool = False

    def bearer_token(self) -> str | None:
        """The static bearer token: inline `token`, else the current contents of `tokenFile`."""
        if self.token:
            return self.token
        if self.token_file:
            try:
                return Path(self.token_file).read_text().strip() or None
            except OSError as e:
                raise ConfigError(
                    f"cannot read tokenFile {self.token_file} of user {self.user!r} ({e.strerror}); "
                    "fix the path in the kubeconfig"
                ) from e
        return None


# --- names -----------------------------------------------------------------------------------


def is_label_name(name: str) -> bool:
    """True for an RFC 1123 label: what Kubernetes requires of namespace names."""
    return len(name) <= 63 and _LABEL.fullmatch(name) is not None


def validate_namespace(namespace: str) -> str:
    if not is_label_name(namespace):
        raise ConfigError(
            f'namespace "{namespace}" is not a valid namespace name (RFC 1123 label: at most 63 lowercase letters, '
            "digits and '-', starting and ending with a letter or digit)"
        )
    return namespace


def is_production_name(name: str) -> bool:
    """True when `prod` or `production` is a word of the name (`gke_acme_prod-eu`, not `product-api`)."""
    return any(word in _PROD_WORDS for word in re.split(r"[^a-z0-9]+", name.lower()))


def _says_production(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "production"
    if isinstance(value, Mapping):
        return any(_says_production(value.get(k)) for k in ("environment", "value", "name"))
    return False


# --- loading ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Named:
    """One clusters[]/users[]/contexts[] entry and the file that defined it."""

    body: dict[str, Any]
    origin: Path


@dataclass(slots=True)
class _Merged:
    clusters: dict[str, _Named] = field(default_factory=dict)
    users: dict[str, _Named] = field(default_factory=dict)
    contexts: dict[str, _Named] = field(default_factory=dict)
    current_context: str = ""
    files: list[Path] = field(default_factory=list)

    @property
    def source(self) -> str:
        return ", ".join(_show(p) for p in self.files)


def _show(path: Path) -> str:
    """A path as the user would type it (`~/.kube/config`)."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def _candidates(path: str | None) -> tuple[list[Path], bool]:
    """The files to read, and whether they were named explicitly (then a missing one is an error)."""
    if path:
        return [Path(path).expanduser()], True
    env = os.environ.get("KUBECONFIG", "")
    if env:
        seen: list[Path] = []
        for part in env.split(os.pathsep):
            if part and Path(part) not in seen:
                seen.append(Path(part))
        return seen, False
    return [Path.home() / ".kube" / "config"], False


def _read_file(path: Path) -> dict[str, Any] | None:
    """One kubeconfig file parsed; None when it does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except IsADirectoryError as e:
        raise ConfigError(f"kubeconfig {_show(path)} is a directory; point KUBECONFIG or --kubeconfig at a file") from e
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) else "it is not UTF-8 text"
        raise ConfigError(
            f"cannot read kubeconfig {_show(path)} ({reason}); fix its permissions or pass --kubeconfig"
        ) from e
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"kubeconfig {_show(path)} is not valid YAML{where}; fix the file or pass another --kubeconfig"
        ) from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"kubeconfig {_show(path)} is not a kubeconfig (expected a mapping at the top); fix the file or pass another --kubeconfig"
        )
    return data


def _entries(data: dict[str, Any], section: str, inner: str, path: Path) -> list[tuple[str, dict[str, Any]]]:
    items = data.get(section) or []
    if not isinstance(items, list):
        raise ConfigError(f"kubeconfig {_show(path)} has a {section!r} that is not a list; fix the file")
    out: list[tuple[str, dict[str, Any]]] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise ConfigError(f"kubeconfig {_show(path)} has {section}[{i}] without a name; fix the file")
        body = item.get(inner) or {}
        if not isinstance(body, dict):
            raise ConfigError(
                f"kubeconfig {_show(path)} has {section}[{i}].{inner} that is not a mapping; fix the file"
            )
        out.append((item["name"], body))
    return out


def _merge(path: str | None) -> _Merged:
    files, explicit = _candidates(path)
    merged = _Merged()
    missing: list[Path] = []
    for f in files:
        data = _read_file(f)
        if data is None:
            if explicit:
                raise ConfigError(f"kubeconfig {_show(f)} does not exist; check the --kubeconfig path")
            missing.append(f)
            continue
        merged.files.append(f)
        for section, inner, target in (
            ("clusters", "cluster", merged.clusters),
            ("users", "user", merged.users),
            ("contexts", "context", merged.contexts),
        ):
            for name, body in _entries(data, section, inner, f):
                target.setdefault(name, _Named(body, f))  # the first file to define a name wins it whole
        current = data.get("current-context")
        if not merged.current_context and isinstance(current, str) and current:
            merged.current_context = current
    if not merged.files:
        where = ", ".join(_show(p) for p in missing)
        if os.environ.get("KUBECONFIG"):
            raise ConfigError(f"no kubeconfig found at {where} (from KUBECONFIG); fix KUBECONFIG or pass --kubeconfig")
        raise ConfigError(f"no kubeconfig found at {where}; set KUBECONFIG or pass --kubeconfig")
    return merged


def _resolve(value: Any, origin: Path) -> str | None:
    if not value:
        return None
    p = Path(str(value)).expanduser()
    return str(p if p.is_absolute() else (origin.resolve().parent / p))


def _read_ref(path: str, what: str, owner: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(
            f"cannot read {what} {path} for {owner} ({e.strerror}); fix the path in the kubeconfig"
        ) from e


def _b64(value: Any, what: str, owner: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError) as e:
        raise ConfigError(f"{what} of {owner} is not valid base64; fix it in the kubeconfig") from e


def _extensions(body: dict[str, Any], owner: str) -> dict[str, Any]:
    raw = body.get("extensions") or []
    if isinstance(raw, dict):  # tolerated: the map form some tools write
        return dict(raw)
    if not isinstance(raw, list):
        raise ConfigError(f"extensions of {owner} is not a list; fix it in the kubeconfig")
    out: dict[str, Any] = {}
    for item in raw:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            out.setdefault(item["name"], item.get("extension"))
    return out


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return bool(value)


def _exec_config(raw: Any, origin: Path, owner: str) -> ExecConfig:
    if not isinstance(raw, dict) or not isinstance(raw.get("command"), str) or not raw["command"]:
        raise ConfigError(f"the exec plugin of {owner} has no command; fix it in the kubeconfig")
    command = raw["command"]
    if os.sep in command:  # PATH-based commands are left for the PATH lookup, like kubectl does
        command = _resolve(command, origin) or command
    api_version = str(raw.get("apiVersion") or "")
    if api_version not in EXEC_API_VERSIONS:
        raise ConfigError(
            f"the exec plugin of {owner} asks for apiVersion {api_version or '(none)'!r}; "
            f"use one of {', '.join(EXEC_API_VERSIONS)}"
        )
    env: list[tuple[str, str]] = []
    for item in raw.get("env") or []:
        if not isinstance(item, dict) or not item.get("name"):
            raise ConfigError(f"the exec plugin of {owner} has an env entry without a name; fix it in the kubeconfig")
        env.append((str(item["name"]), str(item.get("value", ""))))
    return ExecConfig(
        command=command,
        args=tuple(str(a) for a in raw.get("args") or ()),
        env=tuple(env),
        api_version=api_version,
        install_hint=str(raw.get("installHint") or ""),
        provide_cluster_info=_bool(raw.get("provideClusterInfo")),
        interactive_mode=str(raw.get("interactiveMode") or "IfAvailable"),
    )


def load(path: str | None = None, context: str | None = None, namespace: str | None = None) -> ClusterConfig:
    """Resolve a context like kubectl: `path` is `--kubeconfig`, then `context`/`namespace` override.

    Raises ConfigError (one sentence, with the way out) for every problem the user can fix.
    """
    merged = _merge(path)
    source = merged.source
    name = context or merged.current_context
    available = ", ".join(sorted(merged.contexts)) or "none"
    if not name:
        raise ConfigError(f"no current context is set in {source}; pass --context (available: {available})")
    ctx = merged.contexts.get(name)
    if ctx is None:
        raise ConfigError(f'context "{name}" not found in {source}; available: {available}')
    cluster_name = str(ctx.body.get("cluster") or "")
    user_name = str(ctx.body.get("user") or "")
    cl = merged.clusters.get(cluster_name)
    if cl is None:
        raise ConfigError(
            f'context "{name}" names cluster "{cluster_name}", which is not defined in {source}; '
            "add the cluster or pick another --context"
        )
    cluster_owner = f'cluster "{cluster_name}"'
    server = str(cl.body.get("server") or "").rstrip("/")
    if not server:
        raise ConfigError(f"{cluster_owner} in {source} has no server address; set clusters[].cluster.server")
    if not server.startswith(("https://", "http://")):
        server = "https://" + server  # client-go's default scheme for a bare host:port

    ns = namespace or str(ctx.body.get("namespace") or "") or DEFAULT_NAMESPACE
    validate_namespace(ns)

    ca_data: bytes | None = None
    ca_file = _resolve(cl.body.get("certificate-authority"), cl.origin)
    if cl.body.get("certificate-authority-data"):
        ca_data = _b64(cl.body["certificate-authority-data"], "certificate-authority-data", cluster_owner)
    elif ca_file:
        ca_data = _read_ref(ca_file, "certificate-authority", cluster_owner)

    user_body: dict[str, Any] = {}
    user_origin = cl.origin
    if user_name:
        u = merged.users.get(user_name)
        if u is None:
            raise ConfigError(
                f'context "{name}" names user "{user_name}", which is not defined in {source}; '
                "add the user or pick another --context"
            )
        user_body, user_origin = u.body, u.origin
    user_owner = f'user "{user_name}"'
    cert_file = _resolve(user_body.get("client-certificate"), user_origin)
    key_file = _resolve(user_body.get("client-key"), user_origin)
    cert_data = (
        _b64(user_body["client-certificate-data"], "client-certificate-data", user_owner)
        if user_body.get("client-certificate-data")
        else (_read_ref(cert_file, "client-certificate", user_owner) if cert_file else None)
    )
    key_data = (
        _b64(user_body["client-key-data"], "client-key-data", user_owner)
        if user_body.get("client-key-data")
        else (_read_ref(key_file, "client-key", user_owner) if key_file else None)
    )
    if bool(cert_data) != bool(key_data):
        raise ConfigError(
            f"{user_owner} has a client certificate without its key (or the reverse); set both or neither"
        )
    exec_cfg = _exec_config(user_body["exec"], user_origin, user_owner) if user_body.get("exec") else None

    extensions = _extensions(cl.body, cluster_owner)
    context_extensions = _extensions(ctx.body, f'context "{name}"')
    production = (
        is_production_name(name)
        or is_production_name(cluster_name)
        or _says_production(extensions.get(ENVIRONMENT_EXTENSION))
        or _says_production(context_extensions.get(ENVIRONMENT_EXTENSION))
    )
    return ClusterConfig(
        context=name,
        cluster=cluster_name,
        user=user_name,
        server=server,
        namespace=ns,
        source=source,
        ca_data=ca_data,
        ca_file=ca_file,
        insecure_skip_tls_verify=_bool(cl.body.get("insecure-skip-tls-verify")),
        tls_server_name=str(cl.body.get("tls-server-name") or "") or None,
        client_certificate_data=cert_data,
        client_certificate_file=cert_file,
        client_key_data=key_data,
        client_key_file=key_file,
        token=str(user_body.get("token") or "") or None,
        token_file=_resolve(user_body.get("tokenFile"), user_origin),
        username=str(user_body.get("username") or "") or None,
        password=str(user_body.get("password") or "") or None,
        exec=exec_cfg,
        extensions=extensions,
        context_extensions=context_extensions,
        production=production,
    )


def contexts(path: str | None = None) -> tuple[list[str], str]:
    """The context names of the merged kubeconfig (sorted) and the current one (for a context switcher)."""
    merged = _merge(path)
    return sorted(merged.contexts), merged.current_context


# --- exec credential plugins -------------------------------------------------------------------


def _exec_info(config: ClusterConfig, exec_cfg: ExecConfig) -> bytes:
    spec: dict[str, Any] = {"interactive": False}  # pitstop owns the terminal; plugins must not prompt
    if exec_cfg.provide_cluster_info:
        cluster: dict[str, Any] = {"server": config.server}
        if config.tls_server_name:
            cluster["tls-server-name"] = config.tls_server_name
        if config.insecure_skip_tls_verify:
            cluster["insecure-skip-tls-verify"] = True
        if config.ca_data:
            cluster["certificate-authority-data"] = base64.b64encode(config.ca_data).decode()
        if EXEC_CLUSTER_EXTENSION in config.extensions:
            cluster["config"] = config.extensions[EXEC_CLUSTER_EXTENSION]
        spec["cluster"] = cluster
    return orjson.dumps({"apiVersion": exec_cfg.api_version, "kind": "ExecCredential", "spec": spec})


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def run_exec_plugin(config: ClusterConfig, timeout: float = EXEC_TIMEOUT) -> ExecCredential:
    """Run the user's exec credential plugin (an argument list, never a shell) and parse its ExecCredential.

    The plugin gets the parent environment plus its configured `env`, and
    `KUBERNETES_EXEC_INFO` as client-go sets it. Raises ConfigError on any failure.
    """
    exec_cfg = config.exec
    if exec_cfg is None:
        raise ConfigError(f'user "{config.user}" has no exec plugin configured; add users[].user.exec')
    owner = f'the exec plugin "{exec_cfg.command}" of user "{config.user}"'
    if exec_cfg.interactive_mode == "Always":
        raise ConfigError(f"{owner} needs an interactive terminal (interactiveMode: Always); log in with kubectl first")
    env = dict(os.environ)
    env.update(exec_cfg.env)
    env["KUBERNETES_EXEC_INFO"] = _exec_info(config, exec_cfg).decode()
    try:
        proc = subprocess.run(
            [exec_cfg.command, *exec_cfg.args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as e:
        hint = exec_cfg.install_hint.strip().replace("\n", " ") or "install it or fix users[].user.exec.command"
        raise ConfigError(f"{owner} was not found; {hint}") from e
    except PermissionError as e:
        raise ConfigError(f"{owner} is not executable; fix its permissions or the command path") from e
    except subprocess.TimeoutExpired as e:
        raise ConfigError(
            f"{owner} did not answer within {timeout:.0f}s; run it by hand to see what it waits for"
        ) from e
    if proc.returncode != 0:
        last = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or [""])[-1][:300]
        detail = f": {last}" if last else ""
        raise ConfigError(f"{owner} exited with status {proc.returncode}{detail}; run it by hand to log in again")
    try:
        cred = orjson.loads(proc.stdout)
    except orjson.JSONDecodeError as e:
        raise ConfigError(f"{owner} did not print an ExecCredential as JSON; check the plugin's version") from e
    if not isinstance(cred, dict) or cred.get("kind") != "ExecCredential":
        raise ConfigError(f"{owner} printed something that is not an ExecCredential; check the plugin's version")
    if cred.get("apiVersion") != exec_cfg.api_version:
        raise ConfigError(
            f"{owner} answered with apiVersion {cred.get('apiVersion')!r} but {exec_cfg.api_version!r} was asked for; "
            "fix users[].user.exec.apiVersion"
        )
    status = cred.get("status")
    if not isinstance(status, dict):
        raise ConfigError(f"{owner} printed an ExecCredential without a status; check the plugin")
    token = status.get("token") or None
    cert = status.get("clientCertificateData") or None
    key = status.get("clientKeyData") or None
    if bool(cert) != bool(key):
        raise ConfigError(f"{owner} returned a client certificate without its key (or the reverse); check the plugin")
    if not token and not cert:
        raise ConfigError(f"{owner} returned neither a token nor a client certificate; check the plugin")
    return ExecCredential(
        token=str(token) if token else None,
        client_certificate_data=str(cert).encode() if cert else None,
        client_key_data=str(key).encode() if key else None,
        expires_at=_parse_time(status.get("expirationTimestamp")),
    )
