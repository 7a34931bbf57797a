"""Relaying from the board: the firmware hands mail for remote recipients to a
real smarthost (aiosmtpd on host loopback, reached from the guest as
10.0.2.2) over TLS verified against a CA provisioned into the board's image.
The board's Mbed TLS has no RSA (boards/mps2-an385/pigeon_mbedtls_config.h): an RSA
CA stops it at boot, the ECDSA CAs of a mixed bundle serve. Also the Mbed TLS
arena's high-water mark with an inbound and an outbound TLS session open at
once, the case the board's arena is sized for."""
import os
import smtplib
import subprocess

import pytest

from conftest import ROOT, strip_received
from smarthost import CertificateAuthority, Smarthost, wait_for

GUEST_HOST_ADDRESS = "10.0.2.2"  # QEMU user networking: the host's loopback, seen from the guest
REMOTE = "friend@example.net"


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return CertificateAuthority(str(tmp_path_factory.mktemp("ca")))


@pytest.fixture
def smarthosts(ca):
    started = []

    def make(tls):
        cert, key = ca.issue(GUEST_HOST_ADDRESS)
        host = Smarthost(tls=tls, cert=cert, key=key)
        started.append(host)
        return host

    yield make
    for host in started:
        host.stop()


def provisioning(smarthost, tls):
    return "\n".join([f"smarthost_host = {GUEST_HOST_ADDRESS}", f"smarthost_port = {smarthost.port}",
                      f"smarthost_tls = {tls}", "retry_initial_s = 1", "retry_max_s = 2"]) + "\n"


def read_pem(path):
    with open(path) as pem:
        return pem.read()


def open_submission(board):
    client = smtplib.SMTP("127.0.0.1", board.ports["submission"], timeout=60)
    client.starttls(context=board.tls_context())
    client.login(board.user, board.password)
    return client


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_board_relays_to_the_smarthost_over_verified_tls(make_board, smarthosts, ca, tls):
    host = smarthosts(tls)
    board = make_board(config=provisioning(host, tls), smarthost_ca=read_pem(ca.cert))
    message = f"From: user@localhost\r\nTo: {REMOTE}\r\nSubject: from the board over {tls}\r\n\r\nrelayed\r\n".encode()
    with open_submission(board) as client:
        client.sendmail("user@localhost", [REMOTE], message)
    [(mail_from, rcpt_tos, content)] = wait_for(lambda: host.messages, timeout_s=60, what="the relayed message")
    assert (mail_from, rcpt_tos) == ("user@localhost", [REMOTE])
    assert strip_received(content) == message


def test_board_refuses_a_smarthost_certificate_from_another_ca(make_board, smarthosts, tmp_path):
    host = smarthosts("starttls")
    other_ca = CertificateAuthority(str(tmp_path / "other-ca"), name="other")
    board = make_board(config=provisioning(host, "starttls"), smarthost_ca=read_pem(other_ca.cert))
    with open_submission(board) as client:
        client.sendmail("user@localhost", [REMOTE], b"Subject: never relayed\r\n\r\nbody\r\n")
    wait_for(lambda: any("certificate chain not trusted" in line for line in board.lines), timeout_s=60,
             what="the logged verification failure")
    assert host.messages == [] and host.handler.data_seen == 0


@pytest.fixture(scope="module")
def rsa_ca_pem(tmp_path_factory):
    """A CA certificate with an RSA key, which the board's Mbed TLS leaves out."""
    folder = tmp_path_factory.mktemp("rsa-ca")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa-ca.key",
                    "-out", "rsa-ca.pem", "-days", "2", "-subj", "/CN=pigeon test rsa-ca"],
                   cwd=folder, check=True, capture_output=True)
    return read_pem(folder / "rsa-ca.pem")


def test_board_stops_at_boot_when_its_smarthost_cas_are_all_rsa(make_board, rsa_ca_pem):
    config = f"smarthost_host = {GUEST_HOST_ADDRESS}\nsmarthost_tls = starttls\n"
    with pytest.raises(RuntimeError, match="the smarthost's CA certificates are missing or do not load"):
        make_board(config=config, smarthost_ca=rsa_ca_pem)


