"""Logs reach playbooks as their last lines, with anything that looks like a credential masked."""

from __future__ import annotations

import pytest

from diagnostics.kube import KubeClient
from diagnostics.kubeconfig import load
from diagnostics.logs import MASK, LogReader, mask
from tests.conftest import wait_for
from tests.playbooks.demo import NS, settled


@pytest.mark.parametrize(
    ("line", "hidden"),
    [
        ("connecting to postgres://licenses:s3cr3t-Pa55@db:5432/licenses", "s3cr3t-Pa55"),
        ("DATABASE_PASSWORD=hunter2 starting", "hunter2"),
        ("settings: {'SECRET_KEY': 'django-insecure-abc123'}", "django-insecure-abc123"),
        ('"api_key": "AKIAXXXXEXAMPLE"', "AKIAXXXXEXAMPLE"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload", "eyJhbGciOiJIUzI1NiJ9.payload"),
        ("token ghp_0123456789abcdefghijklmnopqrstuvwxyz used", "ghp_0123456789abcdefghijklmnopqrstuvwxyz"),
    ],
)
def test_credentials_are_masked(line: str, hidden: str) -> None:
    masked = mask(line)
    assert hidden not in masked and MASK in masked


@pytest.mark.parametrize(
    "line",
    [
        "ModuleNotFoundError: No module named 'coditect_license'",
        "redis.exceptions.ConnectionError: Error -2 connecting to redis:6379. Name or service not known.",
        "django.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty.",
        '  File "/usr/local/lib/python3.11/site-packages/django/core/management/__init__.py", line 442, in execute',
        "KeyError: 'DJANGO_SECRET_KEY'",
    ],
)
def test_what_diagnoses_need_stays_readable(line: str) -> None:
    assert mask(line) == line


async def test_reads_the_previous_instance_of_a_crashing_container_and_says_why_not_otherwise(sandbox_factory):
    rs = sandbox_factory("demo", clock_speed=100)
    wait_for(lambda: settled(rs), what="the demo's incidents to show")
    pods = rs.list("v1", "Pod", NS)
    backend = next(
        p
        for p in pods
        if p["metadata"]["name"].startswith("coditect-backend-") and "migration" not in p["metadata"]["name"]
    )
    wait_for(
        lambda: any(
            (cs.get("lastState") or {}).get("terminated")
            for cs in (rs.get("v1", "Pod", NS, backend["metadata"]["name"]) or {})
            .get("status", {})
            .get("containerStatuses", [])
        ),
        what="the backend container to have crashed once",
    )
    async with KubeClient(load(str(rs.kubeconfig))) as client:
        reader = LogReader(client)
        logs = await reader.tail(NS, backend["metadata"]["name"], previous=True)
        assert logs.read and any("Name or service not known" in line for line in logs.lines)
        assert len(logs.lines) <= 50
        gone = await reader.tail(NS, "no-such-pod")
        assert not gone.read and gone.problem == "the pod is gone"
