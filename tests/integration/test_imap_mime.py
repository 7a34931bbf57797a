"""MIME structure over IMAP with Python imaplib: a message built by Python's
email package is submitted over SMTP; BODYSTRUCTURE must describe the parts
that the email package finds in it, BODY.PEEK[n] / BODY.PEEK[n.MIME] must be
those parts' bytes exactly, and BINARY.PEEK[n] their decoded bytes. The same
messages through Dovecot's imap (preauthenticated on a private Maildir) give
the same BODYSTRUCTURE, but where docs/imap.md says why not."""
import email
import email.policy
import getpass
import imaplib
import os
import re
import shutil
import subprocess
import tempfile
from email.message import EmailMessage

import pytest

from conftest import strip_received

BINARY_DATA = bytes(range(256)) * 3


def mime_message():
    inner = EmailMessage()
    inner["From"] = "Inner <inner@example.org>"
    inner["Subject"] = "forwarded"
    inner.set_content("the embedded message\n")
    message = EmailMessage()
    message["From"] = "Ann <ann@example.org>"
    message["To"] = "user@localhost"
    message["Subject"] = "parts"
    message.set_content("caf\u00e9 au lait\nsecond line\n", cte="quoted-printable")
    message.add_alternative("<p>caf\u00e9</p>\n", subtype="html")
    message.add_attachment(inner)
    message.add_attachment(BINARY_DATA, maintype="application", subtype="octet-stream", filename="data.bin")
    return message.as_bytes(policy=email.policy.SMTP)


def tokens(text):
    """The tokens of an IMAP response: parentheses, NIL, numbers, strings."""
    pattern = re.compile(rb'\(|\)|NIL|\d+|"(?:[^"\\]|\\.)*"|\s+')
    position = 0
    while position < len(text):
        match = pattern.match(text, position)
        assert match, text[position:position + 40]
        position = match.end()
        token = match.group(0)
        if token.isspace():
            continue
        if token.startswith(b'"'):
            yield re.sub(rb"\\(.)", rb"\1", token[1:-1]).decode()
        elif token == b"NIL":
            yield None
        elif token.isdigit():
            yield int(token)
        else:
            yield token.decode()


def parse_list(text):
    """Nested Python lists from a parenthesised IMAP list."""
    stack = [[]]
    for token in tokens(text):
        if token == "(":
            stack.append([])
        elif token == ")":
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(token)
    assert len(stack) == 1
    return stack[0][0]


def fetch_one(client, items):
    typ, data = client.fetch("1", items)
    assert typ == "OK", data
    return data


def body_structure(client, name="BODYSTRUCTURE"):
    data = fetch_one(client, name)
    line = data[0]
    assert isinstance(line, bytes), data  # nothing in this message needs a literal
    start = line.index(name.encode() + b" ") + len(name) + 1
    return parse_list(line[start:-1])


def raw_payload(part):
    """A part's body as it is in the message: the email package hands an 8-bit
    body out decoded by its charset, so encoding it again gives the bytes."""
    return part.get_payload(decode=False).encode(part.get_content_charset() or "ascii", "surrogateescape")


def check_part(structure, part, extensible):
    """Compares one BODYSTRUCTURE body with what the email package found."""
    if part.get_content_maintype() == "multipart":
        children = structure[:[isinstance(item, list) for item in structure].index(False)]
        subtype = structure[len(children)]
        assert subtype.lower() == part.get_content_subtype()
        assert len(children) == len(part.get_payload())
        for child_structure, child in zip(children, part.get_payload()):
            check_part(child_structure, child, extensible)
        if extensible:
            parameters = dict(zip(structure[len(children) + 1][::2], structure[len(children) + 1][1::2]))
            assert parameters == {"boundary": part.get_boundary()}
        return
    media_type, subtype, parameters, content_id, description, encoding, size = structure[:7]
    assert (media_type.lower(), subtype.lower()) == (part.get_content_maintype(), part.get_content_subtype())
    assert content_id == part["Content-ID"] and description == part["Content-Description"]
    assert encoding.lower() == (part["Content-Transfer-Encoding"] or "7bit").lower()
    if parameters is not None:
        assert dict(zip(parameters[::2], parameters[1::2])) == dict(part.get_params()[1:])
    if part.get_content_type() == "message/rfc822":
        embedded = part.get_payload()[0]
        envelope, embedded_structure, lines = structure[7:10]
        assert envelope[1] == embedded["Subject"]
        assert envelope[2] == [["Inner", None, "inner", "example.org"]]
        check_part(embedded_structure, embedded, extensible)
        return
    payload = raw_payload(part)
    assert size == len(payload)
    if media_type.lower() == "text":
        assert structure[7] == payload.count(b"\n")  # line breaks, as Dovecot counts lines
    if extensible and part.get_content_disposition():
        disposition = structure[8]
        assert disposition[0] == part.get_content_disposition()
        assert dict(zip(disposition[1][::2], disposition[1][1::2])) == {"filename": part.get_filename()}


