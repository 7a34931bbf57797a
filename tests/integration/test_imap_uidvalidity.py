"""IMAP's UIDVALIDITY is the spool's (docs/spool-format.md §2.1): chosen when
the spool is formatted, from the wall clock on the host, and kept for the
spool's life. A restart keeps it and every UID; a spool formatted anew (its
image removed) starts its UIDs again at 1 under a greater UIDVALIDITY, so a
client that cached the old mailbox knows its cache is void (RFC 9051
§2.3.1.1). SELECT, STATUS, APPENDUID and COPYUID all say the same value.
Python imaplib over implicit TLS."""
import os
import re
import time

from test_imap_clients import MESSAGES, imaps, submit_all


def uid_validity_of(relay):
    """The UIDVALIDITY as SELECT, STATUS, APPENDUID and COPYUID say it (all one value), and the UIDs of INBOX."""
    client = imaps(relay)
    typ, data = client.status("INBOX", "(UIDVALIDITY)")
    assert typ == "OK", data
    from_status = int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1))
    assert client.select("INBOX")[0] == "OK"
    [from_select] = client.response("UIDVALIDITY")[1]
    typ, data = client.uid("SEARCH", "ALL")
    uids = [int(u) for u in data[0].split()]
    typ, data = client.append("Drafts", None, None, b"Subject: draft\r\n\r\nkept\r\n")
    assert typ == "OK", data
    appended = re.search(rb"APPENDUID (\d+) (\d+)", data[0])
    typ, data = client.uid("COPY", str(uids[0]), "Trash")
    assert typ == "OK", data
    copied = re.fullmatch(rb"(\d+) (\d+) (\d+)", client.response("COPYUID")[1][0])
    client.logout()
    assert int(from_select) == from_status == int(appended.group(1)) == int(copied.group(1))
    return from_status, uids


def test_uidvalidity_is_kept_across_a_restart_and_greater_after_a_new_spool(make_pigeon, tmp_path):
    state = str(tmp_path / "state")
    before_s = int(time.time())
    relay = make_pigeon(state=state)
    after_s = int(time.time())
    submit_all(relay, MESSAGES[:2])
    first, uids = uid_validity_of(relay)
    assert before_s <= first <= after_s, "the host knows the time: the format's second"
    assert uids[:2] == [1, 2]

    relay.kill_hard()  # no clean shutdown
    restarted = make_pigeon(state=state)
    again, uids_again = uid_validity_of(restarted)
    assert again == first
    assert uids_again[:2] == uids[:2], "the same messages under the same UIDs"

    restarted.stop()
    os.remove(os.path.join(state, "spool.img"))
    while int(time.time()) <= first:  # a format in the same second could take the same value
        time.sleep(0.05)
    formatted = make_pigeon(state=state)
    submit_all(formatted, MESSAGES[:1])
    new, new_uids = uid_validity_of(formatted)
    assert new > first, "a spool formatted anew: UIDs from 1 again, under a greater UIDVALIDITY"
    assert new_uids == [1]
