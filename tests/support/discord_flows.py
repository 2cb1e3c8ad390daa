"""Drive discord.py without a network: dpytest for messages, and real Interaction
objects built from gateway payloads whose HTTP answers are recorded."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

import discord
import discord.ext.test as dpytest
from discord.ext.test import backend
from discord.webhook.async_ import AsyncWebhookAdapter, async_context

_ids = itertools.count(9_000_000_000_000_000)


def user_payload(user: discord.abc.User) -> dict[str, Any]:
    return {"id": str(user.id), "username": user.name, "discriminator": "0001",
            "avatar": None, "bot": user.bot}


def message_payload(channel_id: int, author: dict[str, Any], content: str,
                    flags: int = 0) -> dict[str, Any]:
    return {
        "id": str(next(_ids)), "channel_id": str(channel_id), "content": content,
        "author": author, "attachments": [], "embeds": [], "mentions": [],
        "mention_roles": [], "pinned": False, "mention_everyone": False, "tts": False,
        "timestamp": "2026-11-25T12:00:00+00:00", "edited_timestamp": None, "type": 0,
        "flags": flags, "components": [],
    }


@dataclass
class RecordingAdapter(AsyncWebhookAdapter):
    """Answers discord.py's interaction/webhook HTTP calls and records them."""

    bot_user: dict[str, Any] = field(default_factory=dict)
    channel_id: int = 0
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__()

    async def request(self, route: Any, session: Any = None, *, payload: Any = None,
                      multipart: Any = None, files: Any = None, **kwargs: Any) -> Any:
        body: dict[str, Any] = dict(payload or {})
        if multipart:
            import json

            for part in multipart:
                if part.get("name") == "payload_json":
                    body = json.loads(part["value"])
        self.calls.append((route.method, route.path, body))
        if route.path.endswith("/callback"):
            data = body.get("data") or {}
            return {"interaction": {"id": "1", "type": 2,
                                    "response_message_ephemeral": bool(
                                        (data.get("flags") or 0) & 64)}}
        if route.method == "POST":  # a follow-up message
            message = message_payload(self.channel_id, self.bot_user, body.get("content", ""),
                                      body.get("flags", 0))
            self.messages[message["id"]] = message
            return message
        if route.method == "PATCH":
            message_id = route.path.rsplit("/", 1)[-1]
            key = message_id if message_id in self.messages else next(iter(self.messages), "")
            message = self.messages.setdefault(
                key, message_payload(self.channel_id, self.bot_user, ""))
            message["content"] = body.get("content", message["content"])
            return message
        if route.method == "GET":
            return next(iter(self.messages.values()))
        return None

    def texts(self) -> list[str]:
        """Every content sent or edited, in order."""
        out = []
        for _method, _path, body in self.calls:
            data = body.get("data", body)
            if isinstance(data, dict) and data.get("content"):
                out.append(data["content"])
        return out

    def ephemeral_texts(self) -> list[str]:
        """Contents sent with the ephemeral flag."""
        out = []
        for _method, _path, body in self.calls:
            data = body.get("data", body)
            if isinstance(data, dict) and (data.get("flags") or 0) & 64 and data.get("content"):
                out.append(data["content"])
        return out


