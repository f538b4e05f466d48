# Golden vectors (schemas/golden/vectors.yaml, made by make_vectors.py): valid ones decode to the listed
# fields and re-encode to the same bytes; invalid ones get their error code and a readable reason.
import pytest
import yaml

from store_process import REPO_ROOT
from titan_sdk import messages, protocol

with open(REPO_ROOT / "schemas" / "golden" / "vectors.yaml", encoding="utf-8") as _f:
    DOC = yaml.safe_load(_f)
VECTORS = DOC["vectors"]


def expected(node):
    """The vectors' field notation: {str: ..} / {bin: hex} / scalars / lists / structs (other maps)."""
    if isinstance(node, dict) and len(node) == 1 and "str" in node:
        return node["str"]
    if isinstance(node, dict) and len(node) == 1 and "bin" in node:
        return bytes.fromhex(node["bin"])
    if isinstance(node, dict):
        return {k: expected(v) for k, v in node.items()}
    if isinstance(node, list):
        return [expected(e) for e in node]
    return node


def typed(value):
    """Pairs each value with its exact type, so "k" != b"k" and True != 1 in comparisons."""
    if isinstance(value, list):
        return [typed(v) for v in value]
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    return (type(value).__name__, value)


def test_there_are_enough_vectors():
    assert bytes.fromhex(DOC["signature_hex"]) == protocol.SIGNATURE
    assert len(VECTORS) >= 100
    assert {v["expect"] for v in VECTORS} >= {"ok", "MALFORMED", "WRONG_VERSION", "UNKNOWN_TYPE"}
    assert any(v.get("blobs") for v in VECTORS)


@pytest.mark.parametrize("vector", [v for v in VECTORS if v["expect"] == "ok"], ids=lambda v: v["name"])
def test_valid_vector(vector):
    frames = [bytes.fromhex(f) for f in vector["frames"]]
    d = protocol.decode(frames)
    assert d.ok, d.reason
    assert d.type.name == vector["type"]
    want = {k: expected(v) for k, v in vector["fields"].items()}
    assert {k: typed(v) for k, v in d.fields.items()} == {k: typed(v) for k, v in want.items()}
    assert d.rid == want.get("rid")
    blobs = [bytes.fromhex(b) for b in vector.get("blobs", [])]
    assert d.blobs == blobs
    assert protocol.encode(d.type, want, blobs) == frames, "re-encoding differs from the golden bytes"


def test_every_message_type_has_a_valid_vector():
    covered = {v["type"] for v in VECTORS if v["expect"] == "ok"}
    assert [t.name for t in protocol.MsgType if t.name not in covered] == [], "add vectors in make_vectors.py"


@pytest.mark.parametrize("vector", [v for v in VECTORS if v["expect"] == "ok"], ids=lambda v: v["name"])
def test_valid_vector_round_trips_through_its_dataclass(vector):
    frames = [bytes.fromhex(f) for f in vector["frames"]]
    d = protocol.decode(frames)
    typed = messages.MESSAGE_CLASSES[d.type].from_decoded(d)
    assert typed.encode(rid=d.rid) == frames


@pytest.mark.parametrize("vector", [v for v in VECTORS if v["expect"] != "ok"], ids=lambda v: v["name"])
def test_invalid_vector(vector):
    frames = [bytes.fromhex(f) for f in vector["frames"]]
    d = protocol.decode(frames)
    assert not d.ok
    assert d.status == vector["expect"], d.reason
    assert d.reason
