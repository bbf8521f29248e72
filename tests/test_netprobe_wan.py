"""The designated WAN probes' protocol: authenticated both ways with the stack's shared key, never a
reply larger than its request, no answer to anything forged, stale or replayed; peers behind load
balancers learnt from hellos; the node's zone label read through the Kubernetes API."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from edgefleet.doctor.evidence import build, deltas
from edgefleet.doctor.promtext import Sample, parse
from edgefleet.netprobe.agent import (
    AUTH_MAGIC,
    FRESH_SECONDS,
    HEADER,
    HELLO,
    HELLO_REPLY,
    HELLO_SIZE,
    MAGIC,
    MAX_DATAGRAM,
    REPLY,
    REQUEST,
    TAG_SIZE,
    Agent,
    ConfigError,
    Identity,
    ReplayGuard,
    WanPeer,
    config_from_env,
    make_datagram,
    parse_config,
    read_datagram,
    zone_from_node_label,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
THIRD_KEY = bytes(range(2, 34))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _agent(
    cluster: str,
    node: str,
    pod: str,
    *,
    key: bytes = KEY,
    tmp: Path,
    rate: float = 100.0,
    peers: tuple[bytes, ...] = (),
) -> Agent:
    raw: dict[str, object] = {
        "identity": {"cluster": cluster, "node": node, "pod": pod},
        "listen": f"127.0.0.1:{_free_port()}",
        "metrics": "127.0.0.1:0",
        "rate": rate,
        "timeout": 0.3,
    }
    if key:
        key_file = tmp / f"{cluster}-{node}.key"
        key_file.write_text(key.hex() + "\n")
        raw["key_file"] = str(key_file)
    files = []
    for i, peer in enumerate(peers):
        peer_file = tmp / f"{cluster}-{node}-peer{i}.key"
        peer_file.write_text(peer.hex())
        files.append(str(peer_file))
    if files:
        raw["peer_key_files"] = files
    return Agent(parse_config(raw))


def _request(key: bytes, *, size: int = 36, sent: float | None = None, seq: int = 1, kind: int = REQUEST) -> bytes:
    return make_datagram(key, kind, stream=7, seq=seq, sent=time.time() if sent is None else sent, identity=b"",
                         size=size)  # fmt: skip


def _close(agent: Agent) -> None:
    agent.http.server_close()
    agent.echo.close()
    agent.probe.close()


def test_an_authenticated_responder_answers_only_fresh_signed_first_time_requests(tmp_path: Path) -> None:
    agent = _agent("c2", "node-a", "netprobe-wan-7d9f", tmp=tmp_path)
    try:
        now = time.time()
        good = _request(KEY, sent=now)
        reply = agent.answer(good, now)
        assert reply is not None
        assert len(reply) == len(good)  # never larger than the request: no amplification
        assert reply[:4] == AUTH_MAGIC
        kind, stream, seq, sent, who = read_datagram(KEY, reply) or (None,) * 5
        assert (kind, stream, seq, sent) == (REPLY, 7, 1, now)
        assert who is None  # a 64-byte probe has no room for the identity: left out, not appended
        assert agent.answer(good, now + 1) is None  # the same datagram again: a replay
        assert agent.answer(_request(OTHER_KEY, sent=now), now) is None  # another key
        assert agent.answer(_request(b"", sent=now), now) is None  # unauthenticated
        assert agent.answer(_request(KEY, sent=now - FRESH_SECONDS - 1), now) is None  # stale
        assert agent.answer(_request(KEY, sent=now + FRESH_SECONDS + 1), now) is None  # from the future
        assert agent.answer(_request(KEY, sent=float("nan")), now) is None
        tampered = bytearray(_request(KEY, sent=now, seq=2))
        tampered[-1] ^= 1  # the padding is signed too: a changed byte anywhere is refused
        assert agent.answer(bytes(tampered), now) is None
        forged_reply = make_datagram(KEY, REPLY, stream=7, seq=3, sent=now, identity=b"", size=36)
        assert agent.answer(forged_reply, now) is None  # replies are not answered
        for junk in (b"", b"EFA1", os.urandom(64), AUTH_MAGIC + os.urandom(200), MAGIC + bytes(40)):
            assert agent.answer(junk, now) is None
        # A hello is answered with the identity, in exactly the hello's size.
        hello = _request(KEY, size=HELLO_SIZE, sent=now, seq=0, kind=HELLO)
        answer = agent.answer(hello, now)
        assert answer is not None
        assert len(answer) == HELLO_SIZE
        assert read_datagram(KEY, answer) == (HELLO_REPLY, 7, 0, now, Identity("c2", "node-a", "", "netprobe-wan-7d9f"))
    finally:
        _close(agent)


def test_the_in_cluster_responder_never_replies_with_more_bytes_than_it_got(tmp_path: Path) -> None:
    agent = _agent("c1", "n1", "a-pod-with-a-rather-long-generated-name-x7k2p", key=b"", tmp=tmp_path)
    try:
        for size in (27, 36, 60, 200, 1372, MAX_DATAGRAM):
            request = make_datagram(b"", REQUEST, stream=1, seq=1, sent=1.0, identity=b"", size=size)
            reply = agent.answer(request, 0.0)
            assert reply is not None
            assert len(reply) == size
            assert reply[:4] == MAGIC
        # Nothing larger than the largest probe is read (nor, with a key, run through the HMAC).
        huge = make_datagram(b"", REQUEST, stream=1, seq=1, sent=1.0, identity=b"", size=MAX_DATAGRAM + 1)
        assert agent.answer(huge, 0.0) is None
        assert (
            agent.answer(make_datagram(KEY, REQUEST, stream=1, seq=1, sent=time.time(), identity=b"", size=64), 0.0)
            is None
        )
    finally:
        _close(agent)


def test_the_replay_guard_forgets_after_the_window_and_fails_closed_when_full() -> None:
    guard = ReplayGuard(horizon=10.0, limit=3)
    assert guard.first_time(b"a", 0.0)
    assert not guard.first_time(b"a", 5.0)
    assert guard.first_time(b"b", 5.0)
    assert guard.first_time(b"c", 6.0)
    assert not guard.first_time(b"d", 7.0)  # full: refused, not remembered over an older tag
    assert guard.first_time(b"d", 10.5)  # "a" expired
    assert guard.first_time(b"a", 16.0)


@pytest.mark.parametrize("peers", [(), (OTHER_KEY,)], ids=["no-peer-keys", "a-peer-key"])
def test_a_prober_takes_only_signed_replies_to_what_it_sent(tmp_path: Path, peers: tuple[bytes, ...]) -> None:
    # A key it answers for another slice (``peers``) is no key for replies to its own probes.
    agent = _agent("c1", "n1", "wan-1", tmp=tmp_path, peers=peers)
    try:
        agent.follow(WanPeer("c2", "127.0.0.1", 9, (64,)), "127.0.0.1")
        (stream,) = agent.streams.values()
        agent._probe(stream)
        mono, wire = stream.pending[1]
        who = Identity("c2", "node-b", "", "wan-2").encode()

        def reply(key: bytes, *, seq: int = 1, sent: float = wire, kind: int = REPLY) -> bytes:
            return make_datagram(key, kind, stream=stream.id, seq=seq, sent=sent, identity=who, size=HELLO_SIZE)

        assert not agent.take_reply(reply(OTHER_KEY), mono + 0.01)  # forged: another key
        assert not agent.take_reply(reply(b""), mono + 0.01)  # unauthenticated
        assert not agent.take_reply(reply(KEY, seq=2), mono + 0.01)  # never sent
        assert not agent.take_reply(reply(KEY, sent=wire - 1), mono + 0.01)  # not the send time sent
        assert not agent.take_reply(reply(KEY, kind=REQUEST), mono + 0.01)
        assert stream.received == 0
        assert agent.take_reply(reply(KEY), mono + 0.01)
        assert not agent.take_reply(reply(KEY), mono + 0.02)  # the same reply again counts once
        assert stream.received == 1
        # A hello's reply names the peer; one from another location than configured does not.
        stranger = make_datagram(KEY, HELLO_REPLY, stream=stream.id, seq=0, sent=wire,
                                 identity=Identity("c9", "x").encode(), size=HELLO_SIZE)  # fmt: skip
        agent.take_reply(stranger, mono)
        assert stream.destination == Identity("c2", "node-b", "", "wan-2")
    finally:
        _close(agent)


def test_two_locations_probe_each_other_over_authenticated_wan_streams(tmp_path: Path) -> None:
    a = _agent("c1", "n1", "netprobe-wan-a", tmp=tmp_path)
    b = _agent("c2", "n7", "netprobe-wan-b", tmp=tmp_path)
    intruder = _agent("c3", "n9", "netprobe-wan-x", key=OTHER_KEY, tmp=tmp_path)
    for agent in (a, b, intruder):
        agent.start()
    try:
        # "localhost" as a load balancer's host name: resolved, then followed.
        a.follow(WanPeer("c2", "localhost", b.echo_port, (64, 1400)), "127.0.0.1")
        b.follow(WanPeer("c1", "localhost", a.echo_port, (64,)), "127.0.0.1")
        intruder.follow(WanPeer("c1", "localhost", a.echo_port, (64,)), "127.0.0.1")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            first = parse(_metrics(a) + _metrics(b) + _metrics(intruder), prefix="netprobe_")
            named = {(s.label("source_cluster"), s.label("size")) for s in first if s.label("destination_node")}
            if {("c1", "64"), ("c1", "1400"), ("c2", "64")} <= named:
                break
            time.sleep(0.05)
        time.sleep(1.0)
        samples = parse(_metrics(a) + _metrics(b) + _metrics(intruder), prefix="netprobe_")
    finally:
        for agent in (a, b, intruder):
            agent.stop()
    evidence = build(deltas(first, samples), samples, window_seconds=1.0)
    wan = {(s.source.cluster, s.destination.cluster, s.size): s for s in evidence.streams}
    assert set(wan) == {("c1", "c2", 64), ("c1", "c2", 1400), ("c2", "c1", 64)}
    for stream in wan.values():
        assert stream.path == "wan"
        assert stream.probes > 30
        assert stream.lost == 0
    assert wan[("c1", "c2", 64)].destination.pod == "netprobe-wan-b"
    assert wan[("c2", "c1", 64)].destination.node == "n1"
    # The agent with another key is never answered: every probe lost, its peer never named; the
    # doctor names the stream instead of blaming the WAN for it.
    shut_out = [s for s in samples if s.name == "netprobe_probes_lost_total" and s.label("source_cluster") == "c3"]
    assert shut_out
    assert shut_out[0].label("destination_node") == ""
    assert shut_out[0].value > 30
    assert any("never answered by the designated probes there (c3 -> c1)" in p for p in evidence.problems)
    refused = [s for s in samples if s.name == "netprobe_datagrams_refused_total" and s.label("cluster") == "c1"]
    assert refused
    assert refused[0].value > 30


def _metrics(agent: Agent) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{agent.metrics_port}/metrics", timeout=5) as r:
        body: bytes = r.read()
    return body.decode()


BASE_ENV = {
    "NETPROBE_CLUSTER": "aws-eu-central-1",
    "NETPROBE_NODE": "ip-10-0-1-5",
    "NETPROBE_POD": "netprobe-wan-5d8c",
    "NETPROBE_SIZES": "64,1400",
}


def test_a_peer_without_an_address_yet_is_left_out_not_fatal(capsys: pytest.CaptureFixture[str]) -> None:
    env = {**BASE_ENV, "NETPROBE_KEY": KEY.hex(), "NETPROBE_WAN_PEERS": "c2=:9798,c3=203.0.113.9:9798"}
    assert [p.cluster for p in config_from_env(env).wan] == ["c3"]
    assert "c2 has no load balancer address yet; not probed" in capsys.readouterr().err


def test_the_wan_agent_reads_its_peers_and_key_from_the_environment() -> None:
    peers = "gcp-europe-west3=203.0.113.7:9798,azure-westeurope=a1b2.elb.example.com:9798"
    env = {**BASE_ENV, "NETPROBE_KEY": KEY.hex(), "NETPROBE_WAN_PEERS": peers}
    config = config_from_env(env)
    assert config.key == KEY
    assert config.wan == (
        WanPeer("gcp-europe-west3", "203.0.113.7", 9798, (64, 1400)),
        WanPeer("azure-westeurope", "a1b2.elb.example.com", 9798, (64, 1400)),
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"NETPROBE_WAN_PEERS": "c2=203.0.113.7:9798"}, "NETPROBE_WAN_PEERS needs NETPROBE_KEY"),
        ({"NETPROBE_KEY": "abcd"}, "NETPROBE_KEY: the key must be at least 16 bytes"),
        ({"NETPROBE_KEY": "zz" * 32}, "NETPROBE_KEY: the key must be hexadecimal"),
        ({"NETPROBE_KEY": KEY.hex(), "NETPROBE_WAN_PEERS": "c2"}, "NETPROBE_WAN_PEERS: expected cluster=host:port"),
        ({"NETPROBE_KEY": KEY.hex(), "NETPROBE_WAN_PEERS": "c2=h:99999"}, "NETPROBE_WAN_PEERS (c2): port"),
        ({"NETPROBE_KEY": KEY.hex(), "NETPROBE_SIZES": "60"}, "NETPROBE_SIZES"),
        ({"NETPROBE_ZONE_FROM": "dns"}, "NETPROBE_ZONE_FROM: expected metadata or node-label"),
    ],
)
def test_bad_wan_settings_are_named(extra: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_env({**BASE_ENV, **extra})
    assert str(caught.value).startswith(message), caught.value


def test_a_key_file_must_hold_a_long_enough_hex_key(tmp_path: Path) -> None:
    short = tmp_path / "short.key"
    short.write_text("00ff")
    raw = {"identity": {"cluster": "c1", "node": "n1"}, "key_file": str(short)}
    with pytest.raises(ConfigError, match="key_file: the key must be at least 16 bytes"):
        parse_config(raw)
    with pytest.raises(ConfigError, match=r"key_file: .*No such file"):
        parse_config({**raw, "key_file": str(tmp_path / "missing")})
    good = tmp_path / "good.key"
    good.write_text(KEY.hex())
    target = {"address": "10.0.0.1:9798", "path": "wan", "size": 62}
    with pytest.raises(ConfigError, match="cannot carry an authenticated header"):
        parse_config({**raw, "key_file": str(good), "targets": [target]})


def test_the_zone_from_the_nodes_label_through_the_kubernetes_api(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("the-token\n")
    asked: list[tuple[str, str, str]] = []
    node = {"metadata": {"name": "edge 1", "labels": {"topology.kubernetes.io/zone": "shop-12"}}}

    def get(url: str, token: str, cafile: str) -> str:
        asked.append((url, token, cafile))
        return json.dumps(node)

    env = {"NETPROBE_NODE": "edge 1", "KUBERNETES_SERVICE_HOST": "10.43.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    assert zone_from_node_label(env, get, tmp_path) == "shop-12"
    assert asked == [("https://10.43.0.1:443/api/v1/nodes/edge%201", "the-token", str(tmp_path / "ca.crt"))]
    assert zone_from_node_label({**env, "KUBERNETES_SERVICE_HOST": "fd00::1"}, get, tmp_path) == "shop-12"
    assert asked[-1][0].startswith("https://[fd00::1]:443/")
    # No label, a label the identity cannot carry, an API that refuses, no token, not in a pod: "".
    node["metadata"]["labels"] = {}
    assert zone_from_node_label(env, get, tmp_path) == ""
    node["metadata"]["labels"] = {"topology.kubernetes.io/zone": "a|b"}
    assert zone_from_node_label(env, get, tmp_path) == ""

    def refuse(url: str, token: str, cafile: str) -> str:
        raise OSError("HTTP Error 403: Forbidden")

    assert zone_from_node_label(env, refuse, tmp_path) == ""
    assert zone_from_node_label(env, lambda *_: "not json", tmp_path) == ""
    assert zone_from_node_label(env, get, tmp_path / "nowhere") == ""
    assert zone_from_node_label({"NETPROBE_NODE": "n1"}, get, tmp_path) == ""


def test_the_tag_covers_the_header_and_sits_after_it() -> None:
    datagram = make_datagram(KEY, REQUEST, stream=1, seq=2, sent=3.0, identity=b"", size=36)
    assert len(datagram) == 36  # a 64-byte IP probe still carries the authenticated header
    assert datagram[HEADER.size : HEADER.size + TAG_SIZE] != bytes(TAG_SIZE)
    changed = bytearray(datagram)
    changed[5] ^= 1  # the stream id
    assert read_datagram(KEY, bytes(changed)) is None


def test_a_zone_from_the_downward_api_needs_no_api_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kubernetes 1.35+ (KEP-4742) copies the node's zone onto the pod: NETPROBE_ZONE is then set and
    neither the metadata service nor the API is asked."""
    import edgefleet.netprobe.agent as agent_module  # noqa: PLC0415

    def never(*_: object) -> str:
        raise AssertionError("asked for a zone it already had")

    monkeypatch.setattr(agent_module, "zone_from_node_label", never)
    monkeypatch.setattr(agent_module, "zone_from_metadata", never)
    for source in ("node-label", "metadata"):
        env = {**BASE_ENV, "NETPROBE_ZONE": "shop-12", "NETPROBE_ZONE_FROM": source}
        assert config_from_env(env).identity.zone == "shop-12"
    monkeypatch.setattr(agent_module, "zone_from_node_label", lambda env: "rack-b")
    assert (
        config_from_env({**BASE_ENV, "NETPROBE_ZONE": "", "NETPROBE_ZONE_FROM": "node-label"}).identity.zone == "rack-b"
    )


