"""Relaying to a real smarthost (aiosmtpd) on loopback over verified TLS, and
the faults it must survive: each test asserts what reached the smarthost and
what the relay logged."""
import hashlib
import os
import poplib
import re
import smtplib
import socket
import subprocess
import sys
import time
import types

import pytest
from aiosmtpd.smtp import AuthResult

from conftest import fetch_all
from test_alert import send_alert
from smarthost import Smarthost, CertificateAuthority, wait_for

REMOTE = "friend@example.net"
LOCAL_SENDER = "user@localhost"


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return CertificateAuthority(str(tmp_path_factory.mktemp("ca")))


@pytest.fixture(scope="module")
def localhost_cert(ca):
    return ca.issue("localhost")


@pytest.fixture
def smarthosts():
    started = []

    def make(**kwargs):
        host = Smarthost(**kwargs)
        started.append(host)
        return host

    yield make
    for host in started:
        host.stop()


def relay_config(smarthost, ca_file, tls="starttls", host="localhost"):
    return [
        f"smarthost_host = {host}", f"smarthost_port = {smarthost.port}", f"smarthost_tls = {tls}",
        f"smarthost_ca_file = {ca_file}", "relay_networks = 127.0.0.0/8",
        "retry_initial_s = 1", "retry_max_s = 1",
    ]


def send(relay, recipients=(REMOTE,), sender=LOCAL_SENDER, subject="relay test"):
    message = f"From: {sender}\r\nTo: {', '.join(recipients)}\r\nSubject: {subject}\r\n\r\nHello over the relay.\r\n"
    with smtplib.SMTP("127.0.0.1", relay.ports["smtp"], timeout=30) as client:
        client.sendmail(sender, list(recipients), message)
    return message


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_relays_over_verified_tls(make_pigeon, smarthosts, ca, localhost_cert, tls):
    host = smarthosts(tls=tls, cert=localhost_cert[0], key=localhost_cert[1])
    relay = make_pigeon(relay_config(host, ca.cert, tls=tls))
    send(relay, subject=f"over {tls}")
    messages = wait_for(lambda: host.messages, what="the message at the smarthost")
    mail_from, rcpt_tos, content = messages[0]
    assert mail_from == LOCAL_SENDER and rcpt_tos == [REMOTE]
    assert f"Subject: over {tls}".encode() in content
    assert content.startswith(b"Received: ")
    wait_for(lambda: "250 2.0.0 OK queued" in relay.log(), what="the logged reply")


def test_local_and_remote_recipients_split(make_pigeon, smarthosts, ca, localhost_cert):
    host = smarthosts(cert=localhost_cert[0], key=localhost_cert[1])
    relay = make_pigeon(relay_config(host, ca.cert))
    send(relay, recipients=(REMOTE, "user@localhost"))
    messages = wait_for(lambda: host.messages, what="the remote copy")
    assert messages[0][1] == [REMOTE]
    assert len(fetch_all(relay)) == 1


def test_relaying_denied_outside_relay_networks(make_pigeon, smarthosts, ca, localhost_cert):
    host = smarthosts(cert=localhost_cert[0], key=localhost_cert[1])
    config = [line for line in relay_config(host, ca.cert) if not line.startswith("relay_networks")]
    relay = make_pigeon(config)
    with smtplib.SMTP("127.0.0.1", relay.ports["smtp"], timeout=30) as client:
        client.ehlo()
        client.mail(LOCAL_SENDER)
        code, text = client.rcpt(REMOTE)
    assert (code, text[:5]) == (550, b"5.7.1")


