"""The board's address: a DHCP lease by default (QEMU's user network serves
one), or a static address from its provisioning. QEMU forwards the host ports
to the first address its DHCP server leases, moved here off the usual
10.0.2.15, so a board that ignored the lease (or its static setting) could not
be reached."""
import smtplib

import pytest

LEASED = "10.0.2.21"
NETWORK_OPTIONS = f"dhcpstart={LEASED}"


def greets(board):
    with smtplib.SMTP("127.0.0.1", board.ports["smtp"], timeout=60) as client:
        return client.noop()[0] == 250


def test_boots_with_an_address_from_dhcp(make_board):
    board = make_board(network_options=NETWORK_OPTIONS)
    assert f"pigeon: address {LEASED} (DHCP)" in board.lines
    assert greets(board)


def test_boots_with_a_static_address_from_provisioning(make_board):
    config = f"network_address = {LEASED}/24\nnetwork_gateway = 10.0.2.2\nnetwork_dns = 10.0.2.3\n"
    board = make_board(config=config, network_options=NETWORK_OPTIONS)
    assert f"pigeon: address {LEASED} (static)" in board.lines
    assert greets(board)


@pytest.mark.parametrize("line", ["network_address = 10.0.2.300/24", "network_address = 10.0.2.21",
                                  "network_gateway = gateway"])
def test_a_bad_network_line_stops_the_board_with_its_reason(make_board, line):
    with pytest.raises(RuntimeError, match="provisioned configuration line 1: expected"):
        make_board(config=line + "\n")