# --- across slices: each slice its own key, the others' answered -------------------------------


def test_a_responder_answers_a_peer_slices_key_with_that_key(tmp_path: Path) -> None:
    agent = _agent("c1", "n1", "wan-1", tmp=tmp_path, peers=(OTHER_KEY,))
    try:
        request = _request(OTHER_KEY, size=64)
        reply = agent.answer(request, time.time())
        assert reply is not None
        assert len(reply) == len(request)
        # Signed with the key of the request: the other slice's prober takes it, with its own key.
        assert read_datagram(OTHER_KEY, reply) is not None
        assert read_datagram(KEY, reply) is None
        own = agent.answer(_request(KEY, size=64, seq=2), time.time())
        assert own is not None
        assert read_datagram(KEY, own) is not None
        # A key it was not given, a replay under a peer key, a stale request: dropped.
        assert agent.answer(_request(THIRD_KEY, size=64, seq=3), time.time()) is None
        assert agent.answer(request, time.time()) is None
        stale = _request(OTHER_KEY, size=64, seq=4, sent=time.time() - FRESH_SECONDS - 1)
        assert agent.answer(stale, time.time()) is None
        # An unauthenticated probe is not answered by an agent with keys.
        assert agent.answer(_request(b"", size=64, seq=5), time.time()) is None
    finally:
        _close(agent)


