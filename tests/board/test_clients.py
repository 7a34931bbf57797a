"""Python smtplib and poplib against the firmware in QEMU, through the user-mode
network: TLS both ways with AUTH, retrieved bytes compared with what was sent."""
import os
import smtplib

from conftest import fetch_all, strip_received

MESSAGES = [
    b"From: a@example.org\r\nSubject: starttls\r\n\r\nfirst line\r\n.starts with a dot\r\n..two dots\r\n",
    b"Subject: implicit\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + "Grüße\r\n".encode() +
    b"".join(b"line %04d " % i + os.urandom(24).hex().encode() + b"\r\n" for i in range(200)),
]


def submit_starttls(board, message):
    with smtplib.SMTP("127.0.0.1", board.ports["submission"], timeout=60) as client:
        client.starttls(context=board.tls_context())
        client.login(board.user, board.password)
        client.sendmail("s@example.org", ["user@localhost"], message, mail_options=["BODY=8BITMIME"])


def submit_implicit_tls(board, message):
    with smtplib.SMTP_SSL("127.0.0.1", board.ports["submissions"], context=board.tls_context(),
                          timeout=60) as client:
        client.login(board.user, board.password)
        client.sendmail("s@example.org", ["user@localhost"], message, mail_options=["BODY=8BITMIME"])


def test_submission_over_starttls_and_implicit_tls_then_pop3_stls_and_pop3s(board):
    submit_starttls(board, MESSAGES[0])
    submit_implicit_tls(board, MESSAGES[1])
    over_stls = fetch_all(board, implicit_tls=False)
    over_pop3s = fetch_all(board, implicit_tls=True)
    assert [strip_received(m) for m in over_stls] == MESSAGES
    assert over_pop3s == over_stls


def test_plaintext_login_is_refused_before_tls(board):
    with smtplib.SMTP("127.0.0.1", board.ports["submission"], timeout=60) as client:
        client.ehlo()
        assert not client.has_extn("auth")
