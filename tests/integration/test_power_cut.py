"""Power cuts at chosen flash operations of the real binary (docs/architecture.md §5).

PIGEON_FLASH_CUT_AFTER=N lets N programs or erases complete and cuts the power
at the next one (torn with PIGEON_FLASH_TEAR=1): the relay exits at once with
status 86. Each cut runs on a copy of a prepared state folder; afterwards
tools/spool-inspect must find no corrupt message in the image, and the relay,
restarted on it without the cut, must serve every message it answered 250 to,
byte for byte, nothing else but the message in flight, keep every deletion it
answered +OK to QUIT for, and accept new mail.
"""
import json
import os
import poplib
import shutil
import smtplib
import subprocess

import pytest

from conftest import strip_received

POWER_CUT_STATUS = 86
SECTOR_BYTES = 64 * 1024  # boards/host/main.cpp
SPOOL_CONFIG = ["spool_bytes = 1048576"]
INSPECT = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "spool-inspect")
SESSION_MESSAGES = 20
DENSE_MARGIN = 3  # cut points swept past the second message's acceptance
SPREAD_CUTS = 6   # cut points spread over the rest of the session
MAX_DENSE_CUTS = 60  # a scenario that needs more has lost its way
FAILED_SESSION = (smtplib.SMTPException, OSError)


def message(number):
    """Message `number` of a session; they grow (to 40 KB) so that the
    session's later cuts fall into many-record bodies and the log crosses
    sector boundaries."""
    line = b"line %d of message %d, padding the body to some size\r\n"
    body = b"".join(line % (i, number) for i in range(2 + number * 40))
    return b"Subject: power cut %d\r\n\r\n" % number + body


@pytest.fixture
def prepared_state(make_pigeon, tmp_path):
    """prepared_state(messages) is a folder holding a relay's credentials,
    certificate and spool image with `messages` stored; copied per cut."""
    def prepare(messages=()):
        folder = str(tmp_path / f"prepared{len(messages)}")
        relay = make_pigeon(SPOOL_CONFIG, state=folder)
        assert send(relay, messages) == len(messages)
        relay.stop()
        return folder
    return prepare


def copy_state(prepared, folder):
    shutil.copytree(prepared, folder, ignore=shutil.ignore_patterns("stderr.log", "alloc.report"))
    return folder


def start_with_cut(make_pigeon, folder, cut_after, tear):
    """The relay with the cut armed, or None if the cut hit start-up."""
    env = {"PIGEON_FLASH_CUT_AFTER": str(cut_after), "PIGEON_FLASH_TEAR": "1" if tear else "0",
           "PIGEON_FLASH_SEED": str(cut_after + 1)}
    try:
        return make_pigeon(SPOOL_CONFIG, state=folder, extra_env=env)
    except RuntimeError:
        return None


def send(relay, messages):
    """Sends `messages` in one SMTP session until one fails; returns the
    number that got a 250."""
    accepted = 0
    try:
        with smtplib.SMTP("127.0.0.1", relay.ports["smtp"], timeout=30) as client:
            for text in messages:
                client.sendmail("sender@example.org", ["user@localhost"], text)
                accepted += 1
    except FAILED_SESSION:
        pass
    return accepted


def power_was_cut(relay, finished):
    """True when the relay exited for the cut; stops it otherwise (the cut
    point lay beyond what the scenario wrote). A scenario that `finished`
    wrote all it had to: its relay is given a moment only."""
    if relay is None:
        return True
    try:
        status = relay.process.wait(timeout=0.5 if finished else 10)
    except subprocess.TimeoutExpired:
        relay.kill_hard()
        return False
    relay.stop()
    assert status == POWER_CUT_STATUS, relay.log()
    return True


def inspect(folder, torn):
    """The live messages tools/spool-inspect finds; it must call none of them
    corrupt, and only a torn cut may leave unreadable records behind."""
    result = subprocess.run([INSPECT, os.path.join(folder, "spool.img"), "--sector-size", str(SECTOR_BYTES), "--json"],
                            capture_output=True, text=True, timeout=60)
    report = json.loads(result.stdout)
    assert all(m["deliverable"] for m in report["messages"]), report["messages"]
    torn_records = [p for p in report["problems"] if p.startswith("sector ")]
    assert report["problems"] == (torn_records if torn else []), report["problems"]
    return report["messages"]


def retrieve(relay, delete=()):
    """The maildrop's messages without the Received header, after deleting the
    given message numbers; QUIT must answer +OK."""
    client = poplib.POP3_SSL("127.0.0.1", relay.ports["pop3s"], context=relay.tls_context(), timeout=30)
    client.user(relay.user)
    client.pass_(relay.password)
    for number in delete:
        client.dele(number)
    count, _ = client.stat()
    texts = [strip_received(b"\r\n".join(client.retr(n)[1]) + b"\r\n")
             for n in range(1, count + len(delete) + 1) if n not in delete]
    client.quit()
    return texts


