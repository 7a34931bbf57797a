"""Per-step latency on loopback, against the implicit-TLS handshake as a yardstick.

Nagle's algorithm meeting a delayed ACK stalls a step by about 40 ms
(docs/architecture.md §9): a reply written in several sends, a TLS flight of
several records, or a client whose first command after STARTTLS waits for the
ACK of its last handshake flight. Every step of these sessions must cost no more
than a small multiple of one TLS handshake measured in the same test, so the
test holds on a slow or loaded machine and under sanitizers: a ratio, not an
absolute time.
"""
import os
import poplib
import smtplib
import socket
import ssl
import time

import pytest

# Every figure is the fastest of several runs: load on a shared machine only
# ever adds time, while a stall is in every run.
SESSIONS = 10
HANDSHAKES = 15
# A step may take this many implicit-TLS handshakes, plus a floor for the
# scheduling noise of a loaded 2-core machine. Three, not more: with a 2-core
# machine loaded to 11 ms a handshake, five would let a 40 ms stall pass.
STEP_BUDGET_HANDSHAKES = 3
STEP_FLOOR_S = 0.005
BODY = b"Subject: latency\r\n\r\n" + (b"x" * 70 + b"\r\n") * 60  # 4.3 KB: more than one output buffer


def implicit_tls_handshake_s(relay):
    """Fastest TLS handshake on the POP3S port, the connection already up."""
    context = relay.tls_context()
    times = []
    for _ in range(HANDSHAKES):
        with socket.create_connection(("127.0.0.1", relay.ports["pop3s"]), timeout=30) as raw:
            start = time.perf_counter()
            with context.wrap_socket(raw, server_hostname="localhost"):
                times.append(time.perf_counter() - start)
    return min(times)


def one_fsync_s(folder):
    """What one durable write costs on the disk of the relay's state: the DATA
    step waits for one, which no handshake measures."""
    path = os.path.join(folder, "fsync.probe")
    times = []
    with open(path, "wb") as probe:
        for _ in range(5):
            probe.write(b"x" * 4096)
            start = time.perf_counter()
            os.fsync(probe.fileno())
            times.append(time.perf_counter() - start)
    os.remove(path)
    return min(times)


class StepClock:
    """Times named steps over several runs; reports the fastest of each."""

    def __init__(self):
        self.times = {}
        self.last = None

    def start(self):
        self.last = time.perf_counter()

    def lap(self, step):
        now = time.perf_counter()
        self.times.setdefault(step, []).append(now - self.last)
        self.last = now

    def fastest(self):
        return {step: min(times) for step, times in self.times.items()}


def starttls_session(relay, clock):
    context = relay.tls_context()
    clock.start()
    client = smtplib.SMTP("127.0.0.1", relay.ports["smtp"], timeout=30)
    clock.lap("banner")
    client.ehlo()
    clock.lap("EHLO")
    client.starttls(context=context)
    clock.lap("STARTTLS + handshake")
    client.ehlo()
    clock.lap("EHLO after STARTTLS")
    assert client.mail("sender@example.org")[0] == 250
    clock.lap("MAIL")
    assert client.rcpt("user@localhost")[0] == 250
    clock.lap("RCPT")
    assert client.data(BODY)[0] == 250
    clock.lap("DATA")
    client.quit()
    clock.lap("QUIT")


def pop3_session(relay, clock, count):
    clock.start()
    client = poplib.POP3("127.0.0.1", relay.ports["pop3"], timeout=30)
    clock.lap("POP3 banner")
    client.user(relay.user)
    clock.lap("USER")
    client.pass_(relay.password)
    clock.start()  # PASS is a password hash by design, not a network step
    assert len(client.list()[1]) == count
    clock.lap("LIST")
    assert len(client.uidl()[1]) == count
    clock.lap("UIDL")
    for number in range(1, count + 1):
        clock.start()
        client.top(number, 5)
        clock.lap("TOP")
        assert len(client.retr(number)[1]) > 60
        clock.lap("RETR")
    clock.start()
    client.quit()
    clock.lap("POP3 QUIT")


def stls_session(relay, clock):
    clock.start()
    client = poplib.POP3("127.0.0.1", relay.ports["pop3"], timeout=30)
    client.stls(context=relay.tls_context())
    clock.lap("STLS + handshake")
    client.user(relay.user)
    clock.lap("USER after STLS")
    client.quit()


def assert_within_budget(steps_s, handshake_s, extra_s=None):
    extra_s = extra_s or {}
    budget_s = STEP_BUDGET_HANDSHAKES * handshake_s + STEP_FLOOR_S
    report = ", ".join(f"{step} {seconds * 1000:.2f} ms" for step, seconds in steps_s.items())
    print(f"implicit-TLS handshake {handshake_s * 1000:.2f} ms; {report}")
    slow = {step: seconds for step, seconds in steps_s.items()
            if seconds > budget_s + extra_s.get(step, 0.0)}
    assert not slow, (f"steps over {budget_s * 1000:.1f} ms (handshake {handshake_s * 1000:.2f} ms): "
                      + ", ".join(f"{step} {seconds * 1000:.1f} ms" for step, seconds in slow.items()))


@pytest.fixture
def relay(make_pigeon):
    return make_pigeon(["plaintext_login = pop3", "log_level = warning"])


def test_starttls_session_steps_cost_no_more_than_a_few_handshakes(relay):
    handshake_s = implicit_tls_handshake_s(relay)
    clock = StepClock()
    for _ in range(SESSIONS):
        starttls_session(relay, clock)
    assert_within_budget(clock.fastest(), handshake_s, {"DATA": one_fsync_s(relay.state)})


def test_pop3_steps_plain_and_after_stls_cost_no_more_than_a_few_handshakes(relay):
    messages = 8
    for _ in range(messages):
        relay.submit(BODY)
    handshake_s = implicit_tls_handshake_s(relay)
    clock = StepClock()
    for _ in range(SESSIONS):
        pop3_session(relay, clock, messages)
        stls_session(relay, clock)
    assert_within_budget(clock.fastest(), handshake_s)