def test_board_relays_with_the_ecdsa_cas_of_a_bundle_that_also_holds_rsa_ones(make_board, smarthosts, ca,
                                                                               rsa_ca_pem):
    host = smarthosts("starttls")
    board = make_board(config=provisioning(host, "starttls"), smarthost_ca=rsa_ca_pem + read_pem(ca.cert))
    with open_submission(board) as client:
        client.sendmail("user@localhost", [REMOTE], b"Subject: bundle\r\n\r\nrelayed\r\n")
    wait_for(lambda: host.messages, timeout_s=60, what="the relayed message")


def test_arena_high_water_with_an_inbound_and_an_outbound_tls_session(make_board, smarthosts, ca):
    host = smarthosts("starttls")
    board = make_board(config=provisioning(host, "starttls"), smarthost_ca=read_pem(ca.cert))
    single = None
    with open_submission(board) as client:  # stays open (TLS) while the board relays
        single = board.counters()["tls_arena_high_water_bytes"]
        client.sendmail("user@localhost", [REMOTE], b"Subject: two sessions\r\n\r\nbody\r\n")
        wait_for(lambda: host.messages, timeout_s=60, what="the relayed message")
        counters = board.counters()
    both = counters["tls_arena_high_water_bytes"]
    print(f"\nTLS arena high-water: {single} bytes with one inbound session, {both} of "
          f"{counters['tls_arena_capacity_bytes']} bytes with one inbound and one outbound session; "
          f"stack high-water {board.stack_high_water()} of {board.stack_bytes} bytes")
    assert single < both <= counters["tls_arena_capacity_bytes"]


def board_limit(name):
    """A limit of the board's build, as boards/mps2-an385/pigeon_opts.h sets it."""
    opts = os.path.join(ROOT, "boards", "mps2-an385", "pigeon_opts.h")
    with open(opts) as header:
        for line in header:
            fields = line.split()
            if fields[:2] == ["#define", name]:
                return int(fields[2])
    raise LookupError(name)


def test_board_relays_one_message_to_as_many_recipients_as_it_takes(make_board, smarthosts, ca):
    """RFC 5321 §4.5.3.1.8: the board's most recipients (PIGEON_MAX_RECIPIENTS,
    100), each of 250 octets, in one message: each goes to flash as it is
    accepted and is read back as the smarthost client sends its RCPT. One more
    gets 452 4.5.3; the smarthost takes all but ten in one transaction and
    refuses those ten each with its address in the text, more distinct
    refusals than an attempt keeps (8), so the board stores two reports."""
    count = board_limit("PIGEON_MAX_RECIPIENTS")
    length = 250
    domain = "@" + ".".join(label * 61 for label in "def")
    recipients = [f"{n:03d}".ljust(length - len(domain), "x") + domain for n in range(count + 1)]
    assert all(len(address) == length for address in recipients)
    refused = recipients[:20:2]
    host = smarthosts("starttls")
    host.faults.refuse_naming.update(refused)
    board = make_board(config=provisioning(host, "starttls"), smarthost_ca=read_pem(ca.cert))
    message = b"From: user@localhost\r\nTo: undisclosed-recipients:;\r\nSubject: many recipients\r\n\r\nHi.\r\n"
    with open_submission(board) as client:
        failed = client.sendmail("user@localhost", recipients, message)
    assert list(failed) == [recipients[count]]
    assert failed[recipients[count]][0] == 452 and failed[recipients[count]][1].startswith(b"4.5.3")
    [(mail_from, rcpt_tos, content)] = wait_for(lambda: host.messages, timeout_s=60, what="the relayed message")
    assert mail_from == "user@localhost" and sorted(rcpt_tos) == sorted(set(recipients[:count]) - set(refused))
    assert strip_received(content) == message
    wait_for(lambda: sum("report to <user@localhost> queued" in line for line in board.lines) == 2, timeout_s=60,
             what="the two delivery reports")
    print(f"\n{count} recipients of {length} octets relayed from the board; {len(refused)} refusals in 2 reports; "
          f"stack high-water {board.stack_high_water()} of {board.stack_bytes} bytes")
