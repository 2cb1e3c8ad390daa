"""A bot process delivering reminders, for tests/reminders/test_restart.py.

`python -m tests.support.reminder_worker DB LOG OWNER UNTIL [create SECONDS]`: on DB (a
SQLite path or a PostgreSQL URL), optionally sets a reminder due in SECONDS for
local:ada (printing "created ID DUE"), then delivers the terminal's due reminders,
appending "OWNER<TAB>ID<TAB>TEXT" to LOG for each one sent, until the time UNTIL (ISO)
and prints "done".
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path

from bot.config import load_settings
from bot.money.tiers import Tiers
from bot.reminders import Reminders
from bot.store import Reminder, Store


async def main(db: str, log: str, owner: str, until: str, create: float | None) -> None:
    settings = load_settings(reminder_poll_seconds=0.1, reminder_lease_seconds=5,
                             reminder_late_seconds=1, database_path=Path(db))
    store = await (Store.connect(db) if db.startswith("postgresql") else Store.open(db))
    reminders = Reminders(settings, store, Tiers(settings, store))
    try:
        if create is not None:
            ada = await store.ensure_user("local", "ada")
            due = store.now() + timedelta(seconds=create)
            made = await store.add_reminder(ada, "local", "terminal", "call the bank", due,
                                            "UTC", "en", limit=5)
            assert made is not None
            print(f"created {made.id} {made.due_at}", flush=True)

        async def send(reminder: Reminder, text: str) -> None:
            line = f"{owner}\t{reminder.id}\t{text}\n".encode()
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

        end = datetime.fromisoformat(until)
        while store.now() < end:
            await reminders.deliver_due("local", owner, send)
            await asyncio.sleep(settings.reminder_poll_seconds)
        print("done", flush=True)
    finally:
        await store.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(args[0], args[1], args[2], args[3],
                     float(args[5]) if len(args) > 5 and args[4] == "create" else None))
