"""What a stored WhatsApp message is answered with: a typed command's answer (the
router the terminal shares), the assistant's, or a notice in the sender's language."""

from __future__ import annotations

from dataclasses import dataclass

from bot.locales import t
from bot.pipeline.assistant import Assistant
from bot.pipeline.commands import run_typed
from bot.pipeline.replies import Committed, Inbound, Reply, Resume
from bot.store.inbound import FORGOTTEN, InboundMessage
from bot.user_refs import phone_region

PLATFORM = "whatsapp"
CONVERSATION_KEY = "whatsapp"

# The language of a number's country, where it has one of the supported locales; WhatsApp
# says nothing else about its user (a Belgian or Swiss number may be either, so English).
_LOCALE_BY_REGION = {"FR": "fr"}


@dataclass
class Composed:
    """An answer to send, and what produced it (a chat reply may bring a sponsored one)."""

    text: str
    reply_message_id: int | None = None
    inbound: Inbound | None = None
    reply: Reply | None = None


def sender_locale(sender: str) -> str:
    """The locale to answer a phone number in."""
    return _LOCALE_BY_REGION.get(phone_region(sender) or "", "en")


async def compose(assistant: Assistant, row: InboundMessage,
                  committed: Committed | None = None) -> Composed:
    """The answer to one stored message. A row taken over after a crash resumes: its
    stored turn and admission are used, not made again (`committed` records them)."""
    sender = row.sender or ""
    locale = sender_locale(sender)
    if row.kind == FORGOTTEN:  # a temporary chat's message, not kept once it failed
        return Composed(t("not_kept_temporary", locale))
    if row.body is None:  # a sticker, a voice note, an image without a caption...
        return Composed(t("text_only", locale, names=row.kind or "message"))
    inbound = Inbound(PLATFORM, sender, CONVERSATION_KEY, row.body, locale=locale,
                      region=phone_region(sender))
    typed = await run_typed(assistant, inbound)
    if typed is not None:
        if typed.reply is None:
            return Composed(typed.text or "")
        text, turn = await render(typed.reply, inbound)
        return Composed(text, turn)
    resume = Resume(row.user_message_id) if row.admitted else None
    reply = await assistant.handle(inbound, resume=resume, committed=committed)
    text, turn = await render(reply, inbound)
    return Composed(text, turn, inbound, reply)


async def render(reply: Reply, inbound: Inbound) -> tuple[str, int | None]:
    """A reply as one WhatsApp text (with its stored turn): the crisis lines first, a
    withheld answer replaced by its note."""
    if reply.refusal:
        return "\n".join([*reply.notices, reply.refusal]), None
    outcome = await reply.outcome()
    note = outcome.note(inbound.locale)
    lines = [*(f"_{n}_" for n in reply.notices), reply.preface or "",
             outcome.shown_text.strip(), note or ""]
    text = "\n".join(line for line in lines if line) or t("empty_answer", inbound.locale)
    return text, outcome.assistant_message_id