def check_recovery(make_pigeon, folder, must_have, may_have, live_in_image):
    """Restarts without the cut: exactly `must_have`, plus perhaps some of
    `may_have`, byte for byte; as many as the image showed; new mail works."""
    relay = make_pigeon(SPOOL_CONFIG, state=folder)
    found = retrieve(relay)
    assert all(text in found for text in must_have), "a message that got a 250 or survived is missing"
    assert all(text in must_have + may_have for text in found), "a message appeared that should not have"
    assert len(found) == len(set(found)) == len(live_in_image)
    fresh = b"Subject: after the cut\r\n\r\naccepted once the power came back\r\n"
    assert send(relay, [fresh]) == 1
    assert retrieve(relay) == found + [fresh]
    relay.stop()


def accept_with_cut(make_pigeon, prepared, folder, cut_after, tear):
    """One cut during a session of SESSION_MESSAGES; returns (cut, accepted)."""
    copy_state(prepared, folder)
    relay = start_with_cut(make_pigeon, folder, cut_after, tear)
    messages = [message(n) for n in range(SESSION_MESSAGES)]
    accepted = send(relay, messages) if relay else 0
    print(f"cut after {cut_after}: {accepted} accepted")
    if not power_was_cut(relay, accepted == len(messages)):
        return False, accepted
    live = inspect(folder, tear)
    check_recovery(make_pigeon, folder, messages[:accepted], messages[accepted:accepted + 1], live)
    return True, accepted


@pytest.mark.parametrize("tear", [False, True], ids=["clean", "torn"])
def test_accepted_messages_survive_a_power_cut(make_pigeon, prepared_state, tmp_path, tear):
    prepared = prepared_state()
    cuts, second_accepted_at = 0, None
    cut_after = 0
    # Every cut point up to a few past the second message's 250.
    while second_accepted_at is None or cut_after <= second_accepted_at + DENSE_MARGIN:
        assert cut_after < MAX_DENSE_CUTS, "no second message accepted"
        cut, accepted = accept_with_cut(make_pigeon, prepared, str(tmp_path / f"cut{cut_after}"), cut_after, tear)
        assert cut, "the session ended before cut point %d" % cut_after
        cuts += 1
        if accepted >= 2 and second_accepted_at is None:
            second_accepted_at = cut_after
        cut_after += 1
    # A handful spread over the rest of the session, doubling each time
    # (the last may lie past its end), where bodies take many records and
    # the log crosses sector boundaries.
    latest_accepted = 0
    for step in range(1, SPREAD_CUTS + 1):
        point = cut_after * 2 ** step + step
        cut, accepted = accept_with_cut(make_pigeon, prepared, str(tmp_path / f"cut{point}"), point, tear)
        cuts += cut
        latest_accepted = max(latest_accepted, accepted if cut else 0)
    assert latest_accepted > SESSION_MESSAGES // 2, "the spread cuts missed the session's second half"
    print(f"{'torn' if tear else 'clean'} cuts during acceptance: {cuts}")
    assert cuts >= cut_after + SPREAD_CUTS - 1, "more than the last spread cut lay past the session"


def delete_with_cut(make_pigeon, prepared, folder, cut_after, tear, stored):
    """DELE 1, DELE 3, QUIT with a cut; returns (cut, QUIT answered +OK)."""
    copy_state(prepared, folder)
    relay = start_with_cut(make_pigeon, folder, cut_after, tear)
    committed = False
    try:
        kept = retrieve(relay, delete=(1, 3)) if relay else None
        assert kept in (None, [stored[1]])
        committed = kept is not None
    except (poplib.error_proto, OSError):
        pass  # the cut ended the session
    print(f"cut after {cut_after}: committed {committed}")
    if not power_was_cut(relay, committed):
        return False, committed
    live = inspect(folder, tear)
    deleted = [stored[0], stored[2]]
    # A QUIT cut before its +OK may or may not have made its deletions durable.
    check_recovery(make_pigeon, folder, [stored[1]], [] if committed else deleted, live)
    return True, committed


@pytest.mark.parametrize("tear", [False, True], ids=["clean", "torn"])
def test_a_committed_deletion_survives_a_power_cut(make_pigeon, prepared_state, tmp_path, tear):
    stored = [b"Subject: stored %d\r\n\r\nbody %d\r\n" % (n, n) for n in range(3)]
    prepared = prepared_state(stored)
    cuts, cut_after, committed_at = 0, 0, None
    # Every cut point until the QUIT got its +OK, and one past it (no cut:
    # the relay is killed after the session instead).
    while committed_at is None or cut_after <= committed_at + 1:
        assert cut_after < MAX_DENSE_CUTS, "QUIT never answered +OK"
        cut, committed = delete_with_cut(make_pigeon, prepared, str(tmp_path / f"cut{cut_after}"), cut_after, tear,
                                         stored)
        cuts += cut
        if committed and committed_at is None:
            committed_at = cut_after
        cut_after += 1
    print(f"{'torn' if tear else 'clean'} cuts around POP3 DELE and QUIT: {cuts}")
    assert cuts >= 1
