"""The headless reports read the same incident the same way in every format, and exit as DESIGN.md says.

Findings are built by hand from the demo's incidents: I4 (Deployment coditect-worker asks for
a node pool no node has; a live fix and a file fix) and I7 (two migration leaves in app
`licenses`; a new merge-migration file).
"""

from __future__ import annotations

import copy
import difflib
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from rich.console import Console

from diagnostics.findings import (
    Evidence,
    FilePlan,
    FileTarget,
    Finding,
    Fix,
    LivePlan,
    LiveTarget,
    Location,
    ObjectRef,
    finding_id,
    stable_id,
)
from playbooks import report
from playbooks.report import ApplyOutcome, PlaybookStatus, RunResult

ROOT = Path(__file__).resolve().parents[2]
DEMO_REPO = ROOT / "sandbox" / "scenarios" / "demo-repo"
WORKER_PATH = "k8s/staging/worker-deployment.yaml"
MIGRATION_0006 = "backend/licenses/migrations/0006_phase1_step6_license_sessions.py"
MERGE_PATH = "backend/licenses/migrations/0007_merge_0002_add_renewal_fields_0006_phase1_step6_license_sessions.py"
SELECTOR_MISMATCH = (
    "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
    "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
)
MIGRATE_CONFLICT = (
    "CommandError: Conflicting migrations detected; multiple leaf nodes in the migration graph: "
    "(0002_add_renewal_fields, 0006_phase1_step6_license_sessions in licenses)."
)
PLAN_ONLY = "plan-only-marker"  # sits in plans, never in a diff: must never reach a report
STARTED = datetime(2025, 6, 3, 9, 14, 7, 250000, tzinfo=UTC)


def unified(before: str, after: str, path: str, new: bool = False) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile="/dev/null" if new else f"a/{path}",
            tofile=f"b/{path}",
            n=3,
        )
    )


def worker_manifest() -> str:
    return (DEMO_REPO / WORKER_PATH).read_text()


def i4_wrong_node_pool() -> Finding:
    obj = ObjectRef("Deployment", "coditect-worker", "coditect-staging")
    before = worker_manifest()
    after = before.replace("gke-nodepool: default-pool", "gke-nodepool: primary-node-pool")
    assert before != after
    live_before = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "coditect-worker",
            "namespace": "coditect-staging",
            "resourceVersion": "48213",
            "annotations": {"note": PLAN_ONLY},
        },
        "spec": {"template": {"spec": {"nodeSelector": {"cloud.google.com/gke-nodepool": "default-pool"}}}},
    }
    live_after = copy.deepcopy(live_before)
    live_after["spec"]["template"]["spec"]["nodeSelector"]["cloud.google.com/gke-nodepool"] = "primary-node-pool"
    live_diff = (
        "--- live Deployment coditect-staging/coditect-worker\n"
        "+++ proposed\n"
        "@@ -3,3 +3,3 @@\n"
        "     spec:\n"
        "       nodeSelector:\n"
        "-        cloud.google.com/gke-nodepool: default-pool\n"
        "+        cloud.google.com/gke-nodepool: primary-node-pool\n"
    )
    return Finding(
        id=finding_id("pod-pending", obj, "nodeSelector:cloud.google.com/gke-nodepool"),
        playbook="pod-pending",
        severity="error",
        object=obj,
        title="Pods ask for node pool default-pool, which no node is in",
        explanation=(
            "The pod template's nodeSelector cloud.google.com/gke-nodepool=default-pool matches none of the "
            "3 nodes; they are all in primary-node-pool, so both replicas stay Pending."
        ),
        evidence=(
            Evidence(
                "event",
                f"Warning FailedScheduling: {SELECTOR_MISMATCH}",
                "event Pod coditect-staging/coditect-worker-6c9d7f8b5-h2k4p",
            ),
            Evidence(
                "condition",
                "PodScheduled=False reason Unschedulable",
                "Pod coditect-staging/coditect-worker-6c9d7f8b5-h2k4p",
            ),
            Evidence(
                "node",
                "cloud.google.com/gke-nodepool=primary-node-pool on 3 nodes (would admit 3 of 3)",
                "nodes gke-primary-1, gke-primary-2, gke-primary-3",
            ),
            Evidence(
                "file",
                "nodeSelector: cloud.google.com/gke-nodepool: default-pool",
                f"file {WORKER_PATH}:29",
                Location(WORKER_PATH, 29),
            ),
        ),
        fixes=(
            Fix(
                id=stable_id("pod-pending", "live", "coditect-worker"),
                title="Select node pool primary-node-pool",
                target=LiveTarget("apps/v1", "Deployment", "coditect-staging", "coditect-worker", "48213"),
                diff=live_diff,
                risk="low",
                notes="Rolls the Deployment: 2 new pods, scheduled on primary-node-pool.",
                plan=LivePlan("replace", live_before, live_after),
            ),
            Fix(
                id=stable_id("pod-pending", "file", WORKER_PATH),
                title="Select node pool primary-node-pool",
                target=FileTarget(WORKER_PATH),
                diff=unified(before, after, WORKER_PATH),
                risk="low",
                notes="Keeps the manifest in step with the live fix.",
                plan=FilePlan(before, after),
            ),
        ),
        cause="nodeSelector:cloud.google.com/gke-nodepool",
    )


