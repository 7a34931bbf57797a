"""Real IMAP clients against the relay (Python imaplib, curl, fetchmail, mutt,
Cyrus imtest): mail submitted over SMTP read back over IMAP with STARTTLS and
over implicit TLS, bodies compared byte for byte."""
import imaplib
import os
import poplib
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import strip_received

MESSAGES = [
    b"From: Ann <ann@example.org>\r\nTo: user@localhost\r\nSubject: first\r\n\r\nHello\r\n.a dot line\r\n",
    b"From: Bob <bob@example.org>\r\nSubject: second\r\nX-Tag: two\r\n\r\n" + b"line of text\r\n" * 2000,
    b"Subject: third\r\n\r\n" + "Grüße\r\n".encode(),
]


def submit_all(relay, messages=MESSAGES):
    for message in messages:
        assert relay.submit(message) == {}


def imaps(relay):
    client = imaplib.IMAP4_SSL("127.0.0.1", relay.ports["imaps"], ssl_context=relay.tls_context(), timeout=30)
    client.login(relay.user, relay.password)
    return client


def imap_starttls(relay):
    client = imaplib.IMAP4("127.0.0.1", relay.ports["imap"], timeout=30)
    assert "LOGINDISABLED" in client.capabilities
    client.starttls(ssl_context=relay.tls_context())
    client.login(relay.user, relay.password)
    return client


def fetched_bodies(client, item="BODY.PEEK[]"):
    typ, data = client.fetch("1:*", f"({item})")
    assert typ == "OK"
    return [part[1] for part in data if isinstance(part, tuple)]


def test_starttls_and_implicit_tls_read_what_smtp_delivered(pigeon):
    submit_all(pigeon)
    for connect in (imap_starttls, imaps):
        client = connect(pigeon)
        typ, data = client.select("INBOX")
        assert (typ, data) == ("OK", [b"3"])
        assert [strip_received(body) for body in fetched_bodies(client)] == MESSAGES
        client.logout()


def test_login_before_starttls_is_refused(pigeon):
    client = imaplib.IMAP4("127.0.0.1", pigeon.ports["imap"], timeout=30)
    with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED|STARTTLS"):
        client.login(pigeon.user, pigeon.password)
    client.logout()


def test_wrong_password_is_refused_after_the_delay(pigeon):
    client = imaplib.IMAP4_SSL("127.0.0.1", pigeon.ports["imaps"], ssl_context=pigeon.tls_context(), timeout=30)
    started = time.monotonic()
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        client.login(pigeon.user, "wrong")
    assert time.monotonic() - started >= 0.25  # auth_failure_delay_ms = 300
    client.login(pigeon.user, pigeon.password)
    client.logout()


def test_fetch_items_sections_and_partial_ranges(pigeon):
    submit_all(pigeon)
    client = imaps(pigeon)
    client.select("INBOX")
    typ, data = client.fetch("2", "(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (Subject X-Tag)] "
                                  "BODY.PEEK[TEXT]<14.100>)")
    assert typ == "OK"
    head = data[0][0].decode()
    stored = fetched_bodies(client)[1]
    assert re.search(r"UID \d+ FLAGS \(\) RFC822.SIZE %d INTERNALDATE \"\d\d-\w\w\w-20\d\d " % len(stored), head)
    assert data[0][1] == b"Subject: second\r\nX-Tag: two\r\n\r\n"
    assert data[1][1] == stored[stored.index(b"\r\n\r\n") + 4:][14:114]
    typ, data = client.fetch("1", "ENVELOPE")
    assert data == [b'1 (ENVELOPE (NIL "first" (("Ann" NIL "ann" "example.org")) (("Ann" NIL "ann" "example.org")) '
                    b'(("Ann" NIL "ann" "example.org")) ((NIL NIL "user" "localhost")) NIL NIL NIL NIL))']
    typ, data = client.fetch("1", "(RFC822.HEADER RFC822.TEXT)")
    assert data[0][1] == fetched_bodies(client)[0].split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    assert data[1][1] == b"Hello\r\n.a dot line\r\n"
    # RFC822.TEXT is not a PEEK: the message is \Seen now.
    assert b"\\Seen" in client.fetch("1", "FLAGS")[1][0]
    client.logout()


