"""What the relay refuses in EHLO/HELO names and paths, over raw sockets with the
exact reply codes (docs/security.md, "What is refused"): no control byte, space
or stray octet gets through to a stored message's Received header, and the
session goes on after every refusal."""
import pytest

from conftest import fetch_all, strip_received
from test_errors_and_limits import CLEAN_MESSAGE, Dialog, assert_session_goes_on, send_data

BAD_NAMES = {
    "bare-cr": b"client\rX-Injected:1",
    "nul": b"client\0example",
    "escape": b"client\x1b[2J.example",
    "tab": b"client\texample",
    "non-ascii": "b\u00e4r.example".encode(),
    "empty-label": b"client..example",
    "bad-literal": b"[192.0.2]",
    "general-literal": b"[x-tag:anything]",
    "at-sign": b"user@client.example",
}


def greeted_dialog(relay, helo: bytes):
    dialog = Dialog(relay.ports["smtp"])
    assert dialog.reply()[0] == 220
    assert dialog.command(b"EHLO " + helo) == (250, "")
    return dialog


def received_from(message: bytes) -> bytes:
    """The client name in the first Received header: "Received: from NAME (...)"."""
    first_line = message.split(b"\r\n", 1)[0]
    assert first_line.startswith(b"Received: from "), first_line
    return first_line[len(b"Received: from "):].split(b" ", 1)[0]


@pytest.mark.parametrize("verb", [b"EHLO", b"HELO"])
@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_bad_client_name_is_501_5_5_2_and_the_session_goes_on(pigeon, verb, name):
    dialog = Dialog(pigeon.ports["smtp"])
    assert dialog.reply()[0] == 220
    assert dialog.command(verb + b" " + name) == (501, "5.5.2")
    assert dialog.command("MAIL FROM:<sender@example.org>") == (503, "5.5.1")  # not greeted
    assert dialog.command("EHLO client.example")[0] == 250
    assert_session_goes_on(dialog)


def test_a_space_inside_the_client_name_is_501_5_5_4(pigeon):
    """Two words are a wrong number of arguments rather than a bad name."""
    dialog = Dialog(pigeon.ports["smtp"])
    assert dialog.reply()[0] == 220
    assert dialog.command(b"EHLO client\rX-Injected: 1") == (501, "5.5.4")
    assert dialog.command(b"HELO client example") == (501, "5.5.4")
    assert dialog.command("HELO client.example") == (250, "")


def test_tolerated_client_names_stand_in_the_received_header(pigeon):
    names = [b"DESKTOP_7QX", b"printer", b"192.168.1.20", b"[192.0.2.1]", b"[IPv6:2001:db8::1]", b"fe80::1"]
    for name in names:
        dialog = greeted_dialog(pigeon, name)
        assert send_data(dialog, CLEAN_MESSAGE + b".\r\n") == (250, "2.0.0")
        dialog.close()
    stored = fetch_all(pigeon)
    assert [received_from(message) for message in stored] == names
    assert [strip_received(message) for message in stored] == [CLEAN_MESSAGE] * len(names)


@pytest.mark.parametrize("local_part", [
    b'"x\\\r\\\0y"',         # the quoted-pairs of CR and NUL
    b'"x\\\x1by"',           # a quoted-pair of ESC
    b'"x\\\xc3\xa4y"',       # a quoted-pair of a non-ASCII octet
    b"j\xc3rg",              # a UTF-8 lead octet without its continuation
    b"j\xc2\x85rg",          # U+0085, a C1 control
], ids=["cr-nul-pairs", "esc-pair", "non-ascii-pair", "broken-utf8", "c1-control"])
def test_bad_paths_are_refused_and_the_session_goes_on(pigeon, local_part):
    dialog = greeted_dialog(pigeon, b"client.example")
    assert dialog.command(b"MAIL FROM:<" + local_part + b"@example.com>") == (501, "5.1.7")
    assert dialog.command("MAIL FROM:<sender@example.org>") == (250, "2.1.0")
    assert dialog.command(b"RCPT TO:<" + local_part + b"@localhost>") == (501, "5.1.3")
    assert dialog.command("RCPT TO:<user@localhost>") == (250, "2.1.5")
    assert dialog.command("DATA")[0] == 354
    dialog.send(CLEAN_MESSAGE + b".\r\n")
    assert dialog.reply() == (250, "2.0.0")
    assert [strip_received(message) for message in fetch_all(pigeon)] == [CLEAN_MESSAGE]
