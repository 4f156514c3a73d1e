from tests.playbooks.demo import demo  # noqa: F401 — the fixture, shared by the playbook tests
