"""Tiers: who gets what, and why. The one place with tier rules.

A user's tier comes from data only, in this order: an explicit grant to the user, a
platform entitlement (a Discord subscription), a grant to one of their roles, a grant
to the server, else free. Nothing the user says to the model can change it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from bot.config import PREMIUM_COMMANDS, Settings, TierSpec
from bot.locales import t
from bot.store import Store, TierGrant

Source = Literal["user grant", "entitlement", "role grant", "guild grant", "default"]
SubjectKind = Literal["user", "role", "guild"]
# The longest grant with an end (100 years): longer is a typo, or past what dates can hold.
MAX_GRANT_DAYS = 36_500


@dataclass(frozen=True)
class Tier:
    """A named tier and what it gives."""

    name: str
    spec: TierSpec

    @property
    def premium(self) -> bool:
        """Anything above free."""
        return self.spec.rank > 0

    def allows(self, command: str) -> bool:
        """Whether this tier unlocks a premium command."""
        return command in self.spec.commands


@dataclass(frozen=True)
class Subject:
    """Everything tier resolution may look at for one user, platform-neutral."""

    user_ref: str  # "discord:123", "whatsapp:33612345678" (no +), "local:ada"
    role_refs: tuple[str, ...] = ()  # "discord:<guild>:<role>"
    guild_ref: str | None = None  # "discord:<guild>"
    entitlement_skus: tuple[str, ...] = ()  # seen on the request itself (interactions)

    @property
    def member_ref(self) -> str | None:
        """The user within their server: what a server admin's grant is attached to, so
        one server's admins cannot grant premium everywhere."""
        return f"{self.guild_ref}/{self.user_ref}" if self.guild_ref else None


@dataclass(frozen=True)
class TierDecision:
    """A user's tier, the reason, and until when."""

    tier: Tier
    source: Source
    until: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class Admission:
    """Whether a message may be answered; when not, the reason and the words to say."""

    ok: bool
    reason: Literal["ok", "rate", "quota"] = "ok"
    message: str = ""
    day: str = ""


