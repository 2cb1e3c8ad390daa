"""`causette db`: migrate, describe, or copy the database (SQLite -> PostgreSQL)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from bot.cli.common import open_store
from bot.config import Settings, load_settings
from bot.store import StoreError


async def _db(args: argparse.Namespace, settings: Settings) -> int:
    from bot.store import SCHEMA_VERSION, Store

    if args.db_command == "copy":
        url = args.to or (settings.database_url.get_secret_value()
                          if settings.database_url else None)
        if not url:
            raise StoreError("Say where to copy: --to postgresql://... or DATABASE_URL.")
        path = Path(args.source) if args.source else settings.database_path
        if not path.is_file():
            raise StoreError(f"Database {path}: no such file to copy.")
        source = await Store.open(path)
        try:
            target = await Store.connect(url, pool_size=2)
            try:
                copied = await source.copy_to(target)
            finally:
                await target.close()
        finally:
            await source.close()
        for table, rows in copied.items():
            print(f"{table:<20} {rows:>9} rows")
        print(f"copied {sum(copied.values())} rows from {source.location} to "
              f"{target.location}; row counts verified")
        return 0
    async with open_store(settings) as store:
        if args.db_command == "migrate":
            print(f"{store.location}: schema version {await store.schema_version()} of "
                  f"{SCHEMA_VERSION} ({store.migrated_steps} migration(s) applied now)")
            return 0
        print(f"database  {store.location} ({store.dialect})")
        print(f"schema    version {await store.schema_version()}")
        print(f"check     {await store.integrity_check()}")
        for table, rows in (await store.table_counts()).items():
            print(f"{table:<20} {rows:>9} rows")
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    """Migrate, describe, or copy the database (SQLite -> PostgreSQL)."""
    return asyncio.run(_db(args, load_settings()))


def register(subs: argparse._SubParsersAction[Any]) -> None:
    """`causette db migrate|info|copy`."""
    db = subs.add_parser("db", help="the database: migrate, info, copy to PostgreSQL")
    db_subs = db.add_subparsers(dest="db_command", required=True)
    db_subs.add_parser("migrate", help="apply the schema migrations (DATABASE_URL or _PATH)")
    db_subs.add_parser("info", help="schema version, soundness check and rows per table")
    copy = db_subs.add_parser("copy", help="copy a SQLite database into an empty PostgreSQL")
    copy.add_argument("--to", metavar="URL",
                      help="postgresql://user:password@host:port/database "
                           "(default: DATABASE_URL, which keeps the password off the command line)")
    copy.add_argument("--from", dest="source", metavar="PATH",
                      help="the SQLite file (default: DATABASE_PATH)")
    db.set_defaults(func=cmd_db)
