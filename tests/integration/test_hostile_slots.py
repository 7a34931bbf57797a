"""Hostile clients against the slots, the loop and half-closed connections
(issue 13, docs/security.md): idle floods on every port while a well-behaved
client submits and fetches, a client that pipelines and never reads, a client
that half-closes after its last command, and one that reconnects at once.
Every attack is bounded in connections and time; loopback only."""
import os
import smtplib
import socket
import threading
import time

import pytest

from conftest import fetch_all, read_until_closed, strip_received
from test_errors_and_limits import Dialog, auth_plain_argument, flood_without_reading, smtp

PORTS = ("smtp", "submission", "submissions", "pop3", "pop3s")
def cpu_seconds(relay) -> float:
    """utime + stime of the relay process (proc(5), fields 14 and 15)."""
    with open(f"/proc/{relay.process.pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_used_over(relay, window_s) -> float:
    before = cpu_seconds(relay)
    time.sleep(window_s)
    return cpu_seconds(relay) - before


class IdleFlood:
    """Bare TCP connections that never send a byte: `per_port` to each service
    of `ports`, each from its own loopback address (so no per-address limit
    stops them). With `reconnect`, a thread opens a new one for every one the
    relay closes, until stop(). Bounded: at most `per_port` open per port at
    any time."""

    def __init__(self, relay, per_port, reconnect=False, ports=PORTS):
        self.relay = relay
        self.sockets = {port: [] for port in ports}
        self.next_address = 0
        self.reconnected = 0
        self.stopping = threading.Event()
        for port in ports:
            for _ in range(per_port):
                self.sockets[port].append(self._open(port))
        self.thread = threading.Thread(target=self._keep_full, daemon=True) if reconnect else None
        if self.thread:
            self.thread.start()

    def _open(self, port):
        self.next_address += 1
        source = f"127.0.{self.next_address // 250 + 1}.{self.next_address % 250 + 1}"
        sock = socket.socket()
        sock.setblocking(False)
        sock.bind((source, 0))
        try:
            sock.connect(("127.0.0.1", self.relay.ports[port]))
        except BlockingIOError:
            pass
        return sock

    def _keep_full(self):
        while not self.stopping.wait(0.2):
            for port, sockets in self.sockets.items():
                for index, sock in enumerate(sockets):
                    if self._closed_by_relay(sock):
                        sock.close()
                        sockets[index] = self._open(port)
                        self.reconnected += 1

    @staticmethod
    def _closed_by_relay(sock):
        try:
            while sock.recv(4096):
                pass  # a greeting or a goodbye: read and ignore it
            return True  # end of stream
        except BlockingIOError:
            return False
        except OSError:
            return True

    def stop(self):
        self.stopping.set()
        if self.thread:
            self.thread.join(timeout=5)
        for sockets in self.sockets.values():
            for sock in sockets:
                sock.close()


def submit_and_fetch(relay, subject):
    """One well-behaved round: submission with STARTTLS and AUTH, then POP3S
    retrieves and deletes everything. Returns the time taken and the subjects."""
    started = time.monotonic()
    message = f"Subject: {subject}\r\n\r\nwell-behaved\r\n".encode()
    with smtplib.SMTP("127.0.0.1", relay.ports["submission"], timeout=30) as client:
        client.starttls(context=relay.tls_context())
        client.login(relay.user, relay.password)
        client.sendmail("sender@example.org", ["user@localhost"], message)
    messages = fetch_all(relay, delete=True)
    subjects = [line[9:].decode() for message in messages for line in message.split(b"\r\n")
                if line.startswith(b"Subject: ")]
    return time.monotonic() - started, subjects


def serve_rounds(relay, flood_name, bound_s):
    """Three well-behaved rounds during a flood, each within `bound_s`."""
    for round_number in range(3):
        elapsed_s, subjects = submit_and_fetch(relay, f"round {round_number}")
        print(f"{flood_name}: round {round_number} served in {elapsed_s:.2f} s")
        assert subjects == [f"round {round_number}"]
        assert elapsed_s < bound_s


# Idle floods


def test_idle_flood_from_many_addresses_on_every_port_is_evicted(pigeon):
    """20 bare connections to each of the five ports, each from its own
    address: more than every SMTP slot (16), POP3 slot (8) and TLS session (16)
    of the host build. A well-behaved client is served once a flooder has been
    silent for a second, each of three rounds within 20 s: the flooders
    that reconnect queue in the listeners' backlogs ahead of it, and each
    takes a slot for a second (before: 421 until the command timeout, 300 s)."""
    flood = IdleFlood(pigeon, per_port=20, reconnect=True)
    try:
        time.sleep(0.5)  # the flood is in before the well-behaved client
        serve_rounds(pigeon, "many-address idle flood", 20.0)
    finally:
        flood.stop()
    assert "evicted for a new client" in pigeon.log()


def test_idle_flood_from_one_address_leaves_the_other_slots_free(pigeon):
    """One address may hold half the slots of a protocol: 20 bare connections
    per port from 127.0.0.2 leave room, and a client from 127.0.0.1 is served
    within 5 s (a TLS handshake and a login each way on a busy machine),
    three times over."""
    flood = []
    try:
        for port in PORTS:
            for _ in range(20):
                flood.append(socket.create_connection(("127.0.0.1", pigeon.ports[port]), timeout=10,
                                                      source_address=("127.0.0.2", 0)))
        time.sleep(0.5)
        serve_rounds(pigeon, "one-address idle flood", 5.0)
    finally:
        for sock in flood:
            sock.close()
    assert "refused: Too many connections from your address" in pigeon.log()


def test_per_address_limit_is_421_for_that_address_only(make_pigeon):
    relay = make_pigeon(["max_sessions_per_address = 3"])
    held = []
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", relay.ports["smtp"]), timeout=10,
                                        source_address=("127.0.0.3", 0))
        assert sock.recv(100).startswith(b"220 ")
        held.append(sock)
    over = socket.create_connection(("127.0.0.1", relay.ports["submission"]), timeout=10,
                                    source_address=("127.0.0.3", 0))
    assert over.recv(100) == b"421 4.7.0 Too many connections from your address\r\n"
    assert over.recv(100) == b""
    other = Dialog(relay.ports["smtp"])
    assert other.reply() == (220, "")
    for sock in held + [over]:
        sock.close()


