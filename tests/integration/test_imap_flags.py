"""IMAP flags and folders are the spool's (docs/spool-format.md §3.7): what a
client stores survives its logout and a restart of the relay, STATUS counts
unseen mail from them, two sessions on one mailbox hear of each other's STORE
at their next NOOP or CHECK, what is APPENDed to Sent, Drafts, Trash or Junk
is there, and only there, and COPY and MOVE write new messages into the
destination. Python imaplib over implicit TLS."""
import poplib
import re

from test_imap_clients import MESSAGES, imaps, submit_all

FLAGS = re.compile(rb"(\d+) \(FLAGS \(([^)]*)\)")


def inbox_of(relay, messages=MESSAGES):
    """A client over 993 with INBOX selected, after `messages` were delivered to it."""
    submit_all(relay, messages)
    client = imaps(relay)
    client.select("INBOX")
    return client


def flags_of(client, message_set="1:*"):
    typ, data = client.fetch(message_set, "(FLAGS)")
    assert typ == "OK", data
    return {int(m.group(1)): set(m.group(2).split()) for m in (FLAGS.search(line) for line in data) if m}


def test_select_offers_every_system_flag_as_permanent(pigeon):
    client = inbox_of(pigeon)
    typ, data = client.response("PERMANENTFLAGS")
    assert set(data[0].strip(b"()").split()) == {b"\\Seen", b"\\Answered", b"\\Flagged", b"\\Deleted", b"\\Draft"}
    client.logout()


def test_flags_survive_logout_and_a_restart(make_pigeon, tmp_path):
    state = str(tmp_path / "state")
    relay = make_pigeon(state=state)
    client = inbox_of(relay)
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


def test_append_to_a_folder_shows_there_only(make_pigeon, tmp_path):
    state = str(tmp_path / "state")
    relay = make_pigeon(state=state)
    submit_all(relay, [b"Subject: delivered\r\n\r\nto the inbox\r\n"])
    client = imaps(relay)
    draft = b"Subject: draft\r\n\r\nnot sent yet\r\n"
    sent = b"Subject: sent\r\n\r\nsent from a client\r\n"
    typ, data = client.append("Drafts", r"(\Draft)", None, draft)
    assert typ == "OK" and re.search(rb"APPENDUID \d+ ", data[0])
    draft_uid = data[0].split()[2].rstrip(b"]")
    assert client.append("Sent", r"(\Seen)", None, sent)[0] == "OK"
    assert client.status("Drafts", "(MESSAGES UNSEEN)") == ("OK", [b"Drafts (MESSAGES 1 UNSEEN 1)"])
    assert client.status("Sent", "(MESSAGES UNSEEN)") == ("OK", [b"Sent (MESSAGES 1 UNSEEN 0)"])
    assert client.status("Trash", "(MESSAGES)") == ("OK", [b"Trash (MESSAGES 0)"])
    assert client.status("INBOX", "(MESSAGES)") == ("OK", [b"INBOX (MESSAGES 1)"])
    relay.kill_hard()

    restarted = make_pigeon(state=state)
    client = imaps(restarted)
    assert client.select("Drafts") == ("OK", [b"1"])
    typ, data = client.uid("FETCH", draft_uid.decode(), "(FLAGS BODY.PEEK[])")
    assert data[0][1] == draft and b"\\Draft" in data[0][0]
    # A flag change keeps the message in its folder; an expunge removes it there.
    assert client.store("1", "+FLAGS", r"(\Seen \Deleted)")[0] == "OK"
    assert client.expunge() == ("OK", [b"1"])
    assert client.select("Drafts") == ("OK", [b"0"])
    assert client.select("Sent", readonly=True) == ("OK", [b"1"])
    assert client.fetch("1", "(BODY.PEEK[])")[1][0][1] == sent
    client.select("INBOX")
    assert [line[1] for line in client.fetch("1:*", "(BODY.PEEK[TEXT])")[1] if isinstance(line, tuple)] == \
        [b"to the inbox\r\n"]
    client.logout()
    # POP3 sees INBOX only.
    pop = poplib.POP3_SSL("127.0.0.1", restarted.ports["pop3s"], context=restarted.tls_context(), timeout=30)
    pop.user(restarted.user)
    pop.pass_(restarted.password)
    assert pop.stat()[0] == 1
    pop.quit()