def test_three_slices_with_their_own_keys_probe_each_other(tmp_path: Path) -> None:
    """Europe and Asia know each other's keys; a third slice's key is known to nobody yet (deployed
    after them): its probes are all lost and refused, theirs all answered."""
    eu = _agent("eu", "n1", "wan-eu", key=KEY, peers=(OTHER_KEY,), tmp=tmp_path)
    asia = _agent("asia", "n2", "wan-asia", key=OTHER_KEY, peers=(KEY,), tmp=tmp_path)
    late = _agent("na", "n3", "wan-na", key=THIRD_KEY, peers=(KEY, OTHER_KEY), tmp=tmp_path)
    agents = (eu, asia, late)
    for agent in agents:
        agent.start()
    try:
        eu.follow(WanPeer("asia", "127.0.0.1", asia.echo_port, (64,)), "127.0.0.1")
        asia.follow(WanPeer("eu", "127.0.0.1", eu.echo_port, (64,)), "127.0.0.1")
        late.follow(WanPeer("eu", "127.0.0.1", eu.echo_port, (64,)), "127.0.0.1")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            first = parse("".join(_metrics(a) for a in agents), prefix="netprobe_")
            named = {s.label("source_cluster") for s in first if s.label("destination_node")}
            if {"eu", "asia"} <= named:
                break
            time.sleep(0.05)
        time.sleep(1.0)
        samples = parse("".join(_metrics(a) for a in agents), prefix="netprobe_")
    finally:
        for agent in agents:
            agent.stop()
    evidence = build(deltas(first, samples), samples, window_seconds=1.0)
    wan = {(s.source.cluster, s.destination.cluster): s for s in evidence.streams if s.destination.cluster}
    assert set(wan) == {("eu", "asia"), ("asia", "eu")}
    for stream in wan.values():
        assert stream.probes > 30
        assert stream.lost == 0
    # The late slice loses every probe to Europe (100%: not one answered, no RTT), and Europe's
    # refused counter rises with them over the window; Asia's probes, under a peer key, are never
    # refused by Europe, nor Europe's by Asia.
    resolved = _total(samples, "netprobe_probes_total", source_cluster="na")
    assert resolved > 30
    assert _total(samples, "netprobe_probes_lost_total", source_cluster="na") == resolved
    assert _total(samples, "netprobe_rtt_seconds_count", source_cluster="na") == 0
    refused = "netprobe_datagrams_refused_total"
    assert _total(samples, refused, cluster="eu") - _total(first, refused, cluster="eu") > 30
    assert _total(samples, refused, cluster="asia") == 0
    assert _total(samples, "netprobe_echo_replies_total", cluster="eu") > 30  # Asia's, answered