MERGE_MIGRATION = """\
# Generated by Django 5.2 on 2025-06-03 09:14

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('licenses', '0002_add_renewal_fields'),
        ('licenses', '0006_phase1_step6_license_sessions'),
    ]

    operations = [
    ]
"""


def i7_migration_conflict() -> Finding:
    obj = ObjectRef("DjangoApp", "licenses")
    return Finding(
        id=finding_id("migration-conflict", obj, "leaves:0002_add_renewal_fields,0006_phase1_step6_license_sessions"),
        playbook="migration-conflict",
        severity="error",
        object=obj,
        title="App licenses has two migration leaves: 0002_add_renewal_fields and 0006_phase1_step6_license_sessions",
        explanation="They were made on parallel branches; `manage.py migrate` refuses to run until a merge migration "
        "joins them, so the migration Job fails.",
        evidence=(
            Evidence(
                "file",
                "leaf 0006_phase1_step6_license_sessions depends on 0005_phase1_step5_usage_events",
                f"file {MIGRATION_0006}:9",
                Location(MIGRATION_0006, 9),
            ),
            Evidence(
                "file",
                "leaf 0002_add_renewal_fields depends on 0001_initial",
                "file backend/licenses/migrations/0002_add_renewal_fields.py:8",
                Location("backend/licenses/migrations/0002_add_renewal_fields.py", 8),
            ),
            Evidence(
                "log",
                MIGRATE_CONFLICT + "\x1b[31m To fix them run 'python manage.py makemigrations --merge'\x1b[0m\x07",
                "what `python manage.py migrate` prints",
            ),
        ),
        fixes=(
            Fix(
                id=stable_id("migration-conflict", "merge", "licenses"),
                title="Add merge migration 0007_merge_0002_add_renewal_fields_0006_phase1_step6_license_sessions",
                target=FileTarget(MERGE_PATH, create=True),
                diff=unified("", MERGE_MIGRATION, MERGE_PATH, new=True),
                risk="low",
                notes="No operations: it only joins the two branches, as makemigrations --merge would.",
                plan=FilePlan(None, MERGE_MIGRATION),
            ),
        ),
        location=Location(MIGRATION_0006, 9),
        cause="leaves:0002_add_renewal_fields,0006_phase1_step6_license_sessions",
    )


def warning_finding() -> Finding:
    obj = ObjectRef("Deployment", "coditect-docs", "coditect-staging")
    return Finding(
        id=finding_id("pod-pending", obj, "headroom:memory"),
        playbook="pod-pending",
        severity="warning",
        object=obj,
        title="Only 1 of 3 nodes has room for another coditect-docs pod",
        explanation="A rollout with maxSurge 1 fits; scaling past 3 replicas would leave pods Pending.",
        evidence=(Evidence("node", "memory allocatable left: 1.5Gi, 200Mi, 180Mi", "nodes"),),
    )


def info_finding() -> Finding:
    obj = ObjectRef("CronJob", "coditect-nightly-report", "coditect-staging")
    return Finding(
        id=finding_id("image-pull", obj, "tag-not-digest"),
        playbook="image-pull",
        severity="info",
        object=obj,
        title="Image is referenced by tag, not digest",
        explanation="A re-pushed tag changes what runs without a manifest change.",
    )


def statuses(**overrides: PlaybookStatus) -> tuple[PlaybookStatus, ...]:
    base = {
        "pod-pending": PlaybookStatus("pod-pending", "findings", 41, title="Pods that cannot be scheduled"),
        "image-pull": PlaybookStatus("image-pull", "ok", 310, title="Images that cannot be pulled"),
        "secret-missing": PlaybookStatus("secret-missing", "ok", 12, title="Secrets and keys that do not exist"),
        "migration-conflict": PlaybookStatus(
            "migration-conflict",
            "findings",
            95,
            title="Django and Alembic migration graphs with several leaves",
            help_uri="https://docs.djangoproject.com/en/5.2/topics/migrations/",
        ),
    }
    base.update(overrides)
    return tuple(base.values())


def make_run(
    findings: tuple[Finding, ...] | None = None,
    playbooks: tuple[PlaybookStatus, ...] | None = None,
    applied: tuple[ApplyOutcome, ...] | None = None,
) -> RunResult:
    return RunResult(
        context="gke_coditect-cloud-infra_us-central1_coditect-staging",
        started_at=STARTED,
        duration_ms=1234,
        playbooks=statuses() if playbooks is None else playbooks,
        findings=(i7_migration_conflict(), warning_finding(), i4_wrong_node_pool()) if findings is None else findings,
        applied=applied,
    )


