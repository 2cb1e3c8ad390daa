"""`causette run` (Discord), as a person runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_run_with_a_token_it_cannot_use_is_one_clear_line(tmp_path: Path) -> None:
    import os

    secret = "MTIz.not-a-real-token.abc"
    done = subprocess.run([sys.executable, "-m", "bot", "run"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120, input="",
                          env={**os.environ, "DISCORD_TOKEN": secret, "N_THREADS": "2",
                               "DATABASE_PATH": str(tmp_path / "d.db")})
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    # Offline: "Could not reach Discord"; online: "Discord rejected DISCORD_TOKEN".
    assert last.startswith("causette: ") and "Discord" in last
    assert "Traceback" not in done.stderr
    assert secret not in done.stderr