def test_uid_fetch_store_search_expunge(pigeon):
    submit_all(pigeon)
    client = imaps(pigeon)
    client.select("INBOX")
    typ, [uids] = client.uid("SEARCH", "ALL")
    uids = uids.split()
    assert len(uids) == 3 and uids == sorted(uids, key=int)
    typ, data = client.uid("FETCH", uids[2], "(BODY.PEEK[])")
    assert strip_received(data[0][1]) == MESSAGES[2]
    client.store("1", "+FLAGS", "(\\Flagged)")
    client.uid("STORE", uids[1], "+FLAGS.SILENT", "(\\Seen)")
    assert client.search(None, "FLAGGED") == ("OK", [b"1"])
    assert client.search(None, "UNSEEN") == ("OK", [b"1 3"])
    assert client.search(None, "OR", "SEEN", "FLAGGED") == ("OK", [b"1 2"])
    assert client.search(None, "LARGER", "10000") == ("OK", [b"2"])
    assert client.search(None, "FROM", "bob", "BODY", "\"line of\"") == ("OK", [b"2"])
    assert client.search(None, "OR", "SUBJECT", "third", "HEADER", "X-Tag", "two") == ("OK", [b"2 3"])
    client.store("2", "+FLAGS", "(\\Deleted)")
    typ, data = client.expunge()
    assert (typ, data) == ("OK", [b"2"])
    client.logout()
    # The expunge is the spool's deletion: POP3 and a new IMAP session agree.
    pop = poplib.POP3_SSL("127.0.0.1", pigeon.ports["pop3s"], context=pigeon.tls_context(), timeout=30)
    pop.user(pigeon.user)
    pop.pass_(pigeon.password)
    assert pop.stat()[0] == 2
    pop.quit()
    client = imaps(pigeon)
    assert client.select("INBOX") == ("OK", [b"2"])
    assert [strip_received(b) for b in fetched_bodies(client)] == [MESSAGES[0], MESSAGES[2]]
    client.logout()


def test_sent_dates_and_esearch(pigeon):
    """SENTBEFORE/SENTON/SENTSINCE read each message's Date: field (the third has
    none and counts by its arrival, today); SEARCH RETURN answers with ESEARCH."""
    dated = [b"Date: Tue, 3 Mar 2020 23:59:00 -1100\r\n" + MESSAGES[0],
             b"Date: 4 Mar 20 08:00 +0000\r\n" + MESSAGES[1], MESSAGES[2]]
    submit_all(pigeon, dated)
    client = imaps(pigeon)
    assert "ESEARCH" in client.capabilities
    client.select("INBOX")
    today = time.strftime("%d-%b-%Y", time.gmtime())
    assert client.search(None, "SENTON", "3-Mar-2020") == ("OK", [b"1"])
    assert client.search(None, "SENTSINCE", "4-Mar-2020") == ("OK", [b"2 3"])
    assert client.search(None, "SENTBEFORE", "4-Mar-2020") == ("OK", [b"1"])
    assert client.search(None, "SENTON", today) == ("OK", [b"3"])
    client.store("2", "+FLAGS", "(\\Seen)")
    typ, _ = client.uid("SEARCH", "RETURN", "(MIN MAX COUNT ALL)", "UNSEEN")
    assert typ == "OK"
    uids = client.uid("SEARCH", "UNSEEN")[1][0].split()
    [esearch] = client.untagged_responses.pop("ESEARCH")
    assert re.fullmatch(rb'\(TAG "\w+"\) UID ALL (\d+),(\d+) MIN (\d+) MAX (\d+) COUNT 2', esearch), esearch
    assert esearch.split()[4].split(b",") == uids and esearch.split()[6] == uids[0]
    client.logout()


