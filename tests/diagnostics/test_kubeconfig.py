"""kubeconfig resolution behaves like kubectl's, and every mistake ends as one sentence with the way out."""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from diagnostics import kubeconfig
from diagnostics.kube import KubeClient
from diagnostics.kubeconfig import ConfigError, is_production_name, load


def write(path: Path, clusters=(), users=(), contexts=(), current: str | None = None) -> Path:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": c} for n, c in clusters],
        "users": [{"name": n, "user": u} for n, u in users],
        "contexts": [{"name": n, "context": c} for n, c in contexts],
    }
    if current is not None:
        doc["current-context"] = current
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def two_files(tmp_path: Path) -> tuple[Path, Path]:
    first = write(
        tmp_path / "a" / "config",
        clusters=[("shared", {"server": "https://first.example:6443"})],
        users=[("alice", {"token": "first-token"})],
        contexts=[("staging", {"cluster": "shared", "user": "alice", "namespace": "web"})],
    )
    second = write(
        tmp_path / "b" / "config",
        clusters=[
            ("shared", {"server": "https://second.example:6443", "insecure-skip-tls-verify": True}),
            ("other", {"server": "https://other.example"}),
        ],
        users=[("alice", {"token": "second-token"}), ("bob", {"token": "bob-token"})],
        contexts=[("staging", {"cluster": "other", "user": "bob"}), ("dev", {"cluster": "other", "user": "bob"})],
        current="staging",
    )
    return first, second


def test_first_file_in_kubeconfig_wins_each_named_entry_whole(tmp_path, monkeypatch):
    first, second = two_files(tmp_path)
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(first), str(second)]))
    cfg = load()
    # current-context comes from the first file that sets it (the second); the entries from the first file
    assert (cfg.context, cfg.cluster, cfg.user) == ("staging", "shared", "alice")
    assert cfg.server == "https://first.example:6443"
    assert cfg.insecure_skip_tls_verify is False  # not merged in from the second file's "shared"
    assert cfg.token == "first-token"
    assert cfg.namespace == "web"
    assert load(context="dev").server == "https://other.example"
    assert kubeconfig.contexts() == (["dev", "staging"], "staging")


def test_missing_files_in_kubeconfig_are_skipped(tmp_path, monkeypatch):
    _, second = two_files(tmp_path)
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(tmp_path / "nope"), "", str(second), str(second)]))
    cfg = load()
    assert cfg.server == "https://other.example"
    assert cfg.source == str(second)


def test_no_kubeconfig_at_all_says_where_it_looked(tmp_path, monkeypatch):
    with pytest.raises(ConfigError) as e:
        load()
    assert str(e.value) == "no kubeconfig found at ~/.kube/config; set KUBECONFIG or pass --kubeconfig"
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]))
    with pytest.raises(ConfigError) as e:
        load()
    assert str(e.value) == (
        f"no kubeconfig found at {tmp_path / 'a'}, {tmp_path / 'b'} (from KUBECONFIG); fix KUBECONFIG or pass --kubeconfig"
    )


def test_home_kubeconfig_is_the_default(tmp_path):
    write(
        tmp_path / "home" / ".kube" / "config",
        clusters=[("c", {"server": "https://home.example"})],
        contexts=[("c", {"cluster": "c"})],
        current="c",
    )
    cfg = load()
    assert cfg.server == "https://home.example"
    assert cfg.source == "~/.kube/config"
    assert cfg.user == ""


def test_explicit_kubeconfig_overrides_the_environment_and_must_exist(tmp_path, monkeypatch):
    first, second = two_files(tmp_path)
    monkeypatch.setenv("KUBECONFIG", str(second))
    cfg = load(str(first), context="staging")
    assert cfg.server == "https://first.example:6443"
    with pytest.raises(ConfigError, match=r"^kubeconfig .*missing\.yaml does not exist; check the --kubeconfig path$"):
        load(str(tmp_path / "missing.yaml"))


def test_unknown_context_lists_the_available_ones(tmp_path):
    first, _ = two_files(tmp_path)
    with pytest.raises(ConfigError) as e:
        load(str(first), context="prod-eu")
    assert str(e.value) == f'context "prod-eu" not found in {first}; available: staging'


def test_no_current_context_asks_for_one(tmp_path):
    first, _ = two_files(tmp_path)
    with pytest.raises(ConfigError, match=r"^no current context is set in .*; pass --context \(available: staging\)$"):
        load(str(first))


def test_context_naming_a_missing_cluster(tmp_path):
    path = write(tmp_path / "c", contexts=[("x", {"cluster": "ghost"})], current="x")
    with pytest.raises(ConfigError, match='names cluster "ghost", which is not defined'):
        load(str(path))


def test_namespace_flag_then_context_then_default(tmp_path):
    first, second = two_files(tmp_path)
    assert load(str(first), context="staging").namespace == "web"
    assert load(str(first), context="staging", namespace="api").namespace == "api"
    assert load(str(second), context="dev").namespace == "default"


