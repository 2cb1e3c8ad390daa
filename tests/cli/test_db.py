"""`causette db migrate|info|copy`, as an operator runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_db_migrate_info_and_copy_to_postgresql(tmp_path: Path, postgres_url: str) -> None:
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    sqlite_env = {**base, "DATABASE_PATH": str(tmp_path / "old.db")}
    postgres_env = {**base, "DATABASE_URL": postgres_url}

    def causette(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True,
                              text=True, cwd=tmp_path, env=env, timeout=60)

    missing = causette("db", "copy", "--to", postgres_url, env=sqlite_env)
    assert missing.returncode == 2 and "no such file to copy" in missing.stderr
    assert "now on pro" in causette("premium", "grant", "local:ada", "pro", env=sqlite_env).stdout
    migrated = causette("db", "migrate", env=sqlite_env)
    assert "0 migration(s) applied now" in migrated.stdout
    copied = causette("db", "copy", env={**sqlite_env, "DATABASE_URL": postgres_url})
    assert copied.returncode == 0, copied.stderr
    assert "row counts verified" in copied.stdout
    assert "tier_grants" in copied.stdout and "audit_log" in copied.stdout
    # From now on the bot reads PostgreSQL: the grant made on SQLite is there.
    assert "local:ada" in causette("premium", "list", env=postgres_env).stdout
    info = causette("db", "info", env=postgres_env).stdout
    assert "(postgresql)" in info and "check     ok" in info
    again = causette("db", "copy", "--to", postgres_url, env=sqlite_env)
    assert again.returncode == 2 and "not empty" in again.stderr
    wrong = causette("db", "migrate", env={**base, "DATABASE_URL": "mysql://x"})
    assert wrong.returncode == 2 and "must start with postgresql://" in wrong.stderr
