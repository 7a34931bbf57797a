"""Errors and limits of issue 2 over real sockets: exact reply codes, the session
goes on after bad input, and refused messages are never stored."""
import base64
import re
import socket
import ssl
import time

import pytest

from conftest import fetch_all, strip_received

CLEAN_MESSAGE = b"Subject: clean\r\n\r\nthis one is fine\r\n"


class Dialog:
    """A line-level SMTP or POP3 client over a plain or TLS socket, so that tests
    see every reply exactly as the relay wrote it."""

    def __init__(self, port, tls_context=None, timeout_s=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
        if tls_context is not None:
            self._wrap(tls_context)
        else:
            self.reader = self.sock.makefile("rb")

    def _wrap(self, tls_context):
        self.sock = tls_context.wrap_socket(self.sock, server_hostname="127.0.0.1",
                                            suppress_ragged_eofs=False)
        self.reader = self.sock.makefile("rb")

    def close(self):
        self.reader.close()
        self.sock.close()

    def send(self, data: bytes):
        self.sock.sendall(data)

    def line(self) -> bytes:
        return self.reader.readline()

    def reply(self):
        """One SMTP reply, possibly multi-line: (code, enhanced status or "")."""
        while True:
            line = self.line()
            if not line:
                raise EOFError("connection closed before a reply")
            if line[3:4] != b"-":
                break
        words = line[4:].split(b" ", 1)
        enhanced = words[0].decode() if words[0][:1].isdigit() and words[0].count(b".") == 2 else ""
        return int(line[:3]), enhanced

    def command(self, text):
        self.send(text.encode() + b"\r\n" if isinstance(text, str) else text + b"\r\n")
        return self.reply()

    def pop3(self, text) -> bytes:
        self.send(text.encode() + b"\r\n")
        return self.line()

    def starttls(self, tls_context):
        assert self.command("STARTTLS") == (220, "2.0.0")
        self._wrap(tls_context)

    def at_eof(self) -> bool:
        return self.reader.read(1) == b""


def auth_plain_argument(user, password):
    return base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()


def smtp(relay, service="smtp", tls_context=None):
    """A greeted dialog with the relay: EHLO done (over TLS on submissions, with
    `tls_context` when given)."""
    implicit_tls = tls_context or relay.tls_context() if service == "submissions" else None
    dialog = Dialog(relay.ports[service], implicit_tls)
    assert dialog.reply()[0] == 220
    assert dialog.command("EHLO client.example")[0] == 250
    return dialog


def submission(relay):
    """Submission after STARTTLS and a successful AUTH PLAIN."""
    dialog = smtp(relay, "submission")
    dialog.starttls(relay.tls_context())
    assert dialog.command("EHLO client.example")[0] == 250
    assert dialog.command("AUTH PLAIN " + auth_plain_argument(relay.user, relay.password)) == (235, "2.7.0")
    return dialog


def pop3s(relay, tls_context=None):
    dialog = Dialog(relay.ports["pop3s"], tls_context or relay.tls_context())
    assert dialog.line().startswith(b"+OK")
    return dialog


def pop3_login(relay, password=None):
    dialog = pop3s(relay)
    assert dialog.pop3("USER " + relay.user).startswith(b"+OK")
    return dialog, dialog.pop3("PASS " + (password or relay.password))


def send_data(dialog, content: bytes):
    """MAIL, RCPT and DATA to the default user, then the raw content (which must
    end the DATA itself); returns the reply to the content."""
    assert dialog.command("MAIL FROM:<sender@example.org>") == (250, "2.1.0")
    assert dialog.command("RCPT TO:<user@localhost>") == (250, "2.1.5")
    assert dialog.command("DATA")[0] == 354
    dialog.send(content)
    return dialog.reply()


def assert_session_goes_on(dialog):
    assert dialog.command("NOOP") == (250, "2.0.0")


def assert_only_clean_message_stored(relay):
    assert [strip_received(m) for m in fetch_all(relay)] == [CLEAN_MESSAGE]


# SMTP: lines and sizes


@pytest.mark.parametrize("length", [600, 1500, 5000])
def test_command_line_too_long_is_500_and_the_session_goes_on(pigeon, length):
    dialog = smtp(pigeon)
    assert dialog.command(b"NOOP " + b"x" * length) == (500, "5.5.2")
    assert_session_goes_on(dialog)


def test_text_line_over_998_octets_refuses_the_message(pigeon):
    dialog = smtp(pigeon)
    assert send_data(dialog, b"Subject: long\r\n\r\n" + b"y" * 999 + b"\r\n.\r\n") == (500, "5.5.2")
    assert send_data(dialog, CLEAN_MESSAGE + b".\r\n") == (250, "2.0.0")
    assert_only_clean_message_stored(pigeon)


def test_declared_size_over_the_limit_is_552(make_pigeon):
    relay = make_pigeon(["max_message_bytes = 2048"])
    dialog = smtp(relay)
    assert dialog.command("MAIL FROM:<s@example.org> SIZE=2049") == (552, "5.3.4")
    assert dialog.command("MAIL FROM:<s@example.org> SIZE=2048") == (250, "2.1.0")


def test_actual_size_over_the_limit_is_552_and_not_stored(make_pigeon):
    relay = make_pigeon(["max_message_bytes = 2048"])
    header = b"Subject: size\r\n\r\n"
    body_line = b"z" * 98 + b"\r\n"
    at_limit = header + body_line * ((2048 - len(header)) // len(body_line))
    at_limit += b"w" * (2048 - len(at_limit) - 2) + b"\r\n"
    assert len(at_limit) == 2048
    dialog = smtp(relay)
    over_limit = at_limit[:-2] + b"w\r\n"
    assert send_data(dialog, over_limit + b".\r\n") == (552, "5.3.4")
    assert send_data(dialog, at_limit + b".\r\n") == (250, "2.0.0")
    assert [strip_received(m) for m in fetch_all(relay)] == [at_limit]


def test_configured_recipient_limit_is_452(make_pigeon):
    relay = make_pigeon(["max_recipients = 3"])
    dialog = smtp(relay)
    assert dialog.command("MAIL FROM:<s@example.org>") == (250, "2.1.0")
    for _ in range(3):
        assert dialog.command("RCPT TO:<user@localhost>") == (250, "2.1.5")
    assert dialog.command("RCPT TO:<postmaster@localhost>") == (452, "4.5.3")
    assert dialog.command("DATA")[0] == 354
    dialog.send(CLEAN_MESSAGE + b".\r\n")
    assert dialog.reply() == (250, "2.0.0")


def test_compile_time_recipient_limit_is_452(pigeon):
    """The host build keeps 100 recipients per transaction (PIGEON_MAX_RECIPIENTS,
    RFC 5321 §4.5.3.1.8's minimum), and the configuration's default follows it."""
    dialog = smtp(pigeon)
    assert dialog.command("MAIL FROM:<s@example.org>") == (250, "2.1.0")
    for _ in range(100):
        assert dialog.command("RCPT TO:<user@localhost>") == (250, "2.1.5")
    assert dialog.command("RCPT TO:<user@localhost>") == (452, "4.5.3")
    assert dialog.command("RSET") == (250, "2.0.0")


def test_a_mailbox_of_a_thousand_messages_is_whole_over_pop3(pigeon):
    """A POP3 session reads its maildrop from the spool's index (it copied at
    most 128 messages into a table before): STAT, LIST, UIDL and RETR of the
    last of 1,000 messages, then DELE and QUIT, with poplib."""
    import poplib
    import smtplib
    started = time.monotonic()
    with smtplib.SMTP("127.0.0.1", pigeon.ports["smtp"], timeout=60) as client:
        for n in range(1000):
            client.sendmail("s@example.org", ["user@localhost"], f"Subject: number {n}\r\n\r\nbody {n}\r\n")
    assert time.monotonic() - started < 120
    client = poplib.POP3_SSL("127.0.0.1", pigeon.ports["pop3s"], context=pigeon.tls_context(), timeout=60)
    client.user(pigeon.user)
    client.pass_(pigeon.password)
    count, size = client.stat()
    assert count == 1000
    listing = client.list()[1]
    assert [int(line.split()[0]) for line in listing] == list(range(1, 1001))
    assert sum(int(line.split()[1]) for line in listing) == size
    uids = [line.split()[1] for line in client.uidl()[1]]
    assert len(set(uids)) == 1000 and uids == sorted(uids)  # ids grow with arrival
    last = b"\r\n".join(client.retr(1000)[1])
    assert b"Subject: number 999" in last and last.endswith(b"body 999")
    client.dele(1000)
    client.dele(1)
    client.quit()
    client = poplib.POP3_SSL("127.0.0.1", pigeon.ports["pop3s"], context=pigeon.tls_context(), timeout=60)
    client.user(pigeon.user)
    client.pass_(pigeon.password)
    assert client.stat()[0] == 998
    assert [line.split()[1] for line in client.uidl()[1]] == uids[1:999]
    assert b"Subject: number 1\r\n" in b"\r\n".join(client.retr(1)[1]) + b"\r\n"
    client.quit()


@pytest.mark.parametrize("content", [
    b"Subject: cr\r\n\r\nbare\rCR\r\n.\r\n",
    b"Subject: lf\r\n\r\nbare\nLF\r\n.\r\n",
    b"Subject: nul\r\n\r\nNUL\0byte\r\n.\r\n",
    b"Subject: smuggle\r\n\r\nhi\n.\nMAIL FROM:<x@example.org>\r\n.\r\n",
    b"Subject: smuggle\r\n\r\nhi\r\n.\rRCPT TO:<x@example.org>\r\n.\r\n",
], ids=["bare-cr", "bare-lf", "nul", "lf-dot-lf", "crlf-dot-cr"])
def test_bad_line_endings_and_nul_refuse_the_message(pigeon, content):
    dialog = smtp(pigeon)
    assert send_data(dialog, content) == (550, "5.6.0")
    assert send_data(dialog, CLEAN_MESSAGE + b".\r\n") == (250, "2.0.0")
    assert_only_clean_message_stored(pigeon)


# SMTP: authentication and TLS


def test_auth_failure_is_535_after_the_delay_and_others_are_not_held_up(make_pigeon):
    relay = make_pigeon(["auth_failure_delay_ms = 1000"])
    guesser = smtp(relay, "submissions")
    bystander = smtp(relay, "submissions")
    started = time.monotonic()
    guesser.send(b"AUTH PLAIN " + auth_plain_argument(relay.user, "wrong").encode() + b"\r\n")
    assert bystander.command("NOOP") == (250, "2.0.0")
    assert time.monotonic() - started < 0.5, "one session's delay held up another"
    assert guesser.reply() == (535, "5.7.8")
    assert time.monotonic() - started >= 1.0
    assert guesser.command("AUTH PLAIN " + auth_plain_argument(relay.user, relay.password)) == (235, "2.7.0")


def test_auth_and_mail_before_tls_on_submission_are_530(pigeon):
    dialog = smtp(pigeon, "submission")
    assert dialog.command("AUTH PLAIN " + auth_plain_argument(pigeon.user, pigeon.password)) == (530, "5.7.0")
    assert dialog.command("MAIL FROM:<s@example.org>") == (530, "5.7.0")
    assert_session_goes_on(dialog)


def test_mail_on_submission_needs_auth_even_under_tls(pigeon):
    dialog = smtp(pigeon, "submissions")
    assert dialog.command("MAIL FROM:<s@example.org>") == (530, "5.7.0")


def test_unknown_sasl_mechanism_is_504(pigeon):
    dialog = smtp(pigeon, "submissions")
    assert dialog.command("AUTH CRAM-MD5") == (504, "5.5.4")
    assert dialog.command("AUTH PLAIN " + auth_plain_argument(pigeon.user, pigeon.password)) == (235, "2.7.0")


def test_starttls_when_tls_is_on_is_503(pigeon):
    implicit = smtp(pigeon, "submissions")
    assert implicit.command("STARTTLS") == (503, "5.5.1")
    assert_session_goes_on(implicit)
    upgraded = smtp(pigeon, "submission")
    upgraded.starttls(pigeon.tls_context())
    assert upgraded.command("EHLO client.example")[0] == 250
    assert upgraded.command("STARTTLS") == (503, "5.5.1")
    assert_session_goes_on(upgraded)


def close_notify_required(relay):
    """A TLS context that reports an EOF without close_notify as an error
    (SSLEOFError) instead of as an orderly end of the stream."""
    context = relay.tls_context()
    context.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
    return context


@pytest.mark.parametrize("service", ["smtp", "submissions"])
def test_quit_over_tls_sends_close_notify(pigeon, service):
    context = close_notify_required(pigeon)
    dialog = smtp(pigeon, service, context)
    if service == "smtp":
        dialog.starttls(context)
    assert dialog.command("QUIT") == (221, "2.0.0")
    assert dialog.sock.recv(1) == b""


def test_pop3_quit_over_tls_sends_close_notify(pigeon):
    dialog = pop3s(pigeon, close_notify_required(pigeon))
    assert dialog.pop3("QUIT").startswith(b"+OK")
    assert dialog.sock.recv(1) == b""


# SMTP: order, relaying and bad input


def test_commands_out_of_order_are_503(pigeon):
    dialog = Dialog(pigeon.ports["smtp"])
    assert dialog.reply()[0] == 220
    assert dialog.command("MAIL FROM:<s@example.org>") == (503, "5.5.1")
    assert dialog.command("EHLO client.example")[0] == 250
    assert dialog.command("RCPT TO:<user@localhost>") == (503, "5.5.1")
    assert dialog.command("DATA") == (503, "5.5.1")
    assert dialog.command("MAIL FROM:<s@example.org>") == (250, "2.1.0")
    assert dialog.command("MAIL FROM:<s@example.org>") == (503, "5.5.1")
    assert dialog.command("DATA") == (503, "5.5.1")
    assert dialog.command("RCPT TO:<user@localhost>") == (250, "2.1.5")
    assert dialog.command("DATA")[0] == 354
    dialog.send(CLEAN_MESSAGE + b".\r\n")
    assert dialog.reply() == (250, "2.0.0")
    assert_only_clean_message_stored(pigeon)


def test_auth_twice_or_inside_a_transaction_is_503(pigeon):
    dialog = submission(pigeon)
    argument = auth_plain_argument(pigeon.user, pigeon.password)
    assert dialog.command("AUTH PLAIN " + argument) == (503, "5.5.1")
    fresh = smtp(pigeon, "submissions")
    assert fresh.command("AUTH PLAIN " + argument) == (235, "2.7.0")
    assert fresh.command("MAIL FROM:<s@example.org>") == (250, "2.1.0")


def test_remote_recipient_on_port_25_is_550_relaying_denied(pigeon):
    dialog = smtp(pigeon)
    assert dialog.command("MAIL FROM:<s@example.org>") == (250, "2.1.0")
    assert dialog.command("RCPT TO:<someone@example.com>") == (550, "5.7.1")
    assert dialog.command("RCPT TO:<user@localhost>") == (250, "2.1.5")


def test_remote_recipient_on_submission_without_smarthost_is_550(pigeon):
    dialog = submission(pigeon)
    assert dialog.command("MAIL FROM:<s@example.org>") == (250, "2.1.0")
    assert dialog.command("RCPT TO:<someone@example.com>") == (550, "5.7.1")


@pytest.mark.parametrize("command, expected", [
    (b"FROBNICATE", (500, "5.5.1")),
    (b"\xff\xfe\x01 binary", (500, "5.5.1")),
    (b"EHLO", (501, "5.5.4")),
    (b"MAIL TO:<s@example.org>", (501, "5.5.4")),
    (b"MAIL FROM:<no-closing-bracket", (501, "5.1.7")),
    (b"MAIL FROM:<s@example.org> COLOUR=blue", (555, "5.5.4")),
    (b"MAIL FROM:<s@example.org> SIZE=lots", (501, "5.5.4")),
    (b"STARTTLS now", (501, "5.5.4")),
    (b"EXPN staff", (502, "5.5.1")),
    (b"VRFY user", (252, "2.5.0")),
], ids=lambda value: value.decode(errors="replace") if isinstance(value, bytes) else None)
def test_bad_input_gets_a_clear_error_and_the_session_goes_on(pigeon, command, expected):
    dialog = smtp(pigeon)
    assert dialog.command(command) == expected
    assert_session_goes_on(dialog)


def test_bad_recipients_get_clear_errors(pigeon):
    dialog = smtp(pigeon)
    assert dialog.command("MAIL FROM:<s@example.org>") == (250, "2.1.0")
    assert dialog.command("RCPT TO:<>") == (501, "5.1.3")
    assert dialog.command("RCPT TO:<nobody@localhost>") == (550, "5.1.1")
    assert dialog.command("RCPT TO:<user@localhost> NOTIFY=NEVER") == (555, "5.5.4")
    assert dialog.command("RCPT TO:<user@localhost>") == (250, "2.1.5")


# Connections and timeouts


@pytest.fixture
def crowded_pigeon(make_pigeon):
    """One client address may hold every slot, as these tests come from 127.0.0.1."""
    return make_pigeon(["max_sessions_per_address = 16"])


def logged_in_over_tls(relay):
    """A submissions session after AUTH: protected, a new client cannot evict it."""
    dialog = smtp(relay, "submissions")
    assert dialog.command("AUTH PLAIN " + auth_plain_argument(relay.user, relay.password)) == (235, "2.7.0")
    return dialog


def test_too_many_smtp_connections_get_421_and_close(crowded_pigeon):
    """The host build has PIGEON_SMTP_SESSIONS 16, shared by the SMTP listeners.
    Clients that logged in keep their slots: a new client is refused at once."""
    pigeon = crowded_pigeon
    held = [logged_in_over_tls(pigeon) for _ in range(16)]
    refused = Dialog(pigeon.ports["submission"])
    assert refused.reply() == (421, "4.7.0")
    assert refused.at_eof()
    held.pop().command("QUIT")
    deadline = time.monotonic() + 5
    while True:  # the freed slot is taken again once the relay saw the QUIT
        again = Dialog(pigeon.ports["smtp"])
        code, _ = again.reply()
        if code == 220 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert code == 220
    assert_session_goes_on(held[0])


def test_too_many_pop3_connections_evict_the_longest_idle_one(crowded_pigeon):
    """The host build has PIGEON_POP3_SESSIONS 8. With every slot held by
    clients that did not log in, a new client waits in the backlog until the
    longest-idle one has been idle 5 s, which then gets [SYS/TEMP] and closes."""
    pigeon = crowded_pigeon
    held = [pop3s(pigeon) for _ in range(8)]
    for dialog in held[1:]:
        assert dialog.pop3("NOOP").startswith(b"-ERR")  # activity: held[0] is the longest idle
    started = time.monotonic()
    newcomer = Dialog(pigeon.ports["pop3"], timeout_s=20)
    assert newcomer.line().startswith(b"+OK")
    assert 2.0 <= time.monotonic() - started < 10.0  # it waited: not refused, not at once
    assert held[0].line().startswith(b"-ERR [SYS/TEMP] Too many connections")
    assert held[0].at_eof()
    assert held[1].pop3("CAPA").startswith(b"+OK")


def test_implicit_tls_without_a_free_tls_session_is_closed_without_plaintext(crowded_pigeon):
    """The host build has PIGEON_TLS_SESSIONS 16: with all of them held on 465
    by clients that logged in, a pop3s client (whose POP3 slot is free) must
    not get plaintext bytes in place of a TLS handshake."""
    pigeon = crowded_pigeon
    held = [logged_in_over_tls(pigeon) for _ in range(16)]
    client = socket.create_connection(("127.0.0.1", pigeon.ports["pop3s"]), timeout=10)
    assert client.recv(100) == b""
    assert_session_goes_on(held[0])


def test_starttls_and_stls_without_a_free_tls_session_are_refused_in_plaintext(crowded_pigeon):
    """With all 16 TLS sessions held (9 on 465, 7 on 995, leaving one POP3 slot),
    the 220/+OK that promises a handshake must not be sent: the client hears 454 /
    [SYS/TEMP] in plaintext and its session goes on; once a TLS session is free,
    STARTTLS works."""
    pigeon = crowded_pigeon
    held = [smtp(pigeon, "submissions") for _ in range(9)] + [pop3s(pigeon) for _ in range(7)]
    stls_client = Dialog(pigeon.ports["pop3"])
    assert stls_client.line().startswith(b"+OK")
    assert stls_client.pop3("STLS").startswith(b"-ERR [SYS/TEMP] TLS not available now")
    assert stls_client.pop3("CAPA").startswith(b"+OK")
    starttls_client = smtp(pigeon, "submission")
    assert starttls_client.command("STARTTLS") == (454, "4.7.0")
    assert_session_goes_on(starttls_client)
    held.pop(0).command("QUIT")
    deadline = time.monotonic() + 5
    while (reply := starttls_client.command("STARTTLS")) != (220, "2.0.0") and time.monotonic() < deadline:
        assert reply == (454, "4.7.0")
        time.sleep(0.05)
    starttls_client._wrap(pigeon.tls_context())
    assert starttls_client.command("EHLO client.example")[0] == 250


@pytest.fixture
def impatient_pigeon(make_pigeon):
    return make_pigeon(["command_timeout_s = 1", "data_timeout_s = 1", "pop3_timeout_s = 1"])


def assert_closed_after_idle(dialog, read_reply, expected, started):
    assert read_reply() == expected
    replied = time.monotonic()
    # The relay's idle clock starts when it sent its last bytes, a little before
    # the client saw them (tens of ms under the sanitizers): allow for that.
    assert 0.9 <= replied - started < 4.0, replied - started
    assert dialog.at_eof()
    assert time.monotonic() - replied < 0.5, "the relay held the connection after its last reply"


def test_smtp_command_idle_timeout_is_421(impatient_pigeon):
    dialog = smtp(impatient_pigeon)
    assert_closed_after_idle(dialog, dialog.reply, (421, "4.4.2"), time.monotonic())


def test_smtp_data_idle_timeout_is_421_and_nothing_is_stored(impatient_pigeon):
    dialog = smtp(impatient_pigeon)
    started = time.monotonic()
    reply = send_data(dialog, b"Subject: unfinished\r\n\r\nand then nothing")
    assert reply == (421, "4.4.2")
    assert time.monotonic() - started >= 1.0
    assert dialog.at_eof()
    assert fetch_all(impatient_pigeon) == []


def test_pop3_idle_timeout_is_err_and_close(impatient_pigeon):
    dialog = pop3s(impatient_pigeon)
    started = time.monotonic()
    assert_closed_after_idle(dialog, lambda: dialog.line()[:4], b"-ERR", started)


def flood_without_reading(port, command: bytes, max_bytes=16_000_000, max_s=5.0):
    """Pipelines `command` without ever reading a reply, until the relay has
    stopped taking input for half a second: its replies then fill every buffer
    between it and this client. Bounded in bytes and time."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    burst = command * 1000
    sent = 0
    started = last_accepted = time.monotonic()
    while time.monotonic() - last_accepted < 0.5:
        assert sent < max_bytes and time.monotonic() - started < max_s, "the relay kept reading"
        try:
            sent += sock.send(burst)
            last_accepted = time.monotonic()
        except BlockingIOError:
            time.sleep(0.01)
    return sock


def tcp_established(sock) -> bool:
    """Whether the relay still holds the connection, seen from this side without
    reading (tcpi_state, the first byte of Linux's TCP_INFO; 1 is ESTABLISHED)."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0] == 1


@pytest.mark.parametrize("service, command", [("smtp", b"NOOP\r\n"), ("pop3", b"CAPA\r\n")])
def test_a_client_that_never_reads_loses_its_slot_after_the_timeout(impatient_pigeon, service, command):
    sock = flood_without_reading(impatient_pigeon.ports[service], command)
    deadline = time.monotonic() + 5
    while tcp_established(sock) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not tcp_established(sock), "the relay kept a slot for a client that never reads"
    sock.close()


# POP3 errors and response codes


def test_pop3_bad_password_is_auth_and_the_session_goes_on(pigeon):
    dialog, answer = pop3_login(pigeon, password="wrong")
    assert answer.startswith(b"-ERR [AUTH] ")
    assert dialog.pop3("USER " + pigeon.user).startswith(b"+OK")
    assert dialog.pop3("PASS " + pigeon.password).startswith(b"+OK")


def test_pop3_second_session_on_a_mailbox_is_in_use(pigeon):
    first, answer = pop3_login(pigeon)
    assert answer.startswith(b"+OK")
    second, answer = pop3_login(pigeon)
    assert answer.startswith(b"-ERR [IN-USE] ")
    assert first.pop3("QUIT").startswith(b"+OK")
    assert first.at_eof()
    assert second.pop3("USER " + pigeon.user).startswith(b"+OK")
    assert second.pop3("PASS " + pigeon.password).startswith(b"+OK")


def test_pop3_login_before_stls_is_refused(pigeon):
    dialog = Dialog(pigeon.ports["pop3"])
    assert dialog.line().startswith(b"+OK")
    assert dialog.pop3("USER " + pigeon.user).startswith(b"-ERR [AUTH] ")
    assert dialog.pop3("NOOP").startswith(b"-ERR")
    assert dialog.pop3("CAPA").startswith(b"+OK")


@pytest.mark.parametrize("command", [
    "FROBNICATE", "RETR 99", "RETR x", "DELE 0", "TOP 1", "LIST 2", "AUTH CRAM-MD5", "x" * 300,
])
def test_pop3_bad_input_gets_err_and_the_session_goes_on(pigeon, command):
    pigeon.submit(CLEAN_MESSAGE)
    dialog, answer = pop3_login(pigeon)
    assert answer.startswith(b"+OK")
    assert dialog.pop3(command).startswith(b"-ERR ")
    assert dialog.pop3("STAT").startswith(b"+OK 1 ")


def logged_close(relay, pattern, timeout_s=10):
    """The relay's log line for a closed connection that matches `pattern`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := re.search(pattern, relay.log()):
            return found
        time.sleep(0.05)
    raise AssertionError(f"no close matching {pattern!r} in the log:\n{relay.log()}")


def test_a_failed_tls_handshake_is_logged_with_mbed_tls_words_and_code(pigeon):
    """Plaintext in place of a ClientHello on 465 ends the connection, and the
    log says why in Mbed TLS's own words and error code."""
    client = socket.create_connection(("127.0.0.1", pigeon.ports["submissions"]), timeout=10)
    client.sendall(b"EHLO this is not TLS\r\n" * 8)
    try:
        while client.recv(100):  # Mbed TLS may send an alert first
            pass
    except ConnectionResetError:  # the relay closed with our garbage unread
        pass
    client.close()
    found = logged_close(pigeon, r"smtp: connection with \[127\.0\.0\.1\]:\d+ closed: TLS handshake failed: "
                                 r"(\S[^\n]*) \(Mbed TLS -0x([0-9a-f]{4})\)")
    assert found.group(1).startswith("SSL - ")
    assert found.group(2) != "0000"


def test_every_close_is_logged_with_its_reason(pigeon):
    """QUIT, a client that hangs up, and a POP3 client that hangs up after
    logging in: each close has its line."""
    quitting = smtp(pigeon)
    assert quitting.command("QUIT") == (221, "2.0.0")
    assert quitting.at_eof()
    logged_close(pigeon, r"smtp: connection with \[127\.0\.0\.1\]:\d+ closed: session ended")
    hanging_up = smtp(pigeon)
    hanging_up.close()
    logged_close(pigeon, r"smtp: connection with \[127\.0\.0\.1\]:\d+ closed: peer closed the connection")
    pop3_client = Dialog(pigeon.ports["pop3"])
    assert pop3_client.line().startswith(b"+OK")
    pop3_client.close()
    logged_close(pigeon, r"pop3: connection with \[127\.0\.0\.1\]:\d+ closed: peer closed the connection")