def test_too_many_received_headers_is_a_loop(make_pigeon, smarthosts, ca, localhost_cert):
    host = smarthosts(cert=localhost_cert[0], key=localhost_cert[1])
    relay = make_pigeon(relay_config(host, ca.cert))
    trace = "".join(f"Received: from hop{i} by hop{i + 1}; Mon, 1 Jan 2024 00:00:00 +0000\r\n" for i in range(31))
    with smtplib.SMTP("127.0.0.1", relay.ports["smtp"], timeout=30) as client:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail(LOCAL_SENDER, [REMOTE], trace + "Subject: loop\r\n\r\nbody\r\n")
    assert refused.value.smtp_code == 554 and refused.value.smtp_error.startswith(b"5.4.6")


def test_connection_refused_is_retried(make_pigeon, smarthosts, ca, localhost_cert):
    host = smarthosts(cert=localhost_cert[0], key=localhost_cert[1])
    port = host.port
    host.stop()
    relay = make_pigeon(relay_config(host, ca.cert))
    send(relay)
    wait_for(lambda: relay.log().count("connection refused") >= 2, what="two refused attempts")
    assert "next retry in" in relay.log()


def test_421_greeting_then_delivered(make_pigeon, smarthosts, ca, localhost_cert):
    host = smarthosts(cert=localhost_cert[0], key=localhost_cert[1])
    host.faults.greeting_421 = 1
    relay = make_pigeon(relay_config(host, ca.cert))
    send(relay)
    wait_for(lambda: host.messages, what="delivery after the 421")
    assert "421 4.3.2" in relay.log()


def test_451_on_rcpt_is_retried_and_delivered_once(make_pigeon, smarthosts, ca, localhost_cert):
    host = smarthosts(cert=localhost_cert[0], key=localhost_cert[1])
    host.faults.rcpt_451 = 1
    relay = make_pigeon(relay_config(host, ca.cert))
    send(relay)
    wait_for(lambda: host.messages, what="delivery after the 451")
    wait_for(lambda: "deferred (attempt 1)" in relay.log(), what="the logged deferral")
    assert len(host.messages) == 1
    relay.stop()
    # The second connection resumed the first one's TLS session.
    assert "smarthost TLS handshakes 2, of which resumed 1" in relay.log()


def test_550_on_rcpt_returns_a_report_to_the_local_sender(make_pigeon, smarthosts, ca, localhost_cert):
    host = smarthosts(cert=localhost_cert[0], key=localhost_cert[1])
    host.faults.refuse.add(REMOTE)
    relay = make_pigeon(relay_config(host, ca.cert))
    send(relay, subject="will bounce")
    wait_for(lambda: "report to <user@localhost> queued" in relay.log(), what="the delivery report")
    reports = fetch_all(relay)
    assert len(reports) == 1
    report = reports[0]
    assert b"multipart/report; report-type=delivery-status" in report
    assert b"Content-Type: message/delivery-status" in report
    assert b"Final-Recipient: rfc822; " + REMOTE.encode() in report
    assert b"Status: 5.1.1" in report and b"Action: failed" in report
    assert b"Diagnostic-Code: smtp; 550 5.1.1 No such user here" in report
    assert b"Content-Type: text/rfc822-headers" in report and b"Subject: will bounce" in report
    assert b"Hello over the relay." not in report  # headers only, never the body
    assert host.messages == []


def test_no_report_for_the_null_sender(make_pigeon, smarthosts, ca, localhost_cert):
    host = smarthosts(cert=localhost_cert[0], key=localhost_cert[1])
    host.faults.refuse.add(REMOTE)
    relay = make_pigeon(relay_config(host, ca.cert))
    send(relay, sender="")
    wait_for(lambda: "no report for the null sender" in relay.log(), what="the bounce")
    assert fetch_all(relay) == []


def test_drop_in_the_middle_of_data_is_retried(make_pigeon, smarthosts, ca, localhost_cert):
    host = smarthosts(cert=localhost_cert[0], key=localhost_cert[1])
    host.faults.drop_in_data = 1
    relay = make_pigeon(relay_config(host, ca.cert))
    send(relay)
    wait_for(lambda: host.messages, what="delivery after the drop")
    assert len(host.messages) == 1
    assert "connection lost" in relay.log()