def test_bare_connections_are_closed_after_the_handshake_timeout(make_pigeon):
    """Nothing on 465 and 995 (no ClientHello), nothing after the greeting on
    25 and 110: the slot and the TLS session come back after
    handshake_timeout_s, not after the command timeouts."""
    relay = make_pigeon(["handshake_timeout_s = 2"])
    bare = {port: socket.create_connection(("127.0.0.1", relay.ports[port]), timeout=10) for port in PORTS}
    started = time.monotonic()
    heard = {port: read_until_closed(bare[port]).split(b"\r\n") for port in PORTS}
    assert 1.5 <= time.monotonic() - started < 5.0
    for port in ("smtp", "submission"):
        assert heard[port][1] == b"421 4.4.2 Idle timeout, closing connection", heard[port]
    assert heard["pop3"][1] == b"-ERR Autologout; idle for too long"
    assert heard["submissions"] == heard["pop3s"] == [b""]  # no TLS, so not a word
    # A client that speaks in time is not cut off by it.
    dialog = smtp(relay)
    time.sleep(2.5)
    assert dialog.command("NOOP") == (250, "2.0.0")


def test_stalled_starttls_handshake_is_closed_after_the_handshake_timeout(make_pigeon):
    relay = make_pigeon(["handshake_timeout_s = 2"])
    dialog = smtp(relay, "submission")
    assert dialog.command("STARTTLS") == (220, "2.0.0")
    started = time.monotonic()
    assert dialog.sock.recv(100) == b""  # no ClientHello follows: closed
    assert 1.5 <= time.monotonic() - started < 5.0


# The loop


def test_client_that_pipelines_and_never_reads_costs_no_cpu(pigeon):
    """Pipelined NOOPs until the relay stops reading: its replies fill every
    buffer. The relay then waits without spinning."""
    idle_cpu_s = cpu_used_over(pigeon, 2.0)
    sock = flood_without_reading(pigeon.ports["smtp"], b"NOOP\r\n")
    try:
        busy_cpu_s = cpu_used_over(pigeon, 3.0)
        print(f"idle relay: {idle_cpu_s:.3f} s CPU in 2 s; never-reading client: {busy_cpu_s:.3f} s CPU in 3 s")
        assert idle_cpu_s < 0.1
        assert busy_cpu_s < 0.15
        # The relay still serves others meanwhile.
        elapsed_s, subjects = submit_and_fetch(pigeon, "beside a never-reading client")
        assert subjects == ["beside a never-reading client"]
    finally:
        sock.close()