def applied_outcomes() -> tuple[ApplyOutcome, ...]:
    i4, i7 = i4_wrong_node_pool(), i7_migration_conflict()
    return (
        ApplyOutcome(i4.fixes[0].id, i4.id, "20250603T091409-0001", "applied", "verified", "2/2 pods ready"),
        ApplyOutcome(
            i7.fixes[0].id,
            i7.id,
            "20250603T091410-0002",
            "applied",
            "not yet resolved",
            "the migration Job still fails: secret key db-password is missing",
        ),
        ApplyOutcome(i4.fixes[1].id, i4.id, None, "refused", None, "the file changed since the diagnosis"),
    )


# --------------------------------------------------------------------------------------------- JSON


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = report.report_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_json_report_of_the_demo_incidents_matches_the_schema(validator):
    doc = orjson.loads(report.to_json(make_run(applied=applied_outcomes())))
    validator.validate(doc)

    assert doc["version"] == 1
    assert doc["started_at"] == "2025-06-03T09:14:07.250Z"
    assert [p["id"] for p in doc["playbooks"]] == ["pod-pending", "image-pull", "secret-missing", "migration-conflict"]
    assert doc["playbooks"][0] == {"id": "pod-pending", "status": "findings", "duration_ms": 41, "error": None}
    # sort_findings: errors first (the namespace-less DjangoApp before the Deployment), then the warning
    assert [(f["severity"], f["object"]["name"]) for f in doc["findings"]] == [
        ("error", "licenses"),
        ("error", "coditect-worker"),
        ("warning", "coditect-docs"),
    ]

    i7, i4 = doc["findings"][0], doc["findings"][1]
    assert i4["object"] == {"kind": "Deployment", "namespace": "coditect-staging", "name": "coditect-worker"}
    assert i4["id"] == i4_wrong_node_pool().id
    live, file = i4["fixes"]
    assert live["target"] == {
        "type": "live",
        "kind": "Deployment",
        "namespace": "coditect-staging",
        "name": "coditect-worker",
    }
    assert file["target"] == {"type": "file", "path": WORKER_PATH}
    assert "+        cloud.google.com/gke-nodepool: primary-node-pool" in file["diff"].splitlines()
    assert file["risk"] == "low" and file["notes"]
    assert i4["evidence"][0] == {
        "kind": "event",
        "text": f"Warning FailedScheduling: {SELECTOR_MISMATCH}",
        "source": "event Pod coditect-staging/coditect-worker-6c9d7f8b5-h2k4p",
        "location": None,
    }
    assert i7["object"] == {"kind": "DjangoApp", "namespace": None, "name": "licenses"}
    assert i7["location"] == {"path": MIGRATION_0006, "line": 9}
    assert i7["fixes"][0]["target"] == {"type": "file", "path": MERGE_PATH}

    assert [(a["result"], a["verification"]) for a in doc["applied"]] == [
        ("applied", "verified"),
        ("applied", "not yet resolved"),
        ("refused", None),
    ]
    assert doc["applied"][2]["journal_id"] is None


def test_json_report_never_carries_plans():
    raw = report.to_json(make_run()).decode()
    assert PLAN_ONLY not in raw
    assert "Licence maintenance worker" not in raw  # line 1 of the manifest: in the plan, outside the diff


def test_applied_appears_only_when_fixes_were_applied(validator):
    without = orjson.loads(report.to_json(make_run()))
    assert "applied" not in without
    nothing_applied = orjson.loads(report.to_json(make_run(applied=())))
    assert nothing_applied["applied"] == []
    validator.validate(without)
    validator.validate(nothing_applied)


def test_the_bare_design_shape_is_valid_too(validator):
    """location and related are additions; a report with only DESIGN.md's keys still validates."""
    doc = orjson.loads(report.to_json(make_run()))
    for f in doc["findings"]:
        del f["location"], f["related"]
        for e in f["evidence"]:
            del e["location"]
    validator.validate(doc)


def _broken(doc: dict[str, Any], path: tuple[Any, ...], value: Any = KeyError) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if value is KeyError:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("version",), 2),
        (("started_at",), "yesterday"),
        (("duration_ms",), -1),
        (("playbooks", 0, "status"), "crashed"),
        (("playbooks", 0, "status"), "error"),  # an error must say why: its "error" is still null
        (("findings", 0, "severity"), "critical"),
        (("findings", 0, "object", "name"), KeyError),
        (("findings", 1, "fixes", 0, "diff"), KeyError),
        (("findings", 1, "fixes", 0, "risk"), "medium"),
        (("findings", 1, "fixes", 0, "target", "type"), "cluster"),
        (("findings", 1, "fixes", 1, "target", "path"), "/etc/passwd"),
        (("findings", 1, "fixes", 1, "target", "kind"), "Deployment"),
        (("findings", 1, "evidence", 0, "kind"), "rumour"),
        (("findings", 0, "plan"), {"before": {}}),
        (("applied", 0, "verification"), "probably"),
        (("applied", 0, "result"), "done"),
    ],
)
def test_a_broken_report_does_not_validate(validator, path, value):
    doc = orjson.loads(report.to_json(make_run(applied=applied_outcomes())))
    validator.validate(doc)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(_broken(doc, path, value))