def test_drop_after_the_final_dot_is_delivered_again(make_pigeon, smarthosts, ca, localhost_cert):
    host = smarthosts(cert=localhost_cert[0], key=localhost_cert[1])
    host.faults.drop_after_dot = 1
    relay = make_pigeon(relay_config(host, ca.cert))
    send(relay)
    # At least once: the smarthost got it, the relay never heard, so it sends again.
    wait_for(lambda: len(host.messages) == 2, what="the second delivery")
    assert host.messages[0][2] == host.messages[1][2]


@pytest.mark.parametrize("problem", ["wrong host name", "untrusted CA"])
def test_unverified_smarthost_gets_nothing(make_pigeon, smarthosts, ca, tmp_path, problem):
    if problem == "wrong host name":
        cert, key = ca.issue("wrong.example")
        ca_file = ca.cert
    else:
        cert, key = ca.issue("localhost")
        ca_file = CertificateAuthority(str(tmp_path / "other"), name="other").cert
    host = smarthosts(cert=cert, key=key)
    relay = make_pigeon(relay_config(host, ca_file))
    send(relay)
    expected = "does not name the smarthost" if problem == "wrong host name" else "not trusted"
    wait_for(lambda: relay.log().count(expected) >= 2, what="two refused handshakes")
    assert host.handler.data_seen == 0 and host.messages == []


def test_starttls_required_but_not_offered(make_pigeon, smarthosts, ca):
    host = smarthosts(tls="none")
    relay = make_pigeon(relay_config(host, ca.cert))
    send(relay)
    wait_for(lambda: "does not offer STARTTLS" in relay.log(), what="the refusal")
    assert host.handler.data_seen == 0 and host.messages == []


def test_bytes_injected_after_starttls_220_are_discarded(make_pigeon, smarthosts, ca, localhost_cert):
    host = smarthosts(cert=localhost_cert[0], key=localhost_cert[1])
    host.faults.inject_after_starttls = True
    relay = make_pigeon(relay_config(host, ca.cert))
    send(relay)
    messages = wait_for(lambda: host.messages, what="delivery over TLS")
    assert len(messages) == 1 and "injected" not in relay.log()


def test_kill_and_restart_resumes(make_pigeon, smarthosts, ca, localhost_cert, tmp_path):
    host = smarthosts(cert=localhost_cert[0], key=localhost_cert[1])
    host.faults.rcpt_451 = 1000  # nothing gets through before the kill
    state = str(tmp_path / "state")
    relay = make_pigeon(relay_config(host, ca.cert), state=state)
    send(relay)
    wait_for(lambda: "deferred" in relay.log(), what="a first deferral")
    relay.kill_hard()
    host.faults.rcpt_451 = 0
    restarted = make_pigeon(relay_config(host, ca.cert), state=state)
    wait_for(lambda: host.messages, what="delivery after the restart")
    assert "OK queued" in restarted.log()


def inspect_spool(state):
    tool = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "spool-inspect")
    return subprocess.run([sys.executable, tool, os.path.join(state, "spool.img")], capture_output=True, text=True)


def test_backoff_and_last_reply_survive_a_restart(make_pigeon, smarthosts, ca, localhost_cert, tmp_path):
    host = smarthosts(cert=localhost_cert[0], key=localhost_cert[1])
    host.faults.rcpt_451 = 1000
    state = str(tmp_path / "state")
    config = [line for line in relay_config(host, ca.cert) if not line.startswith("retry_")]
    relay = make_pigeon(config + ["retry_initial_s = 600"], state=state)
    send(relay)
    wait_for(lambda: "deferred (attempt 1)" in relay.log(), what="the first deferral")
    deferred_at_s = time.monotonic()
    relay.kill_hard()
    shown = inspect_spool(state)
    assert shown.returncode == 0, shown.stderr
    assert "friend@example.net" in shown.stdout
    assert "attempts 1, next retry " in shown.stdout and "last reply: 451 4.3.0 Try again later" in shown.stdout
    restarted = make_pigeon(config + ["retry_initial_s = 600"], state=state)
    line = wait_for(lambda: re.search(r"resumed after 1 failed attempts; next retry in (\d+) s", restarted.log()),
                    what="the resumed backoff")
    # The time between the deferral and the restart counts down the backoff
    # (seconds on a loaded machine or under emulation); one more for rounding.
    elapsed_s = time.monotonic() - deferred_at_s
    assert 600 - elapsed_s - 1 <= int(line.group(1)) <= 600
    assert host.handler.data_seen == 0 and "deferred (attempt 2)" not in restarted.log()