def imaps(relay):
    client = imaplib.IMAP4_SSL("127.0.0.1", relay.ports["imaps"], ssl_context=relay.tls_context(), timeout=30)
    client.login(relay.user, relay.password)
    return client


def submitted_and_selected(relay):
    """Submits mime_message() over SMTP; returns its bytes, what the email
    package parses of them, and a client with INBOX selected."""
    submitted = mime_message()
    assert relay.submit(submitted) == {}
    client = imaps(relay)
    client.select("INBOX")
    return submitted, email.message_from_bytes(submitted, policy=email.policy.default), client


def test_bodystructure_matches_the_email_package(pigeon):
    submitted, parsed, client = submitted_and_selected(pigeon)
    assert strip_received(fetch_one(client, "BODY.PEEK[]")[0][1]) == submitted
    check_part(body_structure(client), parsed, extensible=True)
    check_part(body_structure(client, "BODY"), parsed, extensible=False)
    client.logout()


def test_parts_are_the_bytes_the_email_package_finds(pigeon):
    _, parsed, client = submitted_and_selected(pigeon)
    alternative, forwarded, attachment = parsed.get_payload()
    plain, html = alternative.get_payload()
    data = fetch_one(client, "(BODY.PEEK[1.1] BODY.PEEK[1.2] BODY.PEEK[3] BODY.PEEK[3.MIME] BODY.PEEK[2.HEADER] "
                             "BODY.PEEK[2.TEXT] BODY.PEEK[3]<10.20>)")
    literals = [item[1] for item in data if isinstance(item, tuple)]
    assert literals[0] == raw_payload(plain)
    assert literals[1] == raw_payload(html)
    assert literals[2] == raw_payload(attachment)
    header = "".join(f"{name}: {value}\r\n" for name, value in attachment.items()).encode()
    assert literals[3] == header + b"\r\n"
    embedded = forwarded.get_payload()[0]
    assert literals[4] == "".join(f"{name}: {value}\r\n" for name, value in embedded.items()).encode() + b"\r\n"
    assert literals[5] == raw_payload(embedded)
    assert literals[6] == raw_payload(attachment)[10:30]
    # BODY[2] is the embedded message whole; a part the message lacks is NIL.
    data = fetch_one(client, "(BODY.PEEK[2] BODY.PEEK[4])")
    assert data[0][1] == literals[4] + literals[5]
    assert data[1].endswith(b"BODY[4] NIL)")
    # Without PEEK, a part sets \Seen.
    assert b"\\Seen" in fetch_one(client, "(BODY[1.1])")[1]
    client.logout()


def test_binary_is_what_the_email_package_decodes(pigeon):
    _, parsed, client = submitted_and_selected(pigeon)
    assert "BINARY" in client.capabilities
    alternative, forwarded, attachment = parsed.get_payload()
    plain, html = alternative.get_payload()
    data = fetch_one(client, "(BINARY.PEEK[1.1] BINARY.PEEK[1.2] BINARY.PEEK[3] BINARY.PEEK[3]<100.50>)")
    literals = [item[1] for item in data if isinstance(item, tuple)]
    assert literals[0] == plain.get_payload(decode=True)
    assert literals[1] == html.get_payload(decode=True)
    assert literals[2] == attachment.get_payload(decode=True) == BINARY_DATA
    assert literals[3] == BINARY_DATA[100:150]
    typ, data = client.fetch("1", "(BINARY.SIZE[1.1] BINARY.SIZE[3])")
    assert data == [b"1 (BINARY.SIZE[1.1] %d BINARY.SIZE[3] %d)" % (len(plain.get_payload(decode=True)),
                                                                       len(BINARY_DATA))]
    # A message whose part has an encoding BINARY does not know: NO [UNKNOWN-CTE].
    assert pigeon.submit(b"Subject: uu\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n") == {}
    client.select("INBOX")
    typ, data = client.fetch("2", "(BINARY.PEEK[1])")
    assert typ == "NO" and b"UNKNOWN-CTE" in data[0]
    # APPEND with a literal8 keeps every byte.
    stored = b"Subject: nul\r\n\r\nx\x00y\r\n"
    client.send(b"A1 APPEND INBOX ~{%d}\r\n" % len(stored))
    assert client.readline().startswith(b"+")
    client.send(stored + b"\r\n")
    assert b"A1 OK" in client.readline()
    client.select("INBOX")
    typ, data = client.fetch("3", "(BINARY.PEEK[])")
    assert data[0][1] == stored
    client.logout()


DOVECOT_IMAP = "/usr/lib/dovecot/imap"