@pytest.mark.parametrize("bad", ["Bad_NS", "-web", "web-", "a" * 64, "web.staging", ""])
def test_invalid_namespace_names_are_refused(tmp_path, bad):
    first, _ = two_files(tmp_path)
    if bad == "":
        return  # empty means "not given": the context's namespace applies
    with pytest.raises(ConfigError) as e:
        load(str(first), context="staging", namespace=bad)
    assert str(e.value).startswith(f'namespace "{bad}" is not a valid namespace name (RFC 1123 label')


def test_invalid_namespace_in_the_context_is_refused_too(tmp_path):
    path = write(
        tmp_path / "c",
        clusters=[("c", {"server": "https://x"})],
        contexts=[("c", {"cluster": "c", "namespace": "Bad_NS"})],
        current="c",
    )
    with pytest.raises(ConfigError, match=r'^namespace "Bad_NS" is not a valid namespace name'):
        load(str(path))


@pytest.mark.parametrize(
    ("name", "production"),
    [
        ("prod", True),
        ("gke_acme_europe-west1_prod-cluster", True),
        ("arn:aws:eks:us-east-1:123:cluster/production", True),
        ("PROD-EU", True),
        ("product-api", False),
        ("preprod", False),
        ("staging", False),
        ("reproduce", False),
    ],
)
def test_production_is_a_word_of_the_name(name, production):
    assert is_production_name(name) is production


def test_production_from_context_or_cluster_name_or_extension(tmp_path):
    path = write(
        tmp_path / "c",
        clusters=[
            ("gke_acme_prod", {"server": "https://a"}),
            (
                "blue",
                {"server": "https://b", "extensions": [{"name": "pitstop.dev/environment", "extension": "production"}]},
            ),
            ("green", {"server": "https://c"}),
        ],
        contexts=[
            ("by-cluster-name", {"cluster": "gke_acme_prod"}),
            ("by-cluster-extension", {"cluster": "blue"}),
            (
                "by-context-extension",
                {
                    "cluster": "green",
                    "extensions": [{"name": "pitstop.dev/environment", "extension": {"environment": "production"}}],
                },
            ),
            ("prod-readonly", {"cluster": "green"}),
            ("staging", {"cluster": "green"}),
        ],
    )
    for ctx in ("by-cluster-name", "by-cluster-extension", "by-context-extension", "prod-readonly"):
        assert load(str(path), context=ctx).production, ctx
    assert not load(str(path), context="staging").production


def test_relative_paths_resolve_against_the_file_that_holds_them(tmp_path):
    certs = tmp_path / "conf" / "certs"
    certs.mkdir(parents=True)
    (certs / "ca.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
    (certs / "token").write_text("file-token\n")
    path = write(
        tmp_path / "conf" / "config",
        clusters=[("c", {"server": "https://x", "certificate-authority": "certs/ca.pem"})],
        users=[("u", {"tokenFile": "certs/token"})],
        contexts=[("c", {"cluster": "c", "user": "u"})],
        current="c",
    )
    cfg = load(str(path))
    assert cfg.ca_file == str(certs / "ca.pem")
    assert cfg.ca_data and cfg.ca_data.startswith(b"-----BEGIN CERTIFICATE-----")
    assert cfg.token is None and cfg.bearer_token() == "file-token"


def test_unreadable_references_and_bad_base64_are_sentences(tmp_path):
    path = write(
        tmp_path / "c",
        clusters=[
            ("c", {"server": "https://x", "certificate-authority": "missing-ca.pem"}),
            ("d", {"server": "https://x", "certificate-authority-data": "%%%"}),
        ],
        contexts=[("c", {"cluster": "c"}), ("d", {"cluster": "d"})],
    )
    with pytest.raises(
        ConfigError,
        match=r'^cannot read certificate-authority .*missing-ca\.pem for cluster "c" \(.*\); fix the path in the kubeconfig$',
    ):
        load(str(path), context="c")
    with pytest.raises(
        ConfigError, match=r'^certificate-authority-data of cluster "d" is not valid base64; fix it in the kubeconfig$'
    ):
        load(str(path), context="d")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "clusters: [\n  - name: x\n  bad",
            r"is not valid YAML at line \d+; fix the file or pass another --kubeconfig$",
        ),
        ("- just\n- a list\n", r"is not a kubeconfig \(expected a mapping at the top\)"),
        ("clusters: {a: 1}\n", r"has a 'clusters' that is not a list; fix the file$"),
        ("contexts:\n- context: {cluster: x}\n", r"has contexts\[0\] without a name; fix the file$"),
    ],
)
def test_broken_files_are_config_errors(tmp_path, text, message):
    path = tmp_path / "broken"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load(str(path))


def test_an_empty_file_is_an_empty_config(tmp_path):
    path = tmp_path / "empty"
    path.write_text("")
    with pytest.raises(ConfigError, match=r"^no current context is set"):
        load(str(path))


def test_sandbox_kubeconfig_carries_its_extension(empty_sandbox):
    cfg = load(str(empty_sandbox.kubeconfig))
    ext = cfg.extensions["pitstop.dev/sandbox"]
    assert ext["registry"] == empty_sandbox.sb.registry_url
    assert ext["github"] == empty_sandbox.sb.github_url
    assert cfg.context == "pitstop-sandbox" and not cfg.production
    assert cfg.ca_data == empty_sandbox.sb.cert.cert_pem
    assert empty_sandbox.sb.token not in repr(cfg)  # credentials stay out of tracebacks


