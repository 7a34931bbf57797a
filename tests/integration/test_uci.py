"""The relay and its commands read OpenWrt's UCI format (/etc/config/pigeon)
as they read pigeon's own: the same keys as `option` and `list` lines of a
`config pigeon` section, errors naming the line."""
import os
import subprocess

from conftest import BASE_CONFIG, PIGEON_BIN, PIGEON_LAUNCHER, Pigeon, fetch_all, strip_received


def as_uci(lines):
    """pigeon's `key = value` lines as a UCI section, values quoted as `uci export` quotes them."""
    uci = ["# /etc/config/pigeon", "", "config pigeon 'main'"]
    for line in lines:
        key, value = (part.strip() for part in line.split("=", 1))
        uci.append(f"\toption {key} '" + value.replace("'", "'\\''") + "'")
    return uci


def test_a_uci_file_runs_the_relay_and_sendmail_finds_its_socket(tmp_path):
    state = str(tmp_path / "state")
    os.makedirs(state)
    socket_path = os.path.join(state, "uci.sock")
    lines = as_uci(BASE_CONFIG + [f"local_socket = {socket_path}", "host_name = router.lan"])
    lines += ["\tlist local_domains 'lan'", "\tlist local_domains 'home.arpa'", "\tlist plaintext_login 'pop3'"]
    relay = Pigeon(state, lines).start()
    try:
        assert os.path.exists(socket_path)
        message = b"Subject: from cron\n\nuci\n"
        result = subprocess.run([*PIGEON_LAUNCHER, PIGEON_BIN, "sendmail", "-C", relay.config_path, "user@home.arpa"],
                                input=message, capture_output=True, timeout=120)
        assert result.returncode == 0, result.stderr
        (delivered,) = fetch_all(relay)
        assert strip_received(delivered) == message.replace(b"\n", b"\r\n")
    finally:
        relay.stop()


def test_a_bad_uci_line_is_named_and_stops_the_relay(tmp_path):
    lines = as_uci(BASE_CONFIG) + ["\tlist smtp_port '25'", "\toption colour 'blue'", "\toption host_name 'open"]
    config = tmp_path / "pigeon"
    config.write_text("\n".join(lines) + "\n")
    result = subprocess.run([*PIGEON_LAUNCHER, PIGEON_BIN, "--state", str(tmp_path / "state"), "--config", str(config)],
                            capture_output=True, timeout=60)
    assert result.returncode == 2
    errors = result.stderr.decode().splitlines()
    first = len(lines) - 2
    assert errors == [
        f"pigeon: {config}:{first}: this key takes one value: write it as an option",
        f"pigeon: {config}:{first + 1}: unknown key",
        f"pigeon: {config}:{first + 2}: a ' without its closing quote",
    ]
