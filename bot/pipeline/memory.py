"""Memory (issue 16): what Causette keeps about a user, in the user's hands.

Facts are saved when the user says so ("remember that ...", /remember, /memory add) or,
with MEMORY_AUTO, when the model's suggestion parses; they are used in that user's own
prompts only (bot/pipeline/planning.py puts them in the system prompt as quoted data); the user
lists, forgets and clears them, turns memory off, or chats in temporary mode, where
nothing of the conversation is stored. `for_ads` is the one place that decides whether
ad matching may see memories.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

from bot.config import Settings
from bot.engine import ChatMessage, Engine, EngineError, SamplingParams
from bot.locales import t
from bot.pipeline.planning import clean_text
from bot.pipeline.prompts import MEMORY_SUGGEST_REQUEST, MEMORY_SUGGEST_SYSTEM
from bot.pipeline.replies import Inbound, Outcome
from bot.safety.crisis import crisis_opening, detect_crisis
from bot.safety.moderation import Moderation
from bot.safety.normalize import fold
from bot.store import Memory, MemorySettings, MemorySource, Store

log = logging.getLogger(__name__)

# "remember that ..." / "souviens-toi que ..." and their polite forms, at the start of the
# message or of one of its sentences (mid-sentence, "do you remember that film?" is a
# question, not a fact). The fact is the one sentence that follows, nothing after it.
EXPLICIT = re.compile(
    r"(?:^|[.!?\n]\s*)(?:(?:please|pls|hey|ok|okay|s'il te pla[iî]t|stp),?\s+)?"
    r"(?P<polite>(?:can|could|would|will) you\s+(?:please\s+)?)?(?:please\s+)?"
    r"(?:remember\s+that|n['’]oublie\s+pas\s+(?:que\s+|qu['’]\s*)|"
    r"(?:souviens|rappelle)[- ]toi\s+(?:que\s+|qu['’]\s*))"
    r"(?P<fact>[^.!?\n]+)(?P<end>[.!?]?)",
    re.IGNORECASE)

# A fact is about the user: it speaks in the first person ("remember that film?" does not).
FIRST_PERSON = re.compile(
    r"\b(?:i|i'm|i’m|im|i've|i'd|my|me|mine|myself|je|j['’]\S*|moi|mon|ma|mes|"
    r"m['’]\S*)(?=\W|$)", re.IGNORECASE)

# Chat-template control strings of the common families: a fact carrying one is refused,
# so a memory can never pose as a role or a turn, whichever backend renders the prompt.
CONTROL = re.compile(r"<\|[^|<>]{0,40}\|>|\[/?INST\]|<</?SYS>>|</?s>|<(?:start|end)_of_turn>",
                     re.IGNORECASE)

# The first line of a MEMORY_AUTO answer, when it saves something.
SUGGESTION = re.compile(r"FACT:\s*(?P<fact>.+)")

# Longest part of a message shown to the model when it is asked for a suggestion.
SUGGEST_MESSAGE_CHARS = 2000
SUGGEST_MAX_TOKENS = 64


@dataclass(frozen=True)
class Saved:
    """The result of a save: the memory (None when refused) and what to tell the user."""

    memory: Memory | None
    message: str


def explicit_fact(text: str) -> str | None:
    """The fact a message asks to remember, if it asks: the one statement about the user
    that follows the phrase, never a question about something else nor a request after it.
    """
    found = EXPLICIT.search(text)
    if found is None:
        return None
    fact = found.group("fact").strip()
    if found.group("end") == "?" and not found.group("polite"):
        return None  # "Remember that film with Tom Hanks?": a question, not a fact
    if not FIRST_PERSON.search(fact):
        return None
    return fact + (found.group("end") if found.group("end") == "." else "")


def same_fact(a: str, b: str) -> bool:
    """Two facts say the same thing (case, accents, punctuation and spaces aside)."""
    return _key(a) == _key(b)


def _key(fact: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", fold(fact)).split())


def normalized(fact: str) -> str:
    """A fact as stored: one line, control characters removed, spaces collapsed."""
    return " ".join(clean_text(fact).split())


def parse_suggestion(output: str, max_chars: int) -> str | None:
    """The fact of a MEMORY_AUTO answer, or None unless it parses to `FACT: <fact>`."""
    lines = [line.strip().strip("`").strip() for line in output.strip().splitlines()]
    first = next((line for line in lines if line), "")
    found = SUGGESTION.fullmatch(first)
    if found is None:
        return None
    fact = normalized(found.group("fact"))
    if CONTROL.search(fact):
        return None
    fact = fact.strip("<>").strip()  # the format's placeholder brackets, copied literally
    if not fact or len(fact) > max_chars or fact.upper() == "NONE":
        return None
    return fact


class Memories:
    """Saving, listing, forgetting and using a user's memories; the user's switches."""

    def __init__(self, settings: Settings, store: Store, engine: Engine) -> None:
        self.settings = settings
        self.store = store
        self.engine = engine
        # The pipeline's moderation, so a fact passes the same gate as a message.
        self.moderation = Moderation.from_settings(settings)

    async def user_id(self, inbound: Inbound) -> int:
        """The internal id of the user who sent `inbound` (memories are kept by it)."""
        return await self.store.ensure_user(inbound.platform, inbound.user)

    # Saving -------------------------------------------------------------------------

    def refusal(self, fact: str, locale: str) -> str | None:
        """Why `fact` (normalized) cannot be saved, or None when it can."""
        if not fact:
            return t("memory_empty", locale)
        if len(fact) > self.settings.memory_fact_chars:
            return t("memory_too_long", locale, size=len(fact),
                     limit=self.settings.memory_fact_chars)
        if CONTROL.search(fact):
            return t("memory_control", locale)
        return None

    async def save(self, user_id: int, fact: str, source: MemorySource, saved_in: str,
                   locale: str = "en") -> Saved:
        """Save a fact for this user (and only this user), or say clearly why not.

        Every path goes through here (/remember, /memory add, "remember that", MEMORY_AUTO),
        so every path passes the same gates as a message: nothing in temporary chat; a
        crisis gets the crisis answer and nothing is saved; a fact that input moderation
        refuses is refused with its category; a fact already saved is not saved twice."""
        state = await self.store.memory_settings(user_id)
        if not state.enabled:
            return Saved(None, t("memory_is_off", locale))
        if state.temporary:
            return Saved(None, t("memory_temporary", locale))
        fact = normalized(fact)
        refusal = self.refusal(fact, locale) or await self._gate(fact, locale)
        if refusal:
            return Saved(None, refusal)
        for memory in await self.store.memories(user_id):
            if same_fact(memory.fact, fact):
                return Saved(None, t("memory_already", locale, fact=memory.fact))
        memory = await self.store.add_memory(user_id, fact, source, saved_in,
                                             self.settings.memory_max)
        if memory is None:
            return Saved(None, t("memory_full", locale, limit=self.settings.memory_max))
        return Saved(memory, t("memory_saved", locale, fact=fact))

    async def _gate(self, fact: str, locale: str) -> str | None:
        """The crisis answer, or the moderation refusal, for a fact; None when it passes."""
        crisis = detect_crisis(fact, locale)
        if crisis is not None:
            return crisis_opening(self.settings.crisis_resources, crisis)
        verdict = await self.moderation.check(fact, direction="input")
        if verdict.source == "unavailable":
            return t("moderation_unavailable", locale)
        hits = verdict.refused(self.moderation.refused_categories(None))
        return t("memory_refused", locale, categories=", ".join(hits)) if hits else None

    async def undo_hint(self, user_id: int, memory: Memory, locale: str = "en") -> str:
        """"Saved to memory: ..." with the typed command that undoes it."""
        numbers = [m.id for m in await self.store.memories(user_id)]
        number = numbers.index(memory.id) + 1 if memory.id in numbers else 0
        return t("memory_saved_undo", locale, fact=memory.fact, number=number)

    async def suggest(self, finisher: asyncio.Future[Outcome], user_id: int, message: str,
                      saved_in: str) -> Memory | None:
        """MEMORY_AUTO: once the answer is stored, ask the model, at the lowest priority,
        whether the message stated a durable fact; save it only if the output parses."""
        outcome = await asyncio.shield(finisher)
        if outcome.status != "complete":
            return None
        lowest = min(spec.priority for spec in self.settings.tiers.values()) - 1
        prompt = [ChatMessage("system", MEMORY_SUGGEST_SYSTEM),
                  ChatMessage("user", MEMORY_SUGGEST_REQUEST.format(
                      message=message[:SUGGEST_MESSAGE_CHARS]))]
        params = SamplingParams(max_tokens=SUGGEST_MAX_TOKENS, temperature=0.0,
                                top_p=1.0, seed=self.settings.seed)
        try:
            result = await self.engine.submit(prompt, params, lowest).result()
        except EngineError as exc:  # busy or restarting: a suggestion is never owed
            log.info("memory suggestion skipped: %s", exc)
            return None
        fact = parse_suggestion(result.text, self.settings.memory_fact_chars)
        if fact is None:
            return None
        saved = await self.save(user_id, fact, "auto", saved_in)
        return saved.memory

    # Using ----------------------------------------------------------------------------

    async def for_prompt(self, user_id: int, state: MemorySettings) -> list[str]:
        """The user's facts for their own prompt, newest first (none when off/temporary)."""
        if not state.enabled or state.temporary:
            return []
        return [m.fact for m in reversed(await self.store.memories(user_id))]

    async def for_ads(self, user_id: int) -> tuple[str, ...]:
        """What ad matching may see of the user's memories: nothing, unless they opted in
        to personalised ads (/ads personalize on) with memory on and temporary chat off.

        The only function that lets a memory reach ads; tests/test_memory.py checks the
        stored impressions either way."""
        state = await self.store.memory_settings(user_id)
        if not state.enabled or state.temporary or not await self.store.personalize(user_id):
            return ()
        return tuple(m.fact for m in reversed(await self.store.memories(user_id)))

    # The user's controls ------------------------------------------------------------

    async def listing(self, user_id: int, locale: str = "en") -> str:
        """The user's memories, numbered (oldest first), with when and where saved."""
        state = await self.store.memory_settings(user_id)
        memories = await self.store.memories(user_id)
        lines = [t("memory_off_note", locale)] if not state.enabled else []
        if state.temporary:
            lines.append(t("temporary_on", locale))
        if not memories:
            return "\n".join([*lines, t("memory_none", locale)])
        lines.append(t("memory_title", locale, count=len(memories),
                       limit=self.settings.memory_max))
        lines += [f"{n}. {m.fact} ({m.created_at[:10]}, {m.saved_in})"
                  for n, m in enumerate(memories, start=1)]
        return "\n".join(lines)

    async def forget_number(self, user_id: int, number: int, locale: str = "en") -> str:
        """Forget the memory shown as `number` in the listing."""
        memories = await self.store.memories(user_id)
        if not 1 <= number <= len(memories):
            return t("memory_no_such", locale, number=number, count=len(memories))
        return await self.forget_id(user_id, memories[number - 1].id, locale)

    async def forget_id(self, user_id: int, memory_id: int, locale: str = "en") -> str:
        """Forget one memory by id (buttons); someone else's id forgets nothing."""
        done = await self.store.forget_memory(user_id, memory_id)
        return t("memory_forgotten" if done else "memory_gone", locale)

    async def clear(self, user_id: int, locale: str = "en") -> str:
        """Forget every memory of the user."""
        return t("memory_cleared", locale, count=await self.store.clear_memories(user_id))

    async def set_enabled(self, user_id: int, on: bool, locale: str = "en") -> str:
        """/memory on|off: off means nothing is saved and nothing is used."""
        await self.store.set_memory_settings(user_id, enabled=on)
        return t("memory_on" if on else "memory_off", locale)

    async def set_temporary(self, user_id: int, on: bool, locale: str = "en") -> str:
        """/temporary on|off."""
        await self.store.set_memory_settings(user_id, temporary=on)
        return t("temporary_on" if on else "temporary_off", locale)

    async def command(self, inbound: Inbound) -> str | None:
        """Typed commands of the text surfaces (terminal, WhatsApp): /remember FACT,
        /memory [list|add FACT|forget N|clear|off|on], /temporary on|off. None when the
        message is none of them."""
        words = inbound.text.strip().split(maxsplit=1)
        name = words[0].lower() if words else ""
        rest = words[1].strip() if len(words) > 1 else ""
        lang = inbound.locale
        if name not in ("/remember", "/memory", "/temporary"):
            return None
        user_id = await self.user_id(inbound)
        action, _, argument = rest.partition(" ")
        action = action.lower()
        if name == "/remember" or action == "add":
            fact = rest if name == "/remember" else argument
            return (await self.save(user_id, fact, "explicit", inbound.conversation_key,
                                    lang)).message
        if name == "/temporary":
            if action not in ("on", "off"):
                return t("temporary_usage", lang)
            return await self.set_temporary(user_id, action == "on", lang)
        if action in ("", "list"):
            return await self.listing(user_id, lang)
        if action == "forget" and argument.strip().isdigit():
            return await self.forget_number(user_id, int(argument), lang)
        if action == "clear":
            return await self.clear(user_id, lang)
        if action in ("on", "off"):
            return await self.set_enabled(user_id, action == "on", lang)
        return t("memory_usage", lang)


async def remember_in_message(memories: Memories, user_id: int, inbound: Inbound,
                              text: str) -> list[str]:
    """An explicit "remember that ..." in a message: saved (or refused) before the
    answer is planned, so the answer already knows it; returns what to tell the user."""
    fact = explicit_fact(text)
    if fact is None:
        return []
    saved = await memories.save(user_id, fact, "explicit", inbound.conversation_key,
                                inbound.locale)
    return [saved.message]