# --------------------------------------------------------------------------------------------- SARIF

# The subset of SARIF 2.1.0 pitstop emits, written from the OASIS specification. Like the official
# schema, objects reject properties they do not define, so a misspelt SARIF name fails here.
_MESSAGE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["text"],
    "properties": {"text": {"type": "string", "minLength": 1}, "markdown": {"type": "string"}},
}
_BAG = {"type": "object"}
_ARTIFACT_LOCATION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["uri"],
    "properties": {
        "uri": {"type": "string", "pattern": "^[^/]"},  # repository-relative
        "uriBaseId": {"type": "string"},
        "properties": _BAG,
    },
}
_REGION = {
    "type": "object",
    "additionalProperties": False,
    "anyOf": [{"required": ["startLine"]}, {"required": ["charOffset"]}],
    "properties": {
        "startLine": {"type": "integer", "minimum": 1},
        "startColumn": {"type": "integer", "minimum": 1},
        "endLine": {"type": "integer", "minimum": 1},
        "endColumn": {"type": "integer", "minimum": 1},
        "charOffset": {"type": "integer", "minimum": 0},
        "charLength": {"type": "integer", "minimum": 0},
    },
}
_PHYSICAL = {
    "type": "object",
    "additionalProperties": False,
    "required": ["artifactLocation"],
    "properties": {"artifactLocation": _ARTIFACT_LOCATION, "region": _REGION},
}
_LOGICAL = {
    "type": "object",
    "additionalProperties": False,
    "required": ["fullyQualifiedName", "kind"],
    "properties": {
        "name": {"type": "string"},
        "fullyQualifiedName": {"type": "string"},
        "kind": {"enum": ["resource", "module"]},
    },
}
_LOCATION = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "id": {"type": "integer", "minimum": 0},
        "physicalLocation": _PHYSICAL,
        "logicalLocations": {"type": "array", "items": _LOGICAL, "minItems": 1},
        "message": _MESSAGE,
    },
}
_FIX = {
    "type": "object",
    "additionalProperties": False,
    "required": ["artifactChanges"],
    "properties": {
        "description": _MESSAGE,
        "properties": _BAG,
        "artifactChanges": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["artifactLocation", "replacements"],
                "properties": {
                    "artifactLocation": _ARTIFACT_LOCATION,
                    "replacements": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["deletedRegion"],
                            "properties": {
                                "deletedRegion": _REGION,
                                "insertedContent": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {"text": {"type": "string"}},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}
_RESULT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["ruleId", "ruleIndex", "level", "message", "partialFingerprints"],
    "properties": {
        "ruleId": {"type": "string"},
        "ruleIndex": {"type": "integer", "minimum": 0},
        "level": {"enum": ["none", "note", "warning", "error"]},
        "message": _MESSAGE,
        "locations": {"type": "array", "items": _LOCATION},
        "relatedLocations": {"type": "array", "items": _LOCATION, "uniqueItems": True},
        "partialFingerprints": {"type": "object", "additionalProperties": {"type": "string"}},
        "fixes": {"type": "array", "items": _FIX, "uniqueItems": True},
        "properties": _BAG,
    },
}
_RULE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "shortDescription": {
            "type": "object",
            "additionalProperties": False,
            "required": ["text"],
            "properties": {"text": {"type": "string"}},
        },
        "helpUri": {"type": "string", "format": "uri"},
    },
}
_NOTIFICATION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["message"],
    "properties": {
        "level": {"enum": ["none", "note", "warning", "error"]},
        "message": _MESSAGE,
        "associatedRule": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"id": {"type": "string"}, "index": {"type": "integer", "minimum": 0}},
        },
    },
}
SARIF_SUBSET = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["$schema", "version", "runs"],
    "properties": {
        "$schema": {"const": report.SARIF_SCHEMA_URI},
        "version": {"const": "2.1.0"},
        "runs": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["tool", "results"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["name"],
                                "properties": {
                                    "name": {"const": "pitstop"},
                                    "version": {"type": "string"},
                                    "rules": {"type": "array", "items": _RULE, "uniqueItems": True},
                                },
                            }
                        },
                    },
                    "invocations": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["executionSuccessful"],
                            "properties": {
                                "executionSuccessful": {"type": "boolean"},
                                "startTimeUtc": {"type": "string", "format": "date-time"},
                                "endTimeUtc": {"type": "string", "format": "date-time"},
                                "toolExecutionNotifications": {"type": "array", "items": _NOTIFICATION},
                            },
                        },
                    },
                    "columnKind": {"enum": ["utf16CodeUnits", "unicodeCodePoints"]},
                    "results": {"type": "array", "items": _RESULT},
                    "properties": _BAG,
                },
            },
        },
    },
}


