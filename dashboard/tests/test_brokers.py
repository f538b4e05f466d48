# The dashboard given several brokers sharing a PostgreSQL journal (--host a,b): its health check finds the
# leader (a standby's NOT_LEADER names it; a silent broker is passed over) and new clients name it first.
from fake_node import FakeNode
from pg_server import free_port
from titan_sdk import protocol
from titan_sdk.brokers import BrokerList
from titan_sdk.protocol import MsgType

from titan_dashboard.events import _find_leader
from titan_dashboard.gateway import Gateway
from titan_dashboard.options import Options


def leader_node(d, frames):
    """WELCOME to everything (STATS then goes unread: its read-only mode stays unknown)."""
    return [protocol.encode(MsgType.WELCOME, {"rid": d.rid, "node": "broker", "version": "test", "pub_port": 4242})]


def standby_naming(leader):
    def respond(d, frames):
        return [protocol.encode(MsgType.ERROR, {"rid": d.rid, "code": "NOT_LEADER", "leader": leader,
                                                "reason": "this broker is a standby"})]
    return respond


def test_the_health_check_follows_a_standby_to_the_leader():
    with FakeNode(leader_node) as leader, FakeNode(standby_naming(None)) as standby:
        standby.respond = standby_naming("127.0.0.1:%d" % leader.port)
        brokers = BrokerList("127.0.0.1:%d,127.0.0.1:%d" % (standby.port, leader.port), 9090)
        welcome, _, address = _find_leader(brokers, None, 5)
        assert welcome["pub_port"] == 4242 and address == ("127.0.0.1", leader.port)


def test_the_health_check_passes_over_a_silent_broker():
    with FakeNode(leader_node) as leader:
        brokers = BrokerList("127.0.0.1:%d,127.0.0.1:%d" % (free_port(), leader.port), 9090)
        welcome, _, address = _find_leader(brokers, None, 0.5)
        assert isinstance(welcome, dict) and address == ("127.0.0.1", leader.port)


def test_a_standby_taking_over_is_reported_and_asked_again():
    with FakeNode(standby_naming(None)) as standby:
        brokers = BrokerList("127.0.0.1:%d" % standby.port, 9090)
        welcome, _, address = _find_leader(brokers, None, 5)
        assert "standby taking over" in welcome and address == ("127.0.0.1", standby.port)


def test_new_clients_name_the_leader_first():
    gateway = Gateway(Options(broker_host="a:1,b:2,[::1]", broker_port=9090))
    assert gateway.hosts() == "a:1,b:2,[::1]" and gateway.first_broker() == ("a", 1)
    assert gateway.address == "a:1,b:2,[::1]"
    gateway.leader = ("b", 2)
    assert gateway.hosts() == "b:2,a:1,[::1]:9090" and gateway.address == "b:2"
    client = gateway.client(None)
    try:
        assert (client.host, client.port) == ("b", 2)
    finally:
        client.close()
