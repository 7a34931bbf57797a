"""The spool promise on the board: once the firmware answered 250 to DATA, a
power cut (QEMU stopped between two instructions, PSRAM saved, QEMU ended)
does not lose the message; the next boot serves it over POP3."""
import smtplib

from conftest import fetch_all, strip_received


def test_message_survives_a_power_cut_right_after_250(make_board):
    board = make_board()
    message = b"Subject: power cut\r\n\r\nwritten before the power went\r\n"
    client = smtplib.SMTP("127.0.0.1", board.ports["submission"], timeout=60)
    client.starttls(context=board.tls_context())
    client.login(board.user, board.password)
    client.mail("s@example.org")
    client.rcpt("user@localhost")
    code, _ = client.data(message)
    assert code == 250
    board.power_cut()  # the moment the 250 arrived: no QUIT
    client.close()

    restarted = make_board()
    assert [strip_received(m) for m in fetch_all(restarted)] == [message]


def test_message_cut_before_the_end_of_data_is_not_delivered(make_board):
    board = make_board()
    client = smtplib.SMTP("127.0.0.1", board.ports["submission"], timeout=60)
    client.starttls(context=board.tls_context())
    client.login(board.user, board.password)
    client.mail("s@example.org")
    client.rcpt("user@localhost")
    assert client.docmd("DATA")[0] == 354
    client.send(b"Subject: torn\r\n\r\nhalf a message\r\n")
    board.power_cut()
    client.close()

    restarted = make_board()
    assert fetch_all(restarted) == []
