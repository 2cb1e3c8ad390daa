"""`causette model info` and `causette model fetch`, as a person runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def test_model_info_prints_the_essentials(model_path: Path, tmp_path: Path) -> None:
    done = run("model", "info", str(model_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for expected in ("architecture    llama", "Q4_1", "8,192 tokens", "93.8 MiB",
                     "GGUF metadata (tokenizer.chat_template)"):
        assert expected in done.stdout


def test_model_info_on_a_truncated_file(model_path: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(model_path.read_bytes()[:5_000_000])
    done = run("model", "info", str(cut), cwd=tmp_path)
    assert done.returncode == 2
    assert "truncated" in done.stderr and "MODEL_PATH" in done.stderr


def test_model_fetch_keeps_a_verified_file(model_path: Path, tmp_path: Path) -> None:
    done = run("model", "fetch", "--path", str(model_path), cwd=tmp_path)
    assert done.returncode == 0
    assert "checksum ok" in done.stdout
