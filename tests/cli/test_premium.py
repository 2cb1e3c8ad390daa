"""`causette premium`, as an operator runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_premium_grant_list_show_revoke_audit_round_trip(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "DATABASE_PATH": str(tmp_path / "p.db")}

    def premium(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot", "premium", *args],
                              capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)

    assert "now on plus until" in premium("grant", "local:ada", "plus", "--days", "7",
                                          "--reason", "beta").stdout
    assert "now on pro" in premium("grant", "discord:123", "pro").stdout
    listed = premium("list").stdout
    assert "local:ada" in listed and "discord:123" in listed and "pro" in listed
    shown = premium("show", "local:ada").stdout
    assert "plus (user grant" in shown and "0/500 messages" in shown
    assert "free (default)" in premium("show", "local:bob").stdout
    assert "revoked 1 grant(s)" in premium("revoke", "local:ada", "--reason", "done").stdout
    assert "local:ada" not in premium("list").stdout
    audit = premium("audit").stdout.splitlines()
    assert "revoke" in audit[0] and "(done)" in audit[0] and "(beta)" in audit[-1]
    bad_tier = premium("grant", "local:ada", "gold")
    assert bad_tier.returncode == 2 and "unknown tier 'gold'" in bad_tier.stderr
    bad_user = premium("grant", "ada", "plus")
    assert bad_user.returncode == 2 and "local:<name>" in bad_user.stderr
