"""The smarthost named by a host name: pigeon's own DNS stub resolver
(hal/posix/posix_resolver.cpp) asks a tiny DNS server that each test runs on
127.0.0.1, named in a resolv.conf of the test's own (PIGEON_RESOLV_CONF) on
its port (PIGEON_DNS_PORT). No query leaves the loopback interface."""
import socket
import struct
import threading

import pytest

from smarthost import wait_for
from test_relay import ca, relay_config, send, smarthosts  # noqa: F401 (fixtures)

SMARTHOST_NAME = "smarthost.pigeon.test"
TYPES = {"A": 1, "CNAME": 5, "AAAA": 28}


def encode_name(name):
    return b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"


def decode_name(message, offset):
    labels = []
    while message[offset]:
        length = message[offset]
        labels.append(message[offset + 1:offset + 1 + length].decode().lower())
        offset += 1 + length
    return ".".join(labels), offset + 1


class DnsServer:
    """Answers queries from `records` ({name: [(type, value)]}), following
    CNAMEs as a recursive server does; NXDOMAIN for names it does not know.
    `silent` answers nothing; `foreign_first` sends a reply with another id
    before each real one (a spoofing attempt the resolver must ignore)."""

    def __init__(self, records, silent=False, foreign_first=False):
        self.records = records
        self.silent = silent
        self.foreign_first = foreign_first
        self.queries = []
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while self.running:
            try:
                query, peer = self.socket.recvfrom(512)
            except socket.timeout:
                continue
            query_id, = struct.unpack(">H", query[:2])
            name, end = decode_name(query, 12)
            qtype, = struct.unpack(">H", query[end:end + 2])
            self.queries.append((name, qtype))
            if self.silent:
                continue
            if self.foreign_first:
                self.socket.sendto(self.answer(query_id ^ 0xFFFF, query[12:end + 4], name, qtype), peer)
            self.socket.sendto(self.answer(query_id, query[12:end + 4], name, qtype), peer)

    def answer(self, query_id, question, name, qtype):
        if name not in self.records:
            return struct.pack(">HHHHHH", query_id, 0x8183, 1, 0, 0, 0) + question
        records = []
        owner = b"\xc0\x0c"  # the first owner points at the question's name
        while name in self.records:
            target = None
            for kind, value in self.records[name]:
                if kind == "CNAME":
                    data, target = encode_name(value), value
                elif TYPES[kind] == qtype:
                    data = socket.inet_pton(socket.AF_INET if kind == "A" else socket.AF_INET6, value)
                else:
                    continue
                records.append(owner + struct.pack(">HHIH", TYPES[kind], 1, 60, len(data)) + data)
            if target is None:
                break
            name, owner = target, encode_name(target)
        header = struct.pack(">HHHHHH", query_id, 0x8180, 1, len(records), 0, 0)
        return header + question + b"".join(records)

    def stop(self):
        self.running = False
        self.thread.join()
        self.socket.close()


@pytest.fixture
def dns_servers():
    started = []

    def make(records, **kwargs):
        server = DnsServer(records, **kwargs)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def named_cert(ca):  # noqa: F811 (the fixture imported above)
    return ca.issue(SMARTHOST_NAME)


def start_relay(make_pigeon, tmp_path, dns, smarthost, ca_file):
    resolv_conf = tmp_path / "resolv.conf"
    resolv_conf.write_text("# the test's own\nnameserver 127.0.0.1\n")
    environment = {"PIGEON_RESOLV_CONF": str(resolv_conf), "PIGEON_DNS_PORT": str(dns.port)}
    return make_pigeon(relay_config(smarthost, ca_file, host=SMARTHOST_NAME), extra_env=environment)


@pytest.mark.parametrize("foreign_first", [False, True])
def test_smarthost_name_resolved_through_a_cname(make_pigeon, smarthosts, dns_servers, ca, named_cert,  # noqa: F811
                                                 tmp_path, foreign_first):
    dns = dns_servers({SMARTHOST_NAME: [("CNAME", "mx.pigeon.test")], "mx.pigeon.test": [("A", "127.0.0.1")]},
                      foreign_first=foreign_first)
    host = smarthosts(cert=named_cert[0], key=named_cert[1])
    relay = start_relay(make_pigeon, tmp_path, dns, host, ca.cert)
    send(relay, subject="found by name")
    messages = wait_for(lambda: host.messages, what="the message at the smarthost")
    assert b"Subject: found by name" in messages[0][2]
    assert dns.queries[0] == (SMARTHOST_NAME, TYPES["A"])


def test_unknown_name_is_retried_later(make_pigeon, smarthosts, dns_servers, ca, named_cert, tmp_path):  # noqa: F811
    dns = dns_servers({})
    host = smarthosts(cert=named_cert[0], key=named_cert[1])
    relay = start_relay(make_pigeon, tmp_path, dns, host, ca.cert)
    send(relay)
    wait_for(lambda: relay.log().count("host name does not resolve") >= 2, what="two failed lookups")
    assert host.messages == []


def test_name_without_ipv4_is_asked_for_ipv6(make_pigeon, smarthosts, dns_servers, ca, named_cert,  # noqa: F811
                                            tmp_path):
    dns = dns_servers({SMARTHOST_NAME: [("AAAA", "::1")]})
    host = smarthosts(cert=named_cert[0], key=named_cert[1])  # on 127.0.0.1 only: ::1 refuses
    relay = start_relay(make_pigeon, tmp_path, dns, host, ca.cert)
    send(relay)
    wait_for(lambda: "connection refused" in relay.log(), what="a connection attempt to ::1")
    assert dns.queries[:2] == [(SMARTHOST_NAME, TYPES["A"]), (SMARTHOST_NAME, TYPES["AAAA"])]


def test_silent_server_is_asked_three_times(make_pigeon, smarthosts, dns_servers, ca, named_cert,  # noqa: F811
                                            tmp_path):
    dns = dns_servers({}, silent=True)
    host = smarthosts(cert=named_cert[0], key=named_cert[1])
    relay = start_relay(make_pigeon, tmp_path, dns, host, ca.cert)
    send(relay)
    # Three tries, two seconds apart, then the attempt fails and is retried later.
    wait_for(lambda: "host name does not resolve" in relay.log(), timeout_s=30, what="the lookup to give up")
    assert dns.queries[:3] == [(SMARTHOST_NAME, TYPES["A"])] * 3
