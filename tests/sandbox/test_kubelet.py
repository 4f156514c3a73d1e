"""The simulated kubelet: pulls, configuration, mounts, restarts and logs as a 1.32 node reports them."""

from __future__ import annotations

import base64
import json
import select
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.registry import credentials
from tests.conftest import RunningSandbox, wait_for
from tests.sandbox.kube import Kubectl

SCENARIO = str(Path(__file__).parent / "scenarios" / "kubelet-drill.yaml")
PRIVATE = "registry.example.com/team/api:1.4.2"
DENIED = (
    f'rpc error: code = Unknown desc = failed to pull and unpack image "{PRIVATE}": failed to resolve reference '
    f'"{PRIVATE}": pull access denied, repository does not exist or may require authorization: '
    "authorization failed: no basic auth credentials"
)


@pytest.fixture
def drill(sandbox_factory: Callable[..., RunningSandbox]) -> RunningSandbox:
    return sandbox_factory(SCENARIO, clock_speed=100)


@pytest.fixture
def kubectl(drill: RunningSandbox, tmp_path: Path) -> Kubectl:
    return Kubectl(drill, tmp_path / "kube-cache")


def create(rs: RunningSandbox, kind: str, body: dict[str, Any]) -> None:
    store = rs.sb.store
    body.setdefault("metadata", {}).setdefault("namespace", "default")
    rs.read(lambda: store.create(store.rt("v1", kind), body))


def run_pod(rs: RunningSandbox, name: str, *containers: dict[str, Any], **spec: Any) -> None:
    create(rs, "Pod", {"metadata": {"name": name}, "spec": {"containers": list(containers), **spec}})


def pod(rs: RunningSandbox, name: str) -> dict[str, Any]:
    p = rs.get("v1", "Pod", "default", name)
    assert p is not None, name
    return p


def status_of(rs: RunningSandbox, name: str, container: str | None = None, init: bool = False) -> dict[str, Any]:
    key = "initContainerStatuses" if init else "containerStatuses"
    for s in pod(rs, name).get("status", {}).get(key) or ():
        if container is None or s["name"] == container:
            return dict(s)
    return {}


def waiting_reason(rs: RunningSandbox, name: str, container: str | None = None, init: bool = False) -> str | None:
    return ((status_of(rs, name, container, init).get("state") or {}).get("waiting") or {}).get("reason")


def wait_waiting(
    rs: RunningSandbox, name: str, reason: str, container: str | None = None, init: bool = False
) -> dict[str, Any]:
    """The waiting state once it has `reason`, from the same read (states move on quickly at speed 100)."""

    def seen() -> dict[str, Any] | None:
        w = (status_of(rs, name, container, init).get("state") or {}).get("waiting") or {}
        return dict(w) if w.get("reason") == reason else None

    return wait_for(seen, what=f"{name} waiting {reason}")


def ready(rs: RunningSandbox, name: str) -> bool:
    p = rs.get("v1", "Pod", "default", name) or {}
    conds = {c["type"]: c["status"] for c in p.get("status", {}).get("conditions") or ()}
    return p.get("status", {}).get("phase") == "Running" and conds.get("Ready") == "True"


def wait_ready(rs: RunningSandbox, name: str) -> None:
    wait_for(lambda: ready(rs, name), what=f"{name} Running and Ready")


def events(rs: RunningSandbox, name: str) -> list[tuple[str, str, str]]:
    evs = [e for e in rs.list("v1", "Event", "default") if e["involvedObject"]["name"] == name]
    evs.sort(key=lambda e: (e["firstTimestamp"], e["metadata"]["name"]))
    return [(e["type"], e["reason"], e["message"]) for e in evs]


def pull_secret(name: str, host: str, password: str) -> dict[str, Any]:
    auth = base64.b64encode(f"oauth:{password}".encode()).decode()
    config = json.dumps({"auths": {host: {"auth": auth}}}).encode()
    return {
        "metadata": {"name": name},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(config).decode()},
    }


# --- images --------------------------------------------------------------------------------------


