# Schedules through the SDK and the CLI against a real cluster: add / list / replace / remove round trips,
# disabling and enabling, and the broker's refusals. Firing is tested in C++ with an injected clock
# (broker/dag_core_test.cc); nothing here waits for a minute to pass.
import time

import pytest

from cli import titan, titan_ok
from cluster import unique_id, write_script
from titan_sdk import InvalidError, TitanJob


@pytest.fixture
def noop(tmp_path):
    return write_script(tmp_path, "noop.sh", "true\n")


def test_add_list_replace_remove(broker_client, noop):
    name = unique_id("every-minute")
    before_ms = int(time.time() * 1000)
    added = broker_client.add_schedule(name, "* * * * *", [TitanJob("tick", noop)])
    assert (added["name"], added["cron"], added["jobs"]) == (name, "* * * * *", 1)
    assert before_ms < added["next_ms"] <= before_ms + 61000 and added["next_ms"] % 60000 == 0
    assert added in broker_client.list_schedules()
    replaced = broker_client.add_schedule(name, "0 2 * * *", [TitanJob("a", noop), TitanJob("b", noop, parents=["a"])])
    assert (replaced["cron"], replaced["jobs"]) == ("0 2 * * *", 2)
    assert [s["name"] for s in broker_client.list_schedules()].count(name) == 1
    assert broker_client.remove_schedule(name) is True
    assert name not in [s["name"] for s in broker_client.list_schedules()]
    with pytest.raises(InvalidError, match="no schedule"):
        broker_client.remove_schedule(name)


def test_a_new_schedule_has_not_fired_yet(broker_client, noop):
    name = unique_id("fresh")
    added = broker_client.add_schedule(name, "0 2 * * *", [TitanJob("a", noop)])
    broker_client.remove_schedule(name)
    assert added["last_ms"] is None


@pytest.mark.parametrize("name, cron, parents", [
    ("ok", "61 * * * *", []),
    ("ok", "* * *", []),
    ("with@at", "* * * * *", []),
    ("ok", "* * * * *", ["ghost"]),
])
def test_bad_schedules_are_refused(broker_client, noop, name, cron, parents):
    name = name + "-" + unique_id("s")
    with pytest.raises(InvalidError):
        broker_client.add_schedule(name, cron, [TitanJob("a", noop, parents=parents)])
    assert name not in [s["name"] for s in broker_client.list_schedules()]


def test_a_schedule_is_disabled_and_enabled_again(broker_client, noop):
    name = unique_id("pausable")
    broker_client.add_schedule(name, "0 2 * * *", [TitanJob("a", noop)])
    state = lambda: next(s for s in broker_client.list_schedules() if s["name"] == name)["enabled"]  # noqa: E731
    assert state() is True
    assert broker_client.enable_schedule(name, False) is True
    assert state() is False
    broker_client.enable_schedule(name)
    assert state() is True
    broker_client.remove_schedule(name)
    with pytest.raises(InvalidError, match="no schedule"):
        broker_client.enable_schedule(name, False)


def test_the_cli_disables_and_enables_a_schedule(cluster, broker_client, noop):
    name = unique_id("cli-pausable")
    broker_client.add_schedule(name, "0 2 * * *", [TitanJob("a", noop)])
    enabled = lambda: next(s for s in broker_client.list_schedules() if s["name"] == name)["enabled"]  # noqa: E731
    row = lambda out: next(line for line in out.splitlines() if line.startswith(name + " "))  # noqa: E731
    off = titan(cluster.port, ["schedule", "disable", name])
    assert off.returncode == 0, off.stderr
    assert "does not fire until `titan schedule enable %s`" % name in off.stderr
    assert "disabled" in row(off.stdout) and enabled() is False
    assert "disabled" in row(titan_ok(cluster.port, ["schedules"]))
    assert "disabled" in row(titan_ok(cluster.port, ["schedule", "disable", name]))  # already so: no error
    on = titan(cluster.port, ["schedule", "enable", name])
    assert on.returncode == 0 and "fires at its next tick" in on.stderr, on.stderr
    assert "disabled" not in row(on.stdout) and "(in " in row(on.stdout) and enabled() is True
    broker_client.remove_schedule(name)
    missing = titan(cluster.port, ["schedule", "enable", name])
    assert missing.returncode == 3 and "no schedule '%s'" % name in missing.stderr, missing.stderr
