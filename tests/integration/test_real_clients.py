"""The mail clients people really use (curl, swaks, msmtp, mpop, fetchmail)
against the running relay over TLS, every retrieved message compared byte for
byte with what was sent. The only differences allowed are the ones each client
is documented to make, removed precisely: pigeon's Received header, a POP3
client's own Received header, an mbox From_ line and its >From quoting, and
LF instead of CRLF where a client writes local files."""
import os
import re
import subprocess

import pytest

from conftest import fetch_all, strip_received, write_private

CLIENT_TIMEOUT_S = 60

# 8-bit UTF-8, lines that start with dots (one of them a lone dot), lines that
# an mbox writer must quote, and a text line of exactly 998 octets. Date and
# Message-ID are present, so that no client needs to add them.
MESSAGE = (
    "Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
    "Message-ID: <real-clients@example.org>\r\n"
    "From: Sender <sender@example.org>\r\n"
    "To: user@localhost\r\n"
    "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Grüße, 你好, привет\r\n"
    ".a line that starts with a dot\r\n"
    "..two dots\r\n"
    ".\r\n"
    "From the start of a line\r\n"
    ">From already quoted\r\n"
).encode() + b"x" * 998 + b"\r\n" + b"last line\r\n"


def numbered(n: int) -> bytes:
    """A distinct message per number, so tests can tell messages apart."""
    return MESSAGE.replace(b"Subject: ", b"Subject: %d " % n, 1)