def sarif(run: RunResult) -> dict[str, Any]:
    doc = orjson.loads(report.to_sarif(run))
    jsonschema.Draft202012Validator(SARIF_SUBSET, format_checker=jsonschema.FormatChecker()).validate(doc)
    run_ = doc["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    for result in run_["results"]:  # every result points at its own rule
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    return doc


def _result(doc: dict[str, Any], finding: Finding) -> dict[str, Any]:
    [result] = [
        r for r in doc["runs"][0]["results"] if r["partialFingerprints"][report.SARIF_FINGERPRINT] == finding.id
    ]
    return result


def test_sarif_has_one_run_with_playbooks_as_rules():
    doc = sarif(make_run())
    assert doc["version"] == "2.1.0"
    assert doc["$schema"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["pod-pending", "image-pull", "secret-missing", "migration-conflict"]
    assert rules[0] == {
        "id": "pod-pending",
        "name": "PodPending",
        "shortDescription": {"text": "Pods that cannot be scheduled"},
    }
    assert rules[3]["helpUri"] == "https://docs.djangoproject.com/en/5.2/topics/migrations/"
    assert doc["runs"][0]["invocations"][0]["executionSuccessful"] is True
    assert doc["runs"][0]["properties"]["context"] == "gke_coditect-cloud-infra_us-central1_coditect-staging"
    levels = [r["level"] for r in doc["runs"][0]["results"]]
    assert levels == ["error", "error", "warning"]


def test_sarif_points_the_migration_conflict_at_its_file_and_line():
    finding = i7_migration_conflict()
    result = _result(sarif(make_run()), finding)
    [loc] = result["locations"]
    assert loc["physicalLocation"]["artifactLocation"]["uri"] == MIGRATION_0006
    assert loc["physicalLocation"]["region"] == {"startLine": 9}
    assert loc["logicalLocations"] == [
        {"name": "licenses", "fullyQualifiedName": "DjangoApp/licenses", "kind": "module"}
    ]
    related = [r["physicalLocation"]["artifactLocation"]["uri"] for r in result["relatedLocations"]]
    assert related == ["backend/licenses/migrations/0002_add_renewal_fields.py"]
    assert result["message"]["text"].startswith("DjangoApp licenses: App licenses has two migration leaves")
    [fix] = result["fixes"]
    [change] = fix["artifactChanges"]
    assert change["artifactLocation"]["uri"] == MERGE_PATH
    assert change["replacements"] == [
        {"deletedRegion": {"charOffset": 0, "charLength": 0}, "insertedContent": {"text": MERGE_MIGRATION}}
    ]
    assert fix["properties"]["newFile"] is True
    assert fix["properties"]["diff"] == finding.fixes[0].diff


def test_sarif_names_the_live_deployment_and_its_manifest_line():
    finding = i4_wrong_node_pool()
    result = _result(sarif(make_run()), finding)
    [loc] = result["locations"]
    assert loc["logicalLocations"] == [
        {
            "name": "coditect-worker",
            "fullyQualifiedName": "coditect-staging/Deployment/coditect-worker",
            "kind": "resource",
        }
    ]
    assert loc["physicalLocation"]["artifactLocation"] == {"uri": WORKER_PATH, "uriBaseId": "%SRCROOT%"}
    assert loc["physicalLocation"]["region"] == {"startLine": 29}
    assert result["partialFingerprints"] == {"pitstopFindingId/v1": finding.id}

    # the file fix is an exact replacement: applied to the file it gives the fixed manifest
    [fix] = result["fixes"]
    [change] = fix["artifactChanges"]
    assert change["artifactLocation"]["uri"] == WORKER_PATH
    [rep] = change["replacements"]
    before = worker_manifest()
    start, length = rep["deletedRegion"]["charOffset"], rep["deletedRegion"]["charLength"]
    patched = before[:start] + rep["insertedContent"]["text"] + before[start + length :]
    assert patched == finding.fixes[1].plan.after
    assert "Licence maintenance worker" not in report.to_sarif(make_run()).decode()
    # the live fix cannot be a SARIF artifact change; it rides along in the result's properties
    [other] = result["properties"]["otherFixes"]
    assert other["target"] == "live Deployment coditect-staging/coditect-worker"
    assert PLAN_ONLY not in report.to_sarif(make_run()).decode()


def test_sarif_falls_back_to_the_line_a_file_fix_changes():
    """A live finding without file evidence is still placed in the repository, at the line its fix edits."""
    i4 = i4_wrong_node_pool()
    bare = Finding(
        id=i4.id,
        playbook=i4.playbook,
        severity="warning",
        object=i4.object,
        title=i4.title,
        explanation=i4.explanation,
        evidence=i4.evidence[:2],
        fixes=i4.fixes,
    )
    result = _result(sarif(make_run(findings=(bare,))), bare)
    assert result["level"] == "warning"
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 29}
    assert "relatedLocations" not in result


def test_sarif_live_finding_without_any_file_has_only_a_logical_location():
    f = info_finding()
    result = _result(sarif(make_run(findings=(f,))), f)
    assert result["level"] == "note"
    assert result["locations"] == [
        {
            "logicalLocations": [
                {
                    "name": "coditect-nightly-report",
                    "fullyQualifiedName": "coditect-staging/CronJob/coditect-nightly-report",
                    "kind": "resource",
                }
            ]
        }
    ]
    assert "fixes" not in result


def test_sarif_reports_failed_and_skipped_playbooks_as_notifications():
    run = make_run(
        findings=(),
        playbooks=statuses(
            **{
                "image-pull": PlaybookStatus(
                    "image-pull", "error", 5000, "registry gcr.io could not be reached: timed out", unreachable=True
                ),
                "secret-missing": PlaybookStatus("secret-missing", "skipped", 0, "could not check: forbidden"),
            }
        ),
    )
    invocation = sarif(run)["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert invocation["endTimeUtc"] == "2025-06-03T09:14:08.484Z"
    notes = invocation["toolExecutionNotifications"]
    assert [(n["level"], n["associatedRule"]["id"]) for n in notes] == [
        ("error", "image-pull"),
        ("note", "secret-missing"),
    ]
    assert "timed out" in notes[0]["message"]["text"]


def test_sarif_subset_schema_catches_misspelt_names():
    doc = orjson.loads(report.to_sarif(make_run()))
    doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["url"] = "x"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SARIF_SUBSET).validate(doc)


# --------------------------------------------------------------------------------------------- JUnit

_CASE_CHILDREN = {"failure", "error", "skipped", "system-out", "system-err"}


def junit(run: RunResult) -> ET.Element:
    """Parse the report and check the structure GitLab, Jenkins and pytest's junitxml agree on."""
    raw = report.to_junit(run)
    assert raw.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ET.fromstring(raw)
    assert root.tag == "testsuites"
    sums = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in root:
        assert suite.tag == "testsuite"
        assert suite.get("name")
        float(suite.get("time", "x"))
        datetime.fromisoformat(suite.get("timestamp", "x"))
        cases = suite.findall("testcase")
        assert {child.tag for child in suite} <= {"properties", "testcase", "system-out", "system-err"}
        for case in cases:
            assert case.get("classname") == suite.get("name") and case.get("name")
            float(case.get("time", "x"))
            assert {c.tag for c in case} <= _CASE_CHILDREN
            outcome = [c for c in case if c.tag in ("failure", "error", "skipped")]
            assert len(outcome) <= 1
            for c in outcome:
                assert c.get("message"), f"<{c.tag}> without message in {case.get('name')}"
                if c.tag != "skipped":
                    assert c.get("type")
        counted = {
            "tests": len(cases),
            "failures": sum(1 for c in cases if c.find("failure") is not None),
            "errors": sum(1 for c in cases if c.find("error") is not None),
            "skipped": sum(1 for c in cases if c.find("skipped") is not None),
        }
        for key, value in counted.items():
            assert int(suite.get(key, "-1")) == value, f"{suite.get('name')} {key}"
            sums[key] += value
    for key, value in sums.items():
        assert int(root.get(key, "-1")) == value
    assert float(root.get("time", "x")) == pytest.approx(1.234)
    return root


def _suite(root: ET.Element, name: str) -> ET.Element:
    [suite] = [s for s in root if s.get("name") == name]
    return suite


def test_junit_has_a_suite_per_playbook_and_a_failing_case_per_broken_object():
    root = junit(make_run(findings=(i7_migration_conflict(), warning_finding(), i4_wrong_node_pool(), info_finding())))
    assert [s.get("name") for s in root] == ["pod-pending", "image-pull", "secret-missing", "migration-conflict"]
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "3", "0")

    pending = _suite(root, "pod-pending")
    assert (pending.get("tests"), pending.get("failures"), pending.get("time")) == ("2", "2", "0.041")
    worker = pending.find("testcase[@name='Deployment coditect-staging/coditect-worker']")
    assert worker is not None
    failure = worker.find("failure")
    assert failure is not None
    assert failure.get("type") == "error"
    assert failure.get("message") == "Pods ask for node pool default-pool, which no node is in"
    assert SELECTOR_MISMATCH in (failure.text or "")
    assert "The pod template's nodeSelector" in (failure.text or "")
    assert "+        cloud.google.com/gke-nodepool: primary-node-pool" in (failure.text or "")
    docs = pending.find("testcase[@name='Deployment coditect-staging/coditect-docs']/failure")
    assert docs is not None and docs.get("type") == "warning"

    migration = _suite(root, "migration-conflict").find("testcase[@name='DjangoApp licenses']")
    assert migration is not None
    assert (migration.get("file"), migration.get("line")) == (MIGRATION_0006, "9")

    # an info finding is reported but does not fail its object
    image = _suite(root, "image-pull")
    [cron] = image.findall("testcase")
    assert cron.find("failure") is None and "referenced by tag" in (cron.findtext("system-out") or "")

    [clean] = _suite(root, "secret-missing").findall("testcase")
    assert clean.get("name") == "no findings" and len(clean) == 0


