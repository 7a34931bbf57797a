"""Instruction counts of the firmware under QEMU's `-icount shift=0`, where
SysTick advances one 25 MHz tick per 40 guest instructions: the board counts
the ticks it spends outside WFI (board_counters.hpp), and each figure is the
difference of that count around some work. Printed into ctest's log."""
import os
import poplib
import smtplib
import ssl
import subprocess
import time

import pytest

INSTRUCTIONS_PER_TICK = 40  # 1 ns per instruction (shift=0) at a 40 ns core clock period
MESSAGE = b"Subject: 2 KB\r\n\r\n" + b"".join(b"line %04d of a two kilobyte message, padded .......\r\n" % i
                                             for i in range(38))
# tests/tools/psk_ke_client: ctest names it; run by hand, the host build's.
PSK_KE_CLIENT = os.environ.get("PIGEON_PSK_KE_CLIENT", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "host", "tests", "psk_ke_client"))
SETTLE_S = 0.3  # lets the board finish the connection's tail (FIN, ACKs) and sleep


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    from conftest import Board, BOARD_ELF, MAX_BOOT_S
    # Plain POP3 logins, so that a RETR is measured without TLS around it.
    board = Board(BOARD_ELF, str(tmp_path_factory.mktemp("icount") / "psram.img"), icount=True,
                  max_run_s=MAX_BOOT_S, config="plaintext_login = pop3\n")
    board.start(timeout_s=60)
    yield board
    board.kill()


def instructions(board, work):
    """Guest instructions the board spent on `work()`."""
    time.sleep(SETTLE_S)
    before = board.counters()["busy_ticks"]
    work()
    time.sleep(SETTLE_S)
    return (board.counters()["busy_ticks"] - before) * INSTRUCTIONS_PER_TICK


def smtp_session(board, messages, tls):
    def work():
        with smtplib.SMTP("127.0.0.1", board.ports["smtp"], timeout=60) as client:
            if tls:
                client.starttls(context=ssl.create_default_context(cafile=board.cafile))
            for _ in range(messages):
                client.sendmail("sensor@example.org", ["user@localhost"], MESSAGE)
    return work


def per_message(board, tls, extra=10):
    """The cost of one more accepted message in a session: (N+1 messages - 1) / N."""
    one = instructions(board, smtp_session(board, 1, tls))
    many = instructions(board, smtp_session(board, 1 + extra, tls))
    return one, (many - one) // extra


def test_instruction_counts(board):
    assert 2000 <= len(MESSAGE) <= 2100
    plain_session, plain_message = per_message(board, tls=False)
    tls_session, tls_message = per_message(board, tls=True)
    handshake = instructions(board, smtp_session(board, 0, tls=True)) - instructions(
        board, smtp_session(board, 0, tls=False))
    print(f"\ninstructions per accepted 2 KB message: {plain_message:,} over plain SMTP, "
          f"{tls_message:,} over STARTTLS")
    print(f"instructions per STARTTLS handshake (P-256 ECDSA server): {handshake:,}")
    print(f"instructions per one-message session: {plain_session:,} plain, {tls_session:,} with STARTTLS")
    assert 0 < plain_message < tls_message < handshake


def login_instructions(board):
    """Instructions of one AUTH PLAIN on submission, the session and its TLS set up outside the count."""
    with smtplib.SMTP("127.0.0.1", board.ports["submission"], timeout=120) as client:
        client.starttls(context=ssl.create_default_context(cafile=board.cafile))
        client.ehlo("sensor.example")
        return instructions(board, lambda: client.login(board.user, board.password))


def test_login_instructions(board):
    first = login_instructions(board)
    repeated = login_instructions(board)
    print(f"\ninstructions per login: {first:,} with the PBKDF2 derivation (the default user's 2,048 "
          f"iterations), {repeated:,} repeated within auth_cache_s")
    assert 0 < repeated * 5 < first


class Offering:
    """A client TLS context that offers a saved session: smtplib's starttls()
    takes a context but no session."""

    def __init__(self, context, session):
        self.context, self.session = context, session

    def wrap_socket(self, sock, server_hostname):
        return self.context.wrap_socket(sock, server_hostname=server_hostname, session=self.session)