def test_list_status_and_the_fixed_folders(pigeon):
    submit_all(pigeon, MESSAGES[:1])
    client = imaps(pigeon)
    typ, folders = client.list()
    assert typ == "OK"
    assert folders == [b'(\\HasNoChildren) "/" INBOX', b'(\\HasNoChildren \\Sent) "/" Sent',
                       b'(\\HasNoChildren \\Drafts) "/" Drafts', b'(\\HasNoChildren \\Trash) "/" Trash',
                       b'(\\HasNoChildren \\Junk) "/" Junk']
    typ, data = client.status("INBOX", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY)")
    assert re.match(rb"INBOX \(MESSAGES 1 UNSEEN 1 UIDNEXT \d+ UIDVALIDITY \d+\)", data[0])
    assert client.select("Sent") == ("OK", [b"0"])
    assert client.create("Work")[0] == "NO"
    # COPY and MOVE into a folder (tests/integration/test_imap_flags.py).
    client.select("INBOX")
    assert client.copy("1:*", "Trash")[0] == "OK"
    assert client.fetch("1", "(UID)")[0] == "OK"
    client.logout()


def test_imap4rev2_saves_a_search_result_and_lists_with_status(pigeon):
    submit_all(pigeon)
    client = imaps(pigeon)
    assert "IMAP4REV2" in client.capabilities and "IMAP4REV1" in client.capabilities
    assert client.enable("IMAP4rev2")[0] == "OK"
    assert client.untagged_responses.pop("ENABLED") == [b"IMAP4rev2"]
    # LIST-STATUS (RFC 5819): a STATUS after the mailbox's LIST.
    typ, data = client._simple_command("LIST", '""', "INBOX", "RETURN", "(STATUS (MESSAGES UNSEEN DELETED))")
    assert typ == "OK"
    assert client._untagged_response(typ, data, "LIST")[1] == [b'(\\HasNoChildren) "/" INBOX']
    assert client.untagged_responses.pop("STATUS") == [b"INBOX (MESSAGES 3 UNSEEN 3 DELETED 0)"]
    # rev2's SELECT: no RECENT, the mailbox's LIST instead.
    assert client.select("INBOX") == ("OK", [b"3"])
    assert "RECENT" not in client.untagged_responses
    assert client.untagged_responses.pop("LIST") == [b'(\\HasNoChildren) "/" INBOX']
    client.store("2", "+FLAGS", "(\\Seen)")
    # SEARCHRES (RFC 5182): RETURN (SAVE) alone answers nothing but OK; "$"
    # then names the unseen messages 1 and 3 in FETCH, STORE and SEARCH.
    typ, data = client._simple_command("SEARCH", "RETURN", "(SAVE)", "UNSEEN")
    assert typ == "OK" and "ESEARCH" not in client.untagged_responses
    typ, data = client.fetch("$", "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK"
    assert [part[1] for part in data if isinstance(part, tuple)] == [b"Subject: first\r\n\r\n", b"Subject: third\r\n\r\n"]
    assert client.store("$", "+FLAGS", "(\\Flagged)")[0] == "OK"
    # Every SEARCH answers with ESEARCH after ENABLE IMAP4rev2.
    typ, data = client._simple_command("SEARCH", "FLAGGED")
    typ, found = client._untagged_response(typ, data, "ESEARCH")
    assert typ == "OK" and re.fullmatch(rb'\(TAG "[^"]+"\) ALL 1,3', found[0])
    client.logout()


def test_idle_is_woken_by_an_smtp_delivery(pigeon):
    client = imaps(pigeon)
    client.select("INBOX")
    tag = client._new_tag()
    client.send(tag + b" IDLE\r\n")
    assert client.readline().startswith(b"+ ")
    started = time.monotonic()
    sender = threading.Timer(0.3, lambda: pigeon.submit(MESSAGES[0]))
    sender.start()
    line = client.readline()
    sender.join()
    assert line == b"* 1 EXISTS\r\n"
    assert time.monotonic() - started < 10
    client.send(b"DONE\r\n")
    assert client.readline() == tag + b" OK IDLE terminated\r\n"
    assert [strip_received(b) for b in fetched_bodies(client)] == [MESSAGES[0]]
    client.logout()


def test_noop_reports_a_pop3_deletion(pigeon):
    submit_all(pigeon, MESSAGES[:2])
    client = imaps(pigeon)
    client.select("INBOX")
    pop = poplib.POP3_SSL("127.0.0.1", pigeon.ports["pop3s"], context=pigeon.tls_context(), timeout=30)
    pop.user(pigeon.user)
    pop.pass_(pigeon.password)
    # While POP3 holds the maildrop, IMAP expunges nothing.
    client.store("1", "+FLAGS", "(\\Deleted)")
    typ, data = client.expunge()
    assert typ == "NO" and b"INUSE" in data[0]
    pop.dele(1)
    pop.quit()
    typ, data = client.noop()
    assert client.untagged_responses.get("EXPUNGE") == [b"1"]
    client.close()
    client.logout()


def test_bad_input_keeps_the_session(pigeon):
    with socket.create_connection(("127.0.0.1", pigeon.ports["imaps"]), timeout=30) as raw:
        with pigeon.tls_context().wrap_socket(raw, server_hostname="localhost") as tls:
            reader = tls.makefile("rb")
            assert reader.readline().startswith(b"* OK [CAPABILITY")
            tls.sendall(b"a1 FROB\r\n\r\na2 LOGIN {99999}\r\na3 NOOP " + b"x" * 5000 + b"\r\na4 NO\xc3\xa9P\r\n"
                        b"a5 NOOP\r\n")
            assert reader.readline() == b"a1 BAD Unknown command\r\n"
            assert reader.readline() == b"* BAD Empty command line\r\n"
            assert reader.readline() == b"a2 BAD [TOOBIG] Command line or literal too long\r\n"
            assert reader.readline() == b"a3 BAD [TOOBIG] Command line or literal too long\r\n"
            assert reader.readline() == b"a4 BAD Missing command name\r\n"
            assert reader.readline() == b"a5 OK NOOP completed\r\n"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is installed by tools/deps")
def test_curl_lists_fetches_by_uid_and_appends(pigeon):
    submit_all(pigeon, MESSAGES[:2])
    client = imaps(pigeon)
    client.select("INBOX")
    uid = client.uid("SEARCH", "ALL")[1][0].split()[1].decode()
    client.logout()
    common = ["curl", "--silent", "--show-error", "--cacert", pigeon.cafile, "--user",
              f"{pigeon.user}:{pigeon.password}", "--max-time", "30"]
    listing = subprocess.run(common + [f"imaps://localhost:{pigeon.ports['imaps']}/"], check=True,
                             capture_output=True).stdout
    assert b'* LIST (\\HasNoChildren \\Sent) "/" Sent' in listing
    body = subprocess.run(common + ["--ssl-reqd", f"imap://localhost:{pigeon.ports['imap']}/INBOX;UID={uid}"],
                          check=True, capture_output=True).stdout
    assert strip_received(body) == MESSAGES[1]
    upload = pigeon.state + "/upload.eml"
    with open(upload, "wb") as file:
        file.write(MESSAGES[2])
    subprocess.run(common + ["-T", upload, f"imaps://localhost:{pigeon.ports['imaps']}/INBOX"], check=True,
                   capture_output=True)
    client = imaps(pigeon)
    assert client.select("INBOX") == ("OK", [b"3"])
    assert fetched_bodies(client)[2] == MESSAGES[2]
    client.logout()


@pytest.mark.skipif(shutil.which("fetchmail") is None, reason="fetchmail is installed by tools/deps")
@pytest.mark.parametrize("keep", [True, False])
def test_fetchmail_in_imap_mode(pigeon, tmp_path, keep):
    submit_all(pigeon)
    out = tmp_path / "mda-out"
    out.mkdir()
    mda = tmp_path / "mda"
    mda.write_text(f'#!/bin/sh\ncat > "{out}/$(date +%s%N)"\n')
    mda.chmod(0o700)
    rc = tmp_path / "fetchmailrc"
    rc.write_text(f'poll localhost protocol IMAP port {pigeon.ports["imaps"]}\n'
                  f'  user "{pigeon.user}" password "{pigeon.password}" is "{os.environ.get("USER", "root")}" here\n'
                  f'  ssl sslcertck sslcertfile "{pigeon.cafile}" mda "{mda}" {"keep" if keep else "nokeep"}\n')
    rc.chmod(0o600)
    env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
    result = subprocess.run(["fetchmail", "--fetchmailrc", str(rc), "--nosyslog", "--all"], env=env,
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    delivered = sorted((out / name).read_bytes() for name in os.listdir(out))
    # fetchmail adds its own Received header above ours.
    bodies = sorted(strip_received(strip_received(m.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n")))
                    for m in delivered)
    assert bodies == sorted(MESSAGES)
    client = imaps(pigeon)
    assert client.select("INBOX") == ("OK", [b"3" if keep else b"0"])
    client.logout()


IMTEST = "/usr/lib/cyrus/bin/imtest"


@pytest.mark.skipif(not os.path.exists(IMTEST), reason="cyrus-clients is installed by tools/deps")
@pytest.mark.parametrize("implicit_tls", [True, False])
def test_cyrus_imtest_logs_in_and_reads_capability(pigeon, tmp_path, implicit_tls):
    # No LOGOUT in the file: imtest sends its own (Q01) after it, and a relay that
    # had already closed at ours would reset that connection, and the reset
    # could drop replies imtest had not read yet.
    commands = tmp_path / "commands"
    commands.write_bytes(b"c1 CAPABILITY\r\nc2 SELECT INBOX\r\n")
    tls = ["-s"] if implicit_tls else ["-t", ""]
    port = pigeon.ports["imaps" if implicit_tls else "imap"]
    result = subprocess.run([IMTEST, *tls, "-p", str(port), "-a", pigeon.user, "-w", pigeon.password, "-m", "PLAIN",
                             "-f", str(commands), "127.0.0.1"], capture_output=True, timeout=60)
    output = result.stdout.decode(errors="replace")
    assert "Authenticated." in output
    assert "c1 OK CAPABILITY completed" in output
    assert "c2 OK [READ-WRITE] SELECT completed" in output
    assert "Q01 OK LOGOUT completed" in output


def run_in_terminal(argv, env, timeout_s=60):
    """Runs a full-screen program on a pseudo-terminal until it exits (killed
    after timeout_s); returns what it drew."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(argv[0], argv, env)
    output = b""
    exited = False
    deadline = time.monotonic() + timeout_s
    while not exited and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.5)[0]:
            try:
                output += os.read(fd, 65536)
            except OSError:  # the terminal closed: the program ended
                pass
        exited = os.waitpid(pid, os.WNOHANG)[0] == pid
    if not exited:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    os.close(fd)
    return output


@pytest.mark.skipif(shutil.which("mutt") is None, reason="mutt is installed by tools/deps")
def test_mutt_reads_and_deletes_over_imaps(pigeon, tmp_path):
    """mutt driven headless: lists INBOX, pipes the first message out, deletes it and syncs."""
    submit_all(pigeon, MESSAGES[:2])
    out = tmp_path / "saved"
    rc = tmp_path / "muttrc"
    rc.write_text(f"""set folder="imaps://{pigeon.user}@localhost:{pigeon.ports['imaps']}/"
set spoolfile="+INBOX"
set imap_pass="{pigeon.password}"
set certificate_file="{pigeon.cafile}"
set ssl_verify_host=yes
set header_cache=""
set message_cachedir=""
set imap_check_subscribed=no
set mail_check=0
set confirmappend=no
set delete=yes
set quit=yes
set wait_key=no
set pipe_decode=no
set pipe_split=yes
""")
    keys = f"<pipe-message>cat > {out}<enter><delete-message><sync-mailbox><quit>"
    env = dict(os.environ, HOME=str(tmp_path), TERM="vt100")
    screen = run_in_terminal(["mutt", "-n", "-F", str(rc), "-e", f'push "{keys}"'], env)
    assert out.exists(), screen.decode(errors="replace")[-2000:]
    assert strip_received(out.read_bytes().replace(b"\n", b"\r\n")) == MESSAGES[0]
    client = imaps(pigeon)
    assert client.select("INBOX") == ("OK", [b"1"])
    assert [strip_received(b) for b in fetched_bodies(client)] == [MESSAGES[1]]
    client.logout()


def test_failed_logins_end_the_connection(pigeon):
    client = imaplib.IMAP4_SSL("127.0.0.1", pigeon.ports["imaps"], ssl_context=pigeon.tls_context(), timeout=30)
    for _ in range(2):
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            client.login(pigeon.user, "wrong")
    # The third failure (auth_failures_per_connection = 3) ends the session.
    with pytest.raises(imaplib.IMAP4.abort, match="Too many failed logins"):
        client.login(pigeon.user, "wrong")


def greeted(port, source="127.0.0.1"):
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port))
    return sock, sock.recv(4096)


def test_slots_per_address_and_eviction_of_idle_clients(pigeon):
    """The host build has 8 IMAP slots, 4 per address: a fifth client from one
    address is refused; when all 8 are taken by clients that never logged in,
    a new client gets the slot of the one silent longest, which hears why."""
    port = pigeon.ports["imap"]
    held = [greeted(port) for _ in range(4)]
    assert all(greeting.startswith(b"* OK [CAPABILITY") for _, greeting in held)
    refused, goodbye = greeted(port)
    assert goodbye == b"* BYE [UNAVAILABLE] Too many connections from your address\r\n"
    refused.close()
    held += [greeted(port, f"127.0.9.{n}") for n in range(1, 5)]
    time.sleep(1.2)  # a client that sent nothing gives way after 1 s
    newcomer, greeting = greeted(port, "127.0.10.1")
    assert greeting.startswith(b"* OK [CAPABILITY")
    assert held[0][0].recv(4096) == b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n"
    for sock, _ in held + [(newcomer, b"")]:
        sock.close()


def test_append_to_inbox_is_stored_and_read_back(pigeon):
    client = imaps(pigeon)
    message = b"From: me@example.org\r\nSubject: appended\r\n\r\nkept by APPEND\r\n"
    typ, data = client.append("INBOX", "(\\Seen)", None, message)
    assert typ == "OK" and re.match(rb"\[APPENDUID \d+ \d+\] APPEND completed", data[0])
    uid = data[0].split()[2].rstrip(b"]")
    client.select("INBOX")
    typ, data = client.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
    assert data[0][1] == message
    client.logout()
    # POP3 sees it as the mailbox's message.
    pop = poplib.POP3_SSL("127.0.0.1", pigeon.ports["pop3s"], context=pigeon.tls_context(), timeout=30)
    pop.user(pigeon.user)
    pop.pass_(pigeon.password)
    assert b"\r\n".join(pop.retr(1)[1]) + b"\r\n" == message
    pop.quit()


def test_a_mailbox_of_a_thousand_messages_is_whole_over_imap(pigeon):
    """A session's view is the spool's index (it copied at most 128 messages
    into a table before): SELECT, FETCH 1:*, UID SEARCH and EXPUNGE over 1,000
    messages, a second session told of the expunges, and one that is told of
    more removals than it can keep places for is closed with BYE."""
    import smtplib
    started = time.monotonic()
    with smtplib.SMTP("127.0.0.1", pigeon.ports["smtp"], timeout=60) as smtp:
        for n in range(1000):
            smtp.sendmail("s@example.org", ["user@localhost"], f"Subject: number {n}\r\n\r\nbody {n}\r\n")
    assert time.monotonic() - started < 120
    client, other = imaps(pigeon), imaps(pigeon)
    assert client.select("INBOX") == ("OK", [b"1000"])
    assert other.select("INBOX") == ("OK", [b"1000"])
    typ, data = client.fetch("1:*", "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    headers = [part[1] for part in data if isinstance(part, tuple)]
    assert headers == [f"Subject: number {n}\r\n\r\n".encode() for n in range(1000)]
    uids = [int(u) for u in client.uid("SEARCH", "ALL")[1][0].split()]
    assert len(uids) == 1000 and uids == sorted(uids)
    assert client.uid("SEARCH", f"UID {uids[500]}:*")[1][0].split() == [str(u).encode() for u in uids[500:]]
    assert client.search(None, "999:*") == ("OK", [b"999 1000"])
    client.store("1,500,1000", "+FLAGS", "(\\Deleted)")
    assert client.expunge() == ("OK", [b"1", b"499", b"998"])
    assert client.fetch("997", "(UID)")[1] == [f"997 (UID {uids[998]})".encode()]
    # The other session keeps every number until it is told, then agrees;
    # meanwhile a removed message has no content (RFC 2180 §4.1.3).
    assert other.fetch("999", "(UID)")[1] == [f"999 (UID {uids[998]})".encode()]
    typ, data = other.fetch("1000", "(UID BODY.PEEK[])")
    assert typ == "NO" and data == [b"[EXPUNGEISSUED] Some of the requested messages no longer exist"]
    assert other.search(None, "ALL")[1][0].split()[-1] == b"999"
    other.noop()
    assert other.untagged_responses.get("EXPUNGE") == [b"1", b"499", b"998"]
    kept = uids[1:499] + uids[500:999]
    assert [int(u) for u in other.uid("SEARCH", "ALL")[1][0].split()] == kept
    assert client.status("INBOX", "(MESSAGES)")[1] == [b"INBOX (MESSAGES 997)"]

    # More removals elsewhere than a session keeps places for (256 on the host).
    pop = poplib.POP3_SSL("127.0.0.1", pigeon.ports["pop3s"], context=pigeon.tls_context(), timeout=60)
    pop.user(pigeon.user)
    pop.pass_(pigeon.password)
    for n in range(1, 301):
        pop.dele(n)
    pop.quit()
    with pytest.raises(imaplib.IMAP4.abort, match="UNAVAILABLE"):
        other.noop()
    client = imaps(pigeon)
    assert client.select("INBOX") == ("OK", [b"697"])
    client.logout()


def test_an_idle_session_hears_of_expunges_elsewhere_at_once(pigeon):
    """Another IMAP session's EXPUNGE and a POP3 DELE + QUIT reach a session in
    IDLE as EXPUNGE responses numbered as its client knows the mailbox."""
    submit_all(pigeon)
    idler, other = imaps(pigeon), imaps(pigeon)
    idler.select("INBOX")
    other.select("INBOX")
    tag = idler._new_tag()
    idler.send(tag + b" IDLE\r\n")
    assert idler.readline().startswith(b"+ ")
    other.store("2", "+FLAGS", "(\\Deleted)")
    assert other.expunge() == ("OK", [b"2"])
    assert idler.readline() == b"* 2 FETCH (FLAGS (\\Deleted))\r\n"  # the STORE, heard at once too
    assert idler.readline() == b"* 2 EXPUNGE\r\n"
    other.logout()
    pop = poplib.POP3_SSL("127.0.0.1", pigeon.ports["pop3s"], context=pigeon.tls_context(), timeout=30)
    pop.user(pigeon.user)
    pop.pass_(pigeon.password)
    pop.dele(2)
    pop.quit()
    assert idler.readline() == b"* 2 EXPUNGE\r\n"
    idler.send(b"DONE\r\n")
    assert idler.readline() == tag + b" OK IDLE terminated\r\n"
    assert [strip_received(b) for b in fetched_bodies(idler)] == [MESSAGES[0]]
    idler.logout()
