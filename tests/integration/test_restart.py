"""Durability across a crash: what got a 250 survives kill -9, and what a
committed POP3 session deleted stays deleted (docs/architecture.md §5)."""
import poplib
import smtplib

from conftest import strip_received


def open_maildrop(relay):
    client = poplib.POP3_SSL("127.0.0.1", relay.ports["pop3s"], context=relay.tls_context(), timeout=30)
    client.user(relay.user)
    client.pass_(relay.password)
    return client


def retrieve_all(relay):
    client = open_maildrop(relay)
    count, _ = client.stat()
    messages = [b"\r\n".join(client.retr(n)[1]) + b"\r\n" for n in range(1, count + 1)]
    client.quit()
    return messages


def test_message_survives_kill_right_after_250(make_pigeon, tmp_path):
    state = str(tmp_path / "state")
    relay = make_pigeon(state=state)
    message = b"Subject: crash\r\n\r\nwritten before the power went\r\n"
    client = smtplib.SMTP("127.0.0.1", relay.ports["submission"], timeout=30)
    client.starttls(context=relay.tls_context())
    client.login(relay.user, relay.password)
    client.sendmail("s@example.org", ["user@localhost"], message)
    relay.kill_hard()  # the moment the 250 arrived: no QUIT, no clean shutdown
    client.close()

    restarted = make_pigeon(state=state)
    assert [strip_received(m) for m in retrieve_all(restarted)] == [message]


def test_many_messages_survive_kill_in_the_middle_of_a_session(make_pigeon, tmp_path):
    state = str(tmp_path / "state")
    relay = make_pigeon(state=state)
    sent = [b"Subject: n%d\r\n\r\nbody %d\r\n" % (n, n) for n in range(20)]
    client = smtplib.SMTP("127.0.0.1", relay.ports["submission"], timeout=30)
    client.starttls(context=relay.tls_context())
    client.login(relay.user, relay.password)
    for message in sent:
        client.sendmail("s@example.org", ["user@localhost"], message)
    relay.kill_hard()
    client.close()

    restarted = make_pigeon(state=state)
    assert [strip_received(m) for m in retrieve_all(restarted)] == sent


def test_dele_and_quit_is_not_undone_by_a_restart(make_pigeon, tmp_path):
    state = str(tmp_path / "state")
    relay = make_pigeon(state=state)
    for n in range(3):
        relay.submit(b"Subject: m%d\r\n\r\nbody\r\n" % n)
    client = open_maildrop(relay)
    _, before, _ = client.uidl()
    client.dele(1)
    client.dele(3)
    client.quit()  # the +OK to QUIT means the deletions are durable
    relay.kill_hard()

    restarted = make_pigeon(state=state)
    client = open_maildrop(restarted)
    _, after, _ = client.uidl()
    client.quit()
    assert [u.split()[1] for u in after] == [before[1].split()[1]]


def test_uidl_is_stable_across_restarts(make_pigeon, tmp_path):
    state = str(tmp_path / "state")
    relay = make_pigeon(state=state)
    relay.submit(b"Subject: stable\r\n\r\nbody\r\n")
    client = open_maildrop(relay)
    _, first, _ = client.uidl()
    client.quit()
    relay.stop()

    restarted = make_pigeon(state=state)
    client = open_maildrop(restarted)
    _, second, _ = client.uidl()
    client.quit()
    assert first == second
