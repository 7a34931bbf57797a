"""The host relay's local socket (boards/host/local_socket.hpp): sendmail's way
in, `mailq` / `pigeon queue`, `pigeon flush` and the alert requests; its file
mode decides who may use it."""
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile

import pytest

from conftest import PIGEON_BIN, PIGEON_LAUNCHER, read_until_closed
from smarthost import free_port, wait_for
from test_sendmail import EX_TEMPFAIL, sendmail, sendmail_config

EX_NOPERM = 77
REMOTE = "someone@example.net"


def failing_smarthost():
    """A smarthost nobody answers for: relayed mail waits in the queue."""
    return [f"smarthost_host = 127.0.0.1", f"smarthost_port = {free_port()}", "smarthost_tls = none",
            "retry_initial_s = 600", "retry_max_s = 3600"]


def pigeon_command(relay, *args, program=None):
    command = [*PIGEON_LAUNCHER, program or PIGEON_BIN]
    if program is None:
        command += list(args[:1])
        args = args[1:]
    return subprocess.run(command + list(args) + ["-C", sendmail_config(relay)], capture_output=True, timeout=60)


def local_request(relay, request: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(10)
        client.connect(f"{relay.state}/pigeon.sock")
        client.sendall(request)
        return read_until_closed(client)


def test_the_socket_is_made_with_the_configured_mode(make_pigeon):
    relay = make_pigeon(["local_socket_mode = 0620"])
    mode = os.stat(f"{relay.state}/pigeon.sock").st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o620
    relay.stop()
    assert not os.path.exists(f"{relay.state}/pigeon.sock")


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_the_mode_refuses_another_user(make_pigeon):
    folder = tempfile.mkdtemp(prefix="pigeon-socket-")  # a folder every user may enter
    try:
        os.chmod(folder, 0o755)
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        for mode, expected in (("0600", EX_NOPERM), ("0666", 0)):
            relay = make_pigeon([f"local_socket = {folder}/pigeon.sock", f"local_socket_mode = {mode}"])
            config = os.path.join(folder, "sendmail.conf")
            with open(config, "w") as text:
                text.write(f"local_socket = {folder}/pigeon.sock\n")
            os.chmod(config, 0o644)
            result = subprocess.run([*as_nobody, *PIGEON_LAUNCHER, os.path.abspath(PIGEON_BIN), "sendmail", "-C",
                                     config, "user@localhost"], input=b"Subject: nobody\n\nx\n", capture_output=True,
                                    timeout=60)
            assert result.returncode == expected, (mode, result.stderr)
            if expected == EX_NOPERM:
                assert b"not allowed" in result.stderr
            relay.stop()
    finally:
        shutil.rmtree(folder)


def test_mailq_lists_a_waiting_message_and_flush_retries_it(make_pigeon, tmp_path):
    relay = make_pigeon(failing_smarthost())
    assert pigeon_command(relay, "queue").stdout == b"Mail queue is empty\n"
    result = sendmail(sendmail_config(relay), ["-f", "cron@router.lan", REMOTE, "user@localhost"],
                      b"Subject: backup done\n\nok\n")
    assert result.returncode == 0, result.stderr
    wait_for(lambda: "deferred (attempt 1)" in relay.log(), what="the first failed attempt")

    link = tmp_path / "mailq"
    link.symlink_to(os.path.abspath(PIGEON_BIN))
    for listing in (pigeon_command(relay, "queue"), pigeon_command(relay, program=str(link))):
        assert listing.returncode == 0, listing.stderr
        lines = listing.stdout.decode().splitlines()
        assert re.fullmatch(r"1 \d+ bytes, queued \d+ s ago, from <cron@router\.lan>", lines[0]), lines
        # Only the recipient still owed to the smarthost; the local one is delivered.
        match = re.fullmatch(r"  <someone@example\.net> waiting, 1 failed attempts, next retry in (\d+) s", lines[1])
        assert match and 0 < int(match.group(1)) <= 600, lines
        assert lines[2:] == ["-- 1 message in the queue"]

    flushed = pigeon_command(relay, "flush")
    assert (flushed.returncode, flushed.stdout) == (0, b"flushed 1\n")
    # Without the flush the next attempt would come in 10 minutes.
    wait_for(lambda: "deferred (attempt 2)" in relay.log(), what="the flushed retry")
    assert "2 failed attempts" in pigeon_command(relay, "queue").stdout.decode()


def test_queue_and_flush_when_the_relay_is_down(tmp_path):
    config = tmp_path / "pigeon.conf"
    config.write_text(f"local_socket = {tmp_path}/pigeon.sock\n")
    for command in ("queue", "flush"):
        result = subprocess.run([*PIGEON_LAUNCHER, PIGEON_BIN, command, "-C", str(config)], capture_output=True,
                                timeout=60)
        assert result.returncode == EX_TEMPFAIL
        assert b"not running" in result.stderr


def test_a_full_spool_is_a_temporary_failure_with_the_reason(make_pigeon):
    relay = make_pigeon(["spool_bytes = 327680"])
    # Below one sender's share of the spool (a larger message is refused for good).
    big = b"Subject: big\n\n" + (b"x" * 998 + b"\n") * 20
    for _ in range(100):
        result = sendmail(sendmail_config(relay), ["user@localhost"], big)
        if result.returncode != 0:
            break
    assert result.returncode == EX_TEMPFAIL, result.stderr
    assert b"the relay answered 452 4." in result.stderr and result.stderr.count(b"\n") == 1


def test_alerts_come_over_the_socket_and_smtp_must_wait_for_the_greeting(make_pigeon):
    relay = make_pigeon()
    assert local_request(relay, b"disk\tuser@localhost\tDisk full\t/ is full\n") == b"0 sent\n"
    assert local_request(relay, b"SMTP\nEHLO eager\r\n").startswith(b"421 4.5.0")
    greeting = local_request(relay, b"SMTP\nQUIT\r\n")
    assert greeting.startswith(b"421 4.5.0")


def test_a_local_session_is_logged_as_local(make_pigeon):
    """A client of the socket has no address: the log says `local`, not [0.0.0.0]:0."""
    relay = make_pigeon()
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(10)
        client.connect(f"{relay.state}/pigeon.sock")
        client.sendall(b"SMTP\n")
        reader = client.makefile("rb")
        assert reader.readline().startswith(b"220 ")
        client.sendall(b"QUIT\r\n")
        assert reader.readline().startswith(b"221 ")
    wait_for(lambda: "smtp: connection with local closed: session ended" in relay.log(), timeout_s=10)
    assert "0.0.0.0" not in relay.log()