# --- exec credential plugins ---------------------------------------------------------------------

PLUGIN = """\
import json, os, sys
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
with open(os.environ["PLUGIN_RECORD"], "w") as f:
    json.dump({"argv": sys.argv[1:], "info": info}, f)
if os.environ.get("PLUGIN_FAIL"):
    print("error: you need to log in again", file=sys.stderr)
    sys.exit(7)
token = os.environ["PLUGIN_TOKEN"]
if os.environ.get("PLUGIN_TOKEN_FILE"):
    with open(os.environ["PLUGIN_TOKEN_FILE"]) as f:
        token = f.read().strip()
print(json.dumps({
    "apiVersion": info["apiVersion"],
    "kind": "ExecCredential",
    "status": {"token": token, "expirationTimestamp": "2999-01-01T00:00:00Z"},
}))
"""


def exec_kubeconfig(
    tmp_path: Path, rs, extra_env: list[dict[str, str]] | None = None, command: str | None = None
) -> Path:
    plugin = tmp_path / "plugin.py"
    plugin.write_text(PLUGIN)
    doc = yaml.safe_load(rs.kubeconfig.read_text())
    doc["clusters"][0]["cluster"]["extensions"].append(
        {"name": "client.authentication.k8s.io/exec", "extension": {"audience": "sandbox"}}
    )
    doc["users"][0]["user"] = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": command or sys.executable,
            "args": [str(plugin), "--name", "it's; $(rm -rf /) `whoami`"],
            "env": [
                {"name": "PLUGIN_TOKEN", "value": rs.sb.token},
                {"name": "PLUGIN_RECORD", "value": str(tmp_path / "record.json")},
                *(extra_env or []),
            ],
            "installHint": "install the sandbox plugin with pip",
            "provideClusterInfo": True,
            "interactiveMode": "Never",
        }
    }
    path = tmp_path / "exec-kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return path


async def test_exec_plugin_token_authenticates_against_the_sandbox(tmp_path, empty_sandbox):
    cfg = load(str(exec_kubeconfig(tmp_path, empty_sandbox)))
    assert cfg.exec is not None and cfg.token is None
    async with KubeClient(cfg) as kube:
        nodes, _ = await kube.list("v1", "Node")
    assert len(nodes) == 3
    record = json.loads((tmp_path / "record.json").read_text())
    # the arguments arrive as one list, untouched by any shell
    assert record["argv"] == ["--name", "it's; $(rm -rf /) `whoami`"]
    spec = record["info"]["spec"]
    assert spec["interactive"] is False
    assert spec["cluster"]["server"] == empty_sandbox.sb.api_url
    assert base64.b64decode(spec["cluster"]["certificate-authority-data"]) == empty_sandbox.sb.cert.cert_pem
    assert spec["cluster"]["config"] == {"audience": "sandbox"}


async def test_exec_plugin_runs_again_after_a_401(tmp_path, empty_sandbox):
    token_file = tmp_path / "token"
    token_file.write_text("expired-token")
    path = exec_kubeconfig(tmp_path, empty_sandbox, [{"name": "PLUGIN_TOKEN_FILE", "value": str(token_file)}])
    async with KubeClient(load(str(path))) as kube:
        token_file.write_text(empty_sandbox.sb.token)  # the user logged in again meanwhile
        assert (await kube.version())["major"] == "1"


def test_exec_plugin_failure_is_a_sentence_with_its_stderr(tmp_path, empty_sandbox):
    cfg = load(str(exec_kubeconfig(tmp_path, empty_sandbox, [{"name": "PLUGIN_FAIL", "value": "1"}])))
    with pytest.raises(ConfigError) as e:
        kubeconfig.run_exec_plugin(cfg)
    assert "exited with status 7: error: you need to log in again; run it by hand to log in again" in str(e.value)


def test_missing_exec_plugin_shows_the_install_hint(tmp_path, empty_sandbox):
    cfg = load(str(exec_kubeconfig(tmp_path, empty_sandbox, command="pitstop-no-such-plugin")))
    with pytest.raises(ConfigError) as e:
        kubeconfig.run_exec_plugin(cfg)
    assert str(e.value) == (
        'the exec plugin "pitstop-no-such-plugin" of user "pitstop-sandbox" was not found; '
        "install the sandbox plugin with pip"
    )


def test_exec_plugin_with_an_unknown_api_version_is_refused(tmp_path):
    path = write(
        tmp_path / "c",
        clusters=[("c", {"server": "https://x"})],
        users=[("u", {"exec": {"command": "x", "apiVersion": "client.authentication.k8s.io/v1alpha1"}})],
        contexts=[("c", {"cluster": "c", "user": "u"})],
        current="c",
    )
    with pytest.raises(
        ConfigError, match=r"asks for apiVersion 'client\.authentication\.k8s\.io/v1alpha1'; use one of"
    ):
        load(str(path))
