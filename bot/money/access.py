"""Where the bot may answer in a server: allow/block rules, decided by data.

Channels inherit: a thread is judged with its parent channel and that channel's
category, nearest first, so a rule on a category covers its channels and their threads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.store import GuildRule


def may_answer(rules: Iterable[GuildRule], *, user_id: str, role_ids: Iterable[str],
               channel_chain: Sequence[str]) -> bool:
    """True when the rules let the bot answer this member in this channel."""
    rules = list(rules)
    users = {r.target_id: r.mode for r in rules if r.kind == "user"}
    if users.get(user_id) == "block":
        return False
    channels = {r.target_id: r.mode for r in rules if r.kind == "channel"}
    for channel in channel_chain:  # nearest rule wins: a thread may allow in a blocked parent
        if channel in channels:
            if channels[channel] == "block":
                return False
            break
    else:
        if "allow" in channels.values():
            return False  # there is an allow-list and this channel is not on it
    if users.get(user_id) == "allow":
        return True
    roles = {r.target_id: r.mode for r in rules if r.kind == "role"}
    member_roles = set(role_ids)
    if any(roles.get(role) == "block" for role in member_roles):
        return False
    allowed_roles = {role for role, mode in roles.items() if mode == "allow"}
    return not allowed_roles or bool(allowed_roles & member_roles)