def test_private_registry_refuses_a_pod_without_credentials(drill: RunningSandbox) -> None:
    run_pod(drill, "api", {"name": "api", "image": PRIVATE})
    state = wait_waiting(drill, "api", "ImagePullBackOff")
    assert state["message"] == f'Back-off pulling image "{PRIVATE}": ErrImagePull: {DENIED}'
    assert events(drill, "api")[1:6] == [
        ("Normal", "Pulling", f'Pulling image "{PRIVATE}"'),
        ("Warning", "Failed", f'Failed to pull image "{PRIVATE}": {DENIED}'),
        ("Warning", "Failed", "Error: ErrImagePull"),
        ("Normal", "BackOff", f'Back-off pulling image "{PRIVATE}"'),
        ("Warning", "Failed", "Error: ImagePullBackOff"),
    ]


def test_a_dockerconfigjson_secret_for_the_host_lets_the_pull_through(drill: RunningSandbox) -> None:
    password = credentials("registry.example.com")[1]
    create(drill, "Secret", pull_secret("regcred", "registry.example.com", password))
    create(drill, "Secret", pull_secret("stale", "registry.example.com", "sbx_wrong"))
    create(drill, "Secret", pull_secret("other-host", "ghcr.io", password))
    # pinned apart: like a 1.32 node, a node that has the image runs it for any pod (IfNotPresent)
    secrets = [{"name": "missing"}, {"name": "regcred"}]
    run_pod(drill, "api", {"name": "api", "image": PRIVATE}, imagePullSecrets=secrets, nodeName="node-1")
    run_pod(
        drill, "api-stale", {"name": "api", "image": PRIVATE}, imagePullSecrets=[{"name": "stale"}], nodeName="node-2"
    )
    run_pod(
        drill,
        "api-other",
        {"name": "api", "image": PRIVATE},
        imagePullSecrets=[{"name": "other-host"}],
        nodeName="node-2",
    )
    wait_ready(drill, "api")
    s = status_of(drill, "api")
    assert s["image"] == PRIVATE
    assert s["imageID"].startswith("registry.example.com/team/api@sha256:")
    pulled = [m for _, r, m in events(drill, "api") if r == "Pulled"]
    assert len(pulled) == 1 and pulled[0].startswith(f'Successfully pulled image "{PRIVATE}" in ')
    assert pulled[0].endswith(" bytes.") and " including waiting). Image size: " in pulled[0]
    for name in ("api-stale", "api-other"):
        assert wait_waiting(drill, name, "ImagePullBackOff")["message"].endswith(DENIED)
    for ev in drill.list("v1", "Event", "default"):
        assert password not in ev["message"]


def test_a_second_pod_on_the_node_finds_the_image_present(drill: RunningSandbox) -> None:
    run_pod(drill, "first", {"name": "web", "image": "nginx:1.27"}, nodeName="node-1")
    wait_ready(drill, "first")
    run_pod(drill, "second", {"name": "web", "image": "nginx:1.27"}, nodeName="node-1")
    wait_ready(drill, "second")
    assert events(drill, "second") == [
        ("Normal", "Pulled", 'Container image "nginx:1.27" already present on machine'),
        ("Normal", "Created", "Created container web"),
        ("Normal", "Started", "Started container web"),
    ]


def test_never_pull_policy_without_the_image(drill: RunningSandbox) -> None:
    run_pod(drill, "offline", {"name": "web", "image": "nginx:1.27", "imagePullPolicy": "Never"})
    msg = 'Container image "nginx:1.27" is not present with pull policy of Never'
    assert wait_waiting(drill, "offline", "ErrImageNeverPull")["message"] == msg
    assert ("Warning", "ErrImageNeverPull", msg) in events(drill, "offline")
    assert ("Warning", "Failed", "Error: ErrImageNeverPull") in events(drill, "offline")


def test_an_unparsable_image_is_invalid_image_name(drill: RunningSandbox) -> None:
    run_pod(drill, "typo", {"name": "web", "image": "nginx::1"})
    msg = (
        'Failed to apply default image tag "nginx::1": couldn\'t parse image name "nginx::1": invalid reference format'
    )
    assert wait_waiting(drill, "typo", "InvalidImageName")["message"] == msg
    assert events(drill, "typo")[1:3] == [
        ("Warning", "InspectFailed", msg),
        ("Warning", "Failed", "Error: InvalidImageName"),
    ]


