"""The Kubernetes API over HTTP: discovery, CRUD, list/watch, Tables, patches, logs, scale.

One catch-all handler parses the path itself (so unknown paths, methods and bodies all
end as `Status` objects) and delegates object semantics to the store.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
import yaml
from aiohttp import web

from sandbox import openapi, patch, schema, tables
from sandbox.errors import (
    APIError,
    bad_request,
    method_not_allowed,
    not_found,
    resource_not_found,
    too_large,
    unauthorized,
    unsupported_media_type,
)
from sandbox.logs import LogBook
from sandbox.resources import ResourceType, by_path, groups, in_group_version
from sandbox.selectors import format_label_selector, parse_fields, parse_labels
from sandbox.store import Entry, Store, clone

MAX_BODY = 3 * 1024 * 1024  # the real apiserver's request body limit
VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4",
    "gitCommit": "pitstop-sandbox",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.8",
    "compiler": "gc",
    "platform": "linux/amd64",
}
PATCH_TYPES = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
    "application/strategic-merge-patch+json",
]
_BODY_TYPES = frozenset({"application/json", "application/yaml", "", "application/octet-stream", *PATCH_TYPES})


@dataclass(frozen=True, slots=True)
class Target:
    rt: ResourceType
    namespace: str | None  # None: all namespaces (collections of namespaced kinds) or cluster-scoped
    name: str | None
    subresource: str | None


@dataclass(frozen=True, slots=True)
class Settings:
    token: str | None = None
    bookmark_interval: float = 5.0  # real seconds between watch bookmarks
    server_address: str = "127.0.0.1:0"
    forbidden: frozenset[str] = frozenset()  # group resources (`secrets`, `deployments.apps`) this user may not touch
    user: str = "system:serviceaccount:pitstop:oncall"


API_KEY: web.AppKey[_API] = web.AppKey("api")


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json", headers=headers)


def _raw(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=body, status=status, content_type="application/json", headers=headers)


def _status_response(e: APIError) -> web.Response:
    return _json(e.status(), e.code)


def make_api_app(store: Store, logs: LogBook, settings: Settings) -> web.Application:
    api = _API(store, logs, settings)
    app = web.Application(client_max_size=MAX_BODY * 4)
    app.router.add_route("*", "/{tail:.*}", api.handle)
    app[API_KEY] = api
    return app


class _API:
    def __init__(self, store: Store, logs: LogBook, settings: Settings) -> None:
        self.store, self.logs, self.settings = store, logs, settings

    # --- entry point -------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            if self.settings.token and request.path not in ("/healthz", "/livez", "/readyz"):
                auth = request.headers.get("Authorization", "")
                if auth != f"Bearer {self.settings.token}":
                    raise unauthorized()
            return await self._route(request)
        except APIError as e:
            return _status_response(e)
        except asyncio.CancelledError:
            raise
        except (ConnectionResetError, BrokenPipeError):
            raise
        except Exception as e:  # a bug must still answer as a Status, never kill the server
            return _status_response(APIError(500, "InternalError", f"Internal error occurred: {type(e).__name__}: {e}"))

    async def _route(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        method = request.method
        if not parts:
            return _json({"paths": sorted(self._root_paths())})
        head = parts[0]
        if len(parts) == 1 and head in ("healthz", "livez", "readyz"):
            return web.Response(text="ok")
        if parts == ["version"]:
            return _json(VERSION)
        if head == "openapi":
            return self._openapi(parts)
        if head == "api":
            if len(parts) == 1:
                return _json(self._api_versions())
            if parts[1] != "v1":
                raise resource_not_found()
            if len(parts) == 2:
                return _json(self._resource_list("", "v1"))
            target = self._target("", "v1", parts[2:])
        elif head == "apis":
            if len(parts) == 1:
                return _json(self._group_list())
            group = parts[1]
            if group not in groups():
                raise resource_not_found()
            if len(parts) == 2:
                return _json(self._group(group))
            if parts[2] not in groups()[group]:
                raise resource_not_found()
            if len(parts) == 3:
                return _json(self._resource_list(group, parts[2]))
            target = self._target(group, parts[2], parts[3:])
        else:
            raise resource_not_found()
        if method not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            raise method_not_allowed()
        return await self._dispatch(request, target)

    def _target(self, group: str, version: str, rest: list[str]) -> Target:
        if rest[0] == "namespaces" and len(rest) >= 3 and not (len(rest) == 3 and rest[2] in ("status", "finalize")):
            ns = rest[1]
            rt = by_path(group, version, rest[2])
            if rt is None or not rt.namespaced or len(rest) > 5:
                raise resource_not_found()
            name = rest[3] if len(rest) >= 4 else None
            sub = rest[4] if len(rest) == 5 else None
            return Target(rt, ns, name, sub)
        rt = by_path(group, version, rest[0])
        if rt is None or len(rest) > 3:
            raise resource_not_found()
        if rt.namespaced and len(rest) > 1:
            raise resource_not_found()
        return Target(rt, None, rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None)

    async def _dispatch(self, request: web.Request, t: Target) -> web.StreamResponse:
        m = request.method
        q = request.query
        if t.rt.group_resource in self.settings.forbidden:
            raise self._forbidden(request, t)
        if t.name is None:
            if m == "GET":
                if _bool_param(q, "watch"):
                    return await self._watch(request, t)
                return self._list(request, t)
            if m == "POST":
                return await self._create(request, t)
            if m == "DELETE":
                return await self._delete_collection(request, t)
            raise method_not_allowed()
        if t.subresource is not None:
            return await self._subresource(request, t)
        if m == "GET":
            return self._get(request, t)
        if m == "PUT":
            return await self._update(request, t, None)
        if m == "PATCH":
            return await self._patch(request, t, None)
        if m == "DELETE":
            return await self._delete(request, t)
        raise method_not_allowed()

    def _forbidden(self, request: web.Request, t: Target) -> APIError:
        """RBAC's refusal, worded as the real authorizer words it."""
        verb = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[request.method]
        if t.name is None and request.method == "GET":
            verb = "watch" if _bool_param(request.query, "watch") else "list"
        if t.name is None and request.method == "DELETE":
            verb = "deletecollection"
        resource = t.rt.plural + (f"/{t.subresource}" if t.subresource else "")
        scope = f'in the namespace "{t.namespace}"' if t.namespace else "at the cluster scope"
        subject = f'{t.rt.group_resource} "{t.name}"' if t.name else t.rt.group_resource
        message = (
            f'{subject} is forbidden: User "{self.settings.user}" cannot {verb} resource "{resource}" '
            f'in API group "{t.rt.group}" {scope}'
        )
        details: dict[str, Any] = {"kind": t.rt.plural}
        if t.name:
            details["name"] = t.name
        if t.rt.group:
            details["group"] = t.rt.group
        return APIError(403, "Forbidden", message, details)

    # --- discovery ---------------------------------------------------------------------------

    def _root_paths(self) -> list[str]:
        out = ["/api", "/api/v1", "/apis", "/openapi/v3", "/version", "/healthz", "/livez", "/readyz"]
        for g, versions in groups().items():
            out.append(f"/apis/{g}")
            out += [f"/apis/{g}/{v}" for v in versions]
        return out

    def _api_versions(self) -> dict[str, Any]:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": self.settings.server_address}],
        }

    def _group(self, group: str) -> dict[str, Any]:
        versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in groups()[group]]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": versions,
            "preferredVersion": versions[0],
        }

    def _group_list(self) -> dict[str, Any]:
        out = [self._group(g) for g in groups()]
        for g in out:
            del g["kind"], g["apiVersion"]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": out}

    def _resource_list(self, group: str, version: str) -> dict[str, Any]:
        resources: list[dict[str, Any]] = []
        for rt in in_group_version(group, version):
            r: dict[str, Any] = {
                "name": rt.plural,
                "singularName": rt.singular,
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": list(rt.verbs),
            }
            if rt.short_names:
                r["shortNames"] = list(rt.short_names)
            if rt.categories:
                r["categories"] = list(rt.categories)
            r["storageVersionHash"] = base64.b64encode(hashlib.sha256(rt.group_resource.encode()).digest()[:8]).decode()
            resources.append(r)
            for sub in rt.subresources:
                s: dict[str, Any] = {"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced}
                if sub == "scale":
                    s.update(group="autoscaling", version="v1", kind="Scale", verbs=["get", "patch", "update"])
                elif sub == "log":
                    s.update(kind="Pod", verbs=["get"])
                elif sub == "binding":
                    s.update(kind="Binding", verbs=["create"])
                elif sub == "finalize":
                    s.update(kind="Namespace", verbs=["update"])
                else:
                    s.update(kind=rt.kind, verbs=["get", "patch", "update"])
                resources.append(s)
        gv = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}

    def _openapi(self, parts: list[str]) -> web.Response:
        if parts == ["openapi", "v3"]:
            return _json(openapi.index())
        if len(parts) >= 3 and parts[1] == "v3":
            rest = parts[2:]
            doc = None
            if rest == ["api", "v1"]:
                doc = openapi.document("", "v1")
            elif len(rest) == 3 and rest[0] == "apis":
                doc = openapi.document(rest[1], rest[2])
            if doc is not None:
                return _raw(doc, headers={"Cache-Control": "public, immutable"})
        raise resource_not_found()

    # --- reading -----------------------------------------------------------------------------

    def _now(self):  # type: ignore[no-untyped-def]
        return self.store.clock.now()

    def _wants_table(self, request: web.Request) -> str | None:
        """The Table apiVersion the client asked for in Accept, if any."""
        for option in request.headers.get("Accept", "").split(","):
            params = {p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip() for p in option.split(";")[1:] if "=" in p}
            mime = option.split(";")[0].strip()
            if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
                return f"meta.k8s.io/{params.get('v', 'v1')}"
            if (mime in ("*/*", "application/*", "") or mime.startswith("application/json")) and "as" not in params:
                return None
        return None

    def _include_object(self, request: web.Request) -> str:
        v = request.query.get("includeObject", "Metadata")
        if v not in ("None", "Metadata", "Object"):
            raise bad_request(f'Unsupported value: "{v}": supported values: "Metadata", "None", "Object"')
        return v

    def _get(self, request: web.Request, t: Target) -> web.Response:
        e = self.store.entry(t.rt, t.namespace or "", t.name or "")
        if e is None:
            raise not_found(t.rt, t.name or "")
        table = self._wants_table(request)
        if table:
            out = tables.table(
                t.rt,
                [e.obj],
                self._now(),
                include_object=self._include_object(request),
                resource_version=e.obj["metadata"]["resourceVersion"],
            )
            out["apiVersion"] = table
            return _json(out)
        return _raw(e.raw)

    def _selectors(self, request: web.Request, t: Target):  # type: ignore[no-untyped-def]
        q = request.query
        return parse_labels(q.get("labelSelector", "")), parse_fields(t.rt.plural, q.get("fieldSelector", ""))

    def _list(self, request: web.Request, t: Target) -> web.Response:
        labels, fields = self._selectors(request, t)
        q = request.query
        limit = _int_param(q, "limit", 0)
        start = None
        if q.get("continue"):
            start = _decode_continue(q["continue"])
        rv = str(self.store.rv)
        items = self.store.entries(t.rt, t.namespace, labels, fields, start_after=start)
        page: list[Entry] = []
        cont, remaining = "", None
        for e in items:
            if limit and len(page) == limit:
                last = page[-1].obj["metadata"]
                cont = _encode_continue(int(rv), (last.get("namespace", ""), last["name"]))
                remaining = 1 + sum(1 for _ in items)
                break
            page.append(e)
        table = self._wants_table(request)
        if table:
            out = tables.table(
                t.rt,
                [e.obj for e in page],
                self._now(),
                include_object=self._include_object(request),
                resource_version=rv,
                continue_token=cont,
                remaining=remaining if not (labels or fields) else None,
            )
            out["apiVersion"] = table
            return _json(out)
        meta: dict[str, Any] = {"resourceVersion": rv}
        if cont:
            meta["continue"] = cont
            if remaining is not None and not (labels or fields):
                meta["remainingItemCount"] = remaining
        head = orjson.dumps({"kind": t.rt.list_kind, "apiVersion": t.rt.api_version, "metadata": meta})[:-1]
        body = b"".join((head, b',"items":[', b",".join(e.raw for e in page), b"]}"))
        return _raw(body)

    async def _watch(self, request: web.Request, t: Target) -> web.StreamResponse:
        labels, fields = self._selectors(request, t)
        q = request.query
        rv_param = q.get("resourceVersion", "")
        since = None if rv_param in ("", "0") else _int_param(q, "resourceVersion", 0)
        timeout = _int_param(q, "timeoutSeconds", 0) or None
        bookmarks = _bool_param(q, "allowWatchBookmarks")
        table = self._wants_table(request)
        include = self._include_object(request) if table else "Object"
        resp = web.StreamResponse(headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"})
        try:
            stream = self.store.open_watch(t.rt, t.namespace, since, labels, fields)
        except APIError as e:
            # the real server answers 200 and sends the error as an event, which clients turn into 410
            await resp.prepare(request)
            await resp.write(orjson.dumps({"type": "ERROR", "object": e.status()}) + b"\n")
            return resp
        await resp.prepare(request)
        loop = asyncio.get_running_loop()
        end = None if timeout is None else loop.time() + timeout
        interval = self.settings.bookmark_interval
        next_bookmark = loop.time() + interval
        first = True
        try:
            while True:
                now = loop.time()
                if end is not None and now >= end:
                    break
                wait = min(1.0, next_bookmark - now if bookmarks else 1.0, (end - now) if end else 1.0)
                try:
                    ev = await stream.next(max(wait, 0.0))
                except StopAsyncIteration:
                    break
                if request.transport is None or request.transport.is_closing():
                    break
                if ev is None:
                    if bookmarks and loop.time() >= next_bookmark and stream.idle:
                        mark = {
                            "kind": t.rt.kind,
                            "apiVersion": t.rt.api_version,
                            "metadata": {"resourceVersion": str(self.store.rv)},
                        }
                        await resp.write(b'{"type":"BOOKMARK","object":' + orjson.dumps(mark) + b"}\n")
                        next_bookmark = loop.time() + interval
                    continue
                kind, entry = ev
                if table:
                    tab = tables.table(
                        t.rt,
                        [entry.obj],
                        self._now(),
                        include_object=include,
                        resource_version=entry.obj["metadata"]["resourceVersion"],
                        with_columns=first,
                    )
                    tab["apiVersion"] = table
                    first = False
                    body = orjson.dumps(tab)
                else:
                    body = entry.raw
                await resp.write(b'{"type":"' + kind.encode() + b'","object":' + body + b"}\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass  # the client went away; nothing to clean up but the stream
        finally:
            stream.close()
        return resp

    # --- writing -----------------------------------------------------------------------------

    async def _body(self, request: web.Request) -> Any:
        if request.content_type not in _BODY_TYPES:
            # protobuf and CBOR bodies: client-go retries in JSON when told 415
            raise unsupported_media_type(["application/json", "application/yaml"])
        data = bytearray()
        async for chunk in request.content.iter_chunked(65536):
            data += chunk
            if len(data) > MAX_BODY:
                raise too_large(MAX_BODY)
        ctype = request.content_type
        if not data:
            raise bad_request("the body of the request was empty")
        try:
            if ctype in ("application/yaml", "application/apply-patch+yaml"):
                # through JSON once: YAML dates become strings and values JSON cannot hold are refused here
                return orjson.loads(orjson.dumps(yaml.safe_load(bytes(data)), default=_yaml_scalar))
            return orjson.loads(bytes(data))
        except (
            orjson.JSONDecodeError,
            orjson.JSONEncodeError,
            yaml.YAMLError,
            UnicodeDecodeError,
            ValueError,
            RecursionError,
            TypeError,
        ) as e:
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise bad_request(f"couldn't get version/kind; json parse error: {first}") from e

    def _object_body(self, t: Target, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request(
                f'{t.rt.kind} in version "{t.rt.version}" cannot be handled as a {t.rt.kind}: '
                "json: cannot unmarshal non-object into Go value of type struct"
            )
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if api_version is not None and api_version != t.rt.api_version:
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version ({t.rt.api_version})"
            )
        if kind is not None and kind != t.rt.kind:
            raise bad_request(f"the kind in the data ({kind}) does not match the expected kind ({t.rt.kind})")
        problems = schema.type_errors(body, t.rt.api_version, t.rt.kind)
        if problems:
            raise bad_request(
                f'{t.rt.kind} in version "{t.rt.version}" cannot be handled as a {t.rt.kind}: {problems[0]}'
            )
        meta = body.get("metadata") or {}
        if t.rt.namespaced and t.namespace is not None and meta.get("namespace") not in (None, "", t.namespace):
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        body = clone(body)
        if t.rt.namespaced and t.namespace is not None:
            body.setdefault("metadata", {})["namespace"] = t.namespace
        return body

    def _field_validation(self, request: web.Request, t: Target, obj: dict[str, Any]) -> list[str]:
        mode = request.query.get("fieldValidation", "Warn")
        if mode not in ("Ignore", "Warn", "Strict"):
            raise bad_request(f"fieldValidation parameter unsupported: {mode}")
        if mode == "Ignore":
            return []
        unknown = schema.unknown_fields(obj, t.rt.api_version, t.rt.kind)
        if unknown and mode == "Strict":
            detail = ", ".join(f'unknown field "{u}"' for u in unknown)
            raise bad_request(
                f'{t.rt.kind} in version "{t.rt.version}" cannot be handled as a {t.rt.kind}: '
                f"strict decoding error: {detail}"
            )
        return [f'unknown field "{u}"' for u in unknown]

    @staticmethod
    def _dry_run(request: web.Request) -> bool:
        v = request.query.getall("dryRun", [])
        for x in v:
            if x != "All":
                raise bad_request(f'Invalid dry run value: "{x}": supported values: "All"')
        return bool(v)

    @staticmethod
    def _warnings(warnings: list[str]) -> dict[str, str] | None:
        if not warnings:
            return None
        return {"Warning": ", ".join('299 - "' + w.replace('"', '\\"') + '"' for w in warnings)}

    def _manager(self, request: web.Request, default: str) -> str:
        m = request.query.get("fieldManager") or request.headers.get("User-Agent", default).split("/")[0] or default
        if len(m) > 128:
            raise bad_request("fieldManager: Too long: may not be more than 128 bytes")
        return m

    async def _create(self, request: web.Request, t: Target) -> web.Response:
        if t.rt.namespaced and t.namespace is None:
            raise method_not_allowed()
        body = self._object_body(t, await self._body(request))
        warnings = self._field_validation(request, t, body)
        body.get("metadata", {}).pop("managedFields", None)
        now = self.store.clock.micro_stamp()
        body = patch.record_update(
            None, body, t.rt.api_version, t.rt.kind, self._manager(request, "unknown"), now, None
        )
        obj = self.store.create(t.rt, body, dry_run=self._dry_run(request))
        return _json(obj, 201, self._warnings(warnings))

    async def _update(self, request: web.Request, t: Target, sub: str | None) -> web.Response:
        body = self._object_body(t, await self._body(request))
        meta = body.setdefault("metadata", {})
        if meta.get("name") not in (None, t.name):
            raise bad_request("the name of the object does not match the name on the URL")
        meta["name"] = t.name
        warnings = self._field_validation(request, t, body)
        cur = self.store.get(t.rt, t.namespace or "", t.name or "")
        if cur is None:
            raise not_found(t.rt, t.name or "")
        meta.pop("managedFields", None)
        meta["managedFields"] = clone(cur["metadata"].get("managedFields", []))
        now = self.store.clock.micro_stamp()
        body = patch.record_update(cur, body, t.rt.api_version, t.rt.kind, self._manager(request, "unknown"), now, sub)
        obj = self.store.update(t.rt, body, subresource=sub, dry_run=self._dry_run(request))
        return _json(obj, 200, self._warnings(warnings))

    async def _patch(self, request: web.Request, t: Target, sub: str | None) -> web.Response:
        ctype = request.content_type
        if ctype not in PATCH_TYPES:
            raise unsupported_media_type(PATCH_TYPES)
        body = await self._body(request)
        dry = self._dry_run(request)
        cur = self.store.get(t.rt, t.namespace or "", t.name or "")
        now = self.store.clock.micro_stamp()
        if ctype == "application/apply-patch+yaml":
            if sub is not None:
                raise bad_request("apply patches are not supported on this subresource")
            applied = self._object_body(t, body)
            applied.setdefault("metadata", {})
            if applied["metadata"].get("name") not in (None, t.name):
                raise bad_request("the name of the object does not match the name on the URL")
            applied["metadata"]["name"] = t.name
            warnings = self._field_validation(request, t, applied)
            manager = request.query.get("fieldManager")
            if not manager:
                raise bad_request("PATCH, application/apply-patch+yaml requires fieldManager to be set")
            force = _bool_param(request.query, "force")
            try:
                new = patch.apply_patch(cur, applied, t.rt.api_version, t.rt.kind, manager, force, now)
            except patch.ApplyConflict as e:
                raise APIError(409, "Conflict", str(e), {"causes": list(e.causes)}) from e
            except patch.PatchError as e:
                raise _patch_error(e) from e
            if cur is None:
                return _json(self.store.create(t.rt, new, dry_run=dry), 201, self._warnings(warnings))
            new["metadata"].setdefault("resourceVersion", cur["metadata"]["resourceVersion"])
            return _json(self.store.update(t.rt, new, dry_run=dry), 200, self._warnings(warnings))
        if cur is None:
            raise not_found(t.rt, t.name or "")
        base = clone(cur)
        managed = None
        if ctype != "application/json-patch+json":
            # JSON patches may edit managedFields themselves (kubectl migrates owners that way)
            managed = base["metadata"].pop("managedFields", None)
        try:
            if ctype == "application/json-patch+json":
                if not isinstance(body, list):
                    raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
                new = patch.json_patch(base, body)
            else:
                if not isinstance(body, dict):
                    raise bad_request("json: cannot unmarshal non-object into Go value of type map[string]interface {}")
                if ctype == "application/merge-patch+json":
                    new = patch.merge_patch(base, body)
                else:
                    new = patch.strategic_merge_patch(base, body, t.rt.api_version, t.rt.kind)
        except patch.PatchError as e:
            raise _patch_error(e) from e
        if not isinstance(new, dict):
            raise bad_request("the patch does not produce an object")
        new = self._object_body(Target(t.rt, t.namespace, t.name, sub), new)
        warnings = self._field_validation(request, t, new)
        meta = new.setdefault("metadata", {})
        if meta.get("name") != t.name:
            raise bad_request("the name of the object does not match the name on the URL")
        if managed is not None:
            meta["managedFields"] = managed
        new = patch.record_update(cur, new, t.rt.api_version, t.rt.kind, self._manager(request, "unknown"), now, sub)
        return _json(self.store.update(t.rt, new, subresource=sub, dry_run=dry), 200, self._warnings(warnings))

    async def _delete_options(self, request: web.Request) -> dict[str, Any]:
        opts: dict[str, Any] = {}
        if request.can_read_body:
            raw = await request.content.read(MAX_BODY + 1)
            if len(raw) > MAX_BODY:
                raise too_large(MAX_BODY)
            if raw.strip():
                try:
                    opts = orjson.loads(raw)
                except orjson.JSONDecodeError as e:
                    raise bad_request(f"couldn't get version/kind; json parse error: {e}") from e
                if not isinstance(opts, dict):
                    raise bad_request("json: cannot unmarshal non-object into Go value of type v1.DeleteOptions")
        q = request.query
        if "propagationPolicy" in q:
            opts["propagationPolicy"] = q["propagationPolicy"]
        if q.getall("dryRun", []):
            opts["dryRun"] = q.getall("dryRun")
        policy = opts.get("propagationPolicy") or "Background"
        if policy not in ("Orphan", "Background", "Foreground"):
            raise bad_request(
                f'propagationPolicy: Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan"'
            )
        opts["propagationPolicy"] = policy
        dry = opts.get("dryRun") or []
        if not isinstance(dry, list) or any(x != "All" for x in dry):
            raise bad_request(f'Invalid dry run value: "{dry}": supported values: "All"')
        pre = opts.get("preconditions") or {}
        if not isinstance(pre, dict):
            raise bad_request("json: cannot unmarshal into Go struct field DeleteOptions.preconditions")
        return opts

    async def _delete(self, request: web.Request, t: Target) -> web.Response:
        opts = await self._delete_options(request)
        pre = opts.get("preconditions") or {}
        gone = self.store.delete(
            t.rt,
            t.namespace or "",
            t.name or "",
            propagation=opts["propagationPolicy"],
            dry_run=bool(opts.get("dryRun")),
            precondition_rv=pre.get("resourceVersion"),
            precondition_uid=pre.get("uid"),
        )
        details: dict[str, Any] = {"name": t.name, "kind": t.rt.plural, "uid": gone["metadata"]["uid"]}
        if t.rt.group:
            details["group"] = t.rt.group
        return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})

    async def _delete_collection(self, request: web.Request, t: Target) -> web.Response:
        labels, fields = self._selectors(request, t)
        opts = await self._delete_options(request)
        victims = [e.obj for e in self.store.entries(t.rt, t.namespace, labels, fields)]
        out = []
        for obj in victims:
            meta = obj["metadata"]
            try:
                out.append(
                    self.store.delete(
                        t.rt,
                        meta.get("namespace", ""),
                        meta["name"],
                        propagation=opts["propagationPolicy"],
                        dry_run=bool(opts.get("dryRun")),
                    )
                )
            except APIError:
                continue  # removed meanwhile by a cascade
        return _json(
            {
                "kind": t.rt.list_kind,
                "apiVersion": t.rt.api_version,
                "metadata": {"resourceVersion": str(self.store.rv)},
                "items": out,
            }
        )

    # --- subresources ------------------------------------------------------------------------

    async def _subresource(self, request: web.Request, t: Target) -> web.StreamResponse:
        sub = t.subresource
        if sub not in t.rt.subresources:
            raise resource_not_found()
        m = request.method
        if sub == "log":
            if m != "GET":
                raise method_not_allowed()
            return await self._log(request, t)
        if sub == "scale":
            return await self._scale(request, t)
        if sub in ("status", "finalize"):
            if m == "GET":
                return self._get(request, t)
            if m == "PUT":
                return await self._update(request, t, "status" if sub == "status" else None)
            if m == "PATCH" and sub == "status":
                return await self._patch(request, t, "status")
        raise method_not_allowed()

    def _scale_of(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta
            },
            "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)},
            "status": {
                "replicas": obj.get("status", {}).get("replicas", 0),
                "selector": format_label_selector(obj.get("spec", {}).get("selector")),
            },
        }

    async def _scale(self, request: web.Request, t: Target) -> web.Response:
        cur = self.store.get(t.rt, t.namespace or "", t.name or "")
        if cur is None:
            raise not_found(t.rt, t.name or "")
        if request.method == "GET":
            return _json(self._scale_of(cur))
        body = await self._body(request)
        scale = self._scale_of(cur)
        if request.method == "PUT":
            new_scale = body
        elif request.method == "PATCH":
            ctype = request.content_type
            if ctype not in PATCH_TYPES or ctype == "application/apply-patch+yaml":
                raise unsupported_media_type(PATCH_TYPES[:2] + PATCH_TYPES[3:])
            try:
                if ctype == "application/json-patch+json":
                    new_scale = patch.json_patch(scale, body if isinstance(body, list) else [])
                else:
                    new_scale = patch.merge_patch(scale, body)
            except patch.PatchError as e:
                raise _patch_error(e) from e
        else:
            raise method_not_allowed()
        replicas = (new_scale or {}).get("spec", {}).get("replicas") if isinstance(new_scale, dict) else None
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise APIError(
                422,
                "Invalid",
                f'Scale.autoscaling "{t.name}" is invalid: spec.replicas: Invalid value: '
                f"{replicas}: must be greater than or equal to 0",
            )
        want_rv = (new_scale.get("metadata") or {}).get("resourceVersion")
        new = clone(cur)
        new["spec"]["replicas"] = replicas
        if want_rv:
            new["metadata"]["resourceVersion"] = want_rv
        obj = self.store.update(t.rt, new, dry_run=self._dry_run(request))
        return _json(self._scale_of(obj))

    async def _log(self, request: web.Request, t: Target) -> web.StreamResponse:
        pod = self.store.get(t.rt, t.namespace or "", t.name or "")
        if pod is None:
            raise not_found(t.rt, t.name or "")
        q = request.query
        names = [c["name"] for c in pod.get("spec", {}).get("containers", [])]
        container = q.get("container")
        if not container:
            if len(names) != 1:
                raise bad_request(
                    f"a container name must be specified for pod {t.name}, choose one of: [{' '.join(names)}]"
                )
            container = names[0]
        init = [c["name"] for c in pod.get("spec", {}).get("initContainers", [])]
        if container not in names and container not in init:
            raise bad_request(f"container {container} is not valid for pod {t.name}")
        if not pod.get("spec", {}).get("nodeName"):
            raise bad_request(f"pod {t.name} does not have a host assigned")
        previous = _bool_param(q, "previous")
        inst = self.logs.instance(t.namespace or "", t.name or "", container, previous)
        if inst is None:
            if previous:
                raise bad_request(f'previous terminated container "{container}" in pod "{t.name}" not found')
            raise bad_request(
                f'container "{container}" in pod "{t.name}" is waiting to start: {_waiting_reason(pod, container)}'
            )
        lines = inst.lines
        start = 0
        tail = _int_param(q, "tailLines", -1)
        if tail >= 0:
            start = max(0, len(lines) - tail)
        since = _int_param(q, "sinceSeconds", 0)
        if since:
            cutoff = self.store.clock.now_precise() - timedelta(seconds=since)
            while start < len(lines) and lines[start][0] < cutoff:
                start += 1
        stamps = _bool_param(q, "timestamps")
        limit = _int_param(q, "limitBytes", 0)

        def fmt(when, line: str) -> bytes:  # type: ignore[no-untyped-def]
            text = (when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z " + line) if stamps else line
            return (text + "\n").encode()

        if not _bool_param(q, "follow"):
            body = b"".join(fmt(w, s) for w, s in lines[start:])
            return web.Response(body=body[:limit] if limit else body, content_type="text/plain")
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        sent = 0
        try:
            async for when, line in self.logs.follow(inst, start):
                chunk = fmt(when, line)
                if limit and sent + len(chunk) > limit:
                    await resp.write(chunk[: limit - sent])
                    break
                sent += len(chunk)
                await resp.write(chunk)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return resp


def _yaml_scalar(value: Any) -> str:
    """YAML scalars JSON has no type for (dates, times) travel as their text, as Go's YAML-to-JSON does."""
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    raise TypeError(f"cannot represent {type(value).__name__} in JSON")


def _patch_error(e: patch.PatchError) -> APIError:
    """A patch that cannot be applied, answered as the real server answers each kind of failure."""
    if e.code == 400:
        return bad_request(str(e))
    if e.code == 422:
        return APIError(422, "Invalid", "the server rejected our request due to an error in our request")
    return APIError(500, "", str(e))


def _waiting_reason(pod: dict[str, Any], container: str) -> str:
    for cs in pod.get("status", {}).get("containerStatuses", []) or []:
        if cs.get("name") == container:
            reason = (cs.get("state", {}).get("waiting") or {}).get("reason", "ContainerCreating")
            if reason in ("ErrImagePull", "ImagePullBackOff"):
                return "trying and failing to pull image"
            return reason
    return "ContainerCreating"


_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})
_FALSE = frozenset({"0", "f", "F", "false", "FALSE", "False", ""})


def _bool_param(q: Any, name: str) -> bool:
    """A boolean query parameter, spelled any way Go's strconv.ParseBool accepts."""
    v = q.get(name)
    if v is None or v in _FALSE:
        return False
    if v in _TRUE:
        return True
    raise bad_request(f'{name}: Invalid value: "{v}": must be a boolean')


def _int_param(q: Any, name: str, default: int) -> int:
    v = q.get(name)
    if v is None or v == "":
        return default
    try:
        return int(v)
    except ValueError as e:
        raise bad_request(f'{name}: Invalid value: "{v}": must be an integer') from e


def _encode_continue(rv: int, start: tuple[str, str]) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": list(start)})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[str, str]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        ns, name = data["start"]
        return str(ns), str(name)
    except (ValueError, KeyError, TypeError) as e:
        raise bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"
        ) from e