@pytest.mark.parametrize(("signer", "taken"), [(KEY, True), (OTHER_KEY, False)], ids=["own-key", "peer-key"])
def test_a_prober_takes_no_reply_signed_with_a_peer_key_over_real_sockets(
    tmp_path: Path, signer: bytes, taken: bool
) -> None:
    """A responder answering every probe, hello and request, with the right stream, sequence and
    send time, signed with ``signer``: the prober's own key (the control, every probe answered) or
    the key of a slice it answers (its peer key: every probe lost, its peer never named)."""
    prober = _agent("eu", "n1", "wan-eu", key=KEY, peers=(OTHER_KEY,), tmp=tmp_path)
    responder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    responder.bind(("127.0.0.1", 0))
    responder.settimeout(0.2)
    stop = threading.Event()
    replied = [0]
    who = Identity("asia", "n2", "", "wan-asia").encode()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = responder.recvfrom(65535)
            except OSError:
                continue
            _, kind, stream, seq, sent = HEADER.unpack_from(data)
            kind = HELLO_REPLY if kind == HELLO else REPLY
            responder.sendto(make_datagram(signer, kind, stream=stream, seq=seq, sent=sent, identity=who,
                                           size=len(data)), peer)  # fmt: skip
            replied[0] += 1

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    prober.start()
    try:
        prober.follow(WanPeer("asia", "127.0.0.1", responder.getsockname()[1], (64,)), "127.0.0.1")
        time.sleep(1.5)
    finally:
        prober.stop()
        stop.set()
        thread.join(timeout=2)
        responder.close()
    (stream,) = prober.streams.values()
    assert replied[0] > 30  # the replies did come back
    assert stream.received + stream.lost > 30
    if taken:
        assert stream.lost == 0
        assert stream.destination == Identity("asia", "n2", "", "wan-asia")
    else:
        assert stream.received == 0  # 100% loss: a peer key is for answering, never for replies
        assert stream.destination == Identity("asia", "")  # not learnt from a hello's reply either


