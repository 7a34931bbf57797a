"""PIGEON_ASSERT's board handler (boards/mps2-an385/assert_reset.cpp): a failed
assertion prints its file and line on the console and resets the board, which comes
back and serves. The console's `assert` command fires one (only the UART reaches
it, never the network)."""
import smtplib

from conftest import fetch_all, strip_received

# The file as __FILE__ gives it: "boards/..." (ccache's relative paths add "../../").
# The board's checks name their place, not their condition (PIGEON_ASSERT_CONDITIONS 0).
ASSERTION = r"^pigeon: assertion failed \((\.\./)*boards/mps2-an385/main\.cpp:\d+\)$"
MESSAGE = b"Subject: after the reset\r\n\r\nserved again\r\n"


def test_a_failed_assertion_is_reported_and_the_board_resets_and_serves(board):
    # QEMU hands the UART one byte per loop round of the board: a few seconds.
    board.console_write("help\r\nassertion\r\n")  # other lines are ignored
    board.console_write("assert\r\n")
    board.wait_for_console(ASSERTION)
    # The reset boots the image again: QEMU reloads the PSRAM from the file it
    # started with, so the board makes itself a new identity and password.
    board.wait_for_console(r"^pigeon: ready$", count=2)
    assert board.process.poll() is None  # reset, not exited
    with smtplib.SMTP("127.0.0.1", board.ports["smtp"], timeout=60) as client:
        client.sendmail("s@example.org", ["user@localhost"], MESSAGE)
    assert [strip_received(m) for m in fetch_all(board)] == [MESSAGE]
