"""Fixtures that run the real pigeon binary on loopback with free ports."""
import os
import poplib
import re
import shlex
import signal
import smtplib
import ssl
import subprocess
import time

import pytest

PIGEON_BIN = os.environ.get("PIGEON_BIN", "build/host/boards/host/pigeon")
# What runs the binary, when it is not the host's own: a router build runs under
# its qemu-user emulator, named here ("qemu-mipsel-static"), not through binfmt_misc.
PIGEON_LAUNCHER = shlex.split(os.environ.get("PIGEON_LAUNCHER", ""))
# tests/alloc_guard: when set, every relay runs with the interposed allocator and
# every test fails if the relay touched the heap after start-up (docs/architecture.md §4).
ALLOC_GUARD = os.environ.get("PIGEON_ALLOC_GUARD")
LISTENING = re.compile(r"pigeon: (\w+) listening on \[?([\d.:a-f]+)\]?:(\d+)")
PASSWORD = re.compile(r"pigeon: user '([^']+)' password '([^']+)'")


class Pigeon:
    """One running relay: its ports, credentials, state folder and log."""

    def __init__(self, state, config_lines, extra_env=None):
        self.state = state
        self.config_path = os.path.join(state, "pigeon.conf")
        with open(self.config_path, "w") as config:
            config.write("\n".join(config_lines) + "\n")
        self.extra_env = extra_env or {}
        self.process = None
        self.ports = {}
        self.user = None
        self.password = None
        self.stderr_path = os.path.join(state, "stderr.log")
        self.alloc_report_path = os.path.join(state, "alloc.report")

    def start(self, timeout_s=30):
        env = dict(os.environ, **self.extra_env)
        if ALLOC_GUARD:
            env.update(LD_PRELOAD=ALLOC_GUARD, PIGEON_ALLOC_REPORT=self.alloc_report_path)
        self.stderr = open(self.stderr_path, "ab")
        self.process = subprocess.Popen(
            [*PIGEON_LAUNCHER, PIGEON_BIN, "--state", self.state, "--config", self.config_path],
            stdout=subprocess.PIPE, stderr=self.stderr, env=env)
        deadline = time.monotonic() + timeout_s
        self.ports = {}
        self.startup = ""  # what it printed up to "ready"
        for raw in self.process.stdout:
            line = raw.decode()
            self.startup += line
            if m := LISTENING.match(line):
                self.ports[m.group(1)] = int(m.group(3))
            if m := PASSWORD.match(line):
                self.user, self.password = m.group(1), m.group(2)
            if line.startswith("pigeon: ready"):
                break
            if time.monotonic() > deadline:
                raise TimeoutError("pigeon did not get ready")
        else:
            raise RuntimeError("pigeon exited during start-up: " + self.log())
        credentials = os.path.join(self.state, "credentials")
        # A configuration that names its users has no default user to log in as.
        if self.password is None and os.path.exists(credentials):
            with open(credentials) as saved:
                self.user, self.password = saved.read().strip().split(":", 1)
        return self

    def stop(self, sig=signal.SIGTERM, timeout_s=10):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process and self.process.stdout:
            self.process.stdout.close()
        self.stderr.close()

    def kill_hard(self):
        self.stop(signal.SIGKILL)

    def allocation_report(self):
        """The allocation guard's lines: one count before start-up, then one per
        heap allocation after it (there must be none)."""
        if not os.path.exists(self.alloc_report_path):
            return []
        with open(self.alloc_report_path) as report:
            return report.read().splitlines()

    def allocations_after_startup(self):
        return [line for line in self.allocation_report() if line.startswith("allocation after")]

    def log(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")

    @property
    def cafile(self):
        return os.path.join(self.state, "cert.pem")

    def tls_context(self):
        return ssl.create_default_context(cafile=self.cafile)

    def submit(self, message, recipients=("user@localhost",), sender="sender@example.org"):
        """Sends one message over submission + STARTTLS + AUTH; returns smtplib's result."""
        with smtplib.SMTP("127.0.0.1", self.ports["submission"], timeout=30) as client:
            client.starttls(context=self.tls_context())
            client.login(self.user, self.password)
            return client.sendmail(sender, list(recipients), message)


BASE_CONFIG = [
    "smtp_port = 0", "submission_port = 0", "submissions_port = 0",
    "pop3_port = 0", "pop3s_port = 0", "imap_port = 0", "imaps_port = 0",
    "spool_bytes = 33554432",
    "max_message_bytes = 10485760",
    "auth_failure_delay_ms = 300",
    "log_level = info",
]


@pytest.fixture
def make_pigeon(tmp_path):
    """Factory: make_pigeon(extra_config_lines) starts a relay; all are stopped at teardown."""
    started = []

    def make(extra=(), state=None, extra_env=None):
        folder = state or str(tmp_path / f"state{len(started)}")
        os.makedirs(folder, exist_ok=True)
        relay = Pigeon(folder, BASE_CONFIG + list(extra), extra_env)
        started.append(relay)  # before start(): a relay that fails to get ready is stopped too
        return relay.start()

    yield make
    for relay in started:
        relay.stop()
    for relay in started:
        assert relay.allocations_after_startup() == [], "the relay used the heap after start-up"


@pytest.fixture
def pigeon(make_pigeon):
    return make_pigeon()


def strip_received(message: bytes) -> bytes:
    """The relay prepends one folded Received header; returns what follows it."""
    assert message.startswith(b"Received: "), message[:80]
    lines = message.split(b"\r\n")
    index = 1
    while lines[index].startswith((b"\t", b" ")):
        index += 1
    return b"\r\n".join(lines[index:])


# Helpers shared by the client, error and limit tests.

def read_until_closed(sock, limit_s=10):
    """Everything `sock` receives until the relay ends the connection."""
    sock.settimeout(limit_s)
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def fetch_all(relay, implicit_tls=True, delete=False):
    """Every message of the default user's maildrop, read over POP3 with poplib
    (and deleted, with `delete`)."""
    if implicit_tls:
        client = poplib.POP3_SSL("127.0.0.1", relay.ports["pop3s"], context=relay.tls_context(), timeout=30)
    else:
        client = poplib.POP3("127.0.0.1", relay.ports["pop3"], timeout=30)
        client.stls(context=relay.tls_context())
    client.user(relay.user)
    client.pass_(relay.password)
    count, _ = client.stat()
    messages = []
    for number in range(1, count + 1):
        _, lines, _ = client.retr(number)
        messages.append(b"\r\n".join(lines) + b"\r\n")
        if delete:
            client.dele(number)
    client.quit()
    return messages


def write_private(path, text):
    """Writes a client's configuration file readable by its owner only (msmtp,
    mpop and fetchmail refuse a password file that others can read)."""
    path.write_text(text)
    path.chmod(0o600)
    return path
