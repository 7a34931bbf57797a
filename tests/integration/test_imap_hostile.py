"""Hostile and broken clients against the IMAP listeners (issue 14 item 4,
docs/security.md): a client that asks for a whole mailbox and never reads,
one that drips, overlong lines and literals, control bytes, password
guessing, half-close, clients that fill every slot, stalled handshakes and an
expensive SEARCH. Each time the question is what the others still get.
Every load is bounded in connections and time; loopback only; latencies are
compared with a well-behaved client's as ratios."""
import base64
import imaplib
import poplib
import smtplib
import socket
import ssl
import statistics
import threading
import time

import pytest

from conftest import ALLOC_GUARD, PIGEON_LAUNCHER, read_until_closed
from test_errors_and_limits import Dialog
from test_hostile_slots import IdleFlood, cpu_used_over
from test_login_abuse import guessed_relay, guessers_beside, pbkdf2_line
from test_memory import rollup_kib

GREETING = b"* OK [CAPABILITY"
PLAINTEXT = ["plaintext_login = imap"]
EVICTED = b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n"
TOOBIG = b"BAD [TOOBIG] Command line or literal too long\r\n"


class Imap(Dialog):
    """A line-level IMAP client (plain on 143, TLS on 993) from any loopback
    address, so that tests see every response as the relay wrote it."""

    def __init__(self, relay, implicit_tls=False, source="127.0.0.1", timeout_s=10):
        port = relay.ports["imaps" if implicit_tls else "imap"]
        self.sock = socket.socket()
        self.sock.settimeout(timeout_s)
        self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", port))
        if implicit_tls:
            self._wrap(relay.tls_context())
        else:
            self.reader = self.sock.makefile("rb")
        self.greeting = self.line()

    def tagged(self, tag: bytes):
        """The untagged lines up to the tagged one, and that one."""
        untagged = []
        while not (line := self.line()).startswith(tag + b" "):
            assert line, f"closed before {tag!r}: {untagged}"
            untagged.append(line)
        return untagged, line

    def command(self, text):
        """Sends `tag text`; returns the tagged reply (the untagged ones are dropped)."""
        self.tags = getattr(self, "tags", 0) + 1
        tag = b"t%d" % self.tags
        self.send(tag + b" " + (text.encode() if isinstance(text, str) else text) + b"\r\n")
        return self.tagged(tag)[1][len(tag) + 1:]

    def login(self, relay):
        assert self.command(f"LOGIN {relay.user} {relay.password}").startswith(b"OK")

    def idle(self):
        """Selects INBOX and enters IDLE."""
        assert self.command("SELECT INBOX").startswith(b"OK")
        self.send(b"i IDLE\r\n")
        assert self.line().startswith(b"+ ")


def imaps_client(relay, timeout_s=30):
    return imaplib.IMAP4_SSL("127.0.0.1", relay.ports["imaps"], ssl_context=relay.tls_context(), timeout=timeout_s)


def fill_inbox(relay, count, body_lines=20):
    """`count` messages of about 2 KB each, over one SMTP session."""
    body = (b"x" * 98 + b"\r\n") * body_lines
    with smtplib.SMTP("127.0.0.1", relay.ports["smtp"], timeout=60) as client:
        for number in range(count):
            client.sendmail("s@example.org", ["user@localhost"], b"Subject: number %d\r\n\r\n" % number + body)