# Half-close


def test_smtp_transaction_then_half_close_gets_every_reply_and_is_stored_once(pigeon):
    sock = socket.create_connection(("127.0.0.1", pigeon.ports["smtp"]), timeout=10)
    sock.sendall(b"EHLO client.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<user@localhost>\r\n"
                 b"DATA\r\nSubject: half-close\r\n\r\nsent, then FIN\r\n.\r\nQUIT\r\n")
    sock.shutdown(socket.SHUT_WR)
    replies = read_until_closed(sock).split(b"\r\n")
    sock.close()
    codes = [line[:3] for line in replies if line[3:4] == b" "]
    assert codes == [b"220", b"250", b"250", b"250", b"354", b"250", b"221"], replies
    assert [strip_received(m) for m in fetch_all(pigeon)] == [b"Subject: half-close\r\n\r\nsent, then FIN\r\n"]


def test_login_then_half_close_gets_the_verdict_and_the_goodbye(make_pigeon):
    """The password check runs in steps after the FIN: its reply still goes out."""
    relay = make_pigeon(["plaintext_login = smtp"])
    sock = socket.create_connection(("127.0.0.1", relay.ports["smtp"]), timeout=10)
    sock.sendall(b"EHLO client.example\r\nAUTH PLAIN " +
                 auth_plain_argument(relay.user, relay.password).encode() + b"\r\nQUIT\r\n")
    sock.shutdown(socket.SHUT_WR)
    replies = read_until_closed(sock).split(b"\r\n")
    sock.close()
    assert [line[:3] for line in replies if line[3:4] == b" "] == [b"220", b"250", b"235", b"221"], replies


def test_pop3_dele_quit_then_half_close_gets_every_reply_and_deletes_once(make_pigeon):
    relay = make_pigeon(["plaintext_login = pop3"])
    for subject in ("first", "second"):
        relay.submit(f"Subject: {subject}\r\n\r\nbody\r\n".encode())
    sock = socket.create_connection(("127.0.0.1", relay.ports["pop3"]), timeout=10)
    sock.sendall(f"USER {relay.user}\r\nPASS {relay.password}\r\nDELE 1\r\nQUIT\r\n".encode())
    sock.shutdown(socket.SHUT_WR)
    lines = read_until_closed(sock).split(b"\r\n")[:-1]
    sock.close()
    assert len(lines) == 5 and all(line.startswith(b"+OK") for line in lines), lines
    remaining = fetch_all(relay)
    assert [m.split(b"\r\n\r\n")[0].split(b"Subject: ")[-1] for m in remaining] == [b"second"]


def test_half_closed_client_that_does_not_read_is_closed_by_the_idle_timeout(make_pigeon):
    """After its FIN the session lives only while its replies can leave."""
    relay = make_pigeon(["command_timeout_s = 1"])
    sock = flood_without_reading(relay.ports["smtp"], b"NOOP\r\n")
    sock.shutdown(socket.SHUT_WR)
    deadline = time.monotonic() + 6
    while "peer does not read its replies" not in relay.log():
        assert time.monotonic() < deadline, relay.log()
        time.sleep(0.2)
    sock.close()


# Reconnecting


def test_client_that_closes_and_reconnects_at_once_gets_the_slot(make_pigeon):
    """15 of the 16 SMTP slots are held by logged-in clients (protected, never
    evicted); a client that closes the 16th and reconnects at once must find
    it free, twenty times over: the relay sees the close before it accepts."""
    relay = make_pigeon(["max_sessions_per_address = 16"])
    held = []
    for _ in range(15):
        dialog = smtp(relay, "submissions")
        assert dialog.command("AUTH PLAIN " + auth_plain_argument(relay.user, relay.password)) == (235, "2.7.0")
        held.append(dialog)
    for attempt in range(20):
        sock = socket.create_connection(("127.0.0.1", relay.ports["smtp"]), timeout=10)
        assert sock.recv(100).startswith(b"220 "), attempt
        sock.close()
    for dialog in held:
        dialog.close()
