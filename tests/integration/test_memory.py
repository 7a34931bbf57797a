"""Idle memory follows the configuration: a relay configured for fewer TLS
sessions hands Mbed TLS a smaller part of its arena, and the part it never
touches is never paid for. Proportional set size (PSS) from /proc, as
tools/bench-compare reports it."""
import smtplib
import socket
import ssl

import pytest

from conftest import ALLOC_GUARD, PIGEON_LAUNCHER

# The sanitizer build's shadow memory and qemu-user hide the relay's own pages.
pytestmark = pytest.mark.skipif(not ALLOC_GUARD or PIGEON_LAUNCHER, reason="measures the plain host build")

HOST_TLS_SESSIONS = 16  # PIGEON_TLS_SESSIONS in boards/host/pigeon_opts.h
TLS_SESSION_KIB = 48  # PIGEON_TLS_SESSION_BYTES


def pss_kib(relay):
    with open(f"/proc/{relay.process.pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise AssertionError("no Pss line")


def test_fewer_tls_sessions_leave_their_arena_untouched(make_pigeon):
    full = make_pigeon()
    small = make_pigeon(["tls_sessions = 2"])
    saved_kib = pss_kib(full) - pss_kib(small)
    arena_kib = (HOST_TLS_SESSIONS - 2) * TLS_SESSION_KIB
    assert saved_kib >= 0.9 * arena_kib, f"{saved_kib} KiB saved, {arena_kib} KiB expected"


def tls_client():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def test_the_configured_number_of_tls_sessions_is_the_limit(make_pigeon):
    relay = make_pigeon(["tls_sessions = 1"])
    first = smtplib.SMTP_SSL("127.0.0.1", relay.ports["submissions"], context=tls_client(), timeout=10)
    first.login(relay.user, relay.password)
    first.ehlo()
    try:
        with socket.create_connection(("127.0.0.1", relay.ports["submissions"]), timeout=3) as raw:
            with pytest.raises((ssl.SSLError, OSError)):
                with tls_client().wrap_socket(raw) as second:
                    second.recv(100)
    finally:
        first.quit()
    # The session is back in the pool once the first client has gone.
    again = smtplib.SMTP_SSL("127.0.0.1", relay.ports["submissions"], context=tls_client(), timeout=10)
    again.login(relay.user, relay.password)
    again.quit()