def well_behaved_round(relay, subject):
    """A delivery over SMTP, an IMAP login + SELECT + FETCH over 993 and a POP3
    login + RETR over 995; returns the seconds it took."""
    started = time.monotonic()
    relay.submit(f"Subject: {subject}\r\n\r\nwell-behaved\r\n".encode())
    client = imaps_client(relay)
    client.login(relay.user, relay.password)
    typ, [count] = client.select("INBOX")
    typ, data = client.fetch(count.decode(), "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert data[0][1] == f"Subject: {subject}\r\n\r\n".encode()
    client.logout()
    pop = poplib.POP3_SSL("127.0.0.1", relay.ports["pop3s"], context=relay.tls_context(), timeout=30)
    pop.user(relay.user)
    pop.pass_(relay.password)
    assert pop.retr(1)[0].startswith(b"+OK")
    pop.quit()
    return time.monotonic() - started


def anonymous_memory_kib(relay):
    """The relay's anonymous memory, on the plain host build (as test_memory
    measures it); 0 under a sanitizer, whose allocator is its own."""
    return rollup_kib(relay, "Pss_Anon") if ALLOC_GUARD and not PIGEON_LAUNCHER else 0


def wait_for_close(relay, reason, within_s):
    """Seconds until the relay logged the close of an IMAP connection from
    127.0.0.2 for `reason`. Seen from the client, a connection the relay
    closed with replies still unsent stays open until the relay's kernel
    gives up on sending them."""
    started = time.monotonic()
    while not any("imap: connection with [127.0.0.2]" in line and reason in line for line in relay.log().splitlines()):
        assert time.monotonic() - started < within_s, relay.log()
        time.sleep(0.1)
    return time.monotonic() - started


def never_reading_fetcher(relay, source="127.0.0.2", implicit_tls=False):
    """Logs in on 143 (or 993), selects INBOX and pipelines `FETCH 1:*
    BODY.PEEK[]` without reading a reply until the relay stops taking its
    input (bounded: at most 200 commands, 10 s)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", relay.ports["imaps" if implicit_tls else "imap"]))
    if implicit_tls:
        sock = relay.tls_context().wrap_socket(sock, server_hostname="127.0.0.1")
    sock.sendall(f"a LOGIN {relay.user} {relay.password}\r\nb SELECT INBOX\r\n".encode())
    sock.setblocking(False)
    started = last_accepted = time.monotonic()
    commands = b"".join(b"f%d FETCH 1:* BODY.PEEK[]\r\n" % n for n in range(200))
    while commands and time.monotonic() - last_accepted < 1.0:
        assert time.monotonic() - started < 10, "the relay kept reading"
        try:
            commands = commands[sock.send(commands):]
            last_accepted = time.monotonic()
        except (BlockingIOError, ssl.SSLWantWriteError):
            time.sleep(0.05)
    return sock


# A client that asks for everything and never reads


@pytest.mark.parametrize("implicit_tls", [False, True], ids=["143", "993"])
def test_a_fetch_that_is_never_read_costs_no_cpu_nor_memory_and_others_are_served(make_pigeon, implicit_tls):
    """200 messages of 2 KB, FETCH 1:* BODY.PEEK[] pipelined and never read:
    megabytes asked for, a few kilobytes of buffers take them. The relay waits
    without the processor, holds no more memory, serves a delivery, another
    IMAP reader and a POP3 reader as fast as without it (within 3 times), and
    drops the reader two idle periods later."""
    relay = make_pigeon(PLAINTEXT + ["imap_timeout_s = 3"])
    fill_inbox(relay, 200)
    alone_s = min(well_behaved_round(relay, f"alone {n}") for n in range(2))
    memory_before_kib = anonymous_memory_kib(relay)
    started = time.monotonic()
    sock = never_reading_fetcher(relay, implicit_tls=implicit_tls)
    try:
        busy_cpu_s = cpu_used_over(relay, 2.0)
        memory_during_kib = anonymous_memory_kib(relay)
        beside_s = [well_behaved_round(relay, f"beside {n}") for n in range(2)]
        print(f"\nnever-reading FETCH: {busy_cpu_s:.3f} s CPU in 2 s, anonymous memory {memory_before_kib} -> "
              f"{memory_during_kib} KiB; a well-behaved round {alone_s * 1000:.0f} ms alone, "
              f"{max(beside_s) * 1000:.0f} ms beside it")
        assert busy_cpu_s < 0.15
        assert memory_during_kib - memory_before_kib < 64  # (0 under a sanitizer: not measured)
        assert max(beside_s) < 3 * alone_s + 0.5
        # Autologout after 3 s without progress, then 3 s more to read the BYE.
        closed_after_s = time.monotonic() - started + wait_for_close(relay, "peer does not read its replies", 12)
        assert closed_after_s < 10
    finally:
        sock.close()


# Dripping, and lines and literals over the limits


def test_a_command_dripped_a_byte_at_a_time_is_answered_and_holds_no_one_up(pigeon):
    """LOGIN, SELECT and FETCH over 993, one byte per TLS record every 10 ms,
    while another client's NOOPs go on as fast as without it (median within 3
    times)."""
    watcher = Imap(pigeon, implicit_tls=True, source="127.0.0.3")
    watcher.login(pigeon)
    pigeon.submit(b"Subject: dripped\r\n\r\nread a byte at a time\r\n")

    def noop_ms(count):
        times = []
        for _ in range(count):
            started = time.monotonic()
            assert watcher.command("NOOP") == b"OK NOOP completed\r\n"
            times.append((time.monotonic() - started) * 1000)
        return statistics.median(times)

    alone_ms = noop_ms(50)
    dripper = Imap(pigeon, implicit_tls=True)
    commands = (f"d1 LOGIN {pigeon.user} {pigeon.password}\r\nd2 SELECT INBOX\r\n"
                "d3 FETCH 1 BODY.PEEK[TEXT]\r\n").encode()
    result = {}

    def drip():
        for byte in commands:
            dripper.send(bytes([byte]))
            time.sleep(0.01)
        result["replies"] = [dripper.tagged(tag) for tag in (b"d1", b"d2", b"d3")]

    thread = threading.Thread(target=drip)
    thread.start()
    beside_ms = noop_ms(50)
    thread.join(timeout=30)
    (_, login), (_, select), (fetched, fetch) = result["replies"]
    assert login.startswith(b"d1 OK") and select.startswith(b"d2 OK") and fetch.startswith(b"d3 OK")
    assert fetched[0].startswith(b"* 1 FETCH (BODY[TEXT] {23}") and fetched[1] == b"read a byte at a time\r\n"
    print(f"\nNOOP median {alone_ms:.2f} ms alone, {beside_ms:.2f} ms beside a dripping client")
    assert beside_ms < 3 * alone_ms + 1.0
    dripper.close()
    watcher.close()


def test_drippers_that_never_log_in_give_their_slots_back_at_the_session_time_limit(make_pigeon):
    """8 connections from 8 addresses that never log in and send a byte of an
    endless command every 0.3 s are never idle, so never evicted: they held
    every IMAP slot for as long as they cared to drip (a reader waited in the
    backlog until its own timeout). Until it logs in, an IMAP session has
    session_time_limit_s (3 s here); then BYE, and the reader is served."""
    relay = make_pigeon(["session_time_limit_s = 3"])
    relay.submit(b"Subject: drip\r\n\r\nstill read\r\n")
    drippers = [Imap(relay, source=f"127.0.11.{n}") for n in range(1, 9)]
    stop = threading.Event()

    def drip():
        while not stop.wait(0.3):
            for dialog in drippers:
                try:
                    dialog.send(b"x")
                except OSError:
                    pass  # closed by the relay

    thread = threading.Thread(target=drip)
    thread.start()
    started = time.monotonic()
    try:
        served_s = imap_round_s(relay, timeout_s=10)
    finally:
        stop.set()
        thread.join(timeout=5)
    waited_s = time.monotonic() - started
    print(f"\na reader beside 8 drippers: served after {waited_s:.2f} s ({served_s:.2f} s of it its own round)")
    assert waited_s < 3 + 3.0
    for dialog in drippers:
        assert dialog.line() == b"* BYE Login took too long, closing connection\r\n"
        dialog.close()
    assert relay.log().count("imap: connection with [127.0.11.") == 8


@pytest.mark.parametrize("sent, answered", [
    (b"a1 NOOP " + b"x" * 5000 + b"\r\n", [b"a1 " + TOOBIG]),
    # Synchronising: refused before the client sends it (no "+" continuation).
    (b"a1 LOGIN {5000}\r\n", [b"a1 " + TOOBIG]),
    # Non-synchronising (LITERAL-): read to its end and dropped, then refused.
    (b"a1 LOGIN {5000+}\r\n" + b"y" * 5000 + b" password\r\n", [b"a1 " + TOOBIG]),
    (b"a1 LOGIN {4097+}\r\n" + b"y" * 4097 + b"\r\n", [b"a1 " + TOOBIG]),
    # Within the limit, over several lines: a whole command.
    (b"a1 ID ({4+}\r\nname {6+}\r\ndevice)\r\n", [b'* ID ("name" "pigeon")\r\n', b"a1 OK ID completed\r\n"]),
])
def test_lines_and_literals_over_the_limit_are_bad_and_the_session_goes_on(pigeon, sent, answered):
    dialog = Imap(pigeon)
    dialog.send(sent + b"a2 NOOP\r\n")
    heard = [dialog.line() for _ in answered]
    assert heard == answered
    assert dialog.line() == b"a2 OK NOOP completed\r\n"
    dialog.close()


def test_a_literal_too_long_to_count_ends_the_session_with_bye(pigeon):
    """A non-synchronising literal whose length does not even fit 32 bits
    cannot be skipped: what follows it cannot be told from commands, so the
    relay says BYE instead of taking the client's data for commands."""
    dialog = Imap(pigeon)
    dialog.send(b"a1 LOGIN {99999999999+}\r\na2 NOOP\r\n")
    lines = read_until_closed(dialog.sock).split(b"\r\n")
    assert lines[0].startswith(b"* BYE [TOOBIG]"), lines
    assert not any(line.startswith(b"a2 ") for line in lines), lines
    # The synchronising form is only refused: the client waits for a "+".
    dialog = Imap(pigeon)
    dialog.send(b"a1 LOGIN {99999999999}\r\n")
    assert dialog.line() == b"a1 " + TOOBIG
    assert dialog.command("NOOP") == b"OK NOOP completed\r\n"
    dialog.close()


