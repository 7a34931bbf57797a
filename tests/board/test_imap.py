"""Python imaplib against the firmware in QEMU (one IMAP session, PIGEON_IMAP_SESSIONS
in boards/mps2-an385/pigeon_opts.h): mail submitted over SMTP read back over 993
and over 143 with STARTTLS, bodies compared byte for byte; flags stored and an
expunge made over IMAP are what the next session and POP3 see, and the flags
and the spool's UIDVALIDITY survive a power cut (the spool's state records and
sector headers in the board's flash)."""
from conftest import fetch_all, strip_received
from test_clients import submit_starttls as submit
from test_imap_clients import imap_starttls, imaps  # tests/integration's, on the path conftest sets

MESSAGES = [
    b"From: Ann <ann@example.org>\r\nSubject: first\r\n\r\nHello\r\n.a dot line\r\n",
    b"Subject: second\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + "Grüße\r\n".encode() +
    b"".join(b"line %04d of the second message\r\n" % i for i in range(150)),
]
# Stack the board's handler needs beyond the deepest use seen (an interrupt's frame
# and the fault handler's own), so that the measured high-water keeps this free.
STACK_RESERVE_BYTES = 512


def fetch(client, items):
    """The untagged FETCH replies' (metadata, literal) pairs, in message order."""
    typ, data = client.fetch("1:*", items)
    assert typ == "OK"
    return [part for part in data if isinstance(part, tuple)]


def test_imap_reads_what_smtp_delivered_stores_flags_and_expunges(board):
    for message in MESSAGES:
        submit(board, message)

    client = imaps(board)
    assert client.select("INBOX") == ("OK", [b"2"])
    replies = fetch(client, "(FLAGS RFC822.SIZE BODY.PEEK[])")
    assert [strip_received(body) for _, body in replies] == MESSAGES
    assert all(b"\\Seen" not in meta for meta, _ in replies)  # PEEK leaves them unread
    typ, data = client.store("1", "+FLAGS", "(\\Flagged)")
    assert typ == "OK" and b"\\Flagged" in data[0] and b"\\Seen" not in data[0]
    assert client.store("2", "+FLAGS.SILENT", "(\\Deleted)")[0] == "OK"
    assert client.expunge() == ("OK", [b"2"])
    assert client.logout()[0] == "BYE"

    client = imap_starttls(board)
    assert client.select("INBOX") == ("OK", [b"1"])
    [(_, body)] = fetch(client, "(BODY[])")  # not PEEK: sets \Seen
    assert strip_received(body) == MESSAGES[0]
    typ, data = client.fetch("1", "(FLAGS)")
    assert typ == "OK" and b"\\Seen" in data[0] and b"\\Flagged" in data[0]
    client.logout()

    # One store: POP3 sees the expunge too.
    assert [strip_received(m) for m in fetch_all(board)] == [MESSAGES[0]]
    high_water = board.stack_high_water()
    print(f"\nstack high-water after IMAP over 993 and 143: {high_water} of {board.stack_bytes} bytes")
    assert high_water <= board.stack_bytes - STACK_RESERVE_BYTES


def test_a_message_delivered_while_the_mailbox_is_selected_appears(board):
    client = imaps(board)
    assert client.select("INBOX") == ("OK", [b"0"])
    submit(board, MESSAGES[1])
    client.response("EXISTS")  # SELECT's, read
    assert client.noop()[0] == "OK"
    assert client.response("EXISTS") == ("EXISTS", [b"1"])
    [(_, body)] = fetch(client, "(BODY.PEEK[])")
    assert strip_received(body) == MESSAGES[1]
    client.logout()


def selected_uid_validity(client):
    """SELECT INBOX; the UIDVALIDITY it says."""
    assert client.select("INBOX")[0] == "OK"
    return int(client.response("UIDVALIDITY")[1][0])


def test_stored_flags_and_the_uidvalidity_survive_a_power_cut(make_board):
    board = make_board()
    submit(board, MESSAGES[0])
    client = imaps(board)
    uid_validity = selected_uid_validity(client)
    # The board has no RTC: its spool took a random value, above the 1 of
    # spools before format version 7 and below every clock value
    # (docs/spool-format.md §2.1).
    assert 2 <= uid_validity < 2**30
    assert client.store("1", "+FLAGS.SILENT", "(\\Answered \\Flagged)")[0] == "OK"
    client.logout()
    board.power_cut()

    client = imaps(make_board())
    assert selected_uid_validity(client) == uid_validity
    typ, data = client.fetch("1", "(FLAGS)")
    assert typ == "OK" and b"\\Answered" in data[0] and b"\\Flagged" in data[0] and b"\\Seen" not in data[0]
    client.logout()