# --- configuration ---------------------------------------------------------------------------------


def ref(kind: str, name: str, key: str, optional: bool = False) -> dict[str, Any]:
    return {"valueFrom": {kind: {"name": name, "key": key, **({"optional": True} if optional else {})}}}


@pytest.mark.parametrize(
    ("env", "env_from", "message"),
    [
        ([{"name": "MODE", **ref("configMapKeyRef", "absent", "mode")}], [], 'configmap "absent" not found'),
        (
            [{"name": "MODE", **ref("configMapKeyRef", "app-config", "mode")}],
            [],
            "couldn't find key mode in ConfigMap default/app-config",
        ),
        ([{"name": "PW", **ref("secretKeyRef", "absent", "pw")}], [], 'secret "absent" not found'),
        (
            [{"name": "PW", **ref("secretKeyRef", "app-secret", "pw")}],
            [],
            "couldn't find key pw in Secret default/app-secret",
        ),
        ([], [{"configMapRef": {"name": "absent"}}], 'configmap "absent" not found'),
        ([], [{"secretRef": {"name": "absent"}}], 'secret "absent" not found'),
    ],
)
def test_missing_config_is_create_container_config_error(
    drill: RunningSandbox, env: list[dict[str, Any]], env_from: list[dict[str, Any]], message: str
) -> None:
    create(drill, "ConfigMap", {"metadata": {"name": "app-config"}, "data": {"level": "info"}})
    create(drill, "Secret", {"metadata": {"name": "app-secret"}, "data": {"user": "YWRtaW4="}})
    run_pod(drill, "app", {"name": "app", "image": "busybox:1.36", "env": env, "envFrom": env_from})
    assert wait_waiting(drill, "app", "CreateContainerConfigError") == {
        "reason": "CreateContainerConfigError",
        "message": message,
    }
    assert pod(drill, "app")["status"]["phase"] == "Pending"
    wait_for(lambda: ("Warning", "Failed", f"Error: {message}") in events(drill, "app"), what="the Failed event")


def test_adding_the_missing_key_lets_the_container_start(drill: RunningSandbox) -> None:
    create(drill, "ConfigMap", {"metadata": {"name": "app-config"}, "data": {"level": "info"}})
    run_pod(
        drill,
        "app",
        {
            "name": "app",
            "image": "busybox:1.36",
            "env": [{"name": "MODE", **ref("configMapKeyRef", "app-config", "mode")}],
        },
    )
    wait_waiting(drill, "app", "CreateContainerConfigError")
    store = drill.sb.store
    drill.read(
        lambda: store.mutate(
            store.rt("v1", "ConfigMap"), "default", "app-config", lambda o: o["data"].update(mode="fast")
        )
    )
    wait_ready(drill, "app")
    assert status_of(drill, "app")["restartCount"] == 0


def test_optional_references_may_be_missing(drill: RunningSandbox) -> None:
    env = [{"name": "MODE", **ref("configMapKeyRef", "absent", "mode", optional=True)}]
    run_pod(
        drill,
        "app",
        {
            "name": "app",
            "image": "busybox:1.36",
            "env": env,
            "envFrom": [{"secretRef": {"name": "x", "optional": True}}],
        },
    )
    wait_ready(drill, "app")


def test_field_refs_and_variable_expansion_reach_the_program(drill: RunningSandbox) -> None:
    env = [
        {"name": "MY_POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "MY_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "GREETING", "value": "hello $(MY_POD)"},
    ]
    run_pod(drill, "envcheck", {"name": "check", "image": "envcheck:1", "env": env})
    wait_ready(drill, "envcheck")
    inst = drill.read(lambda: drill.sb.logs.instance("default", "envcheck", "check"))
    assert [line for _, line in inst.lines] == ["envcheck: environment as expected"]


