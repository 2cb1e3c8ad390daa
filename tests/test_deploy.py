"""docs/deploy/causette.service: the systemd unit the README shows. Its keys are read
with configparser everywhere; `systemd-analyze verify` checks it where installed."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT, Settings

UNIT = PROJECT_ROOT / "docs" / "deploy" / "causette.service"
INSTALLED_AT = "/opt/causette"


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys as written
    parser.read_string(UNIT.read_text())
    return parser


def test_restarts_on_failure_which_the_supervisors_exit_is() -> None:
    service = unit()["Service"]
    # The engine supervisor exits 70 after its bounded restarts; a start-up error 2:
    # both non-zero, both restarted; a clean stop (0) is not.
    assert service["Restart"] == "on-failure"
    assert float(service["RestartSec"]) > 0
    for key in ("SuccessExitStatus", "RestartPreventExitStatus"):
        assert "70" not in service.get(key, "").split()
    start = unit()["Unit"]  # a crash loop ends instead of spinning forever
    assert int(start["StartLimitBurst"]) >= 1 and int(start["StartLimitIntervalSec"]) > 0


def test_runs_the_venvs_causette_as_a_dedicated_user_with_the_env_file() -> None:
    service = unit()["Service"]
    assert service["User"] == "causette" and service["Group"] == "causette"
    root = service["WorkingDirectory"]
    assert root == INSTALLED_AT
    assert service["ExecStart"] == f"{root}/.venv/bin/causette run"
    assert service["EnvironmentFile"].lstrip("-") == f"{root}/.env"


def test_hardening_leaves_only_the_data_folder_writable() -> None:
    service = unit()["Service"]
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["PrivateTmp"] == "yes"
    assert service["ProtectHome"] == "yes"
    # The default SQLite file (relative to WorkingDirectory) lies in the writable folder.
    database = Path(service["WorkingDirectory"]) / Settings.model_fields["database_path"].default
    writable = [Path(p.lstrip("-")) for p in service["ReadWritePaths"].split()]
    assert any(database.is_relative_to(folder) for folder in writable)
    assert "PrivateDevices" not in service  # it would hide the GPU from N_GPU_LAYERS


def test_installed_for_boot() -> None:
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed (the keys are checked above)")
def test_systemd_analyze_verify_accepts_it(tmp_path: Path) -> None:
    # verify insists that ExecStart exists: point the unit at this checkout's causette.
    causette = Path(sys.executable).parent / "causette"
    text = UNIT.read_text().replace(f"{INSTALLED_AT}/.venv/bin/causette", str(causette))
    copy = tmp_path / "causette.service"
    copy.write_text(text.replace(INSTALLED_AT, str(PROJECT_ROOT)))
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(copy)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "causette.service" not in done.stderr, done.stderr  # no warning about it either