class Device:
    """A client that connects once per message, as a sensor does, and keeps the
    TLS session it got last (a TLS 1.3 ticket arrives after the handshake, with
    the first reply: the EHLO after STARTTLS)."""

    def __init__(self, board, version):
        self.board = board
        self.context = ssl.create_default_context(cafile=board.cafile)
        self.context.minimum_version = self.context.maximum_version = version
        self.session = None
        self.reused = None

    def session_work(self, tls, resume, messages):
        def work():
            with smtplib.SMTP("127.0.0.1", self.board.ports["smtp"], timeout=60) as client:
                if tls:
                    client.starttls(context=Offering(self.context, self.session if resume else None))
                client.ehlo()
                if tls:
                    self.reused, self.session = client.sock.session_reused, client.sock.session
                for _ in range(messages):
                    client.sendmail("sensor@example.org", ["user@localhost"], MESSAGE)
        return work

    def cost(self, tls, resume=False, messages=0):
        return instructions(self.board, self.session_work(tls, resume, messages))


def test_resumed_handshake_instructions(board):
    """A full STARTTLS handshake against one that resumes with the ticket of the
    connection before, per TLS version, and one-message sessions either way."""
    for name, version in (("TLS 1.2", ssl.TLSVersion.TLSv1_2), ("TLS 1.3", ssl.TLSVersion.TLSv1_3)):
        device = Device(board, version)
        plain = device.cost(tls=False)
        full = device.cost(tls=True) - plain
        assert device.reused is False
        resumed = device.cost(tls=True, resume=True) - plain
        assert device.reused is True
        plain_message = device.cost(tls=False, messages=1)
        full_message = device.cost(tls=True, messages=1)
        resumed_message = device.cost(tls=True, resume=True, messages=1)
        assert device.reused is True
        print(f"\n{name} STARTTLS handshake: {full:,} instructions full, {resumed:,} resumed "
              f"({100 * resumed / full:.1f}%)")
        print(f"{name} one-message session (2 KB): {plain_message:,} plain, {full_message:,} STARTTLS full, "
              f"{resumed_message:,} STARTTLS resumed")
        assert 0 < resumed < full
        if version == ssl.TLSVersion.TLSv1_2:
            assert resumed * 10 <= full  # no public-key operation at all


def test_psk_ke_resumption_instructions(board):
    """TLS 1.3 resumption without ECDHE (psk_ke), which only a client that sends
    no key share gets (tests/tools/psk_ke_client.cpp): both of its connections
    counted, each less a plain session's EHLO and QUIT."""
    plain = Device(board, ssl.TLSVersion.TLSv1_3).cost(tls=False)
    started = []

    def first_connection():
        started.append(subprocess.Popen([PSK_KE_CLIENT, str(board.ports["smtp"]), "starttls",
                                         board.cafile], stdin=subprocess.PIPE, stdout=subprocess.PIPE))
        assert started[0].stdout.readline() == b"ticket\n"

    def resume():
        started[0].stdin.write(b"go\n")
        started[0].stdin.flush()
        started[0].wait(timeout=60)
    try:
        full = instructions(board, first_connection) - plain
        resumed = instructions(board, resume) - plain
    finally:
        for client in started:
            client.kill()
            client.wait()
    output = started[0].stdout.read()
    assert started[0].returncode == 0 and output == b"resumed psk_ke\n", output
    print(f"\nTLS 1.3 STARTTLS handshake, Mbed TLS client: {full:,} instructions full, {resumed:,} resumed "
          f"with psk_ke ({100 * resumed / full:.1f}%)")
    assert 0 < resumed * 10 <= full


RETRIEVED = 10


def test_pop3_retr_instructions(board):
    """One RETR of a 2 KB message over plain POP3, the login outside the count.
    The maildrop is emptied first: the tests before filled the board's index."""
    emptying = poplib.POP3("127.0.0.1", board.ports["pop3"], timeout=60)
    emptying.user(board.user)
    emptying.pass_(board.password)
    for number in range(1, emptying.stat()[0] + 1):
        emptying.dele(number)
    emptying.quit()
    with smtplib.SMTP("127.0.0.1", board.ports["smtp"], timeout=60) as client:
        for _ in range(RETRIEVED):
            client.sendmail("sensor@example.org", ["user@localhost"], MESSAGE)
    client = poplib.POP3("127.0.0.1", board.ports["pop3"], timeout=60)
    client.user(board.user)
    client.pass_(board.password)
    assert client.stat()[0] == RETRIEVED
    sizes = []
    total = instructions(board, lambda: sizes.extend(len(b"\r\n".join(client.retr(n)[1]))
                                                     for n in range(1, RETRIEVED + 1)))
    client.quit()
    assert all(size >= len(MESSAGE) for size in sizes)
    print(f"\ninstructions per POP3 RETR of a 2 KB message (plain, fetched {RETRIEVED} in one session): "
          f"{total // RETRIEVED:,}")
    assert total > 0
