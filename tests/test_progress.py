"""Progress bars (issue 17 item 8): drawn at a terminal, never in pipes or with --json."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading

import pytest

CONTROL = ("\x1b", "\r")  # ANSI escapes and carriage returns a progress bar draws with
CODE = "import sys\nfrom materiel.cli import main\nsys.argv[0] = 'materiel'\nmain()\n"


def _materiel(*args: str, stderr_tty: bool = False) -> tuple[str, str]:
    """stdout and stderr of one command; stderr on a pseudo-terminal when asked."""
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100"}
    argv = [sys.executable, "-c", CODE, *args]
    if not stderr_tty:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout, proc.stderr
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:  # keep reading so that the terminal's buffer never blocks the child
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=slave, timeout=300, env=env)
    os.close(slave)
    reader.join(timeout=10)
    os.close(master)
    assert proc.returncode == 0
    return proc.stdout.decode(), b"".join(chunks).decode(errors="replace")


@pytest.mark.parametrize(
    "args",
    [
        ("run", "status-quo", "--compare", "action-plan"),
        ("run", "status-quo", "--json"),
        ("mc", "status-quo", "-n", "4"),
    ],
)
def test_piped_output_has_no_progress_bar(args: tuple[str, ...]) -> None:
    out, err = _materiel(*args)
    for text in (out, err):
        assert not any(c in text for c in CONTROL), repr(text[:300])
    assert out.strip()


def test_a_terminal_sees_the_progress_bar_and_stdout_stays_clean() -> None:
    out, err = _materiel("run", "status-quo", "--compare", "action-plan", stderr_tty=True)
    assert "Comparison:" in out and not any(c in out for c in CONTROL)
    assert "simulating" in err and "\x1b" in err  # drawn on the terminal, then cleared