def run_client(args, tmp_path, stdin=None, extra_env=None):
    """Runs one client with HOME in the test's folder, so that nothing of the
    user's configuration is read or written; fails the test on a non-zero exit."""
    env = dict(os.environ, HOME=str(tmp_path), **(extra_env or {}))
    result = subprocess.run(args, input=stdin, capture_output=True, env=env, timeout=CLIENT_TIMEOUT_S)
    assert result.returncode == 0, (args[0], result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    return result.stdout


def lf_to_crlf(local_file: bytes) -> bytes:
    """Undoes the LF line ends of a local mail file. Exact here: the relay never
    stores a bare CR or LF, so every LF was a CRLF on the wire."""
    assert b"\r" not in local_file
    return local_file.replace(b"\n", b"\r\n")


def strip_fetcher_received(message: bytes, fetcher: bytes) -> bytes:
    """Removes the Received header a POP3 client prepends (naming itself and
    POP3), then pigeon's own, and returns the message as it was submitted."""
    after_fetcher = strip_received(message)
    fetcher_header = message[:len(message) - len(after_fetcher)]
    pattern = rb"Received: from 127\.0\.0\.1 [^\r\n]*\r\n(\t[^\r\n]*\r\n)+"
    assert re.fullmatch(pattern, fetcher_header), fetcher_header
    assert b" with POP3" in fetcher_header
    assert re.search(rb"\(%s-[\d.]+\)" % fetcher, fetcher_header), fetcher_header
    return strip_received(after_fetcher)


# mboxrd (what mpop writes): a From_ line opens each message, body lines that
# match ">*From " get one more ">", and an empty line follows each message.
FROM_LINE = re.compile(rb"^From \S+ [A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\n", re.M)


def mboxrd_messages(mbox: bytes):
    starts = [m.start() for m in FROM_LINE.finditer(mbox)]
    assert starts and starts[0] == 0, mbox[:200]
    messages = []
    for start, end in zip(starts, starts[1:] + [len(mbox)]):
        entry = mbox[start:end]
        body = entry[FROM_LINE.match(entry).end():]
        assert body.endswith(b"\n\n"), body[-80:]
        messages.append(re.sub(rb"^>(>*From )", rb"\1", body[:-1], flags=re.M))
    return messages


def assert_maildrop_empty(relay):
    assert fetch_all(relay) == [], "the client should have deleted what it fetched"


# curl


def curl(relay, tmp_path, url_path, *args):
    return run_client(["curl", "-q", "--silent", "--show-error", "--cacert", relay.cafile,
                       "--user", f"{relay.user}:{relay.password}", url_path, *args], tmp_path)


@pytest.mark.parametrize("scheme, service, tls_args", [
    ("smtp", "submission", ["--ssl-reqd"]),
    ("smtps", "submissions", []),
])
def test_curl_submits_and_retrieves_over_pop3s(pigeon, tmp_path, scheme, service, tls_args):
    sent = [numbered(1), numbered(2)]
    for number, message in enumerate(sent):
        message_file = tmp_path / f"message{number}.eml"
        message_file.write_bytes(message)
        curl(pigeon, tmp_path, f"{scheme}://127.0.0.1:{pigeon.ports[service]}", *tls_args,
             "--mail-from", "sender@example.org", "--mail-rcpt", "user@localhost",
             "--upload-file", str(message_file))

    pop3s = f"pop3s://127.0.0.1:{pigeon.ports['pop3s']}/"
    retrieved = [curl(pigeon, tmp_path, pop3s + str(number)) for number in (1, 2)]
    listing = curl(pigeon, tmp_path, pop3s)
    assert listing == b"".join(b"%d %d\r\n" % (n, len(m)) for n, m in enumerate(retrieved, 1))
    assert [strip_received(m) for m in retrieved] == sent


# swaks


def swaks(relay, tmp_path, message, *args):
    """swaks ends DATA by appending CRLF "." CRLF to what it is given, so it is
    given the message without its final CRLF; it sends the rest as is."""
    data_file = tmp_path / "swaks-data.eml"
    assert message.endswith(b"\r\n")
    data_file.write_bytes(message[:-2])
    return run_client(["swaks", "--server", "127.0.0.1", "--from", "sender@example.org",
                       "--to", "user@localhost", "--tls-verify", "--tls-ca-path", relay.cafile,
                       "--auth-user", relay.user, "--auth-password", relay.password,
                       "--data", "@" + str(data_file), *args], tmp_path).decode()


def test_swaks_starttls_auth_plain_with_pipelining(pigeon, tmp_path):
    transcript = swaks(pigeon, tmp_path, MESSAGE, "--port", str(pigeon.ports["submission"]),
                       "--tls", "--auth", "PLAIN", "--pipeline")
    assert "<-  220 2.0.0 Ready to start TLS" in transcript  # still plaintext
    assert "<~  235 2.7.0 Authentication successful" in transcript
    # Pipelined: MAIL, RCPT and DATA go out before the first of their replies.
    assert re.search(r" ~> MAIL FROM:<sender@example.org>\n ~> RCPT TO:<user@localhost>\n ~> DATA\n"
                     r"<~  250 2.1.0 ", transcript), transcript
    assert [strip_received(m) for m in fetch_all(pigeon)] == [MESSAGE]


def test_swaks_tls_on_connect_auth_login(pigeon, tmp_path):
    transcript = swaks(pigeon, tmp_path, MESSAGE, "--port", str(pigeon.ports["submissions"]),
                       "--tls-on-connect", "--auth", "LOGIN")
    assert " ~> AUTH LOGIN" in transcript
    assert "<~  235 2.7.0 Authentication successful" in transcript
    assert [strip_received(m) for m in fetch_all(pigeon)] == [MESSAGE]


# msmtp


@pytest.mark.parametrize("service, starttls, auth", [
    ("submission", "on", "plain"),
    ("submissions", "off", "login"),
])
def test_msmtp_submits_with_auth_over_tls(pigeon, tmp_path, service, starttls, auth):
    msmtprc = write_private(tmp_path / "msmtprc", "\n".join([
        "account pigeon",
        "host 127.0.0.1",
        f"port {pigeon.ports[service]}",
        "tls on",
        f"tls_starttls {starttls}",
        f"tls_trust_file {pigeon.cafile}",
        f"auth {auth}",
        f"user {pigeon.user}",
        f"password {pigeon.password}",
        "from sender@example.org",
    ]) + "\n")
    for message in (numbered(1), numbered(2)):
        run_client(["msmtp", "-C", str(msmtprc), "-a", "pigeon", "user@localhost"], tmp_path, stdin=message)
    assert [strip_received(m) for m in fetch_all(pigeon)] == [numbered(1), numbered(2)]


# mpop


def mpop(relay, tmp_path, service, delivery):
    mpoprc = write_private(tmp_path / "mpoprc", "\n".join([
        "account pigeon",
        "host 127.0.0.1",
        f"port {relay.ports[service]}",
        "tls on",
        f"tls_starttls {'on' if service == 'pop3' else 'off'}",
        f"tls_trust_file {relay.cafile}",
        "auth user",
        f"user {relay.user}",
        f"password {relay.password}",
        f"delivery {delivery}",
        "keep off",
        f"uidls_file {tmp_path / 'mpop-uidls'}",
    ]) + "\n")
    run_client(["mpop", "--quiet", "-C", str(mpoprc), "pigeon"], tmp_path)


def test_mpop_over_pop3s_into_an_mbox(pigeon, tmp_path):
    sent = [numbered(1), numbered(2)]
    for message in sent:
        pigeon.submit(message)
    mbox = tmp_path / "mbox"
    mpop(pigeon, tmp_path, "pop3s", f"mbox {mbox}")
    retrieved = [strip_fetcher_received(lf_to_crlf(m), b"mpop") for m in mboxrd_messages(mbox.read_bytes())]
    assert retrieved == sent
    assert_maildrop_empty(pigeon)


def test_mpop_over_stls_into_a_maildir(pigeon, tmp_path):
    sent = [numbered(1), numbered(2)]
    for message in sent:
        pigeon.submit(message)
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    mpop(pigeon, tmp_path, "pop3", f"maildir {maildir}")
    delivered = [path.read_bytes() for path in (maildir / "new").iterdir()]
    retrieved = [strip_fetcher_received(lf_to_crlf(m), b"mpop") for m in delivered]
    assert sorted(retrieved) == sorted(sent)
    assert_maildrop_empty(pigeon)


# fetchmail


@pytest.mark.parametrize("service, tls_option", [
    ("pop3s", "ssl"),                # TLS from the first byte
    ("pop3", "sslproto tls1.2+"),    # STLS required
])
def test_fetchmail_delivers_to_an_mda(pigeon, tmp_path, service, tls_option):
    sent = [numbered(1), numbered(2)]
    for message in sent:
        pigeon.submit(message)
    delivered = tmp_path / "delivered"
    delivered.mkdir()
    # The certificate names the relay "localhost"; fetchmail connects by address.
    fetchmailrc = write_private(tmp_path / "fetchmailrc", "\n".join([
        "set no syslog",
        f"poll 127.0.0.1 service {pigeon.ports[service]} protocol POP3",
        f'  user "{pigeon.user}" there with password "{pigeon.password}" is "{pigeon.user}" here',
        f'  {tls_option} sslcertfile "{pigeon.cafile}" sslcertck sslcommonname localhost',
        f"  mda \"/bin/sh -c 'cat > $(mktemp {delivered}/message.XXXXXX)'\"",
        "  no keep fetchall no rewrite",
    ]) + "\n")
    run_client(["fetchmail", "-f", str(fetchmailrc), "--daemon", "0", "--nosyslog"], tmp_path,
               extra_env={"FETCHMAILHOME": str(tmp_path)})
    retrieved = [strip_fetcher_received(lf_to_crlf(path.read_bytes()), b"fetchmail")
                 for path in delivered.iterdir()]
    assert sorted(retrieved) == sorted(sent)
    assert_maildrop_empty(pigeon)
