"""Linking one run's findings: a crash or a failed Job names the finding that explains it (playbooks.links)."""

from __future__ import annotations

from diagnostics.findings import Evidence, Finding, ObjectRef, finding_id
from playbooks.links import link
from playbooks.runner import Outcome, all_findings

NS = "shop"
API = ObjectRef("Deployment", "api", NS)
MIGRATE = ObjectRef("Job", "migrate", NS)
REPORT = ObjectRef("CronJob", "report", NS)


def finding(playbook: str, obj: ObjectRef, cause: str, *, explanation: str = "why", evidence=()) -> Finding:  # type: ignore[no-untyped-def]
    return Finding(
        id=finding_id(playbook, obj, cause),
        playbook=playbook,
        severity="error",
        object=obj,
        title=f"{playbook} on {obj.name}",
        explanation=explanation,
        evidence=tuple(evidence),
        cause=cause,
    )


def by_id(findings: list[Finding], f: Finding) -> Finding:
    return next(x for x in findings if x.id == f.id)


def test_a_crash_on_an_unreachable_host_links_to_the_missing_dependency_by_host():
    crash = finding("crash-loop", API, "dependency:redis:6379")
    missing = finding("dependency-missing", ObjectRef("Service", "redis", NS), "dependency-missing:redis")
    linked = by_id(link([crash, missing]), crash)
    assert linked.related == (missing.id,)
    assert f"Explained by: dependency-missing finding {missing.id}" in linked.explanation
    assert linked.explanation.startswith(crash.explanation)


def test_a_crash_links_to_the_dependency_finding_that_lists_it_among_the_workloads_it_blocks():
    crash = finding("crash-loop", API, "dependency:cache.internal:11211")
    missing = finding(
        "dependency-missing",
        ObjectRef("ConfigMap", "settings", NS),
        "dependency-missing:memcached",
        evidence=[Evidence("object", "blocks Deployment shop/api, Deployment shop/worker", "namespace shop")],
    )
    assert by_id(link([crash, missing]), crash).related == (missing.id,)


def test_a_missing_dependency_elsewhere_or_a_crash_of_another_kind_is_not_linked():
    other_ns = finding("dependency-missing", ObjectRef("Service", "redis", "other"), "dependency-missing:redis")
    crash = finding("crash-loop", API, "dependency:redis:6379")
    assert by_id(link([crash, other_ns]), crash).related == ()
    # the workload's own dependency finding does not explain a crash on a missing setting
    here = finding("dependency-missing", API, "dependency-missing:redis")
    setting = finding("crash-loop", API, "missing-setting:SECRET_KEY")
    assert by_id(link([setting, here]), setting).related == ()


def test_a_crash_links_to_findings_on_the_same_workload_but_not_to_pods_that_never_started():
    crash = finding("crash-loop", API, "module-not-found:shop_settings")
    drift = finding("env-drift", API, "env-value:DJANGO_SETTINGS_MODULE")
    pending = finding("pod-pending", API, "nodeSelector:pool")
    elsewhere = finding("env-drift", ObjectRef("Deployment", "web", NS), "env-missing:X")
    linked = by_id(link([crash, drift, pending, elsewhere]), crash)
    assert linked.related == (drift.id,)


def test_a_failed_migration_job_links_to_its_own_findings_first_and_the_migration_conflict_next():
    failed = finding("job-failed", MIGRATE, "BackoffLimitExceeded;missing-setting:SECRET_KEY;migrate")
    secret = finding("secret-missing", MIGRATE, "missing-key:Secret/s/db-password")
    conflict = finding("migration-conflict", ObjectRef("DjangoApp", "licenses"), "conflict")
    linked = by_id(link([conflict, failed, secret]), failed)
    assert linked.related == (secret.id, conflict.id)
    assert f"Explained by: secret-missing finding {secret.id}" in linked.explanation
    assert f"Also in the way: migration-conflict finding {conflict.id}" in linked.explanation


def test_the_finding_about_what_the_log_names_comes_first():
    failed = finding("job-failed", MIGRATE, "BackoffLimitExceeded;module-not-found:coditect_license;migrate")
    key = finding("env-drift", MIGRATE, "env-missing:DJANGO_SECRET_KEY", explanation="DJANGO_SECRET_KEY is missing")
    module = finding(
        "env-drift",
        MIGRATE,
        "env-value:DJANGO_SETTINGS_MODULE",
        explanation="DJANGO_SETTINGS_MODULE names coditect_license.settings.production, which does not exist",
    )
    assert by_id(link([failed, key, module]), failed).related == (module.id, key.id)


def test_a_migration_job_that_printed_the_conflict_is_explained_by_it():
    failed = finding(
        "job-failed",
        MIGRATE,
        "BackoffLimitExceeded;exit:1;migrate",
        evidence=[Evidence("log", "CommandError: Conflicting migrations detected; multiple leaf nodes", "logs")],
    )
    conflict = finding("migration-conflict", ObjectRef("DjangoApp", "licenses"), "conflict")
    linked = by_id(link([failed, conflict]), failed)
    assert linked.related == (conflict.id,)
    assert "Explained by: migration-conflict" in linked.explanation


def test_a_job_that_does_not_migrate_is_not_linked_to_migration_conflicts():
    failed = finding("job-failed", ObjectRef("Job", "backup", NS), "BackoffLimitExceeded;exit:1")
    conflict = finding("migration-conflict", ObjectRef("DjangoApp", "licenses"), "conflict")
    assert by_id(link([failed, conflict]), failed).related == ()


def test_a_cronjobs_failed_run_links_to_findings_on_the_cronjob_and_on_the_jobs_it_started():
    failed = finding("job-failed", REPORT, "BackoffLimitExceeded;missing-setting:API_TOKEN")
    on_cronjob = finding("secret-missing", REPORT, "missing-key:Secret/s/token")
    on_run = finding("env-drift", ObjectRef("Job", "report-29120040", NS), "env-missing:API_TOKEN")
    not_a_run = finding("env-drift", ObjectRef("Job", "report-manual", NS), "env-missing:API_TOKEN")
    linked = by_id(link([failed, on_cronjob, on_run, not_a_run]), failed)
    assert linked.related == (on_run.id, on_cronjob.id)  # the one about API_TOKEN, the setting the log names, first


def test_linking_twice_changes_nothing_and_other_findings_pass_through_unchanged():
    crash = finding("crash-loop", API, "dependency:redis:6379")
    missing = finding("dependency-missing", ObjectRef("Service", "redis", NS), "dependency-missing:redis")
    verdict = finding("readiness", ObjectRef("Namespace", NS), "verdict")
    once = link([crash, missing, verdict])
    assert link(once) == once
    assert once[1] is missing and once[2] is verdict
    # a readiness verdict repeats every finding: it explains nothing
    assert by_id(link([crash, verdict]), crash).related == ()


def test_all_findings_of_a_run_come_back_linked():
    crash = finding("crash-loop", API, "dependency:redis:6379")
    missing = finding("dependency-missing", ObjectRef("Service", "redis", NS), "dependency-missing:redis")
    outcomes = [
        Outcome("crash-loop", "findings", 1, None, (crash,)),
        Outcome("dependency-missing", "findings", 1, None, (missing,)),
    ]
    assert by_id(all_findings(outcomes), crash).related == (missing.id,)
