# The SDK's list of brokers (titan_sdk.brokers): parsing TITAN_HOST=a,b and which broker comes next after
# NOT_LEADER or silence; and TitanClient taking such a list.
import pytest

from titan_sdk import TitanClient
from titan_sdk.brokers import BrokerList, parse_address
from titan_sdk.errors import NotLeaderError, error_from_reply


def test_entries_with_and_without_ports():
    brokers = BrokerList("a, b:9190,[::1]:7,::1", 9090)
    assert brokers.addresses == [("a", 9090), ("b", 9190), ("::1", 7), ("::1", 9090)]
    assert brokers.current == ("a", 9090)
    assert parse_address("host", 1) == ("host", 1)


@pytest.mark.parametrize("bad", ["", " , ", "a:x", "a:0", "a:70000", "[::1", ":9090"])
def test_bad_entries_are_refused_naming_them(bad):
    with pytest.raises(ValueError, match="broker address|no broker address"):
        BrokerList(bad, 9090)


def test_silence_moves_on_and_wraps():
    brokers = BrokerList("a:1,b:2", 9090)
    brokers.no_answer()
    assert brokers.current == ("b", 2)
    brokers.no_answer()
    assert brokers.current == ("a", 1)


def test_not_leader_goes_to_the_named_leader_adding_it_when_unlisted():
    brokers = BrokerList("a:1,b:2", 9090)
    assert brokers.not_leader("b:2")
    assert brokers.current == ("b", 2)
    assert brokers.not_leader("c:3")
    assert brokers.current == ("c", 3) and len(brokers) == 3
    assert brokers.not_leader(None)  # no leader named: the next one
    assert brokers.current == ("a", 1)
    assert not BrokerList("a:1", 9090).not_leader(None)  # nowhere else to go


def test_not_leader_errors_carry_the_leader():
    e = error_from_reply("NOT_LEADER", "this broker is a standby", "h:1")
    assert isinstance(e, NotLeaderError) and e.leader == "h:1" and e.code == "NOT_LEADER"


def test_titan_client_takes_a_list_from_host_or_titan_host(monkeypatch):
    with TitanClient(host="127.0.0.1:9190,127.0.0.2", port=9191) as c:
        assert (c.host, c.port) == ("127.0.0.1", 9190)
    monkeypatch.setenv("TITAN_HOST", "10.0.0.1:1,10.0.0.2:2")
    with TitanClient() as c:
        assert (c.host, c.port) == ("10.0.0.1", 1)
    with pytest.raises(ValueError, match="'a:x'"):
        TitanClient(host="a:x")
