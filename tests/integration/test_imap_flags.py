"""IMAP flags are the spool's (docs/spool-format.md §3.7): what a client
stores survives its logout and a restart of the relay, STATUS counts unseen
mail from them, and two sessions on one mailbox hear of each other's STORE at
their next NOOP or CHECK. Python imaplib over implicit TLS."""
import imaplib
import re

from test_imap_clients import imaps, submit_all

FLAGS = re.compile(rb"(\d+) \(FLAGS \(([^)]*)\)")


def flags_of(client, message_set="1:*"):
    typ, data = client.fetch(message_set, "(FLAGS)")
    assert typ == "OK", data
    return {int(m.group(1)): set(m.group(2).split()) for m in (FLAGS.search(line) for line in data) if m}


def test_select_offers_every_system_flag_as_permanent(pigeon):
    submit_all(pigeon)
    client = imaps(pigeon)
    client.select("INBOX")
    typ, data = client.response("PERMANENTFLAGS")
    assert set(data[0].strip(b"()").split()) == {b"\\Seen", b"\\Answered", b"\\Flagged", b"\\Deleted", b"\\Draft"}
    client.logout()


def test_flags_survive_logout_and_a_restart(make_pigeon, tmp_path):
    state = str(tmp_path / "state")
    relay = make_pigeon(state=state)
    submit_all(relay)
    client = imaps(relay)
    client.select("INBOX")
    assert client.store("1", "+FLAGS", r"(\Seen \Flagged)")[0] == "OK"
    assert client.store("2", "+FLAGS.SILENT", r"(\Answered \Draft)")[0] == "OK"
    assert client.fetch("3", "(BODY[TEXT])")[0] == "OK"  # sets \Seen
    expected = {1: {b"\\Seen", b"\\Flagged"}, 2: {b"\\Answered", b"\\Draft"}, 3: {b"\\Seen"}}
    assert flags_of(client) == expected
    client.logout()

    client = imaps(relay)
    assert client.status("INBOX", "(MESSAGES UNSEEN)") == ("OK", [b'INBOX (MESSAGES 3 UNSEEN 1)'])
    client.select("INBOX")
    assert flags_of(client) == expected
    assert client.store("2", "-FLAGS", r"(\Draft)")[0] == "OK"
    relay.kill_hard()  # right after the tagged OK: no LOGOUT, no clean shutdown

    restarted = make_pigeon(state=state)
    client = imaps(restarted)
    client.select("INBOX")
    assert flags_of(client) == {**expected, 2: {b"\\Answered"}}
    client.logout()


def test_append_keeps_its_flags(pigeon):
    client = imaps(pigeon)
    message = b"Subject: saved\r\n\r\nkept with its flags\r\n"
    assert client.append("INBOX", r"(\Seen \Flagged)", None, message)[0] == "OK"
    client.logout()
    client = imaps(pigeon)
    client.select("INBOX")
    assert flags_of(client) == {1: {b"\\Seen", b"\\Flagged"}}
    client.logout()


def test_two_sessions_hear_of_each_others_store(pigeon):
    submit_all(pigeon)
    first, second = imaps(pigeon), imaps(pigeon)
    first.select("INBOX")
    second.select("INBOX")
    assert first.store("2", "+FLAGS.SILENT", r"(\Flagged \Seen)")[0] == "OK"
    assert second.noop()[0] == "OK"
    assert second.response("FETCH") == ("FETCH", [b"2 (FLAGS (\\Flagged \\Seen))"])
    # Only what changed is announced, and the session that stored hears nothing.
    assert second.store("1", "+FLAGS.SILENT", r"(\Deleted)")[0] == "OK"
    assert first.check()[0] == "OK"
    assert first.response("FETCH") == ("FETCH", [b"1 (FLAGS (\\Deleted))"])
    assert second.noop()[0] == "OK"
    assert second.response("FETCH") == ("FETCH", [None])
    # An expunge elsewhere, then a change to a later message: numbers as announced.
    assert second.expunge()[0] == "OK"
    assert second.store("2", "+FLAGS.SILENT", r"(\Answered)")[0] == "OK"
    assert first.noop()[0] == "OK"
    assert first.response("EXPUNGE") == ("EXPUNGE", [b"1"])
    assert first.response("FETCH") == ("FETCH", [b"2 (FLAGS (\\Answered))"])
    assert flags_of(first) == {1: {b"\\Flagged", b"\\Seen"}, 2: {b"\\Answered"}}
    first.logout()
    second.logout()
