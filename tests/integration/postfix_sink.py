"""Postfix's smtp-sink as a smarthost on loopback (tools/deps installs the
postfix package without configuring or starting the mail system; only this
binary is used). It has no TLS, so the relay talks to it in plaintext
(`smarthost_tls = none`); each accepted transaction is dumped to a file."""
import os
import shutil
import socket
import subprocess
import tempfile

from smarthost import free_port, wait_for

SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"


class SmtpSink:
    def __init__(self, pipelining=True):
        self.folder = tempfile.mkdtemp(prefix="smtp-sink-")
        os.chmod(self.folder, 0o777)  # run as root, smtp-sink drops to `nobody` before it writes
        self.port = free_port()
        command = [SMTP_SINK, "-d", self.folder + "/"]
        if os.geteuid() == 0:
            command += ["-u", "nobody"]
        if not pipelining:
            command.append("-p")
        self.process = subprocess.Popen(command + [f"127.0.0.1:{self.port}", "256"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(self.listening, timeout_s=10, what="smtp-sink listening")

    def listening(self):
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def count(self):
        return len(os.listdir(self.folder))

    def messages(self):
        """Each transaction as smtp-sink dumped it: X-Mail-Args, X-Rcpt-Args, its Received, then the message."""
        contents = []
        for name in sorted(os.listdir(self.folder)):
            with open(os.path.join(self.folder, name), "rb") as dump:
                contents.append(dump.read())
        return contents

    def complete_messages(self, end_marker, count):
        """The dumps once `count` of them hold `end_marker` (smtp-sink writes
        each as its transaction goes); None before."""
        dumps = [dump for dump in self.messages() if end_marker in dump]
        return dumps if len(dumps) == count else None

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process.stderr.close()
        shutil.rmtree(self.folder, ignore_errors=True)
