"""`causette doctor` as a person (or a script, with --json) runs it, and `./run.sh`
running it after a failed start."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli.doctor import line
from bot.config import PROJECT_ROOT, Settings
from bot.doctor import Check, Status

# Settings that a developer's shell might hold: each test states its own.
_OURS = set(Settings.model_fields) | {"database_url"}


def clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in _OURS}
    return {**env, **settings}


def doctor(*args: str, cwd: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "doctor", "--timeout", "3", *args],
                          capture_output=True, text=True, cwd=cwd, env=clean_env(**settings),
                          timeout=120)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_defaults_pass_with_json_for_scripts(tmp_path: Path, model_path: Path) -> None:
    done = doctor("--json", cwd=tmp_path, DATABASE_PATH=str(tmp_path / "causette.db"))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True
    assert [c["name"] for c in report["checks"]] == [
        "settings", "python", "llama-cpp", "gpu", "model", "model advice", "database",
        "backend", "discord", "whatsapp", "web", "ports"]
    for check in report["checks"]:
        assert set(check) == {"name", "status", "summary", "fix", "setting"}
        assert check["status"] in {"ok", "warn", "skip"}
        assert isinstance(check["summary"], str) and check["summary"]


def test_failures_exit_1_and_name_the_settings(tmp_path: Path) -> None:
    done = doctor(cwd=tmp_path, MODEL_PATH=str(tmp_path / "missing.gguf"),
                  DATABASE_URL=f"postgresql://causette:pw@127.0.0.1:{closed_port()}/causette",
                  DISCORD_TOKEN="Bot not-a-token")
    assert done.returncode == 1, done.stdout + done.stderr
    failing = [row for row in done.stdout.splitlines() if row.startswith("FAIL")]
    assert len(failing) == 3, done.stdout
    model, database, discord = failing
    assert model.split()[1] == "model" and "MODEL_PATH" in model
    assert database.split()[1] == "database" and "DATABASE_URL" in database
    assert ":pw@" not in database
    assert discord.split()[1] == "discord" and "DISCORD_TOKEN" in discord
    assert "not-a-token" not in done.stdout
    assert "3 failed" in done.stdout.splitlines()[-1]


def test_unreachable_llm_base_url_in_json(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    done = doctor("--json", cwd=tmp_path, LLM_BACKEND="openai", LLM_BASE_URL=url,
                  DATABASE_PATH=str(tmp_path / "causette.db"))
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["ok"] is False
    failed = [c for c in report["checks"] if c["status"] == "fail"]
    assert [(c["name"], c["setting"]) for c in failed] == [("backend", "LLM_BASE_URL")]


def test_an_invalid_setting_is_one_failing_line(tmp_path: Path) -> None:
    done = doctor(cwd=tmp_path, N_CTX="lots")
    assert done.returncode == 1
    assert done.stdout.startswith("FAIL  settings") and "N_CTX" in done.stdout


def test_the_line_format() -> None:
    assert line(Check("model", Status.FAIL, "not found", fix="run x", setting="MODEL_PATH")) \
        == "FAIL  model           not found -> fix: run x"
    assert line(Check("gpu", Status.OK, "CPU", fix="set N_GPU_LAYERS=-1")).endswith(
        "-> hint: set N_GPU_LAYERS=-1")
    # A fix already said in the summary is not repeated.
    assert line(Check("x", Status.FAIL, "gone; run y.", fix="run y")).endswith("run y.")


@pytest.mark.skipif(not (PROJECT_ROOT / ".venv" / "bin" / "causette").exists(),
                    reason="run.sh runs .venv/bin/causette, which ./setup.sh creates")
def test_run_sh_runs_the_doctor_when_the_start_fails(tmp_path: Path) -> None:
    done = subprocess.run([str(PROJECT_ROOT / "run.sh")], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=180,
                          env=clean_env(CAUSETTE_SKIP_SETUP="1",
                                        MODEL_PATH=str(tmp_path / "missing.gguf"),
                                        DATABASE_PATH=str(tmp_path / "causette.db")))
    assert done.returncode == 2, done.stderr  # the bot's own status, not the doctor's
    assert "checking the setup (causette doctor)" in done.stderr, done.stderr
    assert any(row.startswith("FAIL  model") and "MODEL_PATH" in row
               for row in done.stderr.splitlines()), done.stderr