def test_an_append_over_the_spools_share_is_refused_before_its_bytes(make_pigeon):
    """1 MiB spool, 25% for one message: an APPEND of 300,000 bytes is `NO
    [TOOBIG]` before the continuation; sent as LITERAL- it is read, dropped and
    refused; nothing is stored, and the session and another one go on."""
    relay = make_pigeon(PLAINTEXT + ["spool_bytes = 1048576", "spool_share_percent = 25"])
    dialog = Imap(relay)
    dialog.login(relay)
    dialog.send(b"a1 APPEND INBOX {300000}\r\n")
    reply = dialog.line()
    assert reply.startswith(b"a1 NO [TOOBIG]"), reply
    dialog.send(b"a2 APPEND INBOX {300000+}\r\n" + b"z" * 299998 + b"\r\n\r\n")
    reply = dialog.line()
    assert reply.startswith(b"a2 NO [TOOBIG]"), reply
    dialog.send(b"s STATUS INBOX (MESSAGES)\r\n")
    assert dialog.tagged(b"s") == ([b"* STATUS INBOX (MESSAGES 0)\r\n"], b"s OK STATUS completed\r\n")
    other = Imap(relay, source="127.0.0.4")
    other.login(relay)
    assert other.command(b"APPEND INBOX {9+}\r\nsmall\r\n\r\n").startswith(b"OK [APPENDUID")
    dialog.close()
    other.close()


