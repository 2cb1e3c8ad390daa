"""setup.sh's progress logic: the ticker that speaks while pip is quiet, and how it tells
a first build of llama-cpp-python (minutes) from a cached or installed one.

The helpers are sourced on their own (the block between `# BEGIN helpers` and
`# END helpers`), so nothing is installed here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT

SETUP = PROJECT_ROOT / "setup.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="setup.sh needs bash")


def helpers(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `script` in bash after sourcing setup.sh's helpers, from the project root."""
    source = f'source <(sed -n "/^# BEGIN helpers/,/^# END helpers/p" "{SETUP}")\n'
    return subprocess.run(["bash", "-c", source + script], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, env={**os.environ, **env}, timeout=60)


def test_ticker_speaks_while_a_quiet_command_runs() -> None:
    done = helpers("with_ticker 'building' sleep 1.2", CAUSETTE_TICK_SECONDS="0.2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(re.fullmatch(r"  \.\.\. still building, \d+ s", line) for line in lines)
    assert re.fullmatch(r"  done in \d+ s", lines[-1])


def test_ticker_keeps_the_commands_exit_status_and_stops() -> None:
    done = helpers("with_ticker 'failing' sh -c 'exit 3'; echo status=$?; sleep 0.5",
                   CAUSETTE_TICK_SECONDS="0.1")
    assert "status=3" in done.stdout
    # Stopped with the command: nothing printed during the half second after it.
    assert done.stdout.splitlines()[-1] == "status=3"
    assert "done in" not in done.stdout


def test_pin_is_pyprojects() -> None:
    pyproject = (PROJECT_ROOT / "pyproject.toml").read_text()
    pinned = re.search(r'"llama-cpp-python==([\d.]+)"', pyproject)
    assert pinned
    assert helpers("llama_pin").stdout.strip() == pinned.group(1)


def test_an_installed_llama_cpp_is_not_built_again() -> None:
    done = helpers(f'llama_state "{sys.executable}" "$(llama_pin)"')
    assert done.stdout.strip() == "installed"


def test_a_cached_wheel_is_told_apart_from_a_source_build(tmp_path: Path) -> None:
    # A version nobody installed: pip's wheel cache decides.
    cache = tmp_path / "pip-cache"
    wheel_dir = cache / "wheels" / "ab" / "cd"
    wheel_dir.mkdir(parents=True)
    (wheel_dir / "llama_cpp_python-0.0.1-py3-none-linux_x86_64.whl").touch()
    state = f'llama_state "{sys.executable}" 0.0.1'
    assert helpers(state, PIP_CACHE_DIR=str(cache)).stdout.strip() == "cached"
    empty = tmp_path / "empty-cache"
    assert helpers(state, PIP_CACHE_DIR=str(empty)).stdout.strip() == "build"
    assert helpers(f'llama_state "{tmp_path}/no-python" 0.0.1').stdout.strip() == "build"


def test_the_build_notice_says_how_long_and_why() -> None:
    notice = helpers("build_notice 0.3.36").stdout
    assert notice.count("\n") == 1  # one line
    for part in ("llama-cpp-python 0.3.36 from source", "5.5 min on 2 cores",
                 "wheel cache"):
        assert part in notice
