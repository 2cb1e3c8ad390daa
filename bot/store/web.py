"""The web console's own rows (sessions, failed logins) and the daily figures it shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Literal

from bot.store.base import iso
from bot.store.common import StoreBase, storable

WebRole = Literal["operator", "advertiser"]

# The speed figures read one small row per answer; past this many in the window, the
# newest are measured (a median needs no more), so a busy service's overview stays cheap.
SPEED_SAMPLE = 50_000


@dataclass(frozen=True)
class WebSession:
    """A console session that is open (neither expired nor revoked)."""

    role: WebRole
    advertiser_id: int | None
    csrf: str
    expires_at: str


@dataclass(frozen=True)
class DayFigures:
    """What the overview charts: one day of answers, users and refusals."""

    day: str
    answers: int
    failed: int
    refused: int
    active_users: int
    completion_tokens: int


@dataclass(frozen=True)
class DaySpeed:
    """How fast one day's complete answers were: their count, the median time from the
    answer's row being opened to its end, the median tokens per second, how long the
    user waited for the first token (median and 95th percentile, queue included), and
    the requests already waiting when an answer was submitted (median and most)."""

    day: str
    answers: int
    median_seconds: float | None
    tokens_per_second: float | None
    first_token_ms: float | None = None
    first_token_p95_ms: float | None = None
    queue_depth_median: float | None = None
    queue_depth_max: int | None = None


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _speeds(rows: list[tuple[object, ...]]) -> list[DaySpeed]:
    """Per day, from (created_at, updated_at, completion_tokens, first_token_ms,
    queue_depth) rows."""
    counts: dict[str, int] = {}
    seconds: dict[str, list[float]] = {}
    rates: dict[str, list[float]] = {}
    firsts: dict[str, list[float]] = {}
    depths: dict[str, list[int]] = {}
    for created, updated, tokens, first_ms, depth in rows:
        day = str(created)[:10]
        elapsed = (datetime.fromisoformat(str(updated))
                   - datetime.fromisoformat(str(created))).total_seconds()
        counts[day] = counts.get(day, 0) + 1
        seconds.setdefault(day, [])
        rates.setdefault(day, [])
        # Answers written before schema 10 have neither figure: not measured.
        if first_ms is not None:
            firsts.setdefault(day, []).append(float(str(first_ms)))
        if depth is not None:
            depths.setdefault(day, []).append(int(str(depth)))
        # An answer stored whole at once (a refusal's text, a crisis preface) took no
        # measurable time: counted, but it says nothing of the model's speed.
        if elapsed <= 0:
            continue
        seconds[day].append(elapsed)
        if tokens:
            rates[day].append(int(str(tokens)) / elapsed)
    return [DaySpeed(day, counts[day], median(seconds[day]) if seconds[day] else None,
                     median(rates[day]) if rates[day] else None,
                     median(firsts[day]) if day in firsts else None,
                     _p95(firsts[day]) if day in firsts else None,
                     median(depths[day]) if day in depths else None,
                     max(depths[day]) if day in depths else None)
            for day in sorted(seconds)]


class WebMixin(StoreBase):
    """Console sessions, the failed-login window, and figures per day."""

    async def create_web_session(self, id_hash: str, *, role: WebRole,
                                 advertiser_id: int | None, csrf: str, address: str,
                                 expires_at: datetime) -> None:
        """Record a session opened by a successful login."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO web_sessions (id_hash, role, advertiser_id, csrf, address, "
                "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (id_hash, role, advertiser_id, csrf, storable(address), self._now(),
                 iso(expires_at)))

    async def web_session(self, id_hash: str) -> WebSession | None:
        """The open session with this id hash (None when unknown, expired or revoked)."""
        row = await self._db.fetchrow(
            "SELECT role, advertiser_id, csrf, expires_at FROM web_sessions "
            "WHERE id_hash = ? AND revoked_at IS NULL AND expires_at > ?",
            (id_hash, self._now()))
        return WebSession(row[0], None if row[1] is None else int(row[1]), str(row[2]),
                          str(row[3])) if row else None

    async def revoke_web_session(self, id_hash: str) -> bool:
        """End one session (logging out)."""
        async with self._transaction() as db:
            return await db.execute(
                "UPDATE web_sessions SET revoked_at = ? WHERE id_hash = ? AND revoked_at IS NULL",
                (self._now(), id_hash)) == 1

    async def revoke_web_sessions(self, *, actor: str) -> int:
        """End every open session (operators' and advertisers'); audited."""
        async with self._transaction() as db:
            count = await db.execute(
                "UPDATE web_sessions SET revoked_at = ? WHERE revoked_at IS NULL "
                "AND expires_at > ?", (self._now(), self._now()))
            await self._audit(db, actor, "web sessions", "web console",
                              f"{count} session(s) revoked", "")
            return count

    async def claim_login_attempt(self, address: str, since: datetime, limit: int
                                  ) -> int | None:
        """Count a login attempt from `address` as failed before its token is checked,
        unless `limit` failures since `since` are there already (None then).

        Check and record are one step, under the address's lock: attempts that arrive
        together cannot all see the count below the limit. A login that succeeds takes
        its attempt back (`forgive_login_attempt`). Returns the attempt's id."""
        async with self._transaction() as db:
            await db.lock(f"login {address}")
            row = await db.fetchrow(
                "SELECT COUNT(*) FROM web_login_failures WHERE address = ? AND at >= ?",
                (storable(address), iso(since)))
            if row is not None and int(row[0]) >= limit:
                return None
            return await self._insert(
                db, "INSERT INTO web_login_failures (address, at) VALUES (?, ?)",
                (storable(address), self._now()))

    async def forgive_login_attempt(self, attempt_id: int) -> None:
        """A login succeeded: its attempt is no failure."""
        async with self._transaction() as db:
            await db.execute("DELETE FROM web_login_failures WHERE id = ?", (attempt_id,))

    async def login_failures(self, address: str, since: datetime) -> int:
        """Failed logins from `address` since `since`."""
        row = await self._db.fetchrow(
            "SELECT COUNT(*) FROM web_login_failures WHERE address = ? AND at >= ?",
            (storable(address), iso(since)))
        return int(row[0]) if row else 0

    async def forget_login_failures(self, before: datetime) -> int:
        """Drop failures older than the rate limit's window (nothing needs them)."""
        async with self._transaction() as db:
            return await db.execute("DELETE FROM web_login_failures WHERE at < ?",
                                    (iso(before),))

    async def record_audit(self, actor: str, action: str, subject: str, detail: str,
                           reason: str = "") -> None:
        """An audit entry for an action that changes nothing in the database (an export)."""
        async with self._transaction() as db:
            await self._audit(db, actor, action, subject, detail, reason)

    async def daily_figures(self, since_day: str) -> list[DayFigures]:
        """Per day since `since_day` (YYYY-MM-DD): answers, failures, refusals, users who
        wrote, tokens. Counts only: no text leaves the database here."""
        rows = await self._db.fetch(
            "SELECT substr(m.created_at, 1, 10) AS day, "
            "COUNT(*) FILTER (WHERE m.role = 'assistant' AND m.status = 'complete'), "
            "COUNT(*) FILTER (WHERE m.role = 'assistant' AND m.status = 'failed'), "
            "COUNT(*) FILTER (WHERE m.status IN ('refused', 'moderated')), "
            "COUNT(DISTINCT c.user_id) FILTER (WHERE m.role = 'user'), "
            "COALESCE(SUM(m.completion_tokens), 0) "
            "FROM messages m JOIN conversations c ON c.id = m.conversation_id "
            "WHERE m.created_at >= ? GROUP BY substr(m.created_at, 1, 10) ORDER BY day",
            (since_day,))
        return [DayFigures(str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]))
                for r in rows]

    async def answer_speeds(self, since_day: str) -> list[DaySpeed]:
        """Per day since `since_day`: complete answers, their median duration and tokens
        per second (completion tokens over updated_at - created_at of the turn), first
        token wait and queue depth (see `DaySpeed`).

        The durations are computed here, in Python, because the two dialects subtract
        ISO 8601 text timestamps differently; the statement is the same for both."""
        rows = await self._db.fetch(
            "SELECT created_at, updated_at, completion_tokens, first_token_ms, queue_depth "
            "FROM messages "
            "WHERE role = 'assistant' AND status = 'complete' AND created_at >= ? "
            "ORDER BY created_at DESC LIMIT ?", (since_day, SPEED_SAMPLE))
        return _speeds([tuple(row) for row in rows])
