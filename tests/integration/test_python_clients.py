"""Python smtplib and poplib against the relay: TLS both ways, bytes compared exactly."""
import os
import poplib
import smtplib

from conftest import fetch_all, strip_received


def test_starttls_submission_then_pop3_stls_byte_for_byte(pigeon):
    message = b"From: a@example.org\r\nSubject: hello\r\n\r\nfirst line\r\n.starts with a dot\r\n..two dots\r\n"
    assert pigeon.submit(message) == {}
    [received] = fetch_all(pigeon, implicit_tls=False)
    assert strip_received(received) == message


def test_implicit_tls_submission_with_auth_plain(pigeon):
    message = b"Subject: implicit\r\n\r\nover port 465\r\n"
    with smtplib.SMTP_SSL("127.0.0.1", pigeon.ports["submissions"], context=pigeon.tls_context(),
                          timeout=30) as client:
        client.user, client.password = pigeon.user, pigeon.password
        client.ehlo()
        code, _ = client.auth("PLAIN", client.auth_plain)
        assert code == 235
        client.sendmail("s@example.org", ["user@localhost"], message)
    [received] = fetch_all(pigeon)
    assert strip_received(received) == message


def test_auth_login_mechanism(pigeon):
    with smtplib.SMTP("127.0.0.1", pigeon.ports["submission"], timeout=30) as client:
        client.starttls(context=pigeon.tls_context())
        client.ehlo()
        client.user, client.password = pigeon.user, pigeon.password
        code, _ = client.auth("LOGIN", client.auth_login)
        assert code == 235


def test_large_8bit_and_boundary_content(pigeon):
    line_998 = b"x" * 998
    utf8 = "Grüße, 你好, привет\r\n".encode()
    random_lines = b"".join(b"line %06d " % i + os.urandom(30).hex().encode() + b"\r\n" for i in range(70000))
    messages = [
        b"Subject: big\r\n\r\n" + random_lines,  # about 5 MB
        b"Subject: utf-8\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + utf8 + bytes(range(0x80, 0x100)) + b"\r\n",
        b"Subject: dots\r\n\r\n.\r\n..\r\n...\r\n. x\r\n",
        b"Subject: long line\r\n\r\n" + line_998 + b"\r\n",
    ]
    assert len(messages[0]) > 5_000_000
    with smtplib.SMTP("127.0.0.1", pigeon.ports["submission"], timeout=60) as client:
        client.starttls(context=pigeon.tls_context())
        client.login(pigeon.user, pigeon.password)
        for message in messages:
            client.sendmail("s@example.org", ["user@localhost"], message, mail_options=["BODY=8BITMIME"])
    received = fetch_all(pigeon)
    assert [strip_received(m) for m in received] == messages


def test_uidl_top_and_dele(pigeon):
    for n in range(3):
        pigeon.submit(b"Subject: m%d\r\nX: y\r\n\r\nbody line 1\r\nbody line 2\r\nbody line 3\r\n" % n)
    client = poplib.POP3_SSL("127.0.0.1", pigeon.ports["pop3s"], context=pigeon.tls_context(), timeout=30)
    client.user(pigeon.user)
    client.pass_(pigeon.password)
    _, uids, _ = client.uidl()
    assert len(uids) == 3 and len({u.split()[1] for u in uids}) == 3
    _, lines, _ = client.top(2, 1)
    assert lines[-3:] == [b"X: y", b"", b"body line 1"]
    _, lines, _ = client.top(2, 0)
    assert lines[-1] == b""
    client.dele(2)
    client.quit()

    client = poplib.POP3_SSL("127.0.0.1", pigeon.ports["pop3s"], context=pigeon.tls_context(), timeout=30)
    client.user(pigeon.user)
    client.pass_(pigeon.password)
    _, remaining, _ = client.uidl()
    assert [u.split()[1] for u in remaining] == [uids[0].split()[1], uids[2].split()[1]]
    client.quit()


def test_rset_keeps_messages_and_quitless_session_deletes_nothing(pigeon):
    pigeon.submit(b"Subject: keep\r\n\r\nkeep me\r\n")
    client = poplib.POP3_SSL("127.0.0.1", pigeon.ports["pop3s"], context=pigeon.tls_context(), timeout=30)
    client.user(pigeon.user)
    client.pass_(pigeon.password)
    client.dele(1)
    client.rset()
    client.dele(1)
    client.close()  # no QUIT: no UPDATE state, nothing deleted (RFC 1939 §6)
    assert len(fetch_all(pigeon)) == 1