def test_a_missing_secret_volume_keeps_the_pod_creating(drill: RunningSandbox) -> None:
    volume = {"name": "certs", "secret": {"secretName": "tls-certs"}}
    run_pod(
        drill,
        "web",
        {
            "name": "web",
            "image": "nginx:1.27",
            "volumeMounts": [{"name": "certs", "mountPath": "/certs", "readOnly": True}],
        },
        volumes=[volume],
    )
    msg = 'MountVolume.SetUp failed for volume "certs" : secret "tls-certs" not found'
    wait_for(lambda: ("Warning", "FailedMount", msg) in events(drill, "web"), what="FailedMount")
    p = pod(drill, "web")
    assert waiting_reason(drill, "web") == "ContainerCreating"
    assert "podIP" not in p["status"]
    conds = {c["type"]: c["status"] for c in p["status"]["conditions"]}
    assert conds["PodReadyToStartContainers"] == "False"
    create(drill, "Secret", {"metadata": {"name": "tls-certs"}, "data": {"tls.crt": "Y2VydA=="}})
    wait_ready(drill, "web")
    mounts = status_of(drill, "web")["volumeMounts"]
    assert {"mountPath": "/certs", "name": "certs", "readOnly": True, "recursiveReadOnly": "Disabled"} in mounts


# --- running, exiting, restarting ------------------------------------------------------------------


def test_crash_loop_until_the_dependency_is_deployed(drill: RunningSandbox, kubectl: Kubectl) -> None:
    env = [{"name": "CACHE_URL", "value": "redis://cache:6379/0"}]
    run_pod(drill, "client", {"name": "client", "image": "cache-client:2", "env": env})
    wait_for(lambda: status_of(drill, "client").get("restartCount", 0) >= 2, what="two restarts")
    wait_waiting(drill, "client", "CrashLoopBackOff")
    down = "redis.exceptions.ConnectionError: Error -2 connecting to cache:6379. Name or service not known."
    assert kubectl("logs", "client", "--previous").stdout.splitlines() == [down]
    assert status_of(drill, "client")["lastState"]["terminated"]["exitCode"] == 1
    # the cache arrives: a pod and a Service selecting it; the next restart connects
    create(
        drill,
        "Pod",
        {
            "metadata": {"name": "cache", "labels": {"app": "cache"}},
            "spec": {"containers": [{"name": "redis", "image": "redis:7.4"}]},
        },
    )
    create(
        drill,
        "Service",
        {"metadata": {"name": "cache"}, "spec": {"selector": {"app": "cache"}, "ports": [{"port": 6379}]}},
    )
    wait_ready(drill, "client")
    assert kubectl("logs", "client").stdout.splitlines()[0] == "cache-client: connected"
    # the run before may have met the Service before its endpoint was ready: refused, not unknown
    refused = "redis.exceptions.ConnectionError: Error 111 connecting to cache:6379. Connection refused."
    assert kubectl("logs", "client", "--previous").stdout.splitlines() in ([down], [refused])


def test_restart_policy_never_fails_the_pod_and_keeps_the_log(drill: RunningSandbox, kubectl: Kubectl) -> None:
    run_pod(drill, "once", {"name": "job", "image": "failing-job:1"}, restartPolicy="Never")
    wait_for(lambda: pod(drill, "once")["status"].get("phase") == "Failed", what="phase Failed")
    s = status_of(drill, "once")
    term = s["state"]["terminated"]
    assert (term["exitCode"], term["reason"], s["restartCount"]) == (1, "Error", 0)
    conds = {c["type"]: (c["status"], c.get("reason")) for c in pod(drill, "once")["status"]["conditions"]}
    assert conds["Ready"] == ("False", "PodFailed") and conds["ContainersReady"] == ("False", "PodFailed")
    assert kubectl("logs", "once").stdout == "fatal: TOKEN is not set (TOKEN)\n"


def test_on_failure_job_with_its_env_succeeds(drill: RunningSandbox) -> None:
    run_pod(
        drill,
        "ok",
        {"name": "job", "image": "failing-job:1", "env": [{"name": "TOKEN", "value": "t"}]},
        restartPolicy="OnFailure",
    )
    wait_for(lambda: pod(drill, "ok")["status"].get("phase") == "Succeeded", what="phase Succeeded")
    assert status_of(drill, "ok")["state"]["terminated"]["reason"] == "Completed"


