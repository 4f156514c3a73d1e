"""Diffs for review: git-style file diffs, and live objects as YAML with the noise and Secret values gone."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from diagnostics.diffs import object_diff, to_yaml, unified

WORKER = "".join(f"line {i}\n" for i in range(1, 21))


def test_a_file_diff_has_git_headers_and_three_lines_of_context() -> None:
    after = WORKER.replace("line 10\n", "line ten\n")
    assert unified(WORKER, after, "k8s/staging/worker-deployment.yaml") == (
        "--- a/k8s/staging/worker-deployment.yaml\n"
        "+++ b/k8s/staging/worker-deployment.yaml\n"
        "@@ -7,7 +7,7 @@\n"
        " line 7\n line 8\n line 9\n"
        "-line 10\n"
        "+line ten\n"
        " line 11\n line 12\n line 13\n"
    )
    assert unified(WORKER, WORKER, "x.yaml") == ""


def test_a_new_file_diffs_from_dev_null() -> None:
    text = "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    pass\n"
    assert unified(None, text, "backend/licenses/migrations/0007_merge.py") == (
        "--- /dev/null\n"
        "+++ b/backend/licenses/migrations/0007_merge.py\n"
        "@@ -0,0 +1,5 @@\n"
        "+from django.db import migrations\n+\n+\n+class Migration(migrations.Migration):\n+    pass\n"
    )


def test_a_missing_final_newline_is_marked_like_git() -> None:
    diff = unified("a: 1\nb: 2", "a: 1\nb: 3", "cfg.yaml")
    assert diff.endswith("-b: 2\n\\ No newline at end of file\n+b: 3\n\\ No newline at end of file\n")


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
@pytest.mark.parametrize(
    ("before", "after"),
    [
        (WORKER, WORKER.replace("line 3\n", "").replace("line 17\n", "line 17\nextra\n")),
        ("a: 1\nb: 2", "a: 1\nb: 2\n"),
        ("a\n", "b"),
        (None, "new\nfile"),
    ],
)
def test_every_diff_applies_with_git_apply(tmp_path: Path, before: str | None, after: str) -> None:
    target = tmp_path / "dir" / "f.yaml"
    if before is not None:
        target.parent.mkdir()
        target.write_text(before)
    patch = tmp_path / "fix.patch"
    patch.write_text(unified(before, after, "dir/f.yaml"))
    subprocess.run(["git", "apply", "--unsafe-paths", str(patch)], cwd=tmp_path, check=True, capture_output=True)
    assert target.read_text() == after


def _deployment(nodepool: str) -> dict[str, Any]:
    return {
        "status": {"replicas": 2, "unavailableReplicas": 2},
        "spec": {
            "replicas": 2,
            "template": {
                "spec": {
                    "nodeSelector": {"cloud.google.com/gke-nodepool": nodepool},
                    "containers": [{"name": "worker", "image": "w:1"}],
                }
            },
        },
        "metadata": {
            "uid": "0f7c",
            "resourceVersion": "4711",
            "generation": 3,
            "creationTimestamp": "2025-01-01T00:00:00Z",
            "managedFields": [{"manager": "kubectl"}],
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": '{"big": 1}'},
            "labels": {"app": "coditect-worker"},
            "namespace": "coditect-staging",
            "name": "coditect-worker",
        },
        "kind": "Deployment",
        "apiVersion": "apps/v1",
    }


def test_a_live_object_renders_like_kubectl_without_the_server_noise() -> None:
    assert to_yaml(_deployment("default-pool")) == (
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata:\n"
        "  name: coditect-worker\n"
        "  namespace: coditect-staging\n"
        "  labels:\n"
        "    app: coditect-worker\n"
        "spec:\n"
        "  replicas: 2\n"
        "  template:\n"
        "    spec:\n"
        "      containers:\n"
        "        - image: w:1\n"
        "          name: worker\n"
        "      nodeSelector:\n"
        "        cloud.google.com/gke-nodepool: default-pool\n"
    )


def test_an_object_diff_shows_only_the_change() -> None:
    diff = object_diff(_deployment("default-pool"), _deployment("primary-node-pool"), "deployment/coditect-worker")
    assert diff.startswith("--- a/deployment/coditect-worker\n+++ b/deployment/coditect-worker\n")
    changed = [line for line in diff.splitlines()[2:] if line[:1] in "+-"]
    assert changed == [
        "-        cloud.google.com/gke-nodepool: default-pool",
        "+        cloud.google.com/gke-nodepool: primary-node-pool",
    ]


def test_a_secret_diff_shows_key_names_and_never_values() -> None:
    before = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": "backend-secrets", "namespace": "coditect-staging"},
        "data": {"db-user": "YXBw", "db-password": "aHVudGVyMg=="},
    }
    after = {
        **before,
        "data": {"db-user": "YXBw", "database-password": "aHVudGVyMg=="},
        "stringData": {"django-secret-key": "s3cr3t-value"},
    }
    diff = object_diff(before, after, "secret/backend-secrets")
    for value in ("YXBw", "aHVudGVyMg==", "hunter2", "s3cr3t-value"):
        assert value not in diff
    assert "-  db-password: <redacted>\n" in diff
    assert "+  database-password: <redacted>\n" in diff
    assert "+  django-secret-key: <redacted>\n" in diff
    created = object_diff(None, after, "secret/backend-secrets")
    assert created.startswith("--- /dev/null\n") and "aHVudGVyMg==" not in created


def test_strings_yaml_1_1_would_misread_are_quoted_and_multiline_text_is_a_block() -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg"},
        "data": {"FEATURE": "on", "PORT": "8080", "script": "set -e\nmigrate\n"},
    }
    assert to_yaml(cm).endswith("data:\n  FEATURE: 'on'\n  PORT: '8080'\n  script: |\n    set -e\n    migrate\n")
