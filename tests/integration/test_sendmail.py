"""`pigeon sendmail` and the binary called as `sendmail` (boards/host/sendmail.cpp):
a message on standard input handed to the running relay over its local socket."""
import os
import socket
import subprocess

from conftest import PIGEON_BIN, PIGEON_LAUNCHER, fetch_all, strip_received
from smarthost import wait_for
from test_relay import REMOTE, ca, localhost_cert, relay_config, smarthosts  # noqa: F401 (fixtures)

EX_TEMPFAIL = 75
EX_USAGE = 64


def sendmail_config(relay):
    """sendmail finds the relay's local socket (default <state>/pigeon.sock) in
    the configuration it is given."""
    path = os.path.join(relay.state, "sendmail.conf")
    with open(path, "w") as config:
        config.write(f"local_socket = {relay.state}/pigeon.sock\n")
    return path


def sendmail(config_path, args, message, program=None):
    command = [*PIGEON_LAUNCHER, program or PIGEON_BIN]
    if program is None:
        command.append("sendmail")
    return subprocess.run(command + ["-C", config_path, *args], input=message, capture_output=True, timeout=120)


def test_message_with_lf_line_ends_and_a_leading_dot_arrives_intact(pigeon):
    message = b"Subject: from a script\nTo: user@localhost\n\nfirst line\n.leading dot\nlast line\n"
    result = sendmail(sendmail_config(pigeon), ["-i", "user@localhost"], message)
    assert result.returncode == 0, result.stderr
    (delivered,) = fetch_all(pigeon)
    assert strip_received(delivered) == message.replace(b"\n", b"\r\n")


def test_a_lone_dot_ends_the_message_without_i(pigeon):
    message = b"Subject: dot\n\nkept\n.\nnot part of the message\n"
    result = sendmail(sendmail_config(pigeon), ["user@localhost"], message)
    assert result.returncode == 0, result.stderr
    (delivered,) = fetch_all(pigeon)
    assert strip_received(delivered) == b"Subject: dot\r\n\r\nkept\r\n"


def test_t_takes_recipients_from_the_headers_and_drops_bcc(pigeon):
    message = (b"To: undisclosed-recipients:;\nBcc: \"Us, really\" <user@localhost>,\n nobody@localhost\n"
               b"Subject: blind\n\nbody\n")
    result = sendmail(sendmail_config(pigeon), ["-t", "-oi", "-oem"], message)
    # nobody@localhost is not a mailbox: the relay refuses that recipient.
    assert result.returncode == 67, result.stderr
    assert b"nobody@localhost" in result.stderr
    message = b"To: undisclosed-recipients:;\nBcc: \"Us, really\" <user@localhost>\nSubject: blind\n\nbody\n"
    result = sendmail(sendmail_config(pigeon), ["-t"], message)
    assert result.returncode == 0, result.stderr
    (delivered,) = fetch_all(pigeon)
    assert strip_received(delivered) == b"To: undisclosed-recipients:;\r\nSubject: blind\r\n\r\nbody\r\n"


def test_called_as_sendmail_with_sender_and_full_name(make_pigeon, smarthosts, ca, localhost_cert,  # noqa: F811
                                                      tmp_path):
    host = smarthosts(cert=localhost_cert[0], key=localhost_cert[1])
    # No relay_networks: a local submission may relay because the socket's mode let it in.
    relay = make_pigeon([line for line in relay_config(host, ca.cert) if not line.startswith("relay_networks")])
    link = tmp_path / "sendmail"
    link.symlink_to(os.path.abspath(PIGEON_BIN))
    result = sendmail(sendmail_config(relay), ["-f", "alerts@router.lan", "-F", "The Router", "--", REMOTE],
                      b"Subject: disk full\n\n/overlay is 95% full\n", program=str(link))
    assert result.returncode == 0, result.stderr
    messages = wait_for(lambda: host.messages, what="the message at the smarthost")
    mail_from, rcpt_tos, content = messages[0]
    assert (mail_from, rcpt_tos) == ("alerts@router.lan", [REMOTE])
    assert b"From: The Router <alerts@router.lan>\r\n" in content


def test_relay_not_running_is_a_temporary_failure(tmp_path):
    config = tmp_path / "pigeon.conf"
    config.write_text(f"local_socket = {tmp_path}/pigeon.sock\n")
    result = sendmail(str(config), ["user@localhost"], b"Subject: lost\n\nbody\n")
    assert result.returncode == EX_TEMPFAIL
    assert result.stderr.count(b"\n") == 1 and b"not running" in result.stderr
    # The socket file of a relay that was killed: nobody accepts on it.
    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(f"{tmp_path}/pigeon.sock")
    result = sendmail(str(config), ["user@localhost"], b"Subject: lost\n\nbody\n")
    assert result.returncode == EX_TEMPFAIL
    assert result.stderr.count(b"\n") == 1 and b"not running" in result.stderr


def test_the_options_debian_cron_gives(pigeon):
    """cron mails a job's output as `sendmail -FCronDaemon -i -B8BITMIME -oem TO`."""
    message = "Subject: Cron <root@router> backup\n\nsauvegarde réussie\n".encode()
    result = sendmail(sendmail_config(pigeon), ["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "user@localhost"], message)
    assert result.returncode == 0, result.stderr
    (delivered,) = fetch_all(pigeon)
    assert b"\r\n\r\nsauvegarde r\xc3\xa9ussie\r\n" in strip_received(delivered)
    assert b"From: CronDaemon <" in delivered


def test_unknown_option_and_no_recipient_are_usage_errors(pigeon):
    assert sendmail(sendmail_config(pigeon), ["-X", "user@localhost"], b"x\n").returncode == EX_USAGE
    assert sendmail(sendmail_config(pigeon), ["-B", "BINARYMIME", "user@localhost"], b"x\n").returncode == EX_USAGE
    assert sendmail(sendmail_config(pigeon), [], b"Subject: nobody\n\nx\n").returncode == EX_USAGE
    assert fetch_all(pigeon) == []