@dataclass
class Tiers:
    """Tier resolution, quotas and rate limits over the store."""

    settings: Settings
    store: Store
    _cache: dict[str, Tier] = field(default_factory=dict)

    def get(self, name: str) -> Tier:
        """The tier called `name` (free when unknown, e.g. after a config change)."""
        if name not in self._cache:
            spec = self.settings.tiers.get(name)
            self._cache[name] = Tier(name, spec) if spec else self.free
        return self._cache[name]

    @property
    def free(self) -> Tier:
        """The free tier."""
        return Tier("free", self.settings.tiers["free"])

    def ordered(self) -> list[Tier]:
        """All tiers, cheapest first."""
        return sorted((self.get(n) for n in self.settings.tiers), key=lambda t: t.spec.rank)

    def unlocking(self, command: str) -> Tier | None:
        """The cheapest tier that unlocks a premium command."""
        return next((tier for tier in self.ordered() if tier.allows(command)), None)

    async def resolve(self, subject: Subject) -> TierDecision:
        """What tier this user is on, and why."""
        store = self.store
        subjects = [subject.user_ref] + ([subject.member_ref] if subject.member_ref else [])
        grants = await store.active_grants("user", subjects)
        if grants:
            return self._decision(self._best(grants), "user grant")
        skus = set(subject.entitlement_skus)
        ends: dict[str, str | None] = {}
        for sku, end in await store.active_entitlements(subject.user_ref):
            skus.add(sku)
            ends[sku] = end
        entitled = [self.get(self.settings.sku_tiers[s]) for s in skus
                    if s in self.settings.sku_tiers]
        if entitled:
            best = max(entitled, key=lambda tier: tier.spec.rank)
            sku = next(s for s in skus if self.settings.sku_tiers.get(s) == best.name)
            return TierDecision(best, "entitlement", ends.get(sku), f"subscription {sku}")
        role_grants = await store.active_grants("role", list(subject.role_refs))
        if role_grants:
            return self._decision(self._best(role_grants), "role grant")
        if subject.guild_ref:
            guild_grants = await store.active_grants("guild", [subject.guild_ref])
            if guild_grants:
                return self._decision(guild_grants[0], "guild grant")
        return TierDecision(self.free, "default")

    def _best(self, grants: list[TierGrant]) -> TierGrant:
        return max(grants, key=lambda grant: self.get(grant.tier).spec.rank)

    def _decision(self, grant: TierGrant, source: Source) -> TierDecision:
        return TierDecision(self.get(grant.tier), source, grant.expires_at,
                            f"granted by {grant.granted_by}")

    # Quotas and flood control -----------------------------------------------------

    def today(self) -> str:
        """The quota day (UTC)."""
        return self.store.now().date().isoformat()

    def next_reset(self) -> datetime:
        """When daily quotas reset: the next 00:00 UTC."""
        now = self.store.now()
        return (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)

    async def admit(self, user_ref: str, tier: Tier, locale: str = "en", *,
                    quota: bool = True) -> Admission:
        """Count one message against the rate limit and (unless `quota` is False, as for
        a person in crisis) the daily quota."""
        now = self.store.now()
        window = self.settings.rate_limit_window_seconds
        window_start = int(now.timestamp()) // window * window
        day = self.today() if quota else ""  # no day: nothing to refund
        verdict = await self.store.count_message(
            user_ref, str(window_start), self.settings.rate_limit_messages, day or None,
            tier.spec.messages_per_day)
        if verdict == "rate":
            wait = window_start + window - int(now.timestamp())
            return Admission(False, "rate", t("rate_limited", locale, seconds=max(1, wait)))
        if verdict == "quota":
            reset = self.next_reset()
            upgrade = self._upgrade_hint(tier, locale)
            return Admission(False, "quota", t(
                "quota_reached", locale, limit=tier.spec.messages_per_day, tier=tier.name,
                reset=reset.strftime("%H:%M UTC"), hours=_hours_until(now, reset),
                upgrade=upgrade), day)
        return Admission(True, day=day)

    async def refund(self, admission: Admission, user_ref: str) -> None:
        """Give back a counted message that could not be answered."""
        if admission.ok and admission.day:
            await self.store.refund_quota(user_ref, admission.day)

    async def usage_today(self, user_ref: str) -> int:
        """Messages counted today."""
        return await self.store.usage(user_ref, self.today())

    def _upgrade_hint(self, tier: Tier, locale: str) -> str:
        better = [x for x in self.ordered() if x.spec.rank > tier.spec.rank]
        if not better:
            return t("upgrade_none", locale)
        return t("upgrade_hint", locale, tier=better[0].name,
                 limit=better[0].spec.messages_per_day)

    def gate_message(self, command: str, locale: str = "en") -> str:
        """What a locked premium command does and how to unlock it."""
        unlock = self.unlocking(command)
        return t("gate", locale, command=command, what=t(f"cmd_{command}", locale),
                 tier=unlock.name if unlock else "—")

    async def summary(self, subject: Subject) -> str:
        """The user's tier, why, usage today, and what each tier gives (plain text)."""
        decision = await self.resolve(subject)
        used = await self.usage_today(subject.user_ref)
        lines = [f"You are on the {decision.tier.name} tier ({decision.source}"
                 f"{', until ' + decision.until if decision.until else ''}). "
                 f"Today: {used}/{decision.tier.spec.messages_per_day} messages; "
                 f"resets at 00:00 UTC."]
        for tier in self.ordered():
            spec = tier.spec
            extras = "".join(f", /{c}" for c in spec.commands)
            lines.append(f"  {tier.name:<5} {spec.messages_per_day} messages/day, "
                         f"{spec.max_reply_tokens}-token answers, {spec.context_tokens} tokens "
                         f"of memory, {'ads' if spec.ads else 'no ads'}{extras}")
        lines.append("Premium is granted by an operator: causette premium grant "
                     f"{subject.user_ref} plus")
        return "\n".join(lines)

    # Grants -------------------------------------------------------------------------

    async def grant(self, kind: SubjectKind, subject: str, tier_name: str, *, by: str,
                    days: int | None = None, reason: str = "") -> TierGrant:
        """Grant a tier (optionally for `days`); the previous active grant is replaced."""
        if tier_name not in self.settings.tiers:
            raise ValueError(f"unknown tier {tier_name!r}; tiers: "
                             f"{', '.join(self.settings.tiers)}")
        if days is not None and not 0 < days <= MAX_GRANT_DAYS:
            raise ValueError(f"days must be a whole number from 1 to {MAX_GRANT_DAYS} "
                             "(100 years); none for a grant without end")
        expires = self.store.now() + timedelta(days=days) if days else None
        await self.store.grant_tier(kind, subject, tier_name, granted_by=by, reason=reason,
                                    expires_at=expires)
        grants = await self.store.active_grants(kind, [subject])
        return grants[0]

    async def revoke(self, kind: SubjectKind, subject: str, *, by: str, reason: str = "") -> int:
        """Revoke a subject's grant; returns how many were active."""
        return await self.store.revoke_tier(kind, subject, revoked_by=by, reason=reason)


def _hours_until(now: datetime, then: datetime) -> int:
    return max(1, round((then - now).total_seconds() / 3600))


__all__ = ["MAX_GRANT_DAYS", "PREMIUM_COMMANDS", "Admission", "Subject", "Tier", "TierDecision",
           "Tiers"]
