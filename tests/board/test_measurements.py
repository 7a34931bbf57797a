"""Instruction counts of the firmware under QEMU's `-icount shift=0`, where
SysTick advances one 25 MHz tick per 40 guest instructions: the board counts
the ticks it spends outside WFI (board_counters.hpp), and each figure is the
difference of that count around some work. Printed into ctest's log."""
import smtplib
import ssl
import time

import pytest

INSTRUCTIONS_PER_TICK = 40  # 1 ns per instruction (shift=0) at a 40 ns core clock period
MESSAGE = b"Subject: 2 KB\r\n\r\n" + b"".join(b"line %04d of a two kilobyte message, padded .......\r\n" % i
                                             for i in range(38))
SETTLE_S = 0.3  # lets the board finish the connection's tail (FIN, ACKs) and sleep


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    from conftest import Board, BOARD_ELF, MAX_BOOT_S
    board = Board(BOARD_ELF, str(tmp_path_factory.mktemp("icount") / "psram.img"), icount=True,
                  max_run_s=MAX_BOOT_S)
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
