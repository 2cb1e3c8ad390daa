"""`causette model info` and friends, as a person runs them."""

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
