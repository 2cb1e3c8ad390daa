"""Premium: /premium status|grant|revoke|list|audit|guild, premium commands (/persona,
/summarize, /translate) behind one check, and Discord App Subscriptions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app import interaction_inbound, interaction_subject, send_ephemeral
from bot.locales import pick_locale, t
from bot.money.tiers import SubjectKind
from cogs.chat import InteractionSink

if TYPE_CHECKING:
    from bot.discord_app import CausetteBot

log = logging.getLogger(__name__)
T = TypeVar("T")


class PremiumRequired(app_commands.CheckFailure):
    """A free user tried a premium command; the message says what it does and how."""


def requires_premium(command: str) -> Callable[[T], T]:
    """The one gate for premium slash commands: a free user is told what the command
    does and how to unlock it (an ephemeral answer via the tree's error handler)."""

    async def predicate(interaction: discord.Interaction[Any]) -> bool:
        bot: CausetteBot = interaction.client  # type: ignore[assignment]
        refusal = await bot.runtime.assistant.gate(
            interaction_subject(interaction), command,
            pick_locale(interaction.locale, interaction.guild_locale))
        if refusal:
            raise PremiumRequired(refusal)
        return True

    return app_commands.check(predicate)


class PurchaseView(discord.ui.View):
    """Discord's own premium purchase buttons, one per configured SKU."""

    def __init__(self, sku_ids: list[int]) -> None:
        super().__init__(timeout=None)
        for sku_id in sku_ids:
            self.add_item(discord.ui.Button(style=discord.ButtonStyle.premium, sku_id=sku_id))


class PremiumCog(commands.Cog, name="Premium"):
    """Tiers on Discord."""

    premium = app_commands.Group(name="premium", description="Your Causette tier, and grants")
    persona = app_commands.Group(name="persona",
                                 description="A custom system prompt for your conversations")

    def __init__(self, bot: CausetteBot) -> None:
        self.bot = bot

    @property
    def tiers(self) -> Any:
        return self.bot.runtime.assistant.tiers

    # Status --------------------------------------------------------------------------

    @premium.command(name="status", description="Your tier, usage today, and what each tier gives")
    async def status(self, interaction: discord.Interaction[Any]) -> None:
        """The user's tier and how to get more."""
        locale = pick_locale(interaction.locale, interaction.guild_locale)
        subject = interaction_subject(interaction)
        decision = await self.tiers.resolve(subject)
        used = await self.tiers.usage_today(subject.user_ref)
        lines = [t("premium_status", locale, tier=decision.tier.name, source=decision.source,
                   used=used, limit=decision.tier.spec.messages_per_day)]
        if decision.until:
            lines.append(t("premium_until", locale, until=decision.until[:16].replace("T", " ")))
        for tier in self.tiers.ordered():
            spec = tier.spec
            extras = ", ".join(f"/{c}" for c in spec.commands) or "—"
            lines.append(t("tier_line", locale, tier=tier.name, messages=spec.messages_per_day,
                           reply=spec.max_reply_tokens, memory=spec.context_tokens,
                           ads=t("ads_yes" if spec.ads else "ads_no", locale), extras=extras))
        skus = [int(s) for s in self.bot.settings.sku_tiers]
        if skus:
            lines.append(t("premium_buy", locale))
            await send_ephemeral(interaction, "\n".join(lines), view=PurchaseView(skus))
        else:
            lines.append(t("premium_ask_admin", locale))
            await send_ephemeral(interaction, "\n".join(lines))

    # Admin grants --------------------------------------------------------------------

    async def _tier_name(self, interaction: discord.Interaction[Any], tier: str) -> str | None:
        if tier in self.bot.settings.tiers:
            return tier
        await send_ephemeral(interaction, t("unknown_tier", pick_locale(interaction.locale),
                                            tier=tier, tiers=", ".join(self.bot.settings.tiers)))
        return None

    async def _target(self, interaction: discord.Interaction[Any],
                      member: discord.Member | None, role: discord.Role | None
                      ) -> tuple[SubjectKind, str, str] | None:
        """(kind, subject, label) of a server-scoped grant; exactly one of member/role."""
        assert interaction.guild is not None
        if (member is None) == (role is None):
            await send_ephemeral(interaction, t("grant_pick_one", pick_locale(interaction.locale)))
            return None
        guild_ref = f"discord:{interaction.guild.id}"
        if member is not None:  # a member ref: the grant holds in this server only
            return "user", f"{guild_ref}/discord:{member.id}", member.mention
        assert role is not None
        return "role", f"{guild_ref}:{role.id}", role.mention

    @premium.command(name="grant", description="Give a member or a role a tier in this server")
    @app_commands.describe(tier="free, plus or pro", member="The member", role="The role",
                           days="How many days (empty: no end)", reason="Why, for the audit log")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def grant(self, interaction: discord.Interaction[Any], tier: str,
                    member: discord.Member | None = None, role: discord.Role | None = None,
                    days: app_commands.Range[int, 1, 3650] | None = None,
                    reason: str = "") -> None:
        """A server-scoped grant to a member or a role."""
        locale = pick_locale(interaction.locale, interaction.guild_locale)
        target = await self._target(interaction, member, role)
        name = await self._tier_name(interaction, tier) if target else None
        if target is None or name is None:
            return
        kind, subject, label = target
        grant = await self.tiers.grant(kind, subject, name, by=f"discord:{interaction.user.id}",
                                       days=days, reason=reason)
        until = grant.expires_at[:10] if grant.expires_at else "∞"
        await send_ephemeral(interaction, t("granted", locale, who=label, tier=name, until=until))

    @premium.command(name="revoke", description="Remove a member's or a role's grant here")
    @app_commands.describe(member="The member", role="The role", reason="Why, for the audit log")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def revoke(self, interaction: discord.Interaction[Any],
                     member: discord.Member | None = None, role: discord.Role | None = None,
                     reason: str = "") -> None:
        """Revoke a server-scoped grant."""
        locale = pick_locale(interaction.locale, interaction.guild_locale)
        target = await self._target(interaction, member, role)
        if target is None:
            return
        kind, subject, _label = target
        count = await self.tiers.revoke(kind, subject, by=f"discord:{interaction.user.id}",
                                        reason=reason)
        await send_ephemeral(interaction, t("revoked", locale, count=count))

    @premium.command(name="list", description="Active grants in this server")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def list_grants(self, interaction: discord.Interaction[Any]) -> None:
        """This server's active grants."""
        assert interaction.guild is not None
        locale = pick_locale(interaction.locale, interaction.guild_locale)
        grants = await self.bot.runtime.store.active_grants(
            prefix=f"discord:{interaction.guild.id}")
        if not grants:
            await send_ephemeral(interaction, t("no_grants", locale))
            return
        lines = []
        for g in grants:
            who = _mention(g.subject_kind, g.subject)
            lines.append(f"- {who}: **{g.tier}** until {(g.expires_at or '∞')[:10]}")
        await send_ephemeral(interaction, "\n".join(lines)[:2000])

    @premium.command(name="audit", description="Who changed tiers in this server, when and why")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def audit(self, interaction: discord.Interaction[Any]) -> None:
        """The server's tier audit log."""
        assert interaction.guild is not None
        entries = await self.bot.runtime.store.audit_log(
            limit=20, subject_contains=f"discord:{interaction.guild.id}")
        lines = [f"`{e.at[:16]}` {e.actor} {e.action} {e.subject}: {e.detail}"
                 + (f" ({e.reason})" if e.reason else "") for e in entries]
        await send_ephemeral(interaction, "\n".join(lines)[:2000] or t(
            "no_grants", pick_locale(interaction.locale)))

    @premium.command(name="guild", description="Bot owner: give this whole server a tier")
    @app_commands.describe(tier="free, plus or pro", days="How many days (empty: no end)")
    @app_commands.guild_only()
    async def guild_grant(self, interaction: discord.Interaction[Any], tier: str,
                          days: app_commands.Range[int, 1, 3650] | None = None) -> None:
        """A guild-wide grant, for the bot's owner only."""
        assert interaction.guild is not None
        locale = pick_locale(interaction.locale, interaction.guild_locale)
        if not await self.bot.is_owner(interaction.user):
            await send_ephemeral(interaction, t("owner_only", locale))
            return
        name = await self._tier_name(interaction, tier)
        if name is None:
            return
        await self.tiers.grant("guild", f"discord:{interaction.guild.id}", name,
                               by=f"discord:{interaction.user.id}", days=days)
        await send_ephemeral(interaction, t("granted", locale, who=interaction.guild.name,
                                            tier=name, until=f"{days} d" if days else "∞"))

    # Premium commands ----------------------------------------------------------------

    @persona.command(name="set", description="Set your persona: how Causette should act")
    @app_commands.describe(text="The persona, e.g. 'a patient maths teacher'")
    @requires_premium("persona")
    async def persona_set(self, interaction: discord.Interaction[Any],
                          text: app_commands.Range[str, 1, 1000]) -> None:
        """Set the user's persona."""
        await send_ephemeral(interaction, await self.bot.runtime.assistant.set_persona(
            interaction_inbound(interaction, ""), text))

    @persona.command(name="show", description="Show your persona")
    @requires_premium("persona")
    async def persona_show(self, interaction: discord.Interaction[Any]) -> None:
        """Show the user's persona."""
        await send_ephemeral(interaction, await self.bot.runtime.assistant.show_persona(
            interaction_inbound(interaction, "")))

    @persona.command(name="clear", description="Clear your persona")
    @requires_premium("persona")
    async def persona_clear(self, interaction: discord.Interaction[Any]) -> None:
        """Clear the user's persona."""
        await send_ephemeral(interaction, await self.bot.runtime.assistant.set_persona(
            interaction_inbound(interaction, ""), None))

    @app_commands.command(
        name="summarize",
        description="Summarise the channel's or your conversation's last messages")
    @app_commands.describe(scope="channel or conversation", count="How many messages")
    @requires_premium("summarize")
    async def summarize(self, interaction: discord.Interaction[Any],
                        scope: str = "conversation",
                        count: app_commands.Range[int, 1, 500] = 20) -> None:
        """A summary of recent messages, shown only to the user."""
        count = min(count, self.bot.settings.summarize_max_messages)
        await interaction.response.defer(ephemeral=True, thinking=True)
        inbound = interaction_inbound(interaction, "")
        if scope == "channel" and isinstance(interaction.channel, discord.abc.Messageable):
            lines = [f"{m.author.display_name}: {m.clean_content}"
                     async for m in interaction.channel.history(limit=count) if m.content]
            transcript = "\n".join(reversed(lines))
        else:
            transcript = await self.bot.runtime.assistant.transcript(inbound, count)
        reply = await self.bot.runtime.assistant.run_command(inbound, "summarize", transcript)
        await self._finish(interaction, reply)

    @app_commands.command(name="translate", description="Translate a text into a language")
    @app_commands.describe(text="The text to translate", language="Into which language")
    @requires_premium("translate")
    async def translate(self, interaction: discord.Interaction[Any],
                        text: app_commands.Range[str, 1, 4000],
                        language: app_commands.Range[str, 1, 40]) -> None:
        """A translation, shown only to the user."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        reply = await self.bot.runtime.assistant.run_command(
            interaction_inbound(interaction, ""), "translate", text, language=language)
        await self._finish(interaction, reply)

    async def _finish(self, interaction: discord.Interaction[Any], reply: Any) -> None:
        if reply.refusal:
            await interaction.followup.send(reply.refusal, ephemeral=True)
            return
        outcome = await reply.outcome()
        sink = InteractionSink(interaction)
        await sink.send((outcome.text.strip() or "…")[:2000], first=True)

    # Discord App Subscriptions --------------------------------------------------------

    async def _record(self, entitlement: discord.Entitlement, *, deleted: bool = False) -> None:
        if entitlement.user_id is None:
            log.info("guild entitlement %s ignored: tiers follow users", entitlement.id)
            return
        await self.bot.runtime.store.upsert_entitlement(
            str(entitlement.id), f"discord:{entitlement.user_id}", str(entitlement.sku_id),
            starts_at=entitlement.starts_at, ends_at=entitlement.ends_at,
            deleted=deleted or entitlement.deleted)

    @commands.Cog.listener()
    async def on_entitlement_create(self, entitlement: discord.Entitlement) -> None:
        """A purchase: the tier follows at once."""
        await self._record(entitlement)

    @commands.Cog.listener()
    async def on_entitlement_update(self, entitlement: discord.Entitlement) -> None:
        """A renewal or an end date."""
        await self._record(entitlement)

    @commands.Cog.listener()
    async def on_entitlement_delete(self, entitlement: discord.Entitlement) -> None:
        """A refund or removal."""
        await self._record(entitlement, deleted=True)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Catch up with entitlements that changed while the bot was offline."""
        if not self.bot.settings.sku_tiers:
            return
        try:
            async for entitlement in self.bot.entitlements(limit=None, exclude_ended=True):
                await self._record(entitlement)
        except discord.HTTPException as exc:
            log.warning("could not fetch entitlements: %s", exc)


def _mention(kind: str, subject: str) -> str:
    if kind == "user":
        return f"<@{subject.rsplit(':', 1)[-1]}>"
    if kind == "role":
        return f"<@&{subject.rsplit(':', 1)[-1]}>"
    return "server"


async def setup(bot: CausetteBot) -> None:
    """discord.py extension entry point."""
    await bot.add_cog(PremiumCog(bot))