def test_message_older_than_the_maximum_age_expires_after_a_restart(make_pigeon, smarthosts, ca, localhost_cert,
                                                                     tmp_path):
    host = smarthosts(cert=localhost_cert[0], key=localhost_cert[1])
    host.stop()  # refused: every attempt fails
    state = str(tmp_path / "state")
    relay = make_pigeon(relay_config(host, ca.cert) + ["max_queue_age_s = 3600"], state=state)
    send(relay, subject="too old")
    wait_for(lambda: "deferred (attempt 1)" in relay.log(), what="the first deferral")
    relay.kill_hard()
    time.sleep(3)  # the message is now older than the restarted relay's maximum age
    restarted = make_pigeon(relay_config(host, ca.cert) + ["max_queue_age_s = 2"], state=state)
    wait_for(lambda: "report to <user@localhost> queued" in restarted.log(), what="the expiry report")
    after_restart = restarted.log().split("resumed after 1 failed attempts")[1]  # the log file is appended to
    assert "expired after 2 s" in after_restart and "deferred" not in after_restart
    reports = fetch_all(restarted)
    assert len(reports) == 1 and b"Action: failed" in reports[0] and b"Subject: too old" in reports[0]


def test_auth_to_the_smarthost(make_pigeon, smarthosts, ca, localhost_cert):
    host = smarthosts(cert=localhost_cert[0], key=localhost_cert[1])
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((mechanism, auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.login == b"relayuser" and auth_data.password == b"s3cret")

    # Each new connection's SMTP server is made from these; MAIL needs AUTH, AUTH needs TLS.
    host.controller.SMTP_kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=True)
    relay = make_pigeon(relay_config(host, ca.cert) + ["smarthost_user = relayuser", "smarthost_password = s3cret"])
    send(relay)
    wait_for(lambda: host.messages, what="delivery after AUTH")
    assert logins and logins[0][1:] == (b"relayuser", b"s3cret")


def public_key_sha256(cert):
    key = subprocess.run(["openssl", "x509", "-in", cert, "-pubkey", "-noout"], capture_output=True, check=True)
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=key.stdout, capture_output=True,
                         check=True)
    return hashlib.sha256(der.stdout).hexdigest()


@pytest.mark.parametrize("right", [True, False], ids=["right pin", "wrong pin"])
def test_public_key_pin(make_pigeon, smarthosts, ca, localhost_cert, right):
    host = smarthosts(cert=localhost_cert[0], key=localhost_cert[1])
    pinned = localhost_cert[0] if right else ca.issue("localhost-other")[0]
    relay = make_pigeon(relay_config(host, ca.cert) + [f"smarthost_pin_sha256 = {public_key_sha256(pinned)}"])
    send(relay)
    if right:
        wait_for(lambda: host.messages, what="delivery to the pinned key")
    else:
        wait_for(lambda: "does not match smarthost_pin_sha256" in relay.log() and "deferred" in relay.log(),
                 what="the deferral for the wrong key")
        assert host.handler.data_seen == 0 and host.messages == []