def test_junit_reports_an_unreachable_registry_as_an_error_and_survives_terminal_escapes():
    run = make_run(
        findings=(i7_migration_conflict(),),
        playbooks=statuses(
            **{
                "image-pull": PlaybookStatus(
                    "image-pull", "error", 5000, "registry gcr.io could not be reached: timed out", unreachable=True
                ),
                "secret-missing": PlaybookStatus("secret-missing", "skipped", 0, "could not check: forbidden"),
            }
        ),
    )
    root = junit(run)
    error = _suite(root, "image-pull").find("testcase/error")
    assert error is not None
    assert error.get("type") == "unreachable" and "timed out" in (error.get("message") or "")
    skipped = _suite(root, "secret-missing").find("testcase/skipped")
    assert skipped is not None and skipped.get("message") == "could not check: forbidden"
    assert (root.get("errors"), root.get("skipped")) == ("1", "1")
    # the log evidence carried ESC and BEL, which XML 1.0 cannot hold
    body = _suite(root, "migration-conflict").findtext("testcase/failure") or ""
    assert "To fix them run 'python manage.py makemigrations --merge'" in body
    assert "\x1b" not in body and "[31m" not in body


# --------------------------------------------------------------------------------------------- text


def render(run: RunResult, **console_args: Any) -> str:
    out = io.StringIO()
    console = Console(file=out, width=100, **console_args)
    report.render_text(run, console)
    return out.getvalue()


