"""Test helpers: the real kubectl binary and raw HTTP against a running sandbox."""

from __future__ import annotations

import http.client
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from tests.conftest import RunningSandbox


class Kubectl:
    """Runs the real `kubectl` against a sandbox with its own fresh discovery cache."""

    def __init__(self, rs: RunningSandbox, cache_dir: Path) -> None:
        self.rs, self.cache_dir = rs, cache_dir

    def argv(self, *args: str) -> list[str]:
        return ["kubectl", "--kubeconfig", str(self.rs.kubeconfig), "--cache-dir", str(self.cache_dir), *args]

    def __call__(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self.argv(*args), input=input, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def request(
    rs: RunningSandbox,
    method: str,
    path: str,
    body: bytes | None = None,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    token: bool = True,
) -> tuple[int, Any]:
    """One raw HTTP request to the sandbox API; returns (status, parsed JSON or text)."""
    url = urlsplit(rs.sb.api_url)
    conn = http.client.HTTPSConnection(url.hostname, url.port, timeout=30, context=rs.sb.cert.client_context())
    h = {"Content-Type": content_type, **(headers or {})}
    if token:
        h["Authorization"] = f"Bearer {rs.sb.token}"
    try:
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    try:
        return resp.status, orjson.loads(data)
    except orjson.JSONDecodeError:
        return resp.status, data.decode("utf-8", "replace")