def test_hung_smarthost_times_out_and_is_retried(make_pigeon, ca):
    with socket.socket() as hung:  # takes the connection, never greets
        hung.bind(("127.0.0.1", 0))
        hung.listen(4)
        host = types.SimpleNamespace(port=hung.getsockname()[1])
        relay = make_pigeon(relay_config(host, ca.cert) + ["smarthost_timeout_s = 1"])
        send(relay)
        wait_for(lambda: relay.log().count("smarthost timed out") >= 2, what="two timed-out attempts")
    assert "next retry in" in relay.log()


def test_alert_on_a_full_spool_is_an_error(make_pigeon, smarthosts, ca, localhost_cert):
    host = smarthosts(cert=localhost_cert[0], key=localhost_cert[1])
    host.stop()  # nothing leaves: the spool fills
    relay = make_pigeon(relay_config(host, ca.cert) + ["spool_bytes = 327680"],  # five 64 KiB sectors
                        extra_env={"PIGEON_ALERT_PORT": "0"})
    body = "Subject: filler\r\n\r\n" + ("y" * 998 + "\r\n") * 40
    with smtplib.SMTP("127.0.0.1", relay.ports["smtp"], timeout=30) as client:
        for _ in range(20):
            try:
                client.sendmail(LOCAL_SENDER, [REMOTE], body)
            except smtplib.SMTPDataError as full:
                assert (full.smtp_code, full.smtp_error[:5]) == (452, b"4.3.1")
                break
        else:
            pytest.fail("the spool never filled")
    assert send_alert(relay.ports["alerts"], "admin@example.org", "Disk", "full", "disk") == (-5, "spool_full")


def test_a_hundred_recipients_local_and_relayed_each_get_it_once_across_a_restart(make_pigeon, smarthosts, ca,
                                                                                  localhost_cert, tmp_path):
    """RFC 5321 §4.5.3.1.8: 100 recipients in one transaction. 10 local users and
    90 relayed; the smarthost defers the first 30 RCPTs, and the relay is killed
    while they wait. What became of each recipient survives the restart: the
    60 relayed and the deleted local copies never come again, the deferred 30
    are relayed once, and the local users who had not fetched it still have it."""
    from test_login_abuse import pbkdf2_line
    host = smarthosts(cert=localhost_cert[0], key=localhost_cert[1])
    host.faults.rcpt_451 = 30
    state = str(tmp_path / "state")
    users = [f"user{u}" for u in range(10)]
    accounts = [f"user = {name} {pbkdf2_line('pw-' + name, 1000)}" for name in users]
    config = [line for line in relay_config(host, ca.cert) if not line.startswith("retry_")] + accounts
    remote = [f"friend{r}@example.net" for r in range(90)]
    local = [f"{name}@localhost" for name in users]
    recipients = [address for pair in zip(local, remote[:10]) for address in pair] + remote[10:]
    assert len(recipients) == 100
    relay = make_pigeon(config + ["retry_initial_s = 600", "retry_max_s = 600"], state=state)
    message = "From: user0@localhost\r\nTo: undisclosed-recipients:;\r\nSubject: a hundred recipients\r\n\r\nHi.\r\n"
    with smtplib.SMTP("127.0.0.1", relay.ports["smtp"], timeout=30) as client:
        assert client.sendmail("user0@localhost", recipients, message) == {}

    wait_for(lambda: "deferred (attempt 1)" in relay.log(), what="the 30 deferred recipients")
    first = host.messages
    assert len(first) == 1 and sorted(first[0][1]) == sorted(remote[30:])

    def maildrop(name, delete):
        client = poplib.POP3_SSL("127.0.0.1", relay_now.ports["pop3s"], context=relay_now.tls_context(), timeout=30)
        client.user(name)
        client.pass_("pw-" + name)
        count, _ = client.stat()
        bodies = [b"\r\n".join(client.retr(n)[1]) for n in range(1, count + 1)]
        for n in range(1, count + 1 if delete else 1):
            client.dele(n)
        client.quit()
        return bodies

    relay_now = relay
    for name in users[:5]:
        bodies = maildrop(name, delete=True)
        assert len(bodies) == 1 and b"Subject: a hundred recipients" in bodies[0]
    relay.kill_hard()

    shown = inspect_spool(state)
    assert shown.returncode == 0, shown.stderr
    states = {}
    for line in shown.stdout.splitlines():
        fields = line.split()
        if len(fields) == 3 and "@" in fields[0]:
            states[fields[0]] = fields[2]
    assert len(states) == 100
    assert [states[a] for a in local] == ["deleted"] * 5 + ["owed"] * 5
    assert [states[a] for a in remote] == ["owed"] * 30 + ["relayed"] * 60

    relay_now = make_pigeon(config + ["retry_initial_s = 600", "retry_max_s = 600"], state=state)
    wait_for(lambda: "resumed after 1 failed attempts" in relay_now.log(), what="the resumed backoff")
    from test_local_socket import pigeon_command
    assert pigeon_command(relay_now, "flush").stdout == b"flushed 1\n"  # rather than wait 10 minutes
    wait_for(lambda: len(host.messages) == 2, what="the deferred 30 after the restart")
    assert pigeon_command(relay_now, "flush").stdout == b"flushed 0\n"  # nothing owed any more
    assert len(host.messages) == 2 and sorted(host.messages[1][1]) == sorted(remote[:30])
    for name in users[:5]:
        assert maildrop(name, delete=False) == []
    for name in users[5:]:
        bodies = maildrop(name, delete=True)
        assert len(bodies) == 1 and b"Subject: a hundred recipients" in bodies[0]