# Messages whose BODYSTRUCTURE pigeon and Dovecot write alike.
ALIKE = [
    b"Subject: d\r\nContent-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: one\r\nFrom: x@y\r\n\r\n"
    b"first\r\n--d\r\nContent-Type: text/plain\r\n\r\nnot a message\r\n--d--\r\n",
    b"Subject: plain\r\n\r\nline one\r\nline two\r\n",
    b"Subject: e\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n--b--\r\n",
    b"Subject: n\r\nContent-Type: multipart/alternative; boundary=q\r\n\r\npreamble\r\n--q\r\n"
    b"Content-Type: text/plain; charset=\"utf-8\"\r\nContent-Language: en\r\n\r\nline\r\n\r\n--q\r\n"
    b"Content-Type: text/html\r\nContent-ID: <h@x>\r\nContent-Location: a.html\r\n\r\n<b>x</b>\r\n--q--",
]
# Where they differ, on purpose (docs/imap.md): what each writes.
UNLIKE = [
    # A multipart without a boundary: Dovecot finds one empty text part in it, pigeon describes its bytes.
    (b"Subject: nb\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\n\r\nbody\r\n--x--\r\n",
     b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) "mixed" NIL NIL NIL NIL)',
     b'("application" "octet-stream" NIL NIL NIL "7bit" 20 NIL NIL NIL NIL)'),
    # "--zz" where the boundary is "z": Dovecot takes any line that begins with the
    # delimiter, pigeon only the whole line (RFC 2046 5.1.1).
    (b"Subject: z\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n\r\none\r\n--zz\r\n--z--\r\n",
     b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL)'
     b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) "mixed" ("boundary" "z") NIL NIL NIL)',
     b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 9 1 NIL NIL NIL NIL) "mixed" ("boundary" "z") NIL NIL NIL)'),
    # RFC 2231 continuations: Dovecot joins them, pigeon passes them on as written.
    (b"Subject: r\r\nContent-Type: application/pdf; name*0*=utf-8''a%20b; name*1=\"c.pdf\"\r\n\r\nAAAA\r\n",
     b'("application" "pdf" ("name*" "utf-8\'\'a%20bc.pdf") NIL NIL "7bit" 6 NIL NIL NIL NIL)',
     b'("application" "pdf" ("name*0*" "utf-8\'\'a%20b" "name*1" "c.pdf") NIL NIL "7bit" 6 NIL NIL NIL NIL)'),
]


def dovecot_body_structures(messages, folder):
    """BODYSTRUCTURE of each message as Dovecot's imap writes it, run
    preauthenticated over stdin on a Maildir in `folder`."""
    maildir = os.path.join(folder, "Maildir")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub))
    for number, message in enumerate(messages):
        with open(os.path.join(maildir, "new", f"{number + 1000}.m{number}.pigeon"), "wb") as file:
            file.write(message)
    with open(os.path.join(folder, "dovecot.conf"), "w") as conf:
        conf.write(f"mail_location = maildir:{maildir}\nbase_dir = {folder}/run\nstate_dir = {folder}/state\n"
                   f"log_path = {folder}/dovecot.log\n")
    user = getpass.getuser()
    prefix = []
    if os.geteuid() == 0:  # Dovecot gives no mail to root: it runs as nobody
        user = "nobody"
        prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        for path, _, files in os.walk(folder):
            for name in [path] + [os.path.join(path, file) for file in files]:
                shutil.chown(name, "nobody", "nogroup")
    command = prefix + ["env", f"HOME={folder}", f"USER={user}", DOVECOT_IMAP, "-c", os.path.join(folder, "dovecot.conf")]
    script = b"s SELECT INBOX\r\n" + b"".join(b"f%d FETCH %d BODYSTRUCTURE\r\n" % (n, n + 1) for n in range(len(messages)))
    output = subprocess.run(command, input=script + b"z LOGOUT\r\n", capture_output=True, timeout=30).stdout
    found = re.findall(rb"^\* (\d+) FETCH \(BODYSTRUCTURE (.*)\)\r$", output, re.M)
    assert len(found) == len(messages), output
    return [structure for _, structure in found]


def pigeon_body_structures(client, count):
    client.select("INBOX")
    structures = []
    for number in range(1, count + 1):
        typ, data = client.fetch(str(number), "BODYSTRUCTURE")
        structures.append(re.match(rb"\d+ \(BODYSTRUCTURE (.*)\)$", data[0]).group(1))
    return structures


@pytest.mark.skipif(not os.path.exists(DOVECOT_IMAP), reason="Dovecot's imap is not installed (tools/deps installs it)")
def test_bodystructure_is_dovecots_but_where_documented(pigeon):
    messages = [mime_message()] + ALIKE + [message for message, _, _ in UNLIKE]
    client = imaps(pigeon)
    for message in messages:
        assert client.append("INBOX", None, None, message)[0] == "OK"
    ours = pigeon_body_structures(client, len(messages))
    client.logout()
    with tempfile.TemporaryDirectory(prefix="pigeon-dovecot-") as folder:
        os.chmod(folder, 0o755)  # Dovecot, as nobody, walks into it
        theirs = dovecot_body_structures(messages, folder)
    alike = 1 + len(ALIKE)
    assert ours[:alike] == theirs[:alike]
    assert theirs[alike:] == [dovecot for _, dovecot, _ in UNLIKE]
    assert ours[alike:] == [written for _, _, written in UNLIKE]
