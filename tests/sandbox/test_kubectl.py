"""The real kubectl binary, unmodified, drives the sandbox as it would a real cluster."""

from __future__ import annotations

import json
import re
import select
import time
from pathlib import Path

import pytest

from tests.conftest import RunningSandbox, wait_for
from tests.sandbox.kube import Kubectl

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:{tag}
          ports: [{containerPort: 80}]
          env:
            - {name: MODE, value: "{mode}"}
          resources:
            requests: {cpu: 100m, memory: 64Mi}
        - name: sidecar
          image: busybox:1.36
          resources:
            requests: {cpu: 10m, memory: 16Mi}
"""


JOB = """\
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: once, image: "busybox:1.36", command: [sh, -c, "echo done"]}]
"""


def manifest(tag: str = "1.27", mode: str = "blue") -> str:
    return DEPLOYMENT.replace("{tag}", tag).replace("{mode}", mode)


@pytest.fixture
def cluster(empty_sandbox: RunningSandbox, tmp_path: Path) -> tuple[RunningSandbox, Kubectl]:
    k = Kubectl(empty_sandbox, tmp_path / "kube-cache")
    k("apply", "-f", "-", input="apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")
    return empty_sandbox, k


def ready_pods(k: Kubectl, ns: str = "shop", selector: str = "app=web") -> list[dict]:
    pods = json.loads(k("get", "pods", "-n", ns, "-l", selector, "-o", "json").stdout)["items"]
    return [
        p
        for p in pods
        if any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))
    ]


def test_apply_creates_then_configures_then_leaves_unchanged(cluster):
    rs, k = cluster
    assert k("apply", "-f", "-", input=manifest()).stdout.strip() == "deployment.apps/web created"
    wait_for(lambda: len(ready_pods(k)) == 2, what="2 ready web pods")
    assert k("apply", "-f", "-", input=manifest(mode="green")).stdout.strip() == "deployment.apps/web configured"
    dep = rs.get("apps/v1", "Deployment", "shop", "web")
    env = dep["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "MODE", "value": "green"}]
    assert [c["name"] for c in dep["spec"]["template"]["spec"]["containers"]] == ["web", "sidecar"]
    assert k("apply", "-f", "-", input=manifest(mode="green")).stdout.strip() == "deployment.apps/web unchanged"


def test_get_prints_the_server_table_columns(cluster):
    _rs, k = cluster
    k("apply", "-f", "-", input=manifest())
    wait_for(lambda: len(ready_pods(k)) == 2, what="2 ready web pods")
    pods = k("get", "pods", "-n", "shop").stdout.splitlines()
    assert pods[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert all(re.match(r"web-[a-z0-9]+-[a-z0-9]{5}\s+2/2\s+Running\s+0\s+\d+s", line) for line in pods[1:]), pods
    wide = k("get", "pods", "-n", "shop", "-o", "wide").stdout.splitlines()[0].split()
    assert wide[:9] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE"]
    deploy = k("get", "deployments", "-n", "shop").stdout.splitlines()
    assert deploy[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert deploy[1].split()[:4] == ["web", "2/2", "2", "2"]
    nodes = k("get", "nodes").stdout.splitlines()
    assert nodes[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert len(nodes) == 4 and all(" Ready " in line for line in nodes[1:])
    events = k("get", "events", "-n", "shop").stdout.splitlines()
    assert events[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert any("Scheduled" in line and "Successfully assigned shop/web-" in line for line in events)
    k("apply", "-n", "shop", "-f", "-", input=JOB)
    wait_for(lambda: "Complete" in k("get", "jobs", "-n", "shop").stdout, what="job complete")
    jobs = k("get", "jobs", "-n", "shop").stdout.splitlines()
    assert jobs[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert jobs[1].split()[:3] == ["once", "Complete", "1/1"]


def test_get_all_namespaces_pages_through_chunks(cluster):
    _rs, k = cluster
    k("apply", "-f", "-", input=manifest())
    wait_for(lambda: len(ready_pods(k)) == 2, what="2 ready web pods")
    out = k("get", "pods", "-A", "--chunk-size=1").stdout.splitlines()
    assert out[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert len([line for line in out if line.startswith("shop ")]) == 2


def test_get_watch_streams_new_rows(cluster):
    _rs, k = cluster
    proc = k.popen("get", "pods", "-n", "shop", "-w")
    try:
        k("apply", "-f", "-", input=manifest())
        seen: list[str] = []
        deadline = time.monotonic() + 30
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                line = proc.stdout.readline()
                seen.append(line)
                if re.match(r"web-\S+\s+2/2\s+Running", line):
                    break
        else:
            raise AssertionError(f"no Running row streamed; saw {seen}")
        assert not any(line.startswith("NAME ") for line in seen[1:]), "headers must be printed once"
    finally:
        proc.kill()
        proc.wait()


def test_describe_lists_the_pod_events(cluster):
    _rs, k = cluster
    k("apply", "-f", "-", input=manifest())
    pod = wait_for(lambda: ready_pods(k), what="a ready pod")[0]["metadata"]["name"]
    out = k("describe", "pod", pod, "-n", "shop").stdout
    assert re.search(r"^Status:\s+Running$", out, re.M)
    assert "Events:" in out
    assert re.search(r"Type\s+Reason\s+Age\s+From\s+Message", out)
    assert re.search(
        rf"Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned shop/{pod} to sandbox-node-\d", out
    )
    assert re.search(r"Normal\s+Started\s+\S+\s+kubelet\s+Started container", out)


def test_patch_with_strategic_merge_and_json_patch(cluster):
    rs, k = cluster
    k("apply", "-f", "-", input=manifest())
    strategic = '{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"DEBUG","value":"1"}]}]}}}}'
    assert (
        k("patch", "deployment", "web", "-n", "shop", "-p", strategic).stdout.strip() == "deployment.apps/web patched"
    )
    c = rs.get("apps/v1", "Deployment", "shop", "web")["spec"]["template"]["spec"]["containers"]
    assert [e["name"] for e in c[0]["env"]] == ["DEBUG", "MODE"] or [e["name"] for e in c[0]["env"]] == [
        "MODE",
        "DEBUG",
    ]
    assert [x["name"] for x in c] == ["web", "sidecar"], "strategic merge keeps the other container"
    k(
        "patch",
        "deployment",
        "web",
        "-n",
        "shop",
        "--type",
        "merge",
        "-p",
        '{"metadata":{"labels":{"team":"checkout"}}}',
    )
    assert rs.get("apps/v1", "Deployment", "shop", "web")["metadata"]["labels"] == {"app": "web", "team": "checkout"}
    k(
        "patch",
        "deployment",
        "web",
        "-n",
        "shop",
        "--type",
        "json",
        "-p",
        '[{"op":"replace","path":"/spec/template/spec/containers/1/image","value":"busybox:1.37"}]',
    )
    c = rs.get("apps/v1", "Deployment", "shop", "web")["spec"]["template"]["spec"]["containers"]
    assert c[1]["image"] == "busybox:1.37"
    bad = k(
        "patch",
        "deployment",
        "web",
        "-n",
        "shop",
        "--type",
        "json",
        "-p",
        '[{"op":"test","path":"/spec/replicas","value":7}]',
        check=False,
    )
    assert bad.returncode == 1
    assert (
        bad.stderr.strip() == "The request is invalid: the server rejected our request due to an error in our request"
    )
    assert rs.get("apps/v1", "Deployment", "shop", "web")["spec"]["replicas"] == 2, "a failed patch changes nothing"


def test_scale_and_delete_cascade(cluster):
    rs, k = cluster
    k("apply", "-f", "-", input=manifest())
    assert k("scale", "deployment", "web", "-n", "shop", "--replicas=3").stdout.strip() == "deployment.apps/web scaled"
    wait_for(lambda: len(ready_pods(k)) == 3, what="3 ready pods")
    assert k("delete", "deployment", "web", "-n", "shop").stdout.strip() == 'deployment.apps "web" deleted'
    wait_for(
        lambda: not rs.list("v1", "Pod", "shop") and not rs.list("apps/v1", "ReplicaSet", "shop"),
        what="pods and replica sets deleted with their deployment",
    )
    missing = k("get", "deployment", "web", "-n", "shop", check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip() == 'Error from server (NotFound): deployments.apps "web" not found'


def test_logs_tail_and_previous(cluster):
    _rs, k = cluster
    k("apply", "-f", "-", input=manifest())
    pod = wait_for(lambda: ready_pods(k), what="a ready pod")[0]["metadata"]["name"]
    out = wait_for(lambda: k("logs", pod, "-n", "shop", "-c", "web").stdout, what="log lines")
    assert out.endswith("\n")
    one = k("logs", pod, "-n", "shop", "-c", "web", "--tail=1").stdout
    assert one.count("\n") == 1 and out.endswith(one)
    prev = k("logs", pod, "-n", "shop", "-c", "web", "--previous", check=False)
    assert prev.returncode == 1
    assert f'previous terminated container "web" in pod "{pod}" not found' in prev.stderr
    nocontainer = k("logs", pod, "-n", "shop", check=False)
    # kubectl picks the default container itself when there are several; the server never sees the ambiguity
    assert nocontainer.returncode == 0


def test_rollout_status_and_undo(cluster):
    rs, k = cluster
    k("apply", "-f", "-", input=manifest())
    assert "successfully rolled out" in k("rollout", "status", "deployment/web", "-n", "shop", "--timeout=60s").stdout
    k("set", "image", "deployment/web", "-n", "shop", "web=nginx:1.28")
    assert "successfully rolled out" in k("rollout", "status", "deployment/web", "-n", "shop", "--timeout=60s").stdout
    assert k("rollout", "undo", "deployment/web", "-n", "shop").stdout.strip() == "deployment.apps/web rolled back"
    k("rollout", "status", "deployment/web", "-n", "shop", "--timeout=60s")
    dep = rs.get("apps/v1", "Deployment", "shop", "web")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
