"""Load: many simulated users through the whole pipeline on the real model.

Users arrive spread over a window and each sends a few messages. Every accepted
message must end with a stored answer; every refused one must get the clear "busy"
refusal (the queue bound); no turn may be lost or duplicated; memory must stay flat.
"""

from __future__ import annotations

import asyncio
import gc
import random
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.config import load_settings
from bot.pipeline.assistant import Inbound
from bot.pipeline.runtime import open_runtime


def rss_mb() -> float:
    """Resident memory of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def run(users: int = 200, messages: int = 2, spread_s: float = 8.0,
              max_tokens: int = 8, queue_max: int = 16, seed: int = 1,
              kv_save_mb: int = 256) -> dict[str, Any]:
    """Drive the load; return the figures (and the invariants' counts)."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="causette-load-") as tmp:
        db = Path(tmp) / "load.db"
        settings = load_settings(database_path=db, max_reply_tokens=max_tokens,
                                 queue_max=queue_max, rate_limit_messages=1000,
                                 temperature=0.0, kv_save_mb=kv_save_mb)
        counts = {"sent": 0, "accepted": 0, "refused_busy": 0, "refused_other": 0,
                  "refused_explicit": 0, "incomplete": 0}
        async with open_runtime(settings) as runtime:
            assistant = runtime.assistant

            async def one(user: int, number: int) -> None:
                counts["sent"] += 1
                text = f"Message {number} from user {user}: say hello."
                reply = await assistant.handle(Inbound("local", f"load{user}", "load", text))
                if reply.refusal:
                    busy = reply.refusal_reason == "busy"
                    counts["refused_busy" if busy else "refused_other"] += 1
                    # Explicit: the user reads the "busy" sentence, and their turn is kept.
                    if busy and reply.refusal.startswith("I'm busy") and reply.user_message_id:
                        counts["refused_explicit"] += 1
                    return
                counts["accepted"] += 1
                if (await reply.outcome()).status != "complete":
                    counts["incomplete"] += 1

            async def person(user: int) -> None:
                await asyncio.sleep(rng.uniform(0, spread_s))
                for number in range(messages):
                    await one(user, number)
                    await asyncio.sleep(rng.uniform(0, 0.5))

            await asyncio.gather(*(one(10_000 + i, 0) for i in range(5)))  # warm-up
            gc.collect()
            rss_before = rss_mb()
            started = time.perf_counter()
            await asyncio.gather(*(person(i) for i in range(users)))
            elapsed = time.perf_counter() - started
            gc.collect()
            rss_after = rss_mb()
        conn = sqlite3.connect(db)
        user_turns = conn.execute("SELECT COUNT(*), COUNT(DISTINCT content) FROM messages "
                                  "WHERE role = 'user'").fetchone()
        answers = conn.execute("SELECT status, COUNT(*) FROM messages WHERE role = 'assistant' "
                               "GROUP BY status").fetchall()
        conn.close()
    stored_answers = dict(answers)
    # Refused-busy turns are stored too (nothing a user writes is lost).
    return {
        "users": users, "messages_sent": counts["sent"] - 5,
        "accepted": counts["accepted"] - 5, "refused_busy": counts["refused_busy"],
        "refused_other": counts["refused_other"], "incomplete": counts["incomplete"],
        "refused_explicit": counts["refused_explicit"],
        "answered_share": round((stored_answers.get("complete", 0) - 5)
                                / max(1, counts["accepted"] - 5), 3),
        "user_turns_stored": user_turns[0] - 5, "duplicated": user_turns[0] - user_turns[1],
        "answers_complete": stored_answers.get("complete", 0) - 5,
        "lost": (counts["sent"] - user_turns[0])
        + (counts["accepted"] - stored_answers.get("complete", 0)),
        "seconds": round(elapsed, 1),
        "answers_per_second": round((counts["accepted"] - 5) / elapsed, 2),
        "rss_before_mb": round(rss_before, 1), "rss_after_mb": round(rss_after, 1),
        "kv_save_mb": kv_save_mb,
    }