def long_address(number):
    """A 250-octet path (RFC 5321 allows 256 with the brackets): a 64-octet local
    part that starts with `number`, and a 185-octet domain."""
    address = f"{number:03d}" + "l" * 61 + "@" + ".".join(label * 61 for label in "def")
    assert len(address) == 250
    return address


def test_a_hundred_250_octet_recipients_are_relayed_and_each_refusal_keeps_its_text(make_pigeon, smarthosts, ca,
                                                                                    localhost_cert):
    """RFC 5321 §4.5.3.1.8: 100 recipients of 250 octets each are taken, the
    101st gets 452 4.5.3 (§4.5.3.1.10). The smarthost refuses 10 of them, each
    with its address in the reply, more distinct texts than one attempt keeps
    (PIGEON_SMARTHOST_REFUSAL_TEXTS, 8): the reports name every refused
    recipient with its own text, and the other 90 are relayed in one transaction."""
    host = smarthosts(cert=localhost_cert[0], key=localhost_cert[1])
    recipients = [long_address(n) for n in range(101)]
    refused = recipients[:20:2]
    host.faults.refuse_naming.update(refused)
    relay = make_pigeon(relay_config(host, ca.cert))
    message = "From: user@localhost\r\nTo: undisclosed-recipients:;\r\nSubject: long paths\r\n\r\nHi.\r\n"
    with smtplib.SMTP("127.0.0.1", relay.ports["smtp"], timeout=30) as client:
        failed = client.sendmail(LOCAL_SENDER, recipients, message)
    assert list(failed) == [recipients[100]]
    code, text = failed[recipients[100]]
    assert code == 452 and text.startswith(b"4.5.3")

    wait_for(lambda: len(host.messages) == 1, what="the relayed transaction")
    assert sorted(host.messages[0][1]) == sorted(set(recipients[:100]) - set(refused))
    wait_for(lambda: relay.log().count("report to <user@localhost> queued") == 2, what="the two delivery reports")
    reports = fetch_all(relay)
    assert len(reports) == 2
    joined = b"".join(reports)
    for address in refused:
        # The text is cut to 104 octets; its start names the address.
        assert f"Diagnostic-Code: smtp; 550 5.1.1 <{address[:80]}".encode() in joined
    for address in recipients[:100]:
        named = f"Final-Recipient: rfc822; {address}".encode() in joined
        assert named == (address in refused), address
