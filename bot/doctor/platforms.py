"""Discord's token and intent, WhatsApp's settings, and the ports to listen on."""

from __future__ import annotations

import base64
import binascii
import errno
import re
import socket

import aiohttp

from bot.config import Settings
from bot.doctor.backend import _reason
from bot.doctor.results import (
    DISCORD_API,
    MESSAGE_CONTENT_FLAGS,
    NETWORK_TIMEOUT_S,
    TOKEN_FIX,
    Check,
    Status,
)


def token_problem(token: str) -> str | None:
    """What is wrong with the shape of a Discord bot token, or None when it looks right.

    A bot token is three base64url parts joined by dots, the first being the bot's user
    id; the usual mistakes are pasting the application id, the OAuth2 client secret, the
    'Bot ' prefix or quotes with it."""
    if token != token.strip() or any(c.isspace() for c in token):
        if token.strip().startswith("Bot "):
            return "it starts with 'Bot ': give the token alone"
        return "it has spaces or line breaks in it"
    if token[:1] in "\"'" and token[-1:] == token[:1]:
        return "it is wrapped in quotes"
    if token.isdigit():
        return "it is a number: that is the application (client) id, not the bot token"
    if "." not in token and re.fullmatch(r"[A-Za-z0-9_-]{32}", token):
        return "it looks like the OAuth2 client secret, not the bot token"
    if not re.fullmatch(r"[A-Za-z0-9_-]{17,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{20,}", token):
        return "it is not a bot token (three parts separated by dots)"
    if token_bot_id(token) is None:
        return "its first part is not a bot's id: the token is cut or altered"
    return None


def token_bot_id(token: str) -> str | None:
    """The bot's user id that a token's first part encodes, or None."""
    first = token.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return decoded if decoded.isdigit() else None


async def check_discord(settings: Settings, wait_s: float = NETWORK_TIMEOUT_S,
                        api: str = DISCORD_API) -> list[Check]:
    """The token's shape; where Discord answers, whose it is and the Message Content
    intent. Not reaching Discord is a warning: the network may be down just here."""
    if settings.discord_token is None:
        return [Check("discord", Status.SKIP,
                      "DISCORD_TOKEN not set: `causette run` opens the terminal chat")]
    token = settings.discord_token.get_secret_value()
    problem = token_problem(token)
    if problem is not None:  # the token itself is never shown, not even in part
        return [Check("discord", Status.FAIL, f"DISCORD_TOKEN is malformed: {problem}",
                      fix=TOKEN_FIX, setting="DISCORD_TOKEN")]
    bot_id = token_bot_id(token)
    headers = {"Authorization": f"Bot {token}",
               "User-Agent": "DiscordBot (https://github.com/causette, 0.1) causette-doctor"}
    try:
        async with aiohttp.ClientSession(
                headers=headers, timeout=aiohttp.ClientTimeout(total=wait_s)) as session:
            async with session.get(f"{api}/users/@me") as response:
                if response.status == 401:
                    return [Check("discord", Status.FAIL,
                                  f"Discord refused DISCORD_TOKEN (bot id {bot_id}): it was "
                                  "reset or revoked", fix=TOKEN_FIX, setting="DISCORD_TOKEN")]
                if response.status != 200:
                    return [Check("discord", Status.WARN,
                                  f"token well-formed (bot id {bot_id}); Discord answered "
                                  f"HTTP {response.status}, so it was not checked",
                                  fix="run `causette doctor` again later")]
                user = await response.json(content_type=None)
            async with session.get(f"{api}/applications/@me") as response:
                app = await response.json(content_type=None) if response.status == 200 else None
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return [Check("discord", Status.WARN,
                      f"token well-formed (bot id {bot_id}); could not reach Discord "
                      f"({_reason(exc, wait_s)}), so neither the token nor the Message "
                      "Content intent was checked",
                      fix="run `causette doctor` where discord.com is reachable")]
    user = user if isinstance(user, dict) else {}
    who = f"{user.get('username', '?')} (id {user.get('id', bot_id)})"
    checks = [Check("discord", Status.OK, f"DISCORD_TOKEN is the bot {who}")]
    if not isinstance(app, dict) or not isinstance(app.get("flags"), int):
        checks.append(Check("discord intent", Status.WARN,
                            "could not read the application's flags: Message Content intent "
                            "not checked", fix="check it in the Developer Portal (Bot > "
                            "Privileged Gateway Intents)"))
    elif app["flags"] & MESSAGE_CONTENT_FLAGS:
        checks.append(Check("discord intent", Status.OK, "Message Content intent on"))
    else:
        checks.append(Check("discord intent", Status.FAIL,
                            "the Message Content intent is off: Discord refuses the bot's "
                            "connection, which asks for it",
                            fix="turn on Message Content Intent in the Developer Portal "
                                "(your application > Bot > Privileged Gateway Intents)"))
    return checks


