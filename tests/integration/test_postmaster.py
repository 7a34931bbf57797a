"""RFC 5321 §4.5.1: mail to <Postmaster> without a domain is accepted and
reaches the postmaster: the configured `postmaster` user, else the first user."""
import smtplib
import subprocess

from conftest import BASE_CONFIG, PIGEON_BIN, fetch_all


def send_to(relay, recipient, subject):
    message = f"From: device@lan.example\r\nSubject: {subject}\r\n\r\nFor the postmaster.\r\n"
    with smtplib.SMTP("127.0.0.1", relay.ports["smtp"], timeout=30) as client:
        client.ehlo()
        client.mail("device@lan.example")
        code, _ = client.rcpt(recipient)
        assert code == 250
        assert client.data(message.encode())[0] == 250


def test_bare_postmaster_in_any_case_reaches_the_default_user(pigeon):
    send_to(pigeon, "<Postmaster>", "first")
    send_to(pigeon, "<POSTMASTER>", "second")
    messages = fetch_all(pigeon)
    assert len(messages) == 2
    assert b"Subject: first" in messages[0] and b"Subject: second" in messages[1]


def test_auth_without_a_mechanism_is_a_syntax_error(pigeon):
    with smtplib.SMTP("127.0.0.1", pigeon.ports["submission"], timeout=30) as client:
        client.starttls(context=pigeon.tls_context())
        client.ehlo()
        code, text = client.docmd("AUTH")
    assert (code, text[:5]) == (501, b"5.5.4")


def test_postmaster_must_be_a_configured_user(tmp_path):
    config = tmp_path / "pigeon.conf"
    config.write_text("\n".join(BASE_CONFIG + ["postmaster = nobody"]) + "\n")
    run = subprocess.run([PIGEON_BIN, "--state", str(tmp_path / "state"), "--config", str(config)],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2 and "postmaster 'nobody' is not a configured user" in run.stderr