# Control bytes


@pytest.mark.parametrize("sent, answer", [
    (b"a1 NO\x00OP\r\n", b"a1 BAD Unknown command\r\n"),
    (b"a\x001 NOOP\r\n", b"* BAD Missing or invalid tag\r\n"),
    (b"\xe9\xe9 NOOP\r\n", b"* BAD Missing or invalid tag\r\n"),
    (b"a\x1b[2J1 NOOP\r\n", b"* BAD Missing or invalid tag\r\n"),
    (b"a1 NO\xc3\xa9P\r\n", b"a1 BAD Missing command name\r\n"),
    (b"a1 SELECT \xe9t\xe9\r\n", b"a1 BAD Syntax: SELECT mailbox\r\n"),
    (b"a1 SELECT \"in\x00box\"\r\n", b"a1 BAD Syntax: SELECT mailbox\r\n"),
    (b"a1 SELECT \"in\x01box\"\r\n", b"a1 NO [NONEXISTENT] No such mailbox\r\n"),  # CHAR of RFC 9051
    (b"a1 NOOP\ra9 LOGOUT\r\n", b"a1 BAD Command not valid in this state or arguments invalid\r\n"),
    (b"a1 NOOP\n", b"a1 OK NOOP completed\r\n"),  # a bare LF ends a line, as most servers take it
])
def test_control_and_8bit_bytes_get_a_clear_error_and_the_session_goes_on(make_pigeon, sent, answer):
    relay = make_pigeon(PLAINTEXT)
    dialog = Imap(relay)
    dialog.login(relay)
    dialog.send(sent + b"a2 NOOP\r\n")
    assert dialog.line() == answer
    assert dialog.line() == b"a2 OK NOOP completed\r\n"
    dialog.close()
    assert relay.process.poll() is None


