"""Fixtures that boot pigeon's mps2-an385 image in QEMU (tools/qemu-board) and
drive it with the same real clients as the host integration tests."""
import importlib.machinery
import importlib.util
import os
import ssl
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BOARD_ELF = os.environ.get("PIGEON_BOARD_ELF", os.path.join(ROOT, "build/mps2-an385/boards/mps2-an385/pigeon.elf"))
# Every boot is bounded; the longest test keeps one board up well under this.
MAX_BOOT_S = 120
# The integration tier's smarthost helper (aiosmtpd + test CA) and byte compare.
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))


def load_tool(name):
    """A script of tools/ (no .py suffix) as a module."""
    loader = importlib.machinery.SourceFileLoader(name.replace("-", "_"), os.path.join(ROOT, "tools", name))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def load_integration_helpers():
    """tests/integration/conftest.py under another name, for its client helpers."""
    loader = importlib.machinery.SourceFileLoader("integration_helpers",
                                                  os.path.join(ROOT, "tests", "integration", "conftest.py"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


qemu_board = load_tool("qemu-board")
helpers = load_integration_helpers()
strip_received = helpers.strip_received
fetch_all = helpers.fetch_all


class Board(qemu_board.QemuBoard):
    """QemuBoard with what the integration helpers expect of a relay."""

    def tls_context(self):
        return ssl.create_default_context(cafile=self.cafile)

    def console(self):
        return "\n".join(self.lines)


@pytest.fixture
def make_board(tmp_path):
    """Factory: make_board(**QemuBoard arguments) boots a board on a flash image
    in tmp_path (the same image for every call unless `image` says otherwise);
    every board still running at teardown is stopped."""
    started = []

    def make(image=None, **kwargs):
        board = Board(BOARD_ELF, image or str(tmp_path / "psram.img"), max_run_s=MAX_BOOT_S, **kwargs)
        started.append(board)
        return board.start(timeout_s=60)

    yield make
    for board in started:
        board.kill()


@pytest.fixture
def board(make_board):
    return make_board()
