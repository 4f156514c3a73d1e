"""The repository: manifests found by kind/namespace/name, round-trip edits that touch only what changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ruamel.yaml.comments import CommentedMap

from diagnostics.diffs import unified
from diagnostics.findings import FilePlan, Location
from diagnostics.repo import ManifestRef, Problem, Repository, RepositoryError

DEMO = Path(__file__).resolve().parents[2] / "sandbox" / "scenarios" / "demo-repo"
NS = "coditect-staging"


@pytest.fixture(scope="module")
def demo() -> Repository:
    return Repository(DEMO)


def _changed_lines(diff: str) -> list[str]:
    return [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("---", "+++"))]


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_the_demo_manifests_are_found_by_kind_namespace_and_name(demo: Repository) -> None:
    worker = demo.find("Deployment", NS, "coditect-worker")
    assert worker == ManifestRef(
        "k8s/staging/worker-deployment.yaml", 0, 3, "Deployment", "coditect-worker", NS, "apps/v1"
    )
    assert worker.location == Location("k8s/staging/worker-deployment.yaml", 3)

    backend = demo.find("Deployment", NS, "coditect-backend")
    assert backend is not None and (backend.path, backend.document, backend.line) == (
        "k8s/staging/backend-deployment.yaml",
        1,
        16,
    )

    services = [demo.find("Service", NS, n) for n in ("coditect-backend", "coditect-frontend", "coditect-docs")]
    assert [(s.path, s.document, s.line) for s in services if s] == [
        ("k8s/staging/services.yaml", 0, 4),
        ("k8s/staging/services.yaml", 1, 22),
        ("k8s/staging/services.yaml", 2, 40),
    ]

    job = demo.find("Job", NS, "coditect-backend-migration")
    assert job is not None and job.path == "k8s/staging/migration-job.yaml"
    assert demo.find("Namespace", "", "coditect-staging") is not None  # cluster-scoped: any namespace
    assert demo.find("Deployment", "kube-system", "coditect-worker") is None
    assert demo.find("Deployment", NS, "redis") is None
    assert demo.problems == []


def test_the_wrong_nodepool_is_fixed_in_the_file_by_exactly_one_line(demo: Repository) -> None:
    ref = demo.find("Deployment", NS, "coditect-worker")
    assert ref is not None
    assert demo.line_of(ref, ("spec", "template", "spec", "nodeSelector", "cloud.google.com/gke-nodepool")) == 29

    def use_primary_pool(doc: CommentedMap) -> None:
        doc["spec"]["template"]["spec"]["nodeSelector"]["cloud.google.com/gke-nodepool"] = "primary-node-pool"

    plan = demo.edit(ref, use_primary_pool)
    assert plan.before == (DEMO / ref.path).read_text()
    diff = unified(plan.before, plan.after, ref.path)
    assert _changed_lines(diff) == [
        "-        cloud.google.com/gke-nodepool: default-pool",
        "+        cloud.google.com/gke-nodepool: primary-node-pool",
    ]
    assert "      # Batch work stays on the general-purpose node pool.\n" in plan.after
    assert "terminationGracePeriodSeconds: 70  # lets a pass (every 60s) finish\n" in plan.after
    assert '          command: ["python", "manage.py", "license_worker"]\n' in plan.after
    assert (DEMO / ref.path).read_text() == plan.before  # a plan, nothing written


def test_editing_one_service_leaves_the_other_documents_byte_for_byte(demo: Repository) -> None:
    ref = demo.find("Service", NS, "coditect-frontend")
    assert ref is not None

    def new_port(doc: CommentedMap) -> None:
        doc["spec"]["ports"][0]["targetPort"] = 8081

    plan = demo.edit(ref, new_port)
    before_docs, after_docs = plan.before.split("\n---\n"), plan.after.split("\n---\n")
    assert after_docs[0] == before_docs[0] and after_docs[2] == before_docs[2]
    assert _changed_lines(unified(plan.before, plan.after, ref.path)) == [
        "-      targetPort: 8080",
        "+      targetPort: 8081",
    ]


def test_added_fields_follow_the_file_indentation(demo: Repository) -> None:
    ref = demo.find("Deployment", NS, "coditect-docs")
    assert ref is not None

    def pull_secret(doc: CommentedMap) -> None:
        doc["spec"]["template"]["spec"]["imagePullSecrets"] = [{"name": "ar-pull"}]

    plan = demo.edit(ref, pull_secret)
    assert _changed_lines(unified(plan.before, plan.after, ref.path)) == [
        "+      imagePullSecrets:",
        "+        - name: ar-pull",
    ]


def test_only_changed_lines_differ_even_where_ruamel_would_reformat(tmp_path: Path) -> None:
    original = (
        "# hand-written, odd spacing on purpose\n"
        "apiVersion: apps/v1\n"
        "kind:   Deployment\n"
        "metadata: {name: web,   namespace: shop}\n"
        "spec:\n"
        "    replicas: 1   # one is enough\n"
        "    template:\n"
        "      spec:\n"
        "        containers:\n"
        "        - name: web\n"
        "          image: 'nginx:1.25'\n"
        "          args: [ --port,   '8080' ]\n"
    )
    _write(tmp_path, "web.yaml", original)
    repo = Repository(tmp_path)
    ref = repo.find("Deployment", "shop", "web")
    assert ref is not None

    def scale(doc: CommentedMap) -> None:
        doc["spec"]["replicas"] = 2

    plan = repo.edit(ref, scale)
    assert _changed_lines(unified(plan.before, plan.after, "web.yaml")) == [
        "-    replicas: 1   # one is enough",
        "+    replicas: 2   # one is enough",
    ]


def test_line_endings_and_a_missing_final_newline_survive(tmp_path: Path) -> None:
    text = "apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: cfg\r\n  namespace: a\r\ndata:\r\n  k: v"
    (tmp_path / "cfg.yaml").write_bytes(text.encode())
    repo = Repository(tmp_path)
    ref = repo.find("ConfigMap", "a", "cfg")
    assert ref is not None

    def set_k(doc: CommentedMap) -> None:
        doc["data"]["k"] = "w"

    plan = repo.edit(ref, set_k)
    assert plan.after == text.replace("k: v", "k: w")


def test_a_broken_yaml_file_is_reported_with_its_line_and_the_rest_still_indexed(tmp_path: Path) -> None:
    _write(tmp_path, "k8s/ok.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n  namespace: a\n")
    _write(
        tmp_path,
        "k8s/broken.yaml",
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: good\n---\n"
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\n   namespace: a\n"
        ),
    )
    _write(tmp_path, "k8s/latin1.yaml", "")
    (tmp_path / "k8s/latin1.yaml").write_bytes(b"name: caf\xe9\n")
    repo = Repository(tmp_path)
    problems = repo.problems
    assert [(p.path, p.line) for p in problems] == [("k8s/broken.yaml", 10), ("k8s/latin1.yaml", None)]
    assert isinstance(problems[0], Problem) and "mapping values are not allowed" in problems[0].message
    assert "\n" not in problems[0].message
    assert repo.find("ConfigMap", "a", "ok") is not None
    good = repo.find("ConfigMap", "a", "good")
    assert good is not None and good.document == 0
    assert repo.find("Service", "a", "bad") is None


def test_vendored_trees_and_helm_templates_are_not_manifests(tmp_path: Path) -> None:
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"
    _write(tmp_path, "node_modules/pkg/x.yaml", cm.format(name="vendored"))
    _write(tmp_path, ".git/x.yaml", cm.format(name="git"))
    _write(tmp_path, "chart/Chart.yaml", "apiVersion: v2\nname: chart\nversion: 1.0.0\n")
    _write(tmp_path, "chart/templates/cm.yaml", "metadata:\n  name: {{ .Release.Name }}\n")
    _write(tmp_path, "deploy/app.yml", cm.format(name="real"))
    repo = Repository(tmp_path)
    assert [m.name for m in repo.manifests()] == ["real"]
    assert repo.problems == []


def test_a_manifest_without_namespace_matches_where_it_lands_and_exact_matches_win(tmp_path: Path) -> None:
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n{ns}"
    _write(tmp_path, "overlays/prod/kustomization.yaml", "namespace: prod\nresources: [cfg.yaml]\n")
    _write(tmp_path, "overlays/prod/cfg.yaml", cm.format(name="cfg", ns=""))
    _write(tmp_path, "overlays/stage/cfg.yaml", cm.format(name="cfg", ns="  namespace: stage\n"))
    _write(
        tmp_path,
        "apps/bundle.yaml",
        cm.format(name="shared", ns="  namespace: tools\n") + "---\n" + cm.format(name="tool", ns=""),
    )
    _write(tmp_path, "loose/any.yaml", cm.format(name="anywhere", ns=""))
    repo = Repository(tmp_path)

    prod = repo.find("ConfigMap", "prod", "cfg")
    assert prod is not None and prod.path == "overlays/prod/cfg.yaml" and prod.implied_namespace == "prod"
    stage = repo.find("ConfigMap", "stage", "cfg")
    assert stage is not None and stage.path == "overlays/stage/cfg.yaml"
    assert repo.find("ConfigMap", "dev", "cfg") is None  # it lands in prod, not dev

    tool = repo.find("ConfigMap", "tools", "tool")
    assert tool is not None and tool.implied_namespace == "tools"
    assert repo.find("ConfigMap", "other", "tool") is None

    anywhere = repo.find("ConfigMap", "whatever", "anywhere")
    assert anywhere is not None and anywhere.namespace is None


def test_paths_outside_the_repository_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (tmp_path / "outside").mkdir()
    (root / "escape").symlink_to(tmp_path / "outside")
    repo = Repository(root)

    assert repo.resolve("k8s/new.yaml") == (root / "k8s/new.yaml").resolve()
    with pytest.raises(RepositoryError, match=r'refusing file path "\.\./outside/x\.yaml": it climbs out with \.\.'):
        repo.resolve("../outside/x.yaml")
    with pytest.raises(RepositoryError, match="it is absolute"):
        repo.resolve("/etc/passwd")
    with pytest.raises(RepositoryError, match="goes through a symlink"):
        repo.resolve("escape/x.yaml")
    with pytest.raises(RepositoryError):
        repo.new_file("escape/0007_merge.py", "x")


def test_a_new_file_is_planned_but_never_overwrites(tmp_path: Path) -> None:
    _write(tmp_path, "backend/licenses/migrations/0001_initial.py", "# initial\n")
    repo = Repository(tmp_path)
    plan = repo.new_file("backend/licenses/migrations/0007_merge.py", "# merge\n")
    assert plan == FilePlan(None, "# merge\n")
    with pytest.raises(RepositoryError, match=r"0001_initial\.py already exists; pitstop creates new files but never"):
        repo.new_file("backend/licenses/migrations/0001_initial.py", "# other\n")
    (tmp_path / "dangling.py").symlink_to(tmp_path / "nowhere.py")
    with pytest.raises(RepositoryError, match="already exists"):
        repo.new_file("dangling.py", "x")


def test_an_edit_of_a_file_that_moved_on_is_refused(tmp_path: Path) -> None:
    shutil.copytree(DEMO / "k8s", tmp_path / "k8s")
    repo = Repository(tmp_path)
    ref = repo.find("Service", NS, "coditect-docs")
    assert ref is not None
    path = tmp_path / ref.path
    path.write_text(path.read_text().split("\n---\n")[0] + "\n")
    with pytest.raises(RepositoryError, match=r"changed since it was read.*re-run the playbook"):
        repo.edit(ref, lambda doc: None)
    repo.refresh()
    assert repo.find("Service", NS, "coditect-docs") is None


def test_a_missing_root_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RepositoryError, match="is not a directory; pass --repo PATH"):
        Repository(tmp_path / "nope")