def test_a_login_name_cannot_forge_a_log_line(make_pigeon):
    relay = make_pigeon(PLAINTEXT)
    forged = b"bob\nFORGED info: imap: login of admin from [10.0.0.1]"
    dialog = Imap(relay)
    assert dialog.command(b"LOGIN {%d+}\r\n%s wrong" % (len(forged), forged)).startswith(b"NO [AUTHENTICATIONFAILED]")
    dialog.close()
    log = relay.log()
    assert "failed login of bob\\x0aFORGED info: imap: login of admin" in log
    assert not any(line.startswith("FORGED") for line in log.splitlines())


# Password guessing


def plain(user, password):
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


LOGINS = {
    "LOGIN": lambda user, password: f"LOGIN {user} {password}",
    "AUTHENTICATE PLAIN": lambda user, password: f"AUTHENTICATE PLAIN {plain(user, password)}",  # SASL-IR
    # Without SASL-IR: the response on its own line after the "+ " (sent at once, pipelined).
    "AUTHENTICATE PLAIN, then the response": lambda user, password: f"AUTHENTICATE PLAIN\r\n{plain(user, password)}",
}


@pytest.mark.parametrize("mechanism", LOGINS)
def test_unknown_user_and_wrong_password_get_the_same_reply_after_the_delay(make_pigeon, mechanism):
    relay = make_pigeon(["auth_failure_delay_ms = 400", f"user = device {pbkdf2_line('device-password', 1000)}"])
    replies = []
    for user, password in [("device", "wrong"), ("nobody", "wrong"), ("nobody", "device-password")]:
        dialog = Imap(relay, implicit_tls=True)
        started = time.monotonic()
        replies.append(dialog.command(LOGINS[mechanism](user, password)))
        elapsed_s = time.monotonic() - started
        dialog.close()
        assert 0.4 <= elapsed_s < 0.4 + 0.3, elapsed_s
    assert replies == [b"NO [AUTHENTICATIONFAILED] Authentication failed\r\n"] * 3


@pytest.mark.parametrize("mechanism", LOGINS)
def test_the_connections_last_failure_is_bye_and_closes_it(make_pigeon, mechanism):
    relay = make_pigeon(["auth_failure_delay_ms = 50", "auth_failures_per_connection = 2"])
    dialog = Imap(relay, implicit_tls=True)
    assert dialog.command(LOGINS[mechanism](relay.user, "wrong")).startswith(b"NO [AUTHENTICATIONFAILED]")
    dialog.send(b"x " + LOGINS[mechanism](relay.user, "wrong").encode() + b"\r\n")
    while (line := dialog.line()).startswith(b"+ "):  # AUTHENTICATE's continuation
        pass
    assert line == b"* BYE Too many failed logins, closing connection\r\n"
    assert dialog.at_eof()


def login_and_select_s(relay, source):
    started = time.monotonic()
    dialog = Imap(relay, implicit_tls=True, source=source)
    assert dialog.command("LOGIN device device-password").startswith(b"OK")
    assert dialog.command("SELECT INBOX").startswith(b"OK")
    dialog.close()
    return time.monotonic() - started