def _total(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of a family's samples with these labels (0 when there are none)."""
    return sum(s.value for s in samples if s.name == name and all(s.label(k) == v for k, v in labels.items()))


def test_the_peer_slices_keys_come_from_the_environment() -> None:
    env = {**BASE_ENV, "NETPROBE_KEY": KEY.hex(), "NETPROBE_PEER_KEYS": f" {OTHER_KEY.hex()} ,{KEY.hex()},"
           f"{OTHER_KEY.hex().upper()},{THIRD_KEY.hex()}"}  # fmt: skip
    # Duplicates and the own key left out, in the order given.
    assert config_from_env(env).peer_keys == (OTHER_KEY, THIRD_KEY)
    assert config_from_env({**BASE_ENV, "NETPROBE_KEY": KEY.hex(), "NETPROBE_PEER_KEYS": ""}).peer_keys == ()
    # An error names the item where it stands, empty items counted.
    with pytest.raises(ConfigError, match=r"^NETPROBE_PEER_KEYS\[2\]: the key must be hexadecimal"):
        config_from_env({**BASE_ENV, "NETPROBE_KEY": KEY.hex(), "NETPROBE_PEER_KEYS": f"{OTHER_KEY.hex()},,zz"})
    assert config_from_env({**BASE_ENV, "NETPROBE_KEY": KEY.hex()}).peer_keys == ()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"NETPROBE_PEER_KEYS": OTHER_KEY.hex()}, "NETPROBE_PEER_KEYS needs NETPROBE_KEY"),
        ({"NETPROBE_KEY": KEY.hex(), "NETPROBE_PEER_KEYS": f"{OTHER_KEY.hex()},abcd"},
         "NETPROBE_PEER_KEYS[1]: the key must be at least 16 bytes"),
        ({"NETPROBE_KEY": KEY.hex(), "NETPROBE_PEER_KEYS": f"{THIRD_KEY.hex()}, {OTHER_KEY.hex()[:30]} "},
         "NETPROBE_PEER_KEYS[1]: the key must be at least 16 bytes"),
        ({"NETPROBE_KEY": KEY.hex(), "NETPROBE_PEER_KEYS": "zz" * 32},
         "NETPROBE_PEER_KEYS[0]: the key must be hexadecimal"),
        ({"NETPROBE_KEY": KEY.hex(), "NETPROBE_PEER_KEYS": OTHER_KEY.hex()[:-1] + "g"},
         "NETPROBE_PEER_KEYS[0]: the key must be hexadecimal"),
        ({"NETPROBE_KEY": KEY.hex(), "NETPROBE_PEER_KEYS": ",".join([OTHER_KEY.hex()] * 65)},
         "NETPROBE_PEER_KEYS: 65 keys; at most 64"),
    ],
)  # fmt: skip
def test_bad_peer_keys_are_named_never_shown(extra: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_env({**BASE_ENV, **extra})
    assert str(caught.value).startswith(message), caught.value
    for secret in (OTHER_KEY, THIRD_KEY):  # neither a key nor a piece of one is shown
        assert secret.hex()[:16] not in str(caught.value).lower()
    assert "zz" * 32 not in str(caught.value)


def test_peer_key_files_need_a_key_file_and_must_be_readable(tmp_path: Path) -> None:
    peer = tmp_path / "peer.key"
    peer.write_text(OTHER_KEY.hex())
    raw: dict[str, object] = {"identity": {"cluster": "c1", "node": "n1"}, "peer_key_files": [str(peer)]}
    with pytest.raises(ConfigError, match="peer_key_files needs key_file"):
        parse_config(raw)
    own = tmp_path / "own.key"
    own.write_text(KEY.hex())
    raw["key_file"] = str(own)
    assert parse_config(raw).peer_keys == (OTHER_KEY,)
    raw["peer_key_files"] = [str(peer), str(tmp_path / "missing.key")]
    with pytest.raises(ConfigError, match=r"peer_key_files\[1\]: "):
        parse_config(raw)
    raw["peer_key_files"] = str(peer)
    with pytest.raises(ConfigError, match="peer_key_files: expected a list"):
        parse_config(raw)
    # A file with a bad key is named by its index; what it holds is never shown.
    bad = ((OTHER_KEY.hex()[:-1] + "x", "must be hexadecimal"), (OTHER_KEY.hex()[:30], "must be at least 16"))
    for text, message in bad:
        peer.write_text(text)
        raw["peer_key_files"] = [str(own), str(peer)]
        with pytest.raises(ConfigError, match=rf"^peer_key_files\[1\]: the key {message}") as caught:
            parse_config(raw)
        assert OTHER_KEY.hex()[:16] not in str(caught.value)
    # Its own key among the peer files, or the same key twice: dropped.
    peer.write_text(OTHER_KEY.hex().upper() + "\n")
    raw["peer_key_files"] = [str(own), str(peer), str(peer)]
    assert parse_config(raw).peer_keys == (OTHER_KEY,)