async def slash(bot: discord.Client, member: discord.Member | discord.User,
                channel: Any, name: str, options: list[dict[str, Any]] | None = None, *,
                permissions: discord.Permissions | None = None, locale: str = "en-US",
                resolved: dict[str, Any] | None = None, group: str | None = None
                ) -> RecordingAdapter:
    """Deliver a slash command as the gateway would, and run it to completion."""
    assert bot.user is not None
    adapter = RecordingAdapter(bot_user=user_payload(bot.user), channel_id=channel.id)
    token = async_context.set(adapter)
    try:
        command: dict[str, Any] = {"id": str(next(_ids)), "name": name, "type": 1,
                                   "options": options or []}
        if group is not None:
            command = {"id": command["id"], "name": group, "type": 1,
                       "options": [{"name": name, "type": 1, "options": options or []}]}
        if resolved:
            command["resolved"] = resolved
        data: dict[str, Any] = {
            "id": str(next(_ids)), "application_id": str(bot.user.id), "type": 2,
            "token": "interaction-token", "version": 1, "data": command,
            "channel_id": str(channel.id), "locale": locale, "attachment_size_limit": 8 << 20,
            "app_permissions": str(discord.Permissions.all().value), "entitlements": [],
        }
        guild = getattr(channel, "guild", None)
        if guild is not None:
            perms = permissions if permissions is not None else discord.Permissions.none()
            data.update({
                "guild_id": str(guild.id), "guild_locale": "en-US",
                "channel": {"id": str(channel.id), "type": 0, "name": channel.name,
                            "guild_id": str(guild.id)},
                "member": {"user": user_payload(member), "roles": [], "deaf": False,
                           "mute": False, "joined_at": "2026-01-01T00:00:00+00:00",
                           "permissions": str(perms.value), "flags": 0},
            })
        else:
            data.update({"channel": {"id": str(channel.id), "type": 1},
                         "user": user_payload(member)})
        bot._connection.parse_interaction_create(data)
        await dpytest.run_all_events()
        for task in asyncio.all_tasks():  # the tree runs each command in a task of its own
            if task.get_name() == "CommandTree-invoker" and not task.done():
                await task
    finally:
        async_context.reset(token)
    return adapter


async def click(bot: discord.Client, member: discord.Member, message: discord.Message,
                custom_id: str) -> RecordingAdapter:
    """Press a button of `message`, as the gateway delivers it."""
    from discord.ext.test import factories as facts

    assert bot.user is not None
    channel = message.channel
    adapter = RecordingAdapter(bot_user=user_payload(bot.user), channel_id=channel.id)
    token = async_context.set(adapter)
    try:
        data: dict[str, Any] = {
            "id": str(next(_ids)), "application_id": str(bot.user.id), "type": 3,
            "token": "component-token", "version": 1,
            "data": {"custom_id": custom_id, "component_type": 2},
            "message": facts.dict_from_message(message), "channel_id": str(channel.id),
            "guild_id": str(channel.guild.id), "locale": "en-US", "guild_locale": "en-US",
            "channel": {"id": str(channel.id), "type": 0, "name": channel.name,
                        "guild_id": str(channel.guild.id)},
            "member": {"user": user_payload(member), "roles": [], "deaf": False, "mute": False,
                       "joined_at": "2026-01-01T00:00:00+00:00", "permissions": "0",
                       "flags": 0},
            "attachment_size_limit": 8 << 20, "app_permissions": "0", "entitlements": [],
        }
        bot._connection.parse_interaction_create(data)
        await dpytest.run_all_events()
        for task in asyncio.all_tasks():  # views run each callback in a task of their own
            if task.get_name().startswith("discord-ui-view-dispatch") and not task.done():
                await task
    finally:
        async_context.reset(token)
    return adapter


async def reply_to(message: discord.Message, author: discord.Member, content: str) -> None:
    """A member replies to `message` (dpytest has no helper for references)."""
    from discord.ext.test import factories as facts

    channel = message.channel
    data = facts.make_message_dict(channel, author, content=content, guild_id=channel.guild.id,
                                   mentions=[], mention_roles=[], mention_channels=[])
    data["message_reference"] = {"message_id": str(message.id), "channel_id": str(channel.id),
                                 "guild_id": str(channel.guild.id)}
    data["referenced_message"] = facts.dict_from_message(message)
    data["type"] = 19
    backend.get_state().parse_message_create(data)
    await dpytest.run_all_events()


async def current(message: discord.Message) -> discord.Message:
    """The message as it is now (after edits)."""
    return await message.channel.fetch_message(message.id)