@pytest.mark.parametrize("mechanism", ["LOGIN", "AUTHENTICATE PLAIN"])
def test_a_guesser_from_many_connections_waits_while_another_address_is_served(make_pigeon, mechanism):
    relay = guessed_relay(make_pigeon)
    quiet_s = login_and_select_s(relay, "127.0.0.2")
    guessing_s = 5.0
    wrong = LOGINS[mechanism](relay.user, "guess")
    checked, served = guessers_beside(4, guessing_s, lambda: Imap(relay, implicit_tls=True, timeout_s=30),
                                      lambda dialog: dialog.command(wrong).startswith(b"NO"),
                                      lambda: login_and_select_s(relay, "127.0.0.2"))
    # Unlimited, four connections would get 4 * 5 s / 0.1 s = 200 answers. Past
    # its 4 free failures the address's checks start 0.5, 1, 2, 2 ... s apart.
    assert checked <= 4 + guessing_s / 0.5
    print(f"\n{mechanism} guesser: {checked} answers in {guessing_s:.0f} s from 4 connections; other address: "
          f"login + SELECT in {max(served) * 1000:.0f} ms at most ({quiet_s * 1000:.0f} ms without the guesser)")
    assert max(served) < 1.0 + 3 * quiet_s


# Half-close


def test_store_expunge_logout_then_half_close_get_every_reply_and_expunge_once(make_pigeon):
    relay = make_pigeon(PLAINTEXT)
    for subject in ("first", "second"):
        relay.submit(f"Subject: {subject}\r\n\r\nbody\r\n".encode())
    sock = socket.create_connection(("127.0.0.1", relay.ports["imap"]), timeout=10)
    sock.sendall(f"a1 LOGIN {relay.user} {relay.password}\r\na2 SELECT INBOX\r\n"
                 "a3 STORE 1 +FLAGS (\\Deleted)\r\na4 EXPUNGE\r\na5 LOGOUT\r\n".encode())
    sock.shutdown(socket.SHUT_WR)
    lines = read_until_closed(sock).split(b"\r\n")
    sock.close()
    tagged = [line.split(b" ")[:2] for line in lines if line[:1] == b"a"]
    assert tagged == [[b"a%d" % n, b"OK"] for n in range(1, 6)], lines
    assert b"* 1 EXPUNGE" in lines and b"* BYE Logging out" in lines
    client = imaps_client(relay)
    client.login(relay.user, relay.password)
    assert client.select("INBOX") == ("OK", [b"1"])
    assert client.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[1][0][1] == b"Subject: second\r\n\r\n"
    client.logout()


def test_a_half_closed_client_that_does_not_read_is_closed_by_the_idle_timeout(make_pigeon):
    relay = make_pigeon(PLAINTEXT + ["imap_timeout_s = 1"])
    fill_inbox(relay, 50)
    sock = never_reading_fetcher(relay)
    sock.shutdown(socket.SHUT_WR)
    wait_for_close(relay, "peer does not read its replies", 8)
    sock.close()


# Slots


def idle_sessions(relay, sources):
    sessions = []
    for source in sources:
        dialog = Imap(relay, implicit_tls=True, source=source)
        dialog.login(relay)
        dialog.idle()
        sessions.append(dialog)
    return sessions


def end_idle(sessions):
    for dialog in sessions:
        dialog.send(b"DONE\r\n")
        assert dialog.line() == b"i OK IDLE terminated\r\n"
        dialog.close()


def test_logged_in_idlers_in_every_slot_turn_a_newcomer_away_at_once(pigeon):
    """8 IMAP slots on the host, 4 per address: two addresses' logged-in IDLE
    sessions hold them all. They are protected, so a newcomer is told at once
    (not after a wait) and none of them is evicted; a fifth IDLE session from
    one address is refused by the per-address limit."""
    sessions = idle_sessions(pigeon, ["127.0.0.5"] * 4 + ["127.0.0.6"] * 4)
    started = time.monotonic()
    newcomer = Imap(pigeon, source="127.0.0.7")
    assert newcomer.greeting == EVICTED
    assert newcomer.at_eof() and time.monotonic() - started < 1.0
    newcomer.close()
    end_idle(sessions)


def test_the_per_address_limit_holds_for_idle_sessions(pigeon):
    sessions = idle_sessions(pigeon, ["127.0.0.5"] * 4)
    fifth = Imap(pigeon, source="127.0.0.5")
    assert fifth.greeting == b"* BYE [UNAVAILABLE] Too many connections from your address\r\n"
    fifth.close()
    other = Imap(pigeon, implicit_tls=True, source="127.0.0.6")
    assert other.greeting.startswith(GREETING)
    other.login(pigeon)
    other.close()
    end_idle(sessions)


