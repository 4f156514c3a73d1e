"""An async Kubernetes API client on aiohttp that hands out plain dicts (orjson, no model classes).

Every object read from the cluster is a raw JSON dict with `apiVersion` and `kind` filled
in; Secrets pass through `redact` before they leave this module, so no caller ever holds a
Secret value. Writes carry the field manager `pitstop`; `replace` always sends the object's
`resourceVersion` so a stale write fails with a 409 conflict instead of overwriting.
"""

from __future__ import annotations

import asyncio
import builtins
import gc
import os
import socket
import ssl
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

import aiohttp
import orjson

from diagnostics.kubeconfig import ClusterConfig, ConfigError, ExecCredential, is_label_name, run_exec_plugin
from diagnostics.redact import is_secret, redact

FIELD_MANAGER = "pitstop"
USER_AGENT = "pitstop/0.1.0"
PAGE_SIZE = 500
PatchType = Literal["strategic", "merge", "json"]
PATCH_CONTENT_TYPES: dict[str, str] = {
    "strategic": "application/strategic-merge-patch+json",
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
}
WATCH_EVENTS = frozenset({"ADDED", "MODIFIED", "DELETED"})


@dataclass(frozen=True, slots=True)
class Resource:
    """Where the API serves one kind."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def base(self) -> str:
        return f"/api/{self.api_version}" if "/" not in self.api_version else f"/apis/{self.api_version}"

    def collection(self, namespace: str | None) -> str:
        if self.namespaced and namespace:
            return f"{self.base}/namespaces/{_segment(namespace)}/{self.plural}"
        return f"{self.base}/{self.plural}"

    def item(self, namespace: str | None, name: str) -> str:
        if self.namespaced and not namespace:
            raise ValueError(f"{self.kind} {name!r} is namespaced; name its namespace")
        return f"{self.collection(namespace)}/{_segment(name)}"


RESOURCES: tuple[Resource, ...] = (
    Resource("v1", "Namespace", "namespaces", False),
    Resource("v1", "Node", "nodes", False),
    Resource("v1", "Pod", "pods", True),
    Resource("v1", "Event", "events", True),
    Resource("v1", "Service", "services", True),
    Resource("v1", "Endpoints", "endpoints", True),
    Resource("v1", "ConfigMap", "configmaps", True),
    Resource("v1", "Secret", "secrets", True),
    Resource("v1", "PersistentVolumeClaim", "persistentvolumeclaims", True),
    Resource("v1", "ServiceAccount", "serviceaccounts", True),
    Resource("apps/v1", "Deployment", "deployments", True),
    Resource("apps/v1", "ReplicaSet", "replicasets", True),
    Resource("apps/v1", "StatefulSet", "statefulsets", True),
    Resource("apps/v1", "DaemonSet", "daemonsets", True),
    Resource("batch/v1", "Job", "jobs", True),
    Resource("batch/v1", "CronJob", "cronjobs", True),
)
_BY_KIND = {(r.api_version, r.kind): r for r in RESOURCES}
_BY_KIND_NAME = {r.kind: r for r in RESOURCES}


def resource(api_version: str, kind: str) -> Resource:
    """The table entry for (apiVersion, kind); ValueError names the kinds pitstop knows."""
    r = _BY_KIND.get((api_version, kind))
    if r is None:
        known = ", ".join(f"{x.api_version} {x.kind}" for x in RESOURCES)
        raise ValueError(f"pitstop does not know the resource {api_version} {kind}; it knows {known}")
    return r


def resource_for(kind: str) -> Resource:
    """The table entry for a bare Kind name (`"Deployment"`); kind names are unique in the table."""
    r = _BY_KIND_NAME.get(kind)
    if r is None:
        raise ValueError(f"pitstop does not know the kind {kind}")
    return r


def _segment(name: str) -> str:
    """One URL path segment from an object name; refuses what could escape the path."""
    if not name or "/" in name or name in (".", "..") or "%" in name:
        raise ValueError(f"{name!r} is not a valid Kubernetes object name")
    return quote(name, safe="")


# --- errors ----------------------------------------------------------------------------------


class KubeError(Exception):
    """The API server refused a request; built from its `Status` body."""

    def __init__(self, status: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.details = status, reason, message, details or {}

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"KubeError({self.status}, {self.reason!r}, {self.message!r})"

    @property
    def forbidden(self) -> bool:
        return self.status == 403

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        """A stale write (resourceVersion or UID precondition failed), not an AlreadyExists."""
        return self.status == 409 and self.reason != "AlreadyExists"

    @property
    def already_exists(self) -> bool:
        return self.status == 409 and self.reason == "AlreadyExists"

    @property
    def expired(self) -> bool:
        """A watch or continue token older than the server keeps (410 Gone / Expired): list again."""
        return self.status == 410 or self.reason in ("Expired", "Gone")

    @classmethod
    def from_status(cls, http_status: int, body: bytes | dict[str, Any] | None) -> KubeError:
        data: Any = body
        if isinstance(body, bytes | bytearray):
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError:
                text = bytes(body).decode("utf-8", "replace").strip().splitlines()
                return cls(http_status, _REASONS.get(http_status, ""), text[0][:300] if text else f"HTTP {http_status}")
        if not isinstance(data, dict):
            return cls(http_status, _REASONS.get(http_status, ""), f"HTTP {http_status}")
        code = data.get("code")
        status = code if isinstance(code, int) and code >= 400 else http_status
        return cls(
            status,
            str(data.get("reason") or _REASONS.get(status, "")),
            str(data.get("message") or f"HTTP {status}"),
            data.get("details") if isinstance(data.get("details"), dict) else None,
        )


_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}


class Unreachable(Exception):
    """The API server could not be reached (connection refused, TLS failure, dropped connection, timeout)."""

    def __init__(self, server: str, cause: str) -> None:
        cause = " ".join(cause.split())  # one line, whatever the OS said
        super().__init__(f"cannot reach the Kubernetes API server at {server}: {cause}")
        self.server, self.cause = server, cause


def _cause(e: BaseException) -> str:
    """One short phrase for a network failure (`Connection refused`, `TLS certificate verification failed: …`)."""
    if isinstance(e, aiohttp.ClientConnectorCertificateError):
        err = e.certificate_error
        detail = getattr(err, "verify_message", None) or getattr(err, "reason", None) or str(err)
        return f"TLS certificate verification failed ({detail})"
    if isinstance(e, aiohttp.ClientConnectorSSLError | aiohttp.ClientSSLError):
        err = getattr(e, "os_error", e)
        return f"TLS handshake failed ({getattr(err, 'reason', None) or err})"
    if isinstance(e, aiohttp.ClientConnectorError):
        err = e.os_error
        if isinstance(err, socket.gaierror) or not err.errno or err.errno < 0:
            return err.strerror or str(err)
        return os.strerror(err.errno)
    if isinstance(e, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    if isinstance(e, aiohttp.ClientPayloadError):
        return "the connection dropped in the middle of a response"
    if isinstance(e, TimeoutError):
        return "no answer before the timeout"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e) or type(e).__name__


_NETWORK_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)


# --- TLS -------------------------------------------------------------------------------------


def ssl_context(config: ClusterConfig, cert: bytes | None = None, key: bytes | None = None) -> ssl.SSLContext:
    """The TLS context for `config`: its CA (or the system store), its client certificate, or no checks if insecure."""
    owner = f'cluster "{config.cluster}"'
    try:
        ctx = ssl.create_default_context(cadata=config.ca_data.decode("ascii") if config.ca_data else None)
    except (ssl.SSLError, UnicodeDecodeError, ValueError) as e:
        raise ConfigError(
            f"the certificate authority of {owner} is not a PEM certificate; fix it in the kubeconfig"
        ) from e
    if config.insecure_skip_tls_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    cert = cert or config.client_certificate_data
    key = key or config.client_key_data
    if cert and key:
        # the ssl module loads chains only from files: a private directory that lives for one call
        with tempfile.TemporaryDirectory(prefix="pitstop-tls-") as tmp:
            cert_path, key_path = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
            cert_path.write_bytes(cert)
            key_path.touch(mode=0o600)
            key_path.write_bytes(key)
            try:
                ctx.load_cert_chain(cert_path, key_path)
            except ssl.SSLError as e:
                raise ConfigError(
                    f'the client certificate or key of user "{config.user}" cannot be loaded ({e.reason}); '
                    "fix them in the kubeconfig"
                ) from e
    return ctx


# --- the client ------------------------------------------------------------------------------


class KubeClient:
    """`async with KubeClient(config) as kube:` — one HTTP session, credentials from the config.

    Exec plugins run when the client opens and again when their credential expires or
    the server answers 401.
    """

    def __init__(self, config: ClusterConfig, *, request_timeout: float = 30.0) -> None:
        self.config = config
        self.request_timeout = request_timeout
        self._session: aiohttp.ClientSession | None = None
        self._old_sessions: list[aiohttp.ClientSession] = []
        self._cred: ExecCredential | None = None
        self._refresh_lock = asyncio.Lock()

    @property
    def server(self) -> str:
        return self.config.server

    @property
    def context(self) -> str:
        return self.config.context

    async def __aenter__(self) -> KubeClient:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def open(self) -> None:
        if self._session is not None:
            return
        if self.config.exec is not None:
            self._cred = await asyncio.to_thread(run_exec_plugin, self.config)
        self._session = self._new_session()

    async def close(self) -> None:
        for s in [*self._old_sessions, *([self._session] if self._session else [])]:
            await s.close()
        self._old_sessions.clear()
        self._session = None

    def _new_session(self) -> aiohttp.ClientSession:
        cred = self._cred
        ctx: ssl.SSLContext | bool = False
        if self.config.server.startswith("https://"):
            ctx = ssl_context(
                self.config,
                cred.client_certificate_data if cred else None,
                cred.client_key_data if cred else None,
            )
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ctx, limit=64),
            headers=headers,
        )

    async def _refresh_exec(self, stale: ExecCredential | None) -> None:
        async with self._refresh_lock:
            if self._cred is not stale:  # another request refreshed it meanwhile
                return
            cred = await asyncio.to_thread(run_exec_plugin, self.config)
            certs_changed = stale is None or (cred.client_certificate_data, cred.client_key_data) != (
                stale.client_certificate_data,
                stale.client_key_data,
            )
            self._cred = cred
            if certs_changed and self._session is not None:
                self._old_sessions.append(self._session)  # running watches keep it until they end
                self._session = self._new_session()

    async def _auth_headers(self) -> dict[str, str]:
        if self.config.exec is not None:
            if self._cred is None or self._cred.expired():
                await self._refresh_exec(self._cred)
            if self._cred is not None and self._cred.token:
                return {"Authorization": f"Bearer {self._cred.token}"}
        token = self.config.bearer_token()
        if token:
            return {"Authorization": f"Bearer {token}"}
        if self.config.username:
            auth = aiohttp.BasicAuth(self.config.username, self.config.password or "")
            return {"Authorization": auth.encode()}
        return {}

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("KubeClient is not open; use it as `async with KubeClient(config) as kube`")
        return self._session

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> aiohttp.ClientResponse:
        """Send one request (retrying once after a 401 when an exec plugin can log in again)."""
        for attempt in range(2):
            stale = self._cred
            headers = {"Accept": accept, **await self._auth_headers()}
            if body is not None:
                headers["Content-Type"] = content_type
            try:
                resp = await self._session_now().request(
                    method,
                    self.config.server + path,
                    params=params,
                    data=body,
                    headers=headers,
                    timeout=timeout or aiohttp.ClientTimeout(total=self.request_timeout),
                    server_hostname=self.config.tls_server_name,
                )
            except _NETWORK_ERRORS as e:
                raise Unreachable(self.config.server, _cause(e)) from e
            if resp.status == 401 and attempt == 0 and self.config.exec is not None:
                resp.release()
                await self._refresh_exec(stale)
                continue
            if resp.status >= 400:
                try:
                    raw = await resp.read()
                except _NETWORK_ERRORS as e:
                    raise Unreachable(self.config.server, _cause(e)) from e
                finally:
                    resp.release()
                raise KubeError.from_status(resp.status, raw)
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    async def _call(self, method: str, path: str, **kwargs: Any) -> bytes:
        resp = await self._send(method, path, **kwargs)
        try:
            return await resp.read()
        except _NETWORK_ERRORS as e:
            raise Unreachable(self.config.server, _cause(e)) from e
        finally:
            resp.release()

    async def _object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        obj = orjson.loads(await self._call(method, path, **kwargs))
        if not isinstance(obj, dict):
            raise KubeError(
                500, "InternalError", f"the server answered {method} {path} with something that is not an object"
            )
        return redact(obj)

    # --- reading ---------------------------------------------------------------------------

    async def version(self) -> dict[str, Any]:
        return await self._object("GET", "/version")

    async def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        r = resource(api_version, kind)
        obj = await self._object("GET", r.item(namespace, name))
        if obj.get("kind") is None:
            obj["apiVersion"], obj["kind"] = r.api_version, r.kind
        return redact(obj)

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        *,
        limit: int = PAGE_SIZE,
    ) -> tuple[builtins.list[dict[str, Any]], str]:
        """All objects (pages of `limit`), each with apiVersion/kind set, and the list's resourceVersion.

        `namespace` None lists every namespace; it is ignored for cluster-scoped kinds.
        """
        r = resource(api_version, kind)
        path = r.collection(namespace)
        base: dict[str, str] = {}
        if label_selector:
            base["labelSelector"] = label_selector
        if field_selector:
            base["fieldSelector"] = field_selector
        items: builtins.list[dict[str, Any]] = []
        cont = ""
        page_limit = limit
        while True:
            params = dict(base)
            if page_limit:
                params["limit"] = str(page_limit)
            if cont:
                params["continue"] = cont
            try:
                data = _loads(await self._call("GET", path, params=params))
            except KubeError as e:
                if e.expired and cont:  # the continue token outlived the server's history: list whole
                    items, cont, page_limit = [], "", 0
                    continue
                raise
            meta = data.get("metadata") or {}
            secret = r.kind == "Secret"
            for item in data.get("items") or ():
                item["apiVersion"], item["kind"] = r.api_version, r.kind
                items.append(redact(item) if secret else item)
            cont = meta.get("continue") or ""
            if not cont:
                return items, str(meta.get("resourceVersion") or "")

    async def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        resource_version: str | None = None,
        bookmarks: bool = True,
        timeout_seconds: int = 300,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Events `(type, object)` from `resource_version` on: ADDED, MODIFIED, DELETED, BOOKMARK.

        Ends when the server closes the watch (after `timeout_seconds`). A too-old
        resourceVersion raises KubeError with `.expired` (from the ERROR event or HTTP 410);
        a dropped connection raises Unreachable.
        """
        r = resource(api_version, kind)
        params = {"watch": "true", "timeoutSeconds": str(timeout_seconds)}
        if bookmarks:
            params["allowWatchBookmarks"] = "true"
        if resource_version:
            params["resourceVersion"] = resource_version
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        # no total timeout; a read stalled well past the server's own timeout means a dead connection
        timeout = aiohttp.ClientTimeout(total=None, connect=self.request_timeout, sock_read=timeout_seconds + 60)
        resp = await self._send("GET", r.collection(namespace), params=params, timeout=timeout)
        buf = bytearray()
        try:
            try:
                async for chunk in resp.content.iter_any():
                    buf += chunk
                    while (end := buf.find(b"\n")) >= 0:
                        line = bytes(buf[:end])
                        del buf[: end + 1]
                        if line.strip():
                            yield _event(line, r)
            except _NETWORK_ERRORS as e:
                raise Unreachable(self.config.server, _cause(e)) from e
            if buf.strip():
                yield _event(bytes(buf), r)
        finally:
            resp.close()

    async def logs(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        previous: bool = False,
        tail_lines: int | None = None,
    ) -> str:
        params: dict[str, str] = {}
        if container:
            params["container"] = container
        if previous:
            params["previous"] = "true"
        if tail_lines is not None:
            params["tailLines"] = str(tail_lines)
        path = resource("v1", "Pod").item(namespace, pod) + "/log"
        raw = await self._call("GET", path, params=params, accept="text/plain, */*")
        return raw.decode("utf-8", "replace")

    # --- writing ---------------------------------------------------------------------------

    def _write_params(self, dry_run: bool) -> dict[str, str]:
        params = {"fieldManager": FIELD_MANAGER}
        if dry_run:
            params["dryRun"] = "All"
        return params

    def _namespace_of(self, obj: dict[str, Any], r: Resource) -> str | None:
        if not r.namespaced:
            return None
        ns = (obj.get("metadata") or {}).get("namespace") or self.config.namespace
        if not is_label_name(ns):
            raise ValueError(f'namespace "{ns}" is not a valid namespace name (RFC 1123 label)')
        return str(ns)

    async def create(self, obj: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        """POST the object (namespace from its metadata, else the context's); returns the server's object."""
        r = resource(str(obj.get("apiVersion")), str(obj.get("kind")))
        _refuse_redacted(obj)
        return await self._object(
            "POST", r.collection(self._namespace_of(obj, r)), params=self._write_params(dry_run), body=orjson.dumps(obj)
        )

    async def replace(self, obj: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        """PUT the whole object, conditional on its metadata.resourceVersion (a stale one → KubeError conflict)."""
        r = resource(str(obj.get("apiVersion")), str(obj.get("kind")))
        meta = obj.get("metadata") or {}
        if not meta.get("resourceVersion"):
            raise ValueError(
                f"replace of {r.kind} {meta.get('name')!r} needs metadata.resourceVersion as its precondition"
            )
        _refuse_redacted(obj)
        path = r.item(self._namespace_of(obj, r), str(meta.get("name") or ""))
        return await self._object("PUT", path, params=self._write_params(dry_run), body=orjson.dumps(obj))

    async def patch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        name: str,
        body: dict[str, Any] | builtins.list[Any],
        patch_type: PatchType = "strategic",
        dry_run: bool = False,
    ) -> dict[str, Any]:
        r = resource(api_version, kind)
        if patch_type not in PATCH_CONTENT_TYPES:
            raise ValueError(f"patch type {patch_type!r} is not one of {', '.join(PATCH_CONTENT_TYPES)}")
        return await self._object(
            "PATCH",
            r.item(namespace, name),
            params=self._write_params(dry_run),
            body=orjson.dumps(body),
            content_type=PATCH_CONTENT_TYPES[patch_type],
        )

    async def delete(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        name: str,
        *,
        uid: str | None = None,
        resource_version: str | None = None,
        propagation: Literal["Background", "Foreground", "Orphan"] = "Background",
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """DELETE with DeleteOptions; `uid`/`resource_version` become preconditions (a mismatch → 409)."""
        r = resource(api_version, kind)
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        preconditions = {k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v}
        if preconditions:
            options["preconditions"] = preconditions
        if dry_run:
            options["dryRun"] = ["All"]
        return await self._object("DELETE", r.item(namespace, name), body=orjson.dumps(options))


def _loads(raw: bytes) -> Any:
    """orjson.loads with the cyclic GC paused for the call.

    A page of 500 pods is ~100,000 new dicts and lists; the collections their allocation
    triggers walk the whole heap (the cache included) and cost 2-6x the parse itself.
    Parsed JSON holds no reference cycles, so pausing loses nothing.
    """
    if not gc.isenabled():
        return orjson.loads(raw)
    gc.disable()
    try:
        return orjson.loads(raw)
    finally:
        gc.enable()


def _event(line: bytes, r: Resource) -> tuple[str, dict[str, Any]]:
    try:
        ev = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        raise KubeError(500, "InternalError", f"the watch of {r.kind} sent a line that is not JSON") from e
    kind = str(ev.get("type") or "")
    obj = ev.get("object")
    if not isinstance(obj, dict):
        obj = {}
    if kind == "ERROR":
        raise KubeError.from_status(int(obj.get("code") or 500), obj)
    if kind in WATCH_EVENTS:
        if obj.get("kind") is None:
            obj["apiVersion"], obj["kind"] = r.api_version, r.kind
        obj = redact(obj)
    return kind, obj


def _refuse_redacted(obj: dict[str, Any]) -> None:
    """A Secret read through pitstop has no values left; writing it back would wipe the real ones."""
    if is_secret(obj) and ("pitstop" in obj or any(v is None for v in (obj.get("data") or {}).values())):
        name = (obj.get("metadata") or {}).get("name")
        raise ValueError(f"Secret {name!r} was read through pitstop and has no values; it cannot be written back")