def test_text_report_is_plain_ascii_when_not_a_terminal():
    text = render(make_run(applied=applied_outcomes()), force_terminal=False)
    assert "\x1b" not in text
    own = text.replace(SELECTOR_MISMATCH, "")
    assert own.isascii(), "decoration must be ASCII when piped"
    lines = text.splitlines()
    assert lines[0].startswith("pitstop  context gke_coditect-cloud-infra_us-central1_coditect-staging  1.2 s")
    assert "2 errors, 1 warning, 0 info" in lines[0]
    assert "[ERROR] Deployment coditect-staging/coditect-worker  pod-pending" in lines
    assert "[WARNING] Deployment coditect-staging/coditect-docs  pod-pending" in lines
    assert (
        f"    - Warning FailedScheduling: {SELECTOR_MISMATCH}  (event Pod coditect-staging/coditect-worker-6c9d7f8b5-h2k4p)"
        in lines
    )
    assert f"  at {MIGRATION_0006}:9" in lines
    assert "  Fix 2: Select node pool primary-node-pool  [file k8s/staging/worker-deployment.yaml, risk low]" in lines
    # every line of every diff, uncut
    for f in (i4_wrong_node_pool(), i7_migration_conflict()):
        for fix in f.fixes:
            for diff_line in fix.diff.splitlines():
                assert f"    {diff_line}".rstrip() in [line.rstrip() for line in lines]
    # plans never
    assert PLAN_ONLY not in text and "Licence maintenance worker" not in text
    # the log line's escape sequences are gone, its words kept
    assert "To fix them run 'python manage.py makemigrations --merge'" in text


def test_text_report_ends_with_what_was_applied_and_verified():
    lines = render(make_run(applied=applied_outcomes()), force_terminal=False).splitlines()
    at = lines.index("Applied fixes")
    tail = lines[at + 1 :]
    assert tail[0].startswith(
        "  applied   Select node pool primary-node-pool on Deployment "
        "coditect-staging/coditect-worker - verified - 2/2 pods ready"
    )
    assert "(journal 20250603T091409-0001)" in tail[0]
    assert " - not yet resolved - the migration Job still fails" in tail[1]
    assert tail[2].startswith("  refused   Select node pool primary-node-pool on Deployment")


def test_text_report_in_a_terminal_colours_badges_and_diff_lines():
    text = render(
        make_run(findings=(i4_wrong_node_pool(), warning_finding(), info_finding())),
        force_terminal=True,
        color_system="standard",
    )
    assert "\x1b[1;37;41m ERROR \x1b[0m" in text  # badges: white on red, black on yellow, white on blue
    assert "\x1b[1;30;43m WARNING \x1b[0m" in text
    assert "\x1b[1;37;44m INFO \x1b[0m" in text
    lines = text.splitlines()
    assert "    \x1b[31m-        cloud.google.com/gke-nodepool: default-pool\x1b[0m" in lines
    assert "    \x1b[32m+        cloud.google.com/gke-nodepool: primary-node-pool\x1b[0m" in lines
    assert "    \x1b[36m@@ -26,7 +26,7 @@\x1b[0m" in lines
    assert "           nodeSelector:" in lines  # context lines uncoloured
    assert all(line == line.rstrip() for line in lines), "no trailing padding"