def test_a_newcomer_evicts_an_unauthenticated_idler_never_an_idle_session(pigeon):
    """4 logged-in IDLE sessions and 4 bare connections from four addresses
    fill the slots: a newcomer takes the slot of a bare one once it has been
    silent for a second, and every IDLE session stays."""
    sessions = idle_sessions(pigeon, ["127.0.0.5"] * 4)
    bare = [Imap(pigeon, source=f"127.0.8.{n}") for n in range(1, 5)]
    time.sleep(1.2)
    newcomer = Imap(pigeon, implicit_tls=True, source="127.0.0.7")
    assert newcomer.greeting.startswith(GREETING)
    newcomer.login(pigeon)
    assert [heard_within(dialog, 0.5) for dialog in bare].count(EVICTED) == 1
    end_idle(sessions)
    for dialog in bare + [newcomer]:
        dialog.close()
    assert "evicted for a new client" in pigeon.log()


def heard_within(dialog, seconds):
    """The next line the relay sent, or b"" when none came within `seconds`."""
    dialog.sock.settimeout(seconds)
    try:
        return dialog.line()
    except (socket.timeout, TimeoutError):
        return b""


def imap_round_s(relay, timeout_s=30):
    """A well-behaved reader: login over 993, SELECT, FETCH of the first message."""
    started = time.monotonic()
    client = imaps_client(relay, timeout_s)
    client.login(relay.user, relay.password)
    assert client.select("INBOX")[0] == "OK"
    assert client.fetch("1", "(BODY.PEEK[TEXT])")[1][0][1] == b"still read\r\n"
    client.logout()
    return time.monotonic() - started


def test_an_idle_flood_on_both_ports_from_many_addresses_gives_way_to_a_reader(pigeon):
    """12 bare connections to 143 and 12 to 993, each from its own address and
    opened again as soon as the relay closes it: three times the 8 IMAP slots.
    A well-behaved reader is served three times over, each once the flooders
    queued before it in the backlog have had their second (a silent
    connection gives way after 1 s); without eviction it would wait for the
    handshake timeout (20 s) or be turned away."""
    pigeon.submit(b"Subject: flood\r\n\r\nstill read\r\n")
    alone_s = imap_round_s(pigeon)
    flood = IdleFlood(pigeon, per_port=12, reconnect=True, ports=("imap", "imaps"))
    try:
        time.sleep(0.5)  # the flood is in before the reader
        served = [imap_round_s(pigeon) for _ in range(3)]
    finally:
        flood.stop()
    print(f"\nIMAP idle flood: a reader served in {', '.join(f'{s:.2f}' for s in served)} s "
          f"({alone_s * 1000:.0f} ms alone); {flood.reconnected} flood connections reopened")
    # At most the 24 flooders are queued before it, 8 of them let in per
    # second of eviction: 3 s, one more for its own slot, and room for a busy machine.
    assert max(served) < 6.0 + 3 * alone_s
    assert "imap: connection with" in pigeon.log() and "evicted for a new client" in pigeon.log()


def test_an_idle_session_is_kept_for_the_imap_timeout_then_logged_out(make_pigeon):
    """IDLE outlives every other timeout and limit (handshake 1 s, SMTP's
    command timeout 1 s, the session time limit of a client that has not
    logged in 1 s) and ends at imap_timeout_s (RFC 9051 §5.4's 30 minutes,
    3 s here) with a BYE."""
    relay = make_pigeon(["imap_timeout_s = 3", "handshake_timeout_s = 1", "command_timeout_s = 1",
                         "session_time_limit_s = 1"])
    [dialog] = idle_sessions(relay, ["127.0.0.1"])
    time.sleep(2.0)
    dialog.send(b"DONE\r\n")
    assert dialog.line() == b"i OK IDLE terminated\r\n"
    dialog.send(b"i IDLE\r\n")
    assert dialog.line().startswith(b"+ ")
    started = time.monotonic()
    dialog.sock.settimeout(10)
    assert dialog.line() == b"* BYE Autologout; idle for too long\r\n"
    assert 2.5 <= time.monotonic() - started < 6
    assert dialog.at_eof()


# Stalled handshakes


