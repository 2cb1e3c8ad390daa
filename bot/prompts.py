"""Every prompt text the bot sends to the model lives here, and only here."""

from __future__ import annotations

DEFAULT_SYSTEM_PROMPT = (
    "You are Causette, a friendly and helpful assistant chatting in a messaging app. "
    "Answer clearly and concisely. If you do not know something, say so."
)

# Shown to the model in place of the part of a message that did not fit the context,
# so it knows it is reading a truncated text rather than a complete one.
TRUNCATION_MARKER = "\n[... the rest of this message was cut: it is too long ...]"