def test_text_report_no_color_console_is_plain():
    text = render(make_run(), force_terminal=True, no_color=True)
    assert "\x1b[3" not in text and "\x1b[4" not in text
    assert "[ERROR]" in text


def test_text_report_never_claims_an_all_clear_when_a_check_did_not_run():
    run = make_run(
        findings=(),
        playbooks=statuses(
            **{
                "image-pull": PlaybookStatus(
                    "image-pull", "error", 5000, "registry gcr.io could not be reached: timed out", unreachable=True
                )
            }
        ),
    )
    text = render(run, force_terminal=False)
    assert "! playbook image-pull could not reach a data source: registry gcr.io could not be reached" in text
    assert "not an all clear" in text
    assert "No findings." in render(make_run(findings=()), force_terminal=False)


def test_diff_lines_starting_with_dashes_inside_a_hunk_are_removals():
    diff = "--- a/x.sql\n+++ b/x.sql\n@@ -1,2 +1,2 @@\n--- old comment\n+-- new comment\n keep\n"
    kinds = [k for k, _ in report._diff_lines(diff)]
    assert kinds == ["header", "header", "hunk", "del", "add", "context"]


# --------------------------------------------------------------------------------------------- exit codes


@pytest.mark.parametrize(
    ("findings", "fail_on", "code"),
    [
        ((), "error", 0),
        ((), "warning", 0),
        (("info",), "warning", 0),
        (("warning",), "error", 0),
        (("warning",), "warning", 1),
        (("error",), "error", 1),
        (("error",), "warning", 1),
        (("info", "warning", "error"), "error", 1),
    ],
)
def test_exit_code_follows_the_fail_on_threshold(findings, fail_on, code):
    made = {"error": i4_wrong_node_pool(), "warning": warning_finding(), "info": info_finding()}
    run = make_run(findings=tuple(made[s] for s in findings))
    assert report.exit_code(run, fail_on) == code


def test_exit_code_is_3_when_a_data_source_was_unreachable_even_with_findings():
    run = make_run(
        playbooks=statuses(
            **{
                "image-pull": PlaybookStatus(
                    "image-pull", "error", 5000, "registry gcr.io could not be reached: timed out", unreachable=True
                )
            }
        )
    )
    assert report.exit_code(run, "error") == report.EXIT_UNREACHABLE == 3
    assert report.unreachable_cause(run) == "playbook image-pull: registry gcr.io could not be reached: timed out"
    assert report.unreachable_cause(make_run()) is None


def test_exit_code_treats_a_failed_check_as_not_clear_and_a_skipped_one_as_neutral():
    crashed = statuses(**{"image-pull": PlaybookStatus("image-pull", "error", 3, "KeyError: 'spec'")})
    assert report.exit_code(make_run(findings=(), playbooks=crashed), "error") == 1
    skipped = statuses(**{"image-pull": PlaybookStatus("image-pull", "skipped", 0, "could not check: forbidden")})
    assert report.exit_code(make_run(findings=(), playbooks=skipped), "error") == 0


def test_exit_code_rejects_an_unknown_threshold():
    with pytest.raises(ValueError, match="warning, error"):
        report.exit_code(make_run(), "info")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------- write


@pytest.mark.parametrize("fmt", report.OUTPUT_FORMATS)
def test_write_puts_every_format_on_the_stream(fmt):
    run = make_run(applied=applied_outcomes())
    text_stream = io.StringIO()
    report.write(run, fmt, text_stream)
    raw = io.BytesIO()
    wrapper = io.TextIOWrapper(raw, encoding="utf-8")
    report.write(run, fmt, wrapper)
    wrapper.flush()
    assert raw.getvalue().decode() == text_stream.getvalue()
    expected = {"json": report.to_json, "sarif": report.to_sarif, "junit": report.to_junit}
    if fmt in expected:
        assert raw.getvalue() == expected[fmt](run)
    else:
        assert "\x1b" not in text_stream.getvalue() and "[ERROR]" in text_stream.getvalue()


def test_write_rejects_an_unknown_format():
    with pytest.raises(ValueError, match="text, json, junit, sarif"):
        report.write(make_run(), "yaml", io.StringIO())  # type: ignore[arg-type]


def test_run_times_must_be_timezone_aware_and_only_errors_unreachable():
    with pytest.raises(ValueError, match="timezone-aware"):
        RunResult("ctx", datetime(2025, 6, 3, 9, 14), 0, (), ())
    with pytest.raises(ValueError, match="only an 'error' status"):
        PlaybookStatus("image-pull", "ok", 1, unreachable=True)
    local = RunResult("ctx", STARTED.astimezone(timezone(timedelta(hours=2))), 0, (), ())
    assert orjson.loads(report.to_json(local))["started_at"] == "2025-06-03T09:14:07.250Z"
