"""Clients that start DATA and then drip must not stop mail for everyone
(docs/security.md, "What one client can take"): with a 1 MiB spool, open
messages used to pin their sectors until every sender got 452 4.3.1. Now
reclaim aborts them (451 4.3.0 at their final dot), and DATA and the whole
session have time limits."""
import poplib
import smtplib
import time

import pytest

from smarthost import wait_for
from test_errors_and_limits import smtp

SMALL_SPOOL = ["spool_bytes = 1048576"]  # sixteen 64 KiB sectors (boards/host/main.cpp)
SLOW_CLIENTS = 5
SLOW_BODY_BYTES = 150 * 1024
GOOD_MESSAGES = 40
GOOD_BODY = b"Subject: still served\r\n\r\n" + (b"z" * 998 + b"\r\n") * 40  # 40 KB
GOOD_CLIENT_BOUND_S = 60


def open_slow_message(relay):
    """A client that sends most of a big message and then holds DATA open."""
    dialog = smtp(relay)
    assert dialog.command("MAIL FROM:<slow@lan.example>") == (250, "2.1.0")
    assert dialog.command("RCPT TO:<user@localhost>") == (250, "2.1.5")
    assert dialog.command("DATA")[0] == 354
    dialog.send(b"Subject: drip\r\n\r\n" + (b"s" * 998 + b"\r\n") * (SLOW_BODY_BYTES // 1000))
    return dialog


def fetch_and_delete(relay):
    """The well-behaved reader: takes every message of the maildrop; returns how many."""
    client = poplib.POP3_SSL("127.0.0.1", relay.ports["pop3s"], context=relay.tls_context(), timeout=30)
    client.user(relay.user)
    client.pass_(relay.password)
    count, _ = client.stat()
    for number in range(1, count + 1):
        client.retr(number)
        client.dele(number)
    client.quit()
    return count


def test_dripping_clients_do_not_stop_a_well_behaved_one(make_pigeon):
    relay = make_pigeon(SMALL_SPOOL)
    slow = [open_slow_message(relay) for _ in range(SLOW_CLIENTS)]
    started = time.monotonic()
    accepted = fetched = 0
    with smtplib.SMTP("127.0.0.1", relay.ports["smtp"], timeout=30) as good:
        for number in range(GOOD_MESSAGES):
            good.sendmail("good@lan.example", ["user@localhost"], GOOD_BODY)  # raises on 452
            accepted += 1
            for dialog in slow:
                dialog.send(b"x")  # never idle
            if number % 4 == 3:
                fetched += fetch_and_delete(relay)
    elapsed_s = time.monotonic() - started
    fetched += fetch_and_delete(relay)
    print(f"[slow DATA] {SLOW_CLIENTS} dripping clients of {SLOW_BODY_BYTES // 1024} KB each, "
          f"{accepted}/{GOOD_MESSAGES} well-behaved messages of {len(GOOD_BODY) // 1024} KB accepted "
          f"in {elapsed_s:.1f} s, {fetched} fetched")
    assert accepted == GOOD_MESSAGES and fetched == GOOD_MESSAGES
    assert elapsed_s < GOOD_CLIENT_BOUND_S
    # The ring went round: the dripping messages were aborted, and each client
    # learns it at its final dot with a reply that lets it retry.
    for dialog in slow:
        assert dialog.command(b"\r\n.") == (451, "4.3.0")
        dialog.close()
    assert relay.log().count("aborted: spool space needed") == SLOW_CLIENTS


def test_data_phase_and_session_have_time_limits(make_pigeon):
    relay = make_pigeon(SMALL_SPOOL + ["data_time_limit_s = 2", "session_time_limit_s = 4"])
    dripping = open_slow_message(relay)
    started = time.monotonic()
    while time.monotonic() - started < 1.5:  # busy, never idle
        dripping.send(b"x")
        time.sleep(0.1)
    assert dripping.reply() == (421, "4.4.2")
    assert dripping.at_eof()
    assert time.monotonic() - started < 3.5
    dripping.close()
    # A session that keeps sending commands ends at its own limit.
    chatty = smtp(relay)
    started = time.monotonic()
    answered = 0
    while time.monotonic() - started < 8:
        try:
            if chatty.command("NOOP")[0] != 250:
                break
        except (OSError, EOFError):
            break
        answered += 1
        time.sleep(0.2)
    assert 3 < time.monotonic() - started < 6 and answered > 10
    assert relay.log().count("time limit reached") == 2


def test_one_message_takes_at_most_its_share_of_the_spool(make_pigeon):
    relay = make_pigeon(SMALL_SPOOL + ["spool_share_percent = 25"])
    with smtplib.SMTP("127.0.0.1", relay.ports["smtp"], timeout=30) as client:
        client.ehlo()
        size_limit = int(client.esmtp_features["size"])
        assert 150 * 1024 < size_limit < 1048576 // 4
        body = b"Subject: big\r\n\r\n" + (b"b" * 998 + b"\r\n") * (size_limit // 1000 + 1)
        try:
            client.sendmail("big@lan.example", ["user@localhost"], body)
            raise AssertionError("a message over the spool share was accepted")
        except smtplib.SMTPSenderRefused as refused:
            assert refused.smtp_code == 552


def test_a_pop3_session_has_the_same_time_limit_and_commits_nothing(make_pigeon):
    """A POP3 client that keeps its session busy holds a slot, a TLS session and
    its maildrop's lock: it ends at session_time_limit_s, and a DELE it made is
    not committed (only QUIT commits, RFC 1939 §6)."""
    limit_s = 3
    relay = make_pigeon([f"session_time_limit_s = {limit_s}"])
    relay.submit(b"Subject: kept\r\n\r\nstill here\r\n")
    client = poplib.POP3_SSL("127.0.0.1", relay.ports["pop3s"], context=relay.tls_context(), timeout=30)
    started = time.monotonic()
    client.user(relay.user)
    client.pass_(relay.password)
    client.dele(1)
    answered = 0
    with pytest.raises(poplib.error_proto) as ended:
        while time.monotonic() - started < 4 * limit_s:
            client.noop()
            answered += 1
            time.sleep(0.2)
    elapsed_s = time.monotonic() - started
    assert b"Session too long" in str(ended.value).encode()
    assert limit_s - 0.5 < elapsed_s < 2 * limit_s and answered > 5
    client.close()
    wait_for(lambda: "pop3: connection with" in relay.log() and "time limit reached" in relay.log())
    assert fetch_and_delete(relay) == 1