def test_two_sessions_on_a_folder_hear_of_each_others_changes(pigeon):
    first, second = imaps(pigeon), imaps(pigeon)
    assert first.append("Trash", None, None, b"Subject: old\r\n\r\nthrown away\r\n")[0] == "OK"
    first.select("Trash")
    second.select("Trash")
    assert second.store("1", "+FLAGS.SILENT", r"(\Flagged)")[0] == "OK"
    assert second.append("Trash", None, None, b"Subject: older\r\n\r\nthrown away too\r\n")[0] == "OK"
    assert first.noop()[0] == "OK"
    assert first.response("EXISTS")[1][-1] == b"2"
    assert first.response("FETCH") == ("FETCH", [b"1 (FLAGS (\\Flagged))"])
    first.logout()
    second.logout()


COPYUID = re.compile(rb"\[COPYUID \d+ ([\d:,]+) ([\d:,]+)\]")


def test_copy_and_move_write_new_messages_into_the_folder(make_pigeon, tmp_path):
    state = str(tmp_path / "state")
    relay = make_pigeon(state=state)
    client = inbox_of(relay)
    assert client.store("2", "+FLAGS.SILENT", r"(\Flagged)")[0] == "OK"
    before = [part for part in client.fetch("1:3", "(INTERNALDATE BODY.PEEK[])")[1] if isinstance(part, tuple)]
    typ, data = client.copy("2:3", "Trash")
    assert typ == "OK", data
    sources, copies = COPYUID.search(data[0]).groups()
    typ, data = client.uid("MOVE", "1", "Junk")
    assert typ == "OK", data
    assert client.response("EXPUNGE") == ("EXPUNGE", [b"1"])
    assert client.select("INBOX") == ("OK", [b"2"])  # the copies left INBOX as it was, less the moved one
    relay.kill_hard()  # right after MOVE's OK

    restarted = make_pigeon(state=state)
    client = imaps(restarted)
    assert client.status("Trash", "(MESSAGES)") == ("OK", [b"Trash (MESSAGES 2)"])
    client.select("Trash")
    typ, data = client.uid("FETCH", copies.decode(), "(FLAGS INTERNALDATE BODY.PEEK[])")
    copied = [part for part in data if isinstance(part, tuple)]
    assert [part[1] for part in copied] == [before[1][1], before[2][1]]
    assert b"\\Flagged" in copied[0][0]
    assert [re.search(rb'INTERNALDATE "[^"]+"', part[0]).group(0) for part in copied] == \
        [re.search(rb'INTERNALDATE "[^"]+"', part[0]).group(0) for part in before[1:]]
    assert client.select("Junk") == ("OK", [b"1"])
    assert client.fetch("1", "(BODY.PEEK[])")[1][0][1] == before[0][1]
    client.logout()


def test_a_copy_the_spool_cannot_hold_leaves_no_partial_copy(make_pigeon):
    relay = make_pigeon(extra=["spool_bytes = 393216"])  # 6 sectors of 64 KiB, 3 kept for reclaim
    line = b"x" * 76 + b"\r\n"
    client = inbox_of(relay, [b"Subject: big\r\n\r\n" + line * 800] * 2)  # 62 KB each: room for one copy more, not two
    typ, data = client.copy("1:2", "Trash")
    assert typ == "NO" and b"OVERQUOTA" in data[0], data
    assert client.status("Trash", "(MESSAGES)") == ("OK", [b"Trash (MESSAGES 0)"])
    assert client.select("INBOX") == ("OK", [b"2"])
    assert client.fetch("2", "(BODY.PEEK[TEXT])")[1][0][1] == line * 800
    client.logout()
