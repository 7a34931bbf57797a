"""The relay makes no heap allocation after start-up (docs/architecture.md §4).

conftest.py runs every relay of every integration test under the interposed
allocator and fails the test on any allocation after start-up; this file makes
sure the guard is really in place and drives each service once through it."""
import os
import poplib

import pytest

from conftest import ALLOC_GUARD


@pytest.mark.skipif(not ALLOC_GUARD, reason="run through ctest, which builds the guard")
def test_guard_is_interposed_and_sees_no_allocation_after_startup(pigeon):
    pigeon.submit(b"Subject: guard\r\n\r\nno heap here\r\n")
    client = poplib.POP3_SSL("127.0.0.1", pigeon.ports["pop3s"], context=pigeon.tls_context(), timeout=30)
    client.user(pigeon.user)
    client.pass_(pigeon.password)
    assert client.stat()[0] == 1
    client.retr(1)
    client.dele(1)
    client.quit()
    pigeon.stop()
    report = pigeon.allocation_report()
    # start-up reads files and parses the configuration with the C library, so
    # the guard must have counted something before the relay's loop began.
    assert report and report[0].startswith("allocations before start-up: ")
    assert int(report[0].split(": ")[1]) > 0, report
    assert pigeon.allocations_after_startup() == []
