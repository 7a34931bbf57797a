"""The alert API end to end: tools/pigeon-alert through the host's loopback
alert endpoint, into the spool, out through a real smarthost (aiosmtpd) or
into a local mailbox."""
import email
import email.policy
import importlib.machinery
import importlib.util
import os
import socket
import subprocess
import sys
import time

import pytest

from conftest import fetch_all
from smarthost import CertificateAuthority, Smarthost, wait_for

TOOL = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "pigeon-alert")


def load_tool():
    loader = importlib.machinery.SourceFileLoader("pigeon_alert", TOOL)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("pigeon_alert", loader))
    loader.exec_module(module)
    return module


send_alert = load_tool().send_alert


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return CertificateAuthority(str(tmp_path_factory.mktemp("ca")))


def start(make_pigeon, extra=()):
    relay = make_pigeon(["alert_window_s = 60", "alert_max_per_window = 3", *extra],
                        extra_env={"PIGEON_ALERT_PORT": "0"})
    return relay, relay.ports["alerts"]


def test_alert_reaches_the_smarthost(make_pigeon, ca):
    cert, key = ca.issue("localhost")
    host = Smarthost(cert=cert, key=key)
    try:
        relay, port = start(make_pigeon, [
            "smarthost_host = localhost", f"smarthost_port = {host.port}",
            f"smarthost_ca_file = {ca.cert}", "retry_initial_s = 1"])
        sent_at = time.monotonic()
        assert send_alert(port, "admin@example.org", "Disk almost full", "Only 3 % left.", "disk") == (0, "sent")
        messages = wait_for(lambda: host.messages, what="the alert at the smarthost")
        latency_ms = (time.monotonic() - sent_at) * 1000
        print(f"alert call to smarthost 250: {latency_ms:.1f} ms")
        mail_from, rcpt_tos, content = messages[0]
        assert rcpt_tos == ["admin@example.org"] and mail_from.startswith("pigeon@")
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert message["Subject"] == "Disk almost full" and message["Message-ID"].startswith("<alert.")
        assert message.get_content().strip() == "Only 3 % left."
    finally:
        host.stop()


def test_utf8_subject_is_encoded_and_delivered_locally(make_pigeon):
    relay, port = start(make_pigeon)
    assert send_alert(port, "user@localhost", "Température élevée", "Ligne 1\nLigne 2", "temp")[0] == 0
    raw = fetch_all(relay)[0]
    assert b"Subject: =?UTF-8?Q?" in raw
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "Température élevée"
    assert message.get_content().replace("\r\n", "\n").strip() == "Ligne 1\nLigne 2"


def test_header_injection_is_refused(make_pigeon):
    relay, port = start(make_pigeon)
    assert send_alert(port, "user@localhost", "hello\rBcc: victim@example.net", "x", "k") == (-1, "header_injection")
    assert fetch_all(relay) == []


def test_same_key_coalesces_and_rate_limit_counts(make_pigeon):
    relay, port = start(make_pigeon)
    answers = [send_alert(port, "user@localhost", "Fan stopped", "fan 2", "fan")[1] for _ in range(3)]
    assert answers == ["sent", "coalesced", "coalesced"]
    others = [send_alert(port, "user@localhost", f"Other {i}", "x", f"other{i}")[1] for i in range(3)]
    assert others == ["sent", "sent", "rate_limited"]  # at most 3 messages per window
    assert len(fetch_all(relay)) == 3


def test_tool_exit_status(make_pigeon):
    relay, port = start(make_pigeon)
    ok = subprocess.run([sys.executable, TOOL, "--port", str(port), "--to", "user@localhost", "--subject", "s", "b"],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.strip() == "0 sent"
    refused = subprocess.run([sys.executable, TOOL, "--port", str(port), "--to", "not an address",
                              "--subject", "s", "b"], capture_output=True, text=True)
    assert refused.returncode == 1 and refused.stdout.strip() == "-2 bad_address"


def busy_answer(port):
    """The answer when every slot is taken; None when the reset of a request
    that arrived after the relay read overtook it (the caller retries)."""
    try:
        return send_alert(port, "user@localhost", "s", "b", "k2")
    except ConnectionResetError:
        return None


def test_idle_clients_do_not_block_alerts_and_a_full_endpoint_says_busy(make_pigeon):
    relay, port = start(make_pigeon)
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
    try:
        started = time.monotonic()
        assert send_alert(port, "user@localhost", "served at once", "body", "k1") == (0, "sent")
        assert time.monotonic() - started < 2  # not after the idle clients' 5 s deadline
        idle.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        wait_for(lambda: busy_answer(port) == (-8, "busy"), what="busy")
    finally:
        for connection in idle:
            connection.close()
    wait_for(lambda: send_alert(port, "user@localhost", "free again", "b", "k3") == (0, "sent"), what="a free slot")
