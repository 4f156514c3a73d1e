"""Full collections wait for a pause in typing, are forced when none comes, and CPython gets its settings back."""

from __future__ import annotations

import gc

from tui.gcpolicy import NEVER, IdleCollector


def test_collections_wait_for_quiet_are_forced_without_one_and_settings_come_back():
    before = gc.get_threshold()
    now = [0.0]
    collector = IdleCollector(lambda: now[0], quiet=2.0, every=10.0, longest=60.0, deep=600.0)
    try:
        assert collector.tick() is None, "nothing happens before start()"
        collector.start()
        assert gc.get_threshold()[2] == NEVER and gc.get_threshold()[:2] == before[:2]
        frozen = gc.get_freeze_count()
        assert frozen > 0
        for t in range(1, 60):  # a key every second for a minute: never a pause
            now[0] = float(t)
            collector.input()
            assert collector.tick() is None, f"no collection while typing ({t}s)"
        now[0] = 60.0
        collector.input()
        assert collector.tick() == "full", "a minute without a pause forces one"
        now[0] = 65.0  # typing stopped at 60 s
        assert collector.idle_for() == 5.0
        assert collector.tick() is None, "the last collection is recent"
        now[0] = 70.5
        assert collector.tick() == "full"
        leftovers = [[i] for i in range(1000)]
        assert gc.get_freeze_count() >= frozen, "survivors of a collection made at leisure are frozen"
        now[0] = 600.0
        assert collector.tick() == "deep"
        assert (collector.collections, collector.deep_collections) == (3, 1)
        del leftovers
    finally:
        collector.stop()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    assert collector.tick() is None, "stopped: nothing more"