# WhatsApp and ports ------------------------------------------------------------------------

WHATSAPP_SETTINGS = ("whatsapp_verify_token", "whatsapp_app_secret", "whatsapp_access_token")


def check_whatsapp(settings: Settings) -> Check:
    """The WhatsApp settings: all three, or none."""
    from bot.whatsapp import missing_settings

    missing = missing_settings(settings)
    if len(missing) == len(WHATSAPP_SETTINGS):
        return Check("whatsapp", Status.SKIP, "not configured (`causette whatsapp` needs "
                     "WHATSAPP_VERIFY_TOKEN, WHATSAPP_APP_SECRET and WHATSAPP_ACCESS_TOKEN)")
    if missing:
        return Check("whatsapp", Status.FAIL, f"incomplete: {', '.join(missing)} not set",
                     fix="set them from your Meta app (WhatsApp > Configuration), or unset "
                         "all three to leave WhatsApp off", setting=missing[0])
    return Check("whatsapp", Status.OK,
                 f"configured: webhook http://{settings.whatsapp_host}:"
                 f"{settings.whatsapp_port}/webhook, Graph API {settings.whatsapp_graph_url}")


def port_problem(host: str, port: int) -> tuple[str, bool] | None:
    """Why a server could not listen on host:port, and whether the host is to blame;
    None when it can."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as exc:
        return f"{host} is not a usable address ({exc})", True
    try:
        with socket.socket(family, kind, proto) as probe:
            # As aiohttp and prometheus_client do: a port in TIME_WAIT is free to them.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return (f"{host}:{port} is taken (by another program, or Causette already "
                    "running)"), False
        if exc.errno == errno.EACCES:
            return f"{host}:{port} needs root (a port below 1024)", False
        if exc.errno == errno.EADDRNOTAVAIL:
            return f"{host} is not an address of this machine", True
        return f"cannot listen on {host}:{port} ({exc})", False
    return None


def check_ports(settings: Settings) -> list[Check]:
    """The ports Causette will listen on, free: the WhatsApp webhook (when configured),
    the metrics (when METRICS_PORT is set) and the web console (WEB_WITH_RUN=true)."""
    # (check name, port setting, host setting, host, port, what listens there)
    wanted: list[tuple[str, str, str, str, int, str]] = []
    if any(getattr(settings, name) is not None for name in WHATSAPP_SETTINGS):
        wanted.append(("port webhook", "WHATSAPP_PORT", "WHATSAPP_HOST",
                       settings.whatsapp_host, settings.whatsapp_port, "the WhatsApp webhook"))
    if settings.metrics_port:  # bot/metrics.py serves on 127.0.0.1 only
        wanted.append(("port metrics", "METRICS_PORT", "METRICS_PORT", "127.0.0.1",
                       settings.metrics_port, "Prometheus metrics"))
    if settings.web_with_run:
        wanted.append(("port web", "WEB_PORT", "WEB_HOST", settings.web_host,
                       settings.web_port, "the web console"))
    if not wanted:
        return [Check("ports", Status.SKIP, "nothing to listen on: WhatsApp not configured, "
                      "METRICS_PORT=0, WEB_WITH_RUN=false")]
    for index, (_, setting, _, _, port, _) in enumerate(wanted):
        earlier = next((w[1] for w in wanted[:index] if w[4] == port), None)
        if earlier is not None:
            return [Check("ports", Status.FAIL, f"{earlier} and {setting} are both {port}",
                          fix=f"give {setting} another port", setting=setting)]
    checks = []
    for name, port_setting, host_setting, host, port, what in wanted:
        found = port_problem(host, port)
        if found is None:
            checks.append(Check(name, Status.OK, f"{what}: {host}:{port} free"))
            continue
        problem, host_at_fault = found
        setting = host_setting if host_at_fault else port_setting
        fix = (f"set {setting} to an address of this machine (127.0.0.1, 0.0.0.0)"
               if host_at_fault else f"free the port, or set {setting} to another")
        checks.append(Check(name, Status.FAIL, f"{what}: {problem}", fix=fix,
                            setting=setting))
    return checks
