"""Start-up as a newcomer meets it: first-boot state, the password hasher, and
clear errors for a taken port or a bad configuration line."""
import os
import poplib
import socket
import stat
import subprocess

from conftest import BASE_CONFIG, PIGEON_BIN


def run_pigeon(args, stdin=b"", timeout_s=30):
    return subprocess.run([PIGEON_BIN, *args], input=stdin, capture_output=True, timeout=timeout_s)


def write_config(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_first_start_makes_identity_and_private_credentials(pigeon):
    credentials = os.path.join(pigeon.state, "credentials")
    assert stat.S_IMODE(os.stat(credentials).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.join(pigeon.state, "key.pem")).st_mode) == 0o600
    with open(credentials) as saved:
        assert saved.read() == f"{pigeon.user}:{pigeon.password}\n"
    assert pigeon.user == "user" and len(pigeon.password) >= 16


def test_a_taken_port_is_a_clear_error_naming_it(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path / "pigeon.conf", BASE_CONFIG + [f"pop3s_port = {port}"])
        result = run_pigeon(["--state", str(tmp_path / "state"), "--config", config])
    assert result.returncode != 0
    assert f"cannot listen on port {port} (pop3s): address already in use" in result.stderr.decode()


def test_a_bad_configuration_line_is_named(tmp_path):
    config = write_config(tmp_path / "pigeon.conf", BASE_CONFIG + ["max_recipients = many", "no_such_key = 1"])
    result = run_pigeon(["--state", str(tmp_path / "state"), "--config", config])
    assert result.returncode == 2
    errors = result.stderr.decode()
    assert f"{config}:{len(BASE_CONFIG) + 1}:" in errors
    assert f"{config}:{len(BASE_CONFIG) + 2}:" in errors


def test_hashed_password_from_the_hasher_logs_in(make_pigeon):
    hashed = run_pigeon(["hash-password"], stdin=b"correct horse\n")
    assert hashed.returncode == 0
    line = hashed.stdout.decode().strip()
    assert "correct horse" not in line
    relay = make_pigeon([f"user = alice {line}"])
    client = poplib.POP3_SSL("127.0.0.1", relay.ports["pop3s"], context=relay.tls_context(), timeout=30)
    client.user("alice")
    assert client.pass_("correct horse").startswith(b"+OK")
    client.quit()


def test_a_value_above_a_compile_time_limit_is_refused_naming_both(tmp_path):
    """The host build holds 100 recipients (PIGEON_MAX_RECIPIENTS) and 32 MiB
    messages (PIGEON_MAX_MESSAGE_BYTES): more is refused, not quietly capped."""
    lines = BASE_CONFIG + ["max_recipients = 101", f"max_message_bytes = {32 * 1024 * 1024 + 1}"]
    config = write_config(tmp_path / "pigeon.conf", lines)
    result = run_pigeon(["--state", str(tmp_path / "state"), "--config", config])
    assert result.returncode == 2
    errors = result.stderr.decode()
    assert (f"{config}:{len(BASE_CONFIG) + 1}: max_recipients: 101 recipients are above this build's "
            "limit of 100 (PIGEON_MAX_RECIPIENTS)") in errors
    assert (f"{config}:{len(BASE_CONFIG) + 2}: max_message_bytes: 33554433 bytes are above this build's "
            "limit of 33554432 (PIGEON_MAX_MESSAGE_BYTES)") in errors


def test_a_line_longer_than_the_reader_takes_is_refused_naming_it(tmp_path):
    """A line over 1023 bytes is one error naming it, not two lines read apart
    (the second half would be applied as a line of its own)."""
    long_value = "a" * 1500
    lines = BASE_CONFIG + [f"host_name = {long_value}max_recipients = many", "no_such_key = 1"]
    config = write_config(tmp_path / "pigeon.conf", lines)
    result = run_pigeon(["--state", str(tmp_path / "state"), "--config", config])
    assert result.returncode == 2
    errors = result.stderr.decode()
    assert f"{config}:{len(BASE_CONFIG) + 1}: the line is longer than 1023 bytes" in errors
    assert "max_recipients" not in errors  # the rest of the long line was not read as a line
    assert f"{config}:{len(BASE_CONFIG) + 2}:" in errors  # the lines after it keep their numbers


def test_a_line_of_exactly_1023_bytes_is_read_whole(tmp_path):
    """The limit itself fits: a 1023-byte comment is one line, not a comment
    and a stray second line."""
    lines = BASE_CONFIG + ["#" + "a" * 1022, "no_such_key = 1"]
    config = write_config(tmp_path / "pigeon.conf", lines)
    result = run_pigeon(["--state", str(tmp_path / "state"), "--config", config])
    assert result.returncode == 2
    errors = result.stderr.decode()
    assert f"{config}:{len(BASE_CONFIG) + 1}:" not in errors
    assert f"{config}:{len(BASE_CONFIG) + 2}: " in errors
    assert len(errors.strip().splitlines()) == 1