def test_a_stalled_starttls_is_closed_after_the_handshake_timeout(make_pigeon):
    relay = make_pigeon(["handshake_timeout_s = 2"])
    dialog = Imap(relay)
    assert dialog.command("STARTTLS") == b"OK Begin TLS negotiation now\r\n"
    started = time.monotonic()
    assert dialog.sock.recv(100) == b""  # no ClientHello follows: closed
    assert 1.5 <= time.monotonic() - started < 5.0


@pytest.mark.parametrize("sent", [b"", b"\x16\x03\x01\x02\x00\x01"])  # nothing; a ClientHello's first bytes
def test_a_stalled_tls_handshake_on_993_is_closed_after_the_handshake_timeout(make_pigeon, sent):
    relay = make_pigeon(["handshake_timeout_s = 2"])
    sock = socket.create_connection(("127.0.0.1", relay.ports["imaps"]), timeout=10)
    sock.sendall(sent)
    started = time.monotonic()
    assert read_until_closed(sock) == b""  # no TLS, so not a word
    assert 1.5 <= time.monotonic() - started < 5.0
    sock.close()


# An expensive client


def noop_latencies_ms(dialog, seconds):
    latencies = []
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at:
        started = time.monotonic()
        assert dialog.command("NOOP") == b"OK NOOP completed\r\n"
        latencies.append((time.monotonic() - started) * 1000)
    return latencies


@pytest.mark.parametrize("commands", [("SEARCH TEXT never-there", "SEARCH BODY never-there"),
                                      ("FETCH 1:* (ENVELOPE BODYSTRUCTURE)",)])
def test_an_expensive_client_does_not_starve_another(pigeon, commands):
    """SEARCH TEXT and BODY, or FETCH of ENVELOPE and BODYSTRUCTURE (passes
    over each message's header and body), over 1,000 messages of 2 KB,
    repeated for 3 s by one client: another client's NOOP (its median) waits
    for a fifth of one such command at most, beyond 3 times what it takes
    alone, and a new login stays within 3 times. Each works through 16
    messages per loop round; run whole in one round, every NOOP waited for a
    whole command (a median of 8.8 ms beside SEARCHes of 9 ms, 7.5 ms beside
    FETCHes of FLAGS and ENVELOPE of 8 ms; 0.03 to 0.08 ms alone)."""
    fill_inbox(pigeon, 1000)
    other = Imap(pigeon, implicit_tls=True, source="127.0.0.3")
    other.login(pigeon)
    alone = noop_latencies_ms(other, 1.5)
    login_alone_s = min(login_s(pigeon) for _ in range(3))
    expensive = Imap(pigeon, implicit_tls=True, timeout_s=30)
    expensive.login(pigeon)
    assert expensive.command("SELECT INBOX").startswith(b"OK")
    stop = threading.Event()
    runs_s = []

    def run():
        while not stop.is_set():
            for command in commands:
                started = time.monotonic()
                assert expensive.command(command).startswith(b"OK")
                runs_s.append(time.monotonic() - started)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        time.sleep(0.3)
        beside = noop_latencies_ms(other, 3.0)
        login_beside_s = max(login_s(pigeon) for _ in range(3))
    finally:
        stop.set()
        thread.join(timeout=30)
    run_ms = statistics.median(runs_s) * 1000
    print(f"\n{commands[0]} over 1,000 messages: {len(runs_s)} in ~3 s, median "
          f"{run_ms:.0f} ms; another client's NOOP median "
          f"{statistics.median(alone):.2f} ms alone, {statistics.median(beside):.2f} ms beside it "
          f"(worst {max(beside):.1f} ms); a login {login_alone_s * 1000:.0f} ms alone, "
          f"{login_beside_s * 1000:.0f} ms beside it")
    assert len(runs_s) >= 2
    # A NOOP waits for a slice of the command, not for all of it: a bound
    # that scales with the relay's speed (sanitizers slow both alike).
    assert statistics.median(beside) < 3 * statistics.median(alone) + run_ms / 5
    assert login_beside_s < 3 * login_alone_s + 0.2
    expensive.close()
    other.close()


def login_s(relay):
    started = time.monotonic()
    dialog = Imap(relay, implicit_tls=True, source="127.0.0.4")
    dialog.login(relay)
    dialog.close()
    return time.monotonic() - started
