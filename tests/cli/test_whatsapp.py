"""`causette whatsapp retry` as an operator mistypes it, and user references as operators
type them (the answering itself: tests/test_whatsapp.py, through a real webhook)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def causette(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {key: value for key, value in os.environ.items()
            if not key.startswith(("WHATSAPP_", "DATABASE_"))}
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120,
                          env={**base, "DATABASE_PATH": str(tmp_path / "c.db"), **env})


def test_retry_says_what_it_needs(tmp_path: Path) -> None:
    no_token = causette(tmp_path, "whatsapp", "retry", "--all")
    assert no_token.returncode == 2
    assert "set WHATSAPP_ACCESS_TOKEN" in no_token.stderr and "send WhatsApp" in no_token.stderr
    for args in ([], ["wamid.1", "--all"]):
        unclear = causette(tmp_path, "whatsapp", "retry", *args, WHATSAPP_ACCESS_TOKEN="t")
        assert unclear.returncode == 2 and "or --all" in unclear.stderr
    webhook = causette(tmp_path, "whatsapp")
    assert webhook.returncode == 2 and "WHATSAPP_VERIFY_TOKEN" in webhook.stderr
    helped = causette(tmp_path, "whatsapp", "retry", "--help")
    assert helped.returncode == 0 and "--all" in helped.stdout


def test_a_whatsapp_number_is_granted_as_the_webhook_stores_it(tmp_path: Path) -> None:
    granted = causette(tmp_path, "premium", "grant", "whatsapp:+33612345678", "plus")
    assert granted.returncode == 0, granted.stderr
    assert granted.stdout.startswith("whatsapp:33612345678 is now on plus")
    # However it is typed, it is the same user.
    for typed in ("whatsapp:33612345678", "WhatsApp:+33 6 12 34 56 78"):
        shown = causette(tmp_path, "premium", "show", typed)
        assert shown.stdout.startswith("whatsapp:33612345678: plus (user grant"), shown.stderr
    national = causette(tmp_path, "premium", "grant", "whatsapp:0612345678", "plus")
    assert national.returncode == 2 and "international form" in national.stderr