def test_init_containers_run_first_and_in_order(drill: RunningSandbox) -> None:
    inits = [{"name": "migrate", "image": "busybox:1.36"}, {"name": "warm", "image": "busybox:1.36"}]
    run_pod(drill, "app", {"name": "web", "image": "nginx:1.27"}, initContainers=inits)
    wait_ready(drill, "app")
    for name in ("migrate", "warm"):
        s = status_of(drill, "app", name, init=True)
        assert s["state"]["terminated"]["reason"] == "Completed" and s["ready"] is True
    started = [m for _, r, m in events(drill, "app") if r in ("Started", "Created")]
    assert started == [
        "Created container migrate",
        "Started container migrate",
        "Created container warm",
        "Started container warm",
        "Created container web",
        "Started container web",
    ]


def test_a_failing_init_container_blocks_the_pod(drill: RunningSandbox) -> None:
    run_pod(
        drill,
        "app",
        {"name": "web", "image": "nginx:1.27"},
        initContainers=[{"name": "setup", "image": "failing-job:1"}],
    )
    wait_waiting(drill, "app", "CrashLoopBackOff", "setup", init=True)
    p = pod(drill, "app")
    assert p["status"]["phase"] == "Pending"
    assert waiting_reason(drill, "app", "web") == "PodInitializing"
    init = next(c for c in p["status"]["conditions"] if c["type"] == "Initialized")
    assert (init["status"], init["reason"], init["message"]) == (
        "False",
        "ContainersNotInitialized",
        "containers with incomplete status: [setup]",
    )


def test_logs_follow_a_running_container_until_it_goes(drill: RunningSandbox, kubectl: Kubectl) -> None:
    run_pod(drill, "chatty", {"name": "talker", "image": "chatty:1"})
    wait_ready(drill, "chatty")
    proc = kubectl.popen("logs", "-f", "chatty")
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "chatty: up\n"
        logs = drill.sb.logs
        drill.read(lambda: logs.write("default", "chatty", "talker", "chatty: request served"))
        ready_to_read, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready_to_read and proc.stdout.readline() == "chatty: request served\n"
        assert proc.poll() is None  # still following
        store = drill.sb.store
        drill.read(lambda: store.delete(store.rt("v1", "Pod"), "default", "chatty"))
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert drill.read(lambda: drill.sb.logs.instance("default", "chatty", "talker")) is None


def test_status_carries_ips_times_and_conditions(drill: RunningSandbox) -> None:
    run_pod(drill, "web", {"name": "web", "image": "nginx:1.27"})
    wait_ready(drill, "web")
    st = pod(drill, "web")["status"]
    node = pod(drill, "web")["spec"]["nodeName"]
    node_obj = drill.get("v1", "Node", "", node)
    internal = next(a["address"] for a in node_obj["status"]["addresses"] if a["type"] == "InternalIP")
    assert st["hostIP"] == internal and st["hostIPs"] == [{"ip": internal}]
    prefix = node_obj["spec"]["podCIDR"].rsplit(".", 1)[0] + "."
    assert st["podIP"].startswith(prefix) and st["podIPs"] == [{"ip": st["podIP"]}]
    assert st["startTime"] and st["qosClass"] == "BestEffort"
    assert [(c["type"], c["status"]) for c in st["conditions"]] == [
        ("PodReadyToStartContainers", "True"),
        ("Initialized", "True"),
        ("Ready", "True"),
        ("ContainersReady", "True"),
        ("PodScheduled", "True"),
    ]
    s = st["containerStatuses"][0]
    assert s["containerID"].startswith("containerd://") and s["started"] is True
    assert s["image"] == "docker.io/library/nginx:1.27"
    assert s["imageID"].startswith("docker.io/library/nginx@sha256:")


def test_kubectl_get_shows_what_the_kubelet_reports(drill: RunningSandbox, kubectl: Kubectl) -> None:
    run_pod(drill, "web", {"name": "web", "image": "nginx:1.27"})
    run_pod(drill, "api", {"name": "api", "image": PRIVATE})
    wait_ready(drill, "web")
    wait_waiting(drill, "api", "ImagePullBackOff")
    out = kubectl("get", "pods", "--no-headers").stdout
    rows = {line.split()[0]: line.split()[1:3] for line in out.splitlines()}
    assert rows["web"] == ["1/1", "Running"]
    assert rows["api"][0] == "0/1" and rows["api"][1] in ("ImagePullBackOff", "ErrImagePull")
