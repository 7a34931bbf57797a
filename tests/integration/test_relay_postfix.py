"""Relaying to Postfix's smtp-sink on loopback, with and without PIPELINING
offered. smtp-sink has no TLS, so these run with `smarthost_tls = none`; the
TLS cases are covered against aiosmtpd (test_relay.py)."""
import smtplib

import pytest

from postfix_sink import SmtpSink
from smarthost import wait_for


@pytest.fixture
def sinks():
    started = []

    def make(**kwargs):
        sink = SmtpSink(**kwargs)
        started.append(sink)
        return sink

    yield make
    for sink in started:
        sink.stop()


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "no-pipelining"])
def test_relays_several_messages_over_one_connection(make_pigeon, sinks, pipelining):
    sink = sinks(pipelining=pipelining)
    relay = make_pigeon([f"smarthost_host = 127.0.0.1", f"smarthost_port = {sink.port}", "smarthost_tls = none",
                         "relay_networks = 127.0.0.0/8"])
    with smtplib.SMTP("127.0.0.1", relay.ports["smtp"], timeout=30) as client:
        for number in range(5):
            client.sendmail("device@localhost", ["friend@example.net", "other@example.org"],
                            f"Subject: to postfix {number}\r\n\r\nbody {number}\r\n")
    # smtp-sink writes a dump as the transaction goes: wait for the bodies.
    dumps = wait_for(lambda: sink.complete_messages(b"body ", 5), what="five messages at smtp-sink")
    assert all(b"X-Mail-Args: <device@localhost>" in dump for dump in dumps)
    assert all(b"X-Rcpt-Args: <friend@example.net>" in dump and b"X-Rcpt-Args: <other@example.org>" in dump
               for dump in dumps)
    assert sorted(dump.split(b"Subject: ")[1][:12] for dump in dumps) == [b"to postfix %d" % n for n in range(5)]
    log = relay.log()
    assert log.count(": 250 2.0.0 Ok") == 10 and "deferred" not in log  # each recipient logged with its reply
