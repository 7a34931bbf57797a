"""First boot on a router (docs/routers.md): the relay listens on the LAN
address of its configuration, sizes its spool image by default as its build
says, logs its certificate's fingerprint with the trust instructions, and
`pigeon status` shows the relay, or what the files say when it is not running."""
import hashlib
import os
import re
import socket
import ssl
import subprocess

import pytest

from conftest import BASE_CONFIG, PIGEON_BIN, PIGEON_LAUNCHER, Pigeon
from test_local_socket import REMOTE, failing_smarthost, pigeon_command
from test_sendmail import sendmail, sendmail_config

STATUS_NOT_RUNNING = 3
LAN_ADDRESS = "127.0.0.2"  # a loopback address other than the default 127.0.0.1
MiB = 1024 * 1024


def fingerprint_of(cert_path):
    """The certificate's SHA-256 as openssl and mail clients show it."""
    with open(cert_path) as pem:
        der = ssl.PEM_cert_to_DER_cert(pem.read())
    return ":".join(f"{byte:02X}" for byte in hashlib.sha256(der).digest())


def status(relay, *args):
    return pigeon_command(relay, "status", *args)


def test_the_relay_listens_on_the_configured_lan_address_only(make_pigeon):
    relay = make_pigeon([f"listen_address = {LAN_ADDRESS}"])
    port = relay.ports["smtp"]
    with socket.create_connection((LAN_ADDRESS, port), timeout=10) as client:
        assert client.recv(512).startswith(b"220 ")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=10).close()
    shown = status(relay)
    assert shown.returncode == 0, shown.stderr
    for service, bound in relay.ports.items():
        assert f"listener: {service} on {LAN_ADDRESS}:{bound}\n" in shown.stdout.decode()


def test_the_certificate_fingerprint_is_logged_and_shown(make_pigeon):
    relay = make_pigeon()
    fingerprint = fingerprint_of(relay.cafile)
    logged = relay.startup
    assert f"pigeon: certificate SHA-256 fingerprint {fingerprint}\n" in logged
    assert f"import {relay.state}/cert.pem there" in logged
    assert f"openssl s_client -connect localhost:{relay.ports['submissions']} " in logged
    shown = status(relay).stdout.decode()
    assert f"certificate SHA-256 fingerprint {fingerprint}\n" in shown
    assert re.search(r"^state: running for \d+ s \(pid \d+\)$", shown, re.M), shown


def test_status_counts_the_queue_and_the_spool(make_pigeon):
    relay = make_pigeon(failing_smarthost())
    result = sendmail(sendmail_config(relay), ["-f", "cron@router.lan", REMOTE, "user@localhost"], b"Subject: s\n\nx\n")
    assert result.returncode == 0, result.stderr
    shown = status(relay).stdout.decode()
    assert "queue: 1 message owed to the smarthost 127.0.0.1\n" in shown, shown
    match = re.search(r"^spool: 1 messages; (\d+) of (\d+) sectors in use \((\d+) of (\d+) KiB\)$", shown, re.M)
    assert match, shown
    used, total, used_kib, total_kib = map(int, match.groups())
    assert 1 <= used < total and total_kib * 1024 == 32 * MiB and used_kib == used * 64


def test_status_when_the_relay_is_not_running(make_pigeon):
    relay = make_pigeon([f"listen_address = {LAN_ADDRESS}"])
    fingerprint = fingerprint_of(relay.cafile)
    relay.stop()
    # The relay's own configuration, which names no socket: --state finds it.
    shown = subprocess.run([*PIGEON_LAUNCHER, PIGEON_BIN, "status", "-C", relay.config_path, "--state", relay.state],
                           capture_output=True, timeout=60)
    assert shown.returncode == STATUS_NOT_RUNNING
    text = shown.stdout.decode()
    assert text.startswith(f"state: not running (nobody answers on {relay.state}/pigeon.sock)\n")
    assert f"configured listener: smtp on {LAN_ADDRESS}:0\n" in text
    assert f"certificate SHA-256 fingerprint {fingerprint}\n" in text
    # Without a state folder that holds a certificate, it says where it looked.
    elsewhere = status(relay, "--state", os.path.join(relay.state, "missing"))
    assert elsewhere.returncode == STATUS_NOT_RUNNING
    assert "certificate: none in " in elsewhere.stdout.decode()
    assert not os.path.exists(os.path.join(relay.state, "missing"))


def test_the_default_spool_is_small_on_router_builds(tmp_path):
    """Without spool_bytes the image is 64 MiB on the host and 4 MiB in the
    router presets (PIGEON_DEFAULT_SPOOL_BYTES): the arch tiers run this test
    against the router binaries."""
    expected = 4 * MiB if PIGEON_LAUNCHER else 64 * MiB
    config = [line for line in BASE_CONFIG if not line.startswith("spool_bytes")]
    relay = Pigeon(str(tmp_path), config).start()
    try:
        assert os.path.getsize(os.path.join(relay.state, "spool.img")) == expected
    finally:
        relay.stop()


def test_a_spool_image_of_another_size_is_named_with_both_sizes(tmp_path):
    """spool_bytes changed after the first start: the relay keeps the image
    (and its mail) and says how to choose."""
    lines = [line for line in BASE_CONFIG if not line.startswith("spool_bytes")]
    relay = Pigeon(str(tmp_path), lines + [f"spool_bytes = {1 * MiB}"]).start()
    relay.stop()
    with open(relay.config_path, "a") as config:
        config.write(f"spool_bytes = {2 * MiB}\n")
    result = subprocess.run([*PIGEON_LAUNCHER, PIGEON_BIN, "--state", relay.state, "--config", relay.config_path],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    image = os.path.join(relay.state, "spool.img")
    assert (f"pigeon: the spool image {image} is {MiB} bytes, spool_bytes makes it {2 * MiB}: set spool_bytes = "
            f"{MiB} to keep the mail in it, or move it away to start an empty spool of the new size") in result.stderr
    assert os.path.getsize(image) == MiB
