"""The pipeline: an inbound message becomes a stored, streamed reply.

Platform-neutral: adapters (terminal, Discord, WhatsApp) build an `Inbound` and render
the `Reply`. The user's turn is committed before anything is generated; the assistant's
turn is stored when the answer ends, however it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.config import Settings
from bot.engine import (
    Engine,
    EngineBusy,
    EngineError,
    Generation,
    GenerationResult,
    SamplingParams,
)
from bot.knowledge import Knowledge, space_of
from bot.locales import t
from bot.metrics import Metrics
from bot.money.ads import AdContext, AdOffer, Ads
from bot.money.tiers import Admission, Subject, TierDecision, Tiers
from bot.pipeline.memory import Memories, remember_in_message
from bot.pipeline.planning import PromptPlanner, clean_text, with_persona
from bot.pipeline.privacy import Privacy
from bot.pipeline.prompts import (
    SAFETY_SYSTEM_PROMPT,
    SUMMARIZE_REQUEST,
    SUMMARIZE_SYSTEM,
    TRANSLATE_SYSTEM,
)
from bot.pipeline.replies import EMPTY_ANSWER, Committed, Inbound, Outcome, Reply, Resume
from bot.reminders import Reminders, is_reminder_request
from bot.safety.crisis import Crisis, crisis_opening, detect_crisis
from bot.safety.moderation import Moderation, OutputWatch
from bot.store import MemorySettings, MessageStatus, Store, StoredMessage

log = logging.getLogger(__name__)

# A streaming answer's text so far is saved this often (crash safety).
CHECKPOINT_SECONDS = 2.0

# A growing answer is looked at this often for output moderation.
OUTPUT_CHECK_SECONDS = 0.25

_STATUS_BY_STOP: dict[str, MessageStatus] = {
    "stop": "complete", "length": "complete", "cancelled": "cancelled", "error": "failed",
}


def _waited_ms(result: GenerationResult) -> int | None:
    """What the user waited for the first token: the queue, then the prefill."""
    if result.first_token_s is None:
        return None
    return round((result.queued_s + result.first_token_s) * 1000)


class Assistant:
    """The platform-neutral chat pipeline."""

    def __init__(self, settings: Settings, store: Store, engine: Engine) -> None:
        self.settings = settings
        self.store = store
        self.engine = engine
        self.metrics = Metrics(lambda: engine.queue_depth)
        self.tiers = Tiers(settings, store)
        self.ads = Ads(settings, store, self.metrics)
        self.privacy = Privacy(settings, store)
        self.memory = Memories(settings, store, engine)
        self.knowledge = Knowledge(settings, store)
        self.reminders = Reminders(settings, store, self.tiers)
        self._finishers: set[asyncio.Task[Outcome]] = set()
        self._background: set[asyncio.Task[object]] = set()  # MEMORY_AUTO suggestions
        self.planner = PromptPlanner(settings, engine)
        self.moderation = Moderation.from_settings(settings)
        self.moderation.on_error = self.metrics.moderation_unavailable
        self.memory.moderation = self.moderation  # one moderation for messages and facts

    async def handle(self, inbound: Inbound, *, system_prompt: str | None = None,
                     max_tokens: int | None = None, resume: Resume | None = None,
                     committed: Committed | None = None) -> Reply:
        """Check tier and quota, store the user's turn, build the prompt, start the answer.

        With `resume`, the turn stored and the quota counted by an earlier attempt are
        used as they are; `committed` hears of them before the answer is generated."""
        lang = inbound.locale
        if len(inbound.text) > self.settings.max_message_chars:
            return self._refuse(Reply(refusal=t("too_long", lang, size=len(inbound.text),
                                                limit=self.settings.max_message_chars),
                                      refusal_reason="too_long"))
        readable = clean_text(inbound.text)
        if not readable.strip():
            return self._refuse(Reply(refusal=t("empty", lang), refusal_reason="empty"))
        # Safety comes first, decided by code: a person in crisis is answered with care
        # (and never refused); anything else is screened against what is refused here.
        crisis = detect_crisis(readable, lang)
        refused = await self._refused_here(inbound)
        user_id = await self.store.ensure_user(inbound.platform, inbound.user)
        state = await self.store.memory_settings(user_id)
        if crisis is None:
            refusal = await self._screen(inbound, readable, refused,
                                         state.temporary or resume is not None)
            if refusal is not None:
                return self._refuse(refusal)
            if is_reminder_request(readable):  # read by code, confirmed; no model
                said = await self.reminders.command(inbound)
                return Reply(refusal=said, refusal_reason="reminder")
        decision = await self.tiers.resolve(inbound.subject)
        tier = decision.tier
        admission = Admission(True) if resume is not None else await self.tiers.admit(
            inbound.user_ref, tier, lang, quota=crisis is None)  # resumed: counted once
        if not admission.ok:
            return self._refuse(Reply(refusal=admission.message,
                                      refusal_reason=admission.reason, decision=decision))
        if crisis is not None:
            self.metrics.crisis()
        try:
            return await self._start(inbound, decision, admission, system_prompt, max_tokens,
                                     crisis, refused, user_id, state, resume, committed)
        except Exception:
            # Nothing was answered (e.g. the database failed): the message is not counted.
            await self._refund(admission, inbound.user_ref)
            raise

    async def _refused_here(self, inbound: Inbound) -> frozenset[str]:
        """The moderation categories refused where this message was sent."""
        chosen = None
        if inbound.guild_ref:
            chosen = await self.store.guild_moderation(inbound.guild_ref.partition(":")[2])
        return self.moderation.refused_categories(chosen)

    async def _screen(self, inbound: Inbound, text: str, refused: frozenset[str],
                      temporary: bool) -> Reply | None:
        """A refusal when the message may not reach the model; its turn is kept as such."""
        lang = inbound.locale
        verdict = await self.moderation.check(text, direction="input")
        if verdict.source == "unavailable":  # failing closed; the turn is still kept
            hits, refusal, reason = ["unchecked"], t("moderation_unavailable", lang), (
                "moderation_unavailable")
        else:
            hits = verdict.refused(refused)
            if not hits:
                return None
            self.metrics.moderated("input", hits)
            refusal = t("moderation_refused", lang, categories=", ".join(hits))
            reason = "moderation"
        if temporary:  # temporary chat: even a refused turn is not kept
            return Reply(refusal=refusal, refusal_reason=reason, temporary=True)
        user_id = await self.store.ensure_user(inbound.platform, inbound.user)
        conversation = await self.store.open_conversation(user_id, inbound.conversation_key)
        stored = await self.store.add_message(conversation, "user", inbound.text,
                                              status="refused", moderation=",".join(hits))
        return Reply(refusal=refusal, refusal_reason=reason, user_message_id=stored)

    async def _refund(self, admission: Admission, user_ref: str) -> None:
        try:
            await self.tiers.refund(admission, user_ref)
        except Exception as exc:  # the store is down too: the user still gets an answer
            log.error("could not refund %s's quota: %s", user_ref, exc)

    async def _start(self, inbound: Inbound, decision: TierDecision, admission: Admission,
                     system_prompt: str | None, max_tokens: int | None,
                     crisis: Crisis | None, refused: frozenset[str], user_id: int,
                     state: MemorySettings, resume: Resume | None = None,
                     committed: Committed | None = None) -> Reply:
        """Store the user's turn, plan the prompt and submit it (after admission)."""
        lang, tier = inbound.locale, decision.tier
        notices: list[str] = []
        conversation = user_message = None
        history: list[StoredMessage] = []
        if state.temporary:  # the turn lives in RAM only, and ends with the answer
            notices.append(t("temporary_notice", lang))
        else:
            conversation = await self.store.open_conversation(user_id, inbound.conversation_key)
            history = await self.store.messages(conversation, limit=200)
            if resume is not None and resume.user_message_id is not None:
                # Stored by the attempt that died: the history is what came before it.
                user_message = resume.user_message_id
                history = [m for m in history if m.id < user_message]
            else:
                user_message = await self.store.add_message(conversation, "user",
                                                            inbound.text)
                if crisis is None:  # a crisis message is never kept as a memory
                    notices += await remember_in_message(self.memory, user_id, inbound,
                                                         clean_text(inbound.text))
        if committed is not None:
            await committed(user_message)
        # A crisis answer's prompt is the safety prompt alone: no memory in it.
        facts = [] if crisis else await self.memory.for_prompt(user_id, state)
        passages = [] if crisis else await self.knowledge.find(
            space_of(inbound.platform, inbound.guild_ref), clean_text(inbound.text))

        system = system_prompt or self.settings.system_prompt
        preface = None
        if crisis is not None:  # neither the operator, a channel nor a persona removes it
            system = SAFETY_SYSTEM_PROMPT
            preface = crisis_opening(self.settings.crisis_resources, crisis, inbound.region)
        elif tier.allows("persona"):
            system = with_persona(system, await self.store.persona(inbound.user_ref))
        params = self._sampling(max_tokens or tier.spec.max_reply_tokens)
        try:
            # Planning tokenizes: while the model restarts it cannot, like submit.
            plan = await asyncio.to_thread(
                lambda: self.planner.plan(system, history, clean_text(inbound.text), lang,
                                          tier.spec.context_tokens, memories=facts,
                                          memory_tokens=tier.spec.memory_tokens,
                                          knowledge=[(self.knowledge.source(p), p.body)
                                                     for p in passages],
                                          knowledge_tokens=tier.spec.knowledge_tokens))
            waiting = self.engine.queue_depth  # requests ahead of this one
            generation = self.engine.submit(
                plan.messages, params, tier.spec.priority,
                cache_key=f"conversation:{conversation}" if conversation else None)
        except EngineError as exc:
            # The user's turn stays stored: nothing they wrote is lost; nor is their quota.
            await self._refund(admission, inbound.user_ref)
            busy = isinstance(exc, EngineBusy)
            log.log(logging.INFO if busy else logging.WARNING, "refused %s: %s",
                    inbound.user_ref, exc)
            refusal = t("busy", lang, waiting=self.engine.queue_depth) if busy else t(
                "engine_down", lang)
            return self._refuse(Reply(refusal=refusal, user_message_id=user_message,
                                      decision=decision, temporary=state.temporary,
                                      refusal_reason="busy" if busy else "engine"))
        try:
            reply_id = None if conversation is None else await self.store.add_message(
                conversation, "assistant", "", status="streaming")
        except Exception:
            generation.cancel()  # nowhere to keep the answer: do not compute it
            raise
        watch = OutputWatch(self.moderation, refused,
                            self.settings.moderation_output_every_chars)
        finisher = asyncio.create_task(self._finish(generation, user_message, reply_id,
                                                    tier.name, admission, inbound.user_ref,
                                                    watch, waiting))
        self._finishers.add(finisher)
        finisher.add_done_callback(self._finishers.discard)
        suggestion = None
        if (self.settings.memory_auto and conversation is not None and crisis is None
                and state.enabled and not notices):  # not after an explicit save
            suggestion = asyncio.create_task(self.memory.suggest(
                finisher, user_id, clean_text(inbound.text), inbound.conversation_key))
            self._background.add(suggestion)
            suggestion.add_done_callback(self._background.discard)
        return Reply(notices=[*notices, *plan.notices], generation=generation,
                     finisher=finisher, user_message_id=user_message, decision=decision,
                     preface=preface, temporary=state.temporary, suggestion=suggestion,
                     crisis=crisis is not None,
                     sources=self.knowledge.sources(passages[:plan.knowledge_used], lang))

    def _sampling(self, max_tokens: int) -> SamplingParams:
        """The operator's sampling settings, for an answer of at most `max_tokens`."""
        settings = self.settings
        return SamplingParams(max_tokens=min(max_tokens, settings.max_reply_tokens),
                              temperature=settings.temperature, top_p=settings.top_p,
                              top_k=settings.top_k, seed=settings.seed)

    def _refuse(self, reply: Reply) -> Reply:
        self.metrics.refused(reply.refusal_reason or "other")
        return reply

    async def _finish(self, generation: Generation, user_message: int | None,
                      reply_id: int | None,
                      tier: str, admission: Admission, user_ref: str,
                      watch: OutputWatch, waiting: int = 0) -> Outcome:
        loop = asyncio.get_running_loop()
        saved, saved_at = "", loop.time()
        while True:
            try:
                result: GenerationResult = await asyncio.wait_for(
                    generation.result(), OUTPUT_CHECK_SECONDS)
                break
            except TimeoutError:
                text = generation.text_so_far
                if await watch.observe(text):
                    generation.cancel()  # withheld: stop computing it
                # Checkpoint long answers, so a crash keeps what the user already saw.
                if (reply_id is not None and text != saved
                        and loop.time() - saved_at >= CHECKPOINT_SECONDS):
                    with contextlib.suppress(Exception):  # the final write below retries
                        await self.store.finish_message(reply_id, text, "streaming")
                    saved, saved_at = text, loop.time()
        await watch.observe(result.text, final=True)
        self.metrics.answered(tier, result.completion_tokens, result.first_token_s,
                              result.tokens_per_second)
        status = _STATUS_BY_STOP[result.stop_reason]
        error = result.error
        if watch.flagged:
            status, error = "moderated", ",".join(watch.flagged)
            self.metrics.moderated("output", watch.flagged)
        elif status == "complete" and not result.text.strip():
            status, error = "failed", EMPTY_ANSWER
        if error:
            log.warning("generation %s: %s", result.stop_reason, error)
        if not result.text.strip():
            await self._refund(admission, user_ref)  # nothing was produced: not counted
        try:
            if reply_id is not None:  # None: temporary chat, nothing to keep
                await self.store.finish_message(
                    reply_id, result.text, status, prompt_tokens=result.prompt_tokens,
                    completion_tokens=result.completion_tokens,
                    stop_reason=result.stop_reason, moderation=",".join(watch.flagged) or None,
                    first_token_ms=_waited_ms(result), queue_depth=waiting)
        except Exception as exc:
            # The user saw the text; they are told it could not be kept. The turn stays
            # `streaming` and becomes `interrupted` at the next sweep.
            log.error("could not store answer %s: %s", reply_id, exc)
            status, error = "failed", f"could not store the answer: {exc}"
        return Outcome(
            text=result.text, status=status, stop_reason=result.stop_reason,
            prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
            user_message_id=user_message, assistant_message_id=reply_id, error=error,
            moderated=watch.flagged)

    async def sponsored(self, inbound: Inbound, reply: Reply) -> AdOffer | None:
        """After a complete, stored answer: the sponsored block to show, if any.

        The ad is chosen from the finished exchange and shown apart from it; it never
        enters a prompt, so it cannot change an answer. Nothing is charged until the
        surface calls `self.ads.delivered(offer)`.
        """
        # Never beside a crisis, a refusal or a withheld answer; a temporary chat never
        # reaches ad matching.
        if reply.decision is None or reply.refusal or reply.temporary or reply.crisis:
            return None
        outcome = await reply.outcome()
        if outcome.status != "complete":
            return None
        user_id = await self.store.ensure_user(inbound.platform, inbound.user)
        history = ""
        if await self.store.personalize(user_id):
            turns = await self.history(inbound.platform, inbound.user, inbound.conversation_key,
                                       limit=20)
            history = "\n".join(turn.content for turn in turns if turn.role == "user")
        guild = inbound.guild_ref.partition(":")[2] if inbound.guild_ref else None
        context = AdContext(inbound.platform, user_id, reply.decision.tier, inbound.text,
                            outcome.text, inbound.locale, guild, history,
                            await self.memory.for_ads(user_id))
        return await self.ads.choose(context)

    # Premium commands ---------------------------------------------------------------

    async def gate(self, subject: Subject, command: str, locale: str = "en") -> str | None:
        """None when the user's tier unlocks `command`, else the polite refusal."""
        decision = await self.tiers.resolve(subject)
        if decision.tier.allows(command):
            return None
        return self.tiers.gate_message(command, locale)

    async def set_persona(self, inbound: Inbound, persona: str | None) -> str:
        """Set or clear the user's persona (gated); returns what to tell them."""
        lang = inbound.locale
        refusal = await self.gate(inbound.subject, "persona", lang)
        if refusal:
            return refusal
        if persona is not None:
            persona = clean_text(persona).strip()
            limit = self.settings.persona_max_chars
            if not persona:
                return t("empty", lang)
            if len(persona) > limit:
                return t("prompt_too_long", lang, size=len(persona), limit=limit)
        await self.store.set_persona(inbound.user_ref, persona)
        return t("persona_set" if persona else "persona_cleared", lang)

    async def show_persona(self, inbound: Inbound) -> str:
        """The user's persona, in words (gated)."""
        lang = inbound.locale
        refusal = await self.gate(inbound.subject, "persona", lang)
        if refusal:
            return refusal
        persona = await self.store.persona(inbound.user_ref)
        return t("persona_show", lang, persona=persona) if persona else t("persona_none", lang)

    async def transcript(self, inbound: Inbound, limit: int) -> str:
        """The last `limit` turns of the user's conversation, as text for /summarize."""
        turns = await self.history(inbound.platform, inbound.user, inbound.conversation_key,
                                   limit=limit)
        return "\n".join(f"{'User' if m.role == 'user' else 'Assistant'}: {m.content}"
                         for m in turns if m.content.strip())

    async def run_command(self, inbound: Inbound, command: str, text: str, *,
                          language: str = "") -> Reply:
        """A one-off premium task (summarize, translate): gated, counted, not stored in
        the conversation. `text` is what to summarise or translate."""
        lang = inbound.locale
        decision = await self.tiers.resolve(inbound.subject)
        if not decision.tier.allows(command):
            return Reply(refusal=self.tiers.gate_message(command, lang), refusal_reason="gate",
                         decision=decision)
        text = clean_text(text)
        if not text.strip():
            return Reply(refusal=t("empty", lang), refusal_reason="empty", decision=decision)
        admission = await self.tiers.admit(inbound.user_ref, decision.tier, lang)
        if not admission.ok:
            return Reply(refusal=admission.message, refusal_reason=admission.reason,
                         decision=decision)
        if command == "summarize":
            system, request = SUMMARIZE_SYSTEM, SUMMARIZE_REQUEST.format(transcript=text)
        else:
            system, request = TRANSLATE_SYSTEM.format(language=language or "English"), text
        params = self._sampling(decision.tier.spec.max_reply_tokens)
        try:
            # Planning tokenizes: while the model restarts it cannot, like submit; either
            # way the message counted above is given back.
            plan = await asyncio.to_thread(self.planner.plan, system, [], request, lang, 0)
            generation = self.engine.submit(plan.messages, params, decision.tier.spec.priority)
        except EngineError as exc:
            await self._refund(admission, inbound.user_ref)
            busy = isinstance(exc, EngineBusy)
            refusal = t("busy", lang, waiting=self.engine.queue_depth) if busy else t(
                "engine_down", lang)
            return Reply(refusal=refusal, refusal_reason="busy" if busy else "engine",
                         decision=decision)

        async def finish() -> Outcome:
            result = await generation.result()
            return Outcome(text=result.text, status=_STATUS_BY_STOP[result.stop_reason],
                           stop_reason=result.stop_reason, prompt_tokens=result.prompt_tokens,
                           completion_tokens=result.completion_tokens, error=result.error)

        finisher = asyncio.create_task(finish())
        return Reply(notices=plan.notices, generation=generation, finisher=finisher,
                     decision=decision)

    async def drain(self) -> None:
        """Wait until every answer in flight has been stored (used at shutdown)."""
        if self._finishers or self._background:
            await asyncio.gather(*self._finishers, *self._background, return_exceptions=True)

    async def reset(self, platform: str, user: str, conversation_key: str) -> None:
        """Start a fresh conversation; the old one stays stored until the user deletes it."""
        user_id = await self.store.ensure_user(platform, user)
        await self.store.reset_conversation(user_id, conversation_key)

    async def history(self, platform: str, user: str, conversation_key: str,
                      limit: int = 20) -> list[StoredMessage]:
        """The newest turns of the user's open conversation, oldest first."""
        user_id = await self.store.ensure_user(platform, user)
        conversation = await self.store.open_conversation(user_id, conversation_key)
        return await self.store.messages(conversation, limit=limit)
