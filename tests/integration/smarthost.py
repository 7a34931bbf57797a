"""A real smarthost on loopback for the relay tests: aiosmtpd with STARTTLS or
implicit TLS, certificates from a test CA made with the openssl CLI, and
switchable faults (421 greeting, 4xx/5xx on RCPT, drops in and after DATA,
bytes injected behind the 220 to STARTTLS)."""
import ipaddress
import os
import socket
import ssl
import subprocess
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


class CertificateAuthority:
    """A CA and server certificates signed by it (EC P-256: quick to make)."""

    def __init__(self, folder, name="ca"):
        self.folder = folder
        self.name = name
        os.makedirs(folder, exist_ok=True)
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN=pigeon test {name}",
                cwd=folder)
        self.cert = os.path.join(folder, f"{name}.pem")

    def issue(self, host_name):
        """A server key and certificate naming `host_name`; returns (cert, key) paths."""
        stem = f"{self.name}-{host_name}"
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", f"{stem}.key", "-out", f"{stem}.csr", "-subj", f"/CN={host_name}", cwd=self.folder)
        extensions = os.path.join(self.folder, f"{stem}.ext")
        with open(extensions, "w") as ext:
            kind = "IP" if is_ip_address(host_name) else "DNS"  # a board reaches the host as 10.0.2.2
            ext.write(f"subjectAltName={kind}:{host_name}\n")
        openssl("x509", "-req", "-in", f"{stem}.csr", "-CA", f"{self.name}.pem", "-CAkey", f"{self.name}.key",
                "-CAcreateserial", "-out", f"{stem}.pem", "-days", "2", "-extfile", extensions, cwd=self.folder)
        return os.path.join(self.folder, f"{stem}.pem"), os.path.join(self.folder, f"{stem}.key")


def is_ip_address(text):
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Faults:
    """Counters of faults still to inject; each one fires once per count."""

    def __init__(self):
        self.greeting_421 = 0
        self.rcpt_451 = 0
        self.drop_in_data = 0
        self.drop_after_dot = 0
        self.inject_after_starttls = False
        self.refuse = set()  # recipients answered 550
        self.refuse_naming = set()  # recipients answered 550 with their address in the text (as Postfix does)


class Handler:
    def __init__(self, faults):
        self.faults = faults
        self.messages = []  # (mail_from, rcpt_tos, content) of every 250 to DATA
        self.data_seen = 0  # DATA transfers that reached the handler
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address in self.faults.refuse:
            return "550 5.1.1 No such user here"
        if address in self.faults.refuse_naming:
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        if self.faults.rcpt_451 > 0:
            self.faults.rcpt_451 -= 1
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.data_seen += 1
            record = (envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
            if self.faults.drop_after_dot > 0:
                # The server has the message but the client never hears so.
                self.faults.drop_after_dot -= 1
                self.messages.append(record)
                server.transport.close()
                return "250 2.0.0 never sent"
            self.messages.append(record)
        return "250 2.0.0 OK queued"


class FaultySMTP(SMTP):
    faults = None

    async def push(self, status):
        if status.startswith("220 Ready to start TLS") and self.faults.inject_after_starttls:
            # Rides in the same segment as the 220; must never count as a reply.
            status += "\r\n250 2.0.0 injected"
        if status.startswith("220 ") and self.faults.greeting_421 > 0 and not self._tls_protocol:
            self.faults.greeting_421 -= 1
            await super().push("421 4.3.2 Service not available")
            self.transport.close()
            return
        await super().push(status)

    async def smtp_DATA(self, arg):
        if self.faults.drop_in_data > 0 and self.envelope.rcpt_tos:
            self.faults.drop_in_data -= 1
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            await self._reader.readexactly(20)
            self.transport.close()
            return
        await super().smtp_DATA(arg)


class FaultyController(Controller):
    def __init__(self, handler, faults, **kwargs):
        super().__init__(handler, **kwargs)
        self.faults = faults

    def factory(self):
        server = FaultySMTP(self.handler, **self.SMTP_kwargs)
        server.faults = self.faults
        return server


class Smarthost:
    """aiosmtpd on 127.0.0.1. tls: 'starttls', 'implicit' or 'none' (then
    STARTTLS is not offered at all)."""

    def __init__(self, tls="starttls", cert=None, key=None, pipelining=True):
        self.faults = Faults()
        self.handler = Handler(self.faults)
        self.port = free_port()
        context = None
        if cert:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
        kwargs = {}
        if tls == "starttls":
            kwargs["tls_context"] = context
        if tls == "implicit":
            kwargs["ssl_context"] = context
        self.controller = FaultyController(self.handler, self.faults, hostname="127.0.0.1", port=self.port,
                                           server_hostname="localhost", **kwargs)
        self.controller.start()

    @property
    def messages(self):
        with self.handler.lock:
            return list(self.handler.messages)

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


# A relay under qemu-user emulation (PIGEON_LAUNCHER, tests/arch) is several
# times slower: every wait allows for it (a wait ends as soon as it is met).
EMULATION_SLOWDOWN = 4 if os.environ.get("PIGEON_LAUNCHER") else 1


def wait_for(predicate, timeout_s=15, what="condition"):
    deadline = time.monotonic() + timeout_s * EMULATION_SLOWDOWN
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
