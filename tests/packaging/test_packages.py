"""tools/package (docs/routers.md, "Packages"): each package is built from the
binary under test, its contents are checked, and, extracted, the packaged binary
runs with the packaged configuration and the command line its service
definition gives, in a network and mount namespace of its own: the OpenWrt
package on 192.168.1.1 (OpenWrt's default LAN address, put on the namespace's
loopback) with the ports it configures, the Debian package on 127.0.0.1:25.
procd and systemd themselves are not run (docs/routers.md says what is not
checked).

PIGEON_PRESET names the preset the binary comes from: `tools/package kinds`
says which packages are made of it; PIGEON_LAUNCHER runs a foreign binary
under qemu-user."""
import os
import re
import shlex
import subprocess
import tarfile

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PIGEON_BIN = os.path.abspath(os.environ.get("PIGEON_BIN", os.path.join(ROOT, "build/host/boards/host/pigeon")))
LAUNCHER = os.environ.get("PIGEON_LAUNCHER", "")
KINDS = subprocess.run([os.path.join(ROOT, "tools/package"), "kinds", os.environ.get("PIGEON_PRESET", "host")],
                       capture_output=True, text=True, check=True).stdout.split()
VERSION = re.search(r"project\(pigeon VERSION ([\d.]+)", open(os.path.join(ROOT, "CMakeLists.txt")).read()).group(1)


def build(kind, arch, out):
    result = subprocess.run([os.path.join(ROOT, "tools/package"), kind, arch, PIGEON_BIN], capture_output=True,
                            text=True, env=dict(os.environ, PIGEON_PACKAGES=str(out)), timeout=120)
    assert result.returncode == 0, result.stderr
    (path,) = result.stdout.split()
    return path


def members(archive):
    return {member.name: member for member in archive.getmembers()}


def run_in_namespace(script, timeout_s=120):
    """Runs a shell script as root of a new user, network and mount namespace:
    only its own loopback, and a private tmpfs on /var/lib."""
    prologue = "set -e\nip link set lo up\nmount -t tmpfs pigeon /var/lib\n"
    return subprocess.run(["unshare", "--map-root-user", "--net", "--mount", "sh", "-c", prologue + script],
                          capture_output=True, text=True, timeout=timeout_s)


# Starts the relay, waits for "ready", then runs the checks of $CHECKS; the
# relay's output is printed at the end.
RUN_RELAY = """
{command} >relay.out 2>&1 &
relay=$!
for i in $(seq 600); do grep -q 'pigeon: ready' relay.out && break; kill -0 $relay; sleep 0.1; done
{checks}
kill $relay; wait $relay || true
echo '--- relay'; cat relay.out
"""


def launch(path):
    return f"{LAUNCHER} {shlex.quote(path)}".strip()


def relay_checks(root, sendmail_args, status_args):
    """Mail through the packaged sendmail link, the queue through the mailq
    link, and pigeon status, each with its exit status."""
    sendmail = launch(os.path.join(root, "usr/sbin/sendmail"))
    mailq = launch(os.path.join(root, "usr/bin/mailq"))
    pigeon = launch(os.path.join(root, "usr/sbin/pigeon"))
    return f"""
printf 'Subject: from cron\\n\\nbackup done\\n' | {sendmail} {sendmail_args} user@localhost; echo "sendmail=$?"
{mailq} {sendmail_args}; echo "mailq=$?"
{pigeon} status {status_args}; echo "status=$?"
"""


@pytest.mark.parametrize("arch", [kind.split(":")[1] for kind in KINDS if kind.startswith("ipk:")])
def test_openwrt_package(arch, tmp_path):
    package = build("ipk", arch, tmp_path / "out")
    assert os.path.basename(package) == f"pigeon_{VERSION}-r1_{arch}.ipk"
    with tarfile.open(package) as outer:
        assert sorted(members(outer)) == ["./control.tar.gz", "./data.tar.gz", "./debian-binary"]
        assert outer.extractfile("./debian-binary").read() == b"2.0\n"
        root = tmp_path / "root"
        with tarfile.open(fileobj=outer.extractfile("./data.tar.gz")) as data:
            files = members(data)
            assert files["./usr/sbin/pigeon"].mode == 0o755 and files["./etc/init.d/pigeon"].mode == 0o755
            assert files["./usr/sbin/sendmail"].linkname == "pigeon"
            assert files["./usr/bin/mailq"].linkname == "../sbin/pigeon"
            assert files["./etc/config/pigeon"].mode == 0o600
            assert all(member.uid == 0 and member.gid == 0 for member in files.values())
            data.extractall(root)
        with tarfile.open(fileobj=outer.extractfile("./control.tar.gz")) as control:
            fields = dict(line.split(": ", 1) for line in
                          control.extractfile("./control").read().decode().splitlines() if ": " in line)
            assert (fields["Package"], fields["Version"], fields["Architecture"]) == ("pigeon", f"{VERSION}-r1", arch)
            assert control.extractfile("./conffiles").read() == b"/etc/config/pigeon\n"
            assert {"./postinst", "./prerm"} <= set(members(control))

    # The init script's command line, from start_service with procd's calls recorded.
    stubs = """
procd_open_instance() { :; }
procd_close_instance() { :; }
procd_set_param() { echo "$*"; }
mkdir() { echo "mkdir $*"; }
"""
    init = subprocess.run(["sh", "-c", f"{stubs}. {root}/etc/init.d/pigeon; start_service"],
                          capture_output=True, text=True, timeout=30)
    assert init.returncode == 0, init.stderr
    lines = init.stdout.splitlines()
    assert "mkdir -p /etc/pigeon /var/lib/pigeon" in lines
    command = next(line for line in lines if line.startswith("command "))
    assert command == "command /usr/sbin/pigeon --state /etc/pigeon --config /etc/config/pigeon"
    assert "respawn 3600 5 5" in lines and "stdout 1" in lines and "file /etc/config/pigeon" in lines

    # That command line, the program and configuration taken from the package;
    # /etc/pigeon (the router's flash) is a folder of the test.
    state = tmp_path / "state"
    argv = command.split()[1:]
    argv[0] = launch(os.path.join(root, "usr/sbin/pigeon"))
    argv[argv.index("--state") + 1] = str(state)
    argv[argv.index("--config") + 1] = str(root / "etc/config/pigeon")
    greeting = "import socket; print(socket.create_connection(('192.168.1.1', 25), timeout=10).recv(4).decode(), 'smtp')"
    checks = relay_checks(str(root), "", f"-C {root}/etc/config/pigeon --state {state}") + f'python3 -c "{greeting}"\n'
    script = "ip addr add 192.168.1.1/24 dev lo\nmkdir -p /var/lib/pigeon\ncd " + str(tmp_path) + "\n"
    result = run_in_namespace(script + RUN_RELAY.format(command=" ".join(argv), checks=checks))
    output = result.stdout
    assert result.returncode == 0, output + result.stderr
    for service, port in [("smtp", 25), ("submission", 587), ("submissions", 465), ("pop3", 110), ("pop3s", 995),
                          ("imap", 143), ("imaps", 993)]:
        assert f"pigeon: {service} listening on 192.168.1.1:{port}\n" in output
    assert "sendmail=0\n" in output and "mailq=0\n" in output and "status=0\n" in output, output
    assert "220  smtp\n" in output
    assert "local socket: /var/lib/pigeon/pigeon.sock\n" in output
    assert "spool: 1 messages; " in output and "of 4096 KiB)" in output
    assert os.path.getsize(state / "spool.img") == 4 * 1024 * 1024


