"""The database: reachable, migrated, writable (a rolled-back write), with free disk."""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.doctor.results import DISK_FAIL_BYTES, DISK_WARN_BYTES, NETWORK_TIMEOUT_S, Check, Status
from bot.doctor.runtime import _gib


class _RolledBack(Exception):
    """Raised inside the probe's transaction so that its write is undone."""


async def _probe(driver: Any) -> int:
    """The schema version, read in a transaction that also writes (and is rolled back):
    what start-up's migration does first, without keeping anything."""
    from bot.store import iso, utc_now
    from bot.store.schema import SCHEMA_VERSION_TABLE

    version = 0
    try:
        async with driver.transaction() as db:
            await db.execute(SCHEMA_VERSION_TABLE[driver.dialect])
            row = await db.fetchrow("SELECT MAX(version) FROM schema_version")
            version = int(row[0]) if row and row[0] is not None else 0
            await db.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                             (-1, iso(utc_now())))
            raise _RolledBack
    except _RolledBack:
        pass
    return version


def _schema(version: int, where: str, setting: str) -> Check | str:
    """The schema version as words, or a failing check when it is newer than ours."""
    from bot.store import SCHEMA_VERSION

    if version > SCHEMA_VERSION:
        return Check("database", Status.FAIL,
                     f"{where} has schema version {version}, newer than this Causette's "
                     f"{SCHEMA_VERSION}", fix="upgrade Causette (git pull && ./setup.sh)",
                     setting=setting)
    if version < SCHEMA_VERSION:
        return f"schema version {version} of {SCHEMA_VERSION}, migrated at start-up"
    return f"schema version {version} (current)"


async def check_database(settings: Settings, wait_s: float = NETWORK_TIMEOUT_S) -> Check:
    """The database: reachable, its schema version, writable, free disk."""
    if settings.database_url is not None:
        return await _check_postgres(settings.database_url.get_secret_value(), wait_s)
    return await _check_sqlite(settings.database_path, wait_s)


@dataclass(frozen=True)
class _SqliteFile:
    """What the file system says about DATABASE_PATH."""

    problem: Check | None
    exists: bool
    free: int


def _sqlite_file(path: Path) -> _SqliteFile:
    setting = "DATABASE_PATH"
    if path.exists() and not path.is_file():
        return _SqliteFile(Check("database", Status.FAIL, f"{path} is not a file",
                                 fix="point DATABASE_PATH at a file (created if missing)",
                                 setting=setting), True, 0)
    folder = path.absolute().parent
    while not folder.exists():  # the folder is created at first start, under this one
        folder = folder.parent
    usage = shutil.disk_usage(folder)
    free = usage.free
    if usage.total == 0:  # /proc, /sys: files the kernel makes up, on no disk at all
        return _SqliteFile(Check("database", Status.FAIL,
                                 f"{folder} is a virtual file system (no disk behind it): "
                                 "a database cannot be kept there",
                                 fix="point DATABASE_PATH at a file on a real disk, such as "
                                     "data/causette.db", setting=setting), path.exists(), 0)
    if not path.exists() and not os.access(folder, os.W_OK | os.X_OK):
        return _SqliteFile(Check("database", Status.FAIL,
                                 f"{path} does not exist and {folder} is not writable to "
                                 "create it", fix="make the folder writable for this user, "
                                 "or change DATABASE_PATH", setting=setting), False, free)
    return _SqliteFile(None, path.exists(), free)


def _sqlite_fix(error: str) -> str:
    """What to do about a file SQLite could not open or write (the driver's own words
    say which it was: see `bot.store.sqlite.explain`)."""
    if "not a valid SQLite database" in error:
        return ("DATABASE_PATH names a file that is not a SQLite database: point it at "
                "Causette's database, or at a new file (created at start); restore a "
                "damaged one from a backup")
    if "locked" in error:
        return "stop the other process that holds it (another Causette?), then try again"
    if "disk is full" in error:
        return "free some disk space, or move DATABASE_PATH to a disk with room"
    return "make the file and its folder writable for this user, or point DATABASE_PATH elsewhere"


async def _check_sqlite(path: Path, wait_s: float) -> Check:
    from bot.store import StoreError
    from bot.store.sqlite import SqliteDriver

    setting = "DATABASE_PATH"
    found = await asyncio.to_thread(_sqlite_file, path)
    if found.problem is not None:
        return found.problem
    disk = f"{_gib(found.free)} free on its disk"
    if not found.exists:
        state = f"SQLite {path}: not created yet (it is, at first start); {disk}"
    else:
        try:
            driver = await SqliteDriver.open(path, busy_timeout_ms=int(wait_s * 1000))
            try:
                version = await _probe(driver)
            finally:
                await driver.close()
        except StoreError as exc:
            return Check("database", Status.FAIL, f"SQLite {path}: {exc}",
                         fix=_sqlite_fix(str(exc)), setting=setting)
        schema = _schema(version, str(path), setting)
        if isinstance(schema, Check):
            return schema
        state = f"SQLite {path}: {schema}, writable; {disk}"
    if found.free < DISK_FAIL_BYTES:
        return Check("database", Status.FAIL, state, fix="free some disk space, or move "
                     "DATABASE_PATH to a disk with room", setting=setting)
    if found.free < DISK_WARN_BYTES:
        return Check("database", Status.WARN, state, fix="free some disk space soon",
                     setting=setting)
    return Check("database", Status.OK, state)


async def _check_postgres(url: str, wait_s: float) -> Check:
    from bot.store import StoreError
    from bot.store.postgres import PostgresDriver, redact

    setting, where = "DATABASE_URL", redact(url)
    fix = ("check that PostgreSQL runs and is reachable at the host and port of "
           "DATABASE_URL, and its user, password and database name")
    try:
        driver = await asyncio.wait_for(
            PostgresDriver.open(url, pool_size=1, connect_timeout_s=wait_s), wait_s + 1)
    except StoreError as exc:  # its message names the database, without the password
        return Check("database", Status.FAIL, str(exc), fix=fix, setting=setting)
    except TimeoutError:
        return Check("database", Status.FAIL,
                     f"Database {where}: no answer in {wait_s:g} s", fix=fix, setting=setting)
    try:
        version = await asyncio.wait_for(_probe(driver), wait_s)
    except (StoreError, TimeoutError) as exc:
        return Check("database", Status.FAIL,
                     f"PostgreSQL {where}: reachable, but {exc or 'the probe timed out'}",
                     fix="grant this user CREATE and write rights on its schema, or point "
                         "DATABASE_URL at the primary", setting=setting)
    finally:
        await driver.close()
    schema = _schema(version, where, setting)
    if isinstance(schema, Check):
        return schema
    return Check("database", Status.OK,
                 f"PostgreSQL {where}: {schema}, writable; its free disk is the server's")