@pytest.mark.parametrize("arch", [kind.split(":")[1] for kind in KINDS if kind.startswith("deb:")])
def test_debian_package(arch, tmp_path):
    package = build("deb", arch, tmp_path / "out")
    assert os.path.basename(package) == f"pigeon_{VERSION}-1_{arch}.deb"
    info = subprocess.run(["dpkg-deb", "--field", package], capture_output=True, text=True, check=True).stdout
    fields = dict(line.split(": ", 1) for line in info.splitlines() if ": " in line)
    assert (fields["Package"], fields["Architecture"]) == ("pigeon", arch)
    for relation in ("Provides", "Conflicts", "Replaces"):
        assert fields[relation] == "mail-transport-agent"
    assert fields["Depends"].startswith("systemd")
    listing = subprocess.run(["dpkg-deb", "--contents", package], capture_output=True, text=True, check=True).stdout
    for path in ("./usr/sbin/pigeon", "./lib/systemd/system/pigeon.service", "./usr/lib/sysusers.d/pigeon.conf",
                 "./etc/pigeon/pigeon.conf", "./usr/sbin/sendmail -> pigeon", "./usr/bin/mailq -> ../sbin/pigeon",
                 "./usr/lib/sendmail -> ../sbin/pigeon"):
        assert re.search(rf" {re.escape(path)}$", listing, re.M), path
    assert all(" root/root " in line for line in listing.splitlines())
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "--extract", package, root], check=True)
    control = tmp_path / "control"
    subprocess.run(["dpkg-deb", "--control", package, control], check=True)
    assert (control / "conffiles").read_text() == "/etc/pigeon/pigeon.conf\n"

    unit = (root / "lib/systemd/system/pigeon.service").read_text()
    settings = [line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#")]
    setting = dict(settings)
    assert (setting["User"], setting["ProtectSystem"], setting["StateDirectory"]) == ("pigeon", "strict", "pigeon")
    assert setting["ExecStart"] == "/usr/sbin/pigeon --state /var/lib/pigeon --config /etc/pigeon/pigeon.conf"
    assert (root / "usr/lib/sysusers.d/pigeon.conf").read_text().splitlines()[-1].startswith("u pigeon ")
    # systemd reads the unit, and rates its exposure (0 to 10) at most 2.5.
    security = subprocess.run(["systemd-analyze", "security", "--offline=true", f"--root={root}", "--threshold=25",
                               "pigeon.service"], capture_output=True, text=True, timeout=60)
    assert security.returncode == 0, security.stdout + security.stderr
    assert re.search(r"Overall exposure level for pigeon.service: [0-2]\.\d", security.stdout)

    # ExecStart's command line with the program and configuration from the
    # package; /var/lib/pigeon is the namespace's own tmpfs.
    argv = setting["ExecStart"].split()
    argv[0] = launch(os.path.join(root, "usr/sbin/pigeon"))
    argv[argv.index("--config") + 1] = str(root / "etc/pigeon/pigeon.conf")
    checks = relay_checks(str(root), "", f"-C {root}/etc/pigeon/pigeon.conf --state /var/lib/pigeon") + "ls -l /var/lib/pigeon/spool.img\n"
    result = run_in_namespace(f"cd {tmp_path}\n" + RUN_RELAY.format(command=" ".join(argv), checks=checks))
    output = result.stdout
    assert result.returncode == 0, output + result.stderr
    assert "pigeon: smtp listening on 127.0.0.1:25\n" in output and "pigeon: pop3s listening on 127.0.0.1:995\n" in output
    assert "pigeon: imaps listening on 127.0.0.1:993\n" in output
    assert "sendmail=0\n" in output and "mailq=0\n" in output and "status=0\n" in output, output
    assert "local socket: /var/lib/pigeon/pigeon.sock\n" in output
    assert " 67108864 " in output  # the configured spool_bytes
