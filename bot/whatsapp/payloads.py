"""What Meta delivers to the webhook: its signature, and the messages in a payload."""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """Check `X-Hub-Signature-256: sha256=<hex>` against the raw body, in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").strip().lower())


@dataclass(frozen=True)
class IncomingMessage:
    """One message of a webhook delivery, as much as Causette needs of it."""

    id: str
    sender: str
    phone_number_id: str
    kind: str
    text: str | None


# What a user does to a message without writing one: a 👍 on an answer is not a question.
IGNORED_KINDS = frozenset({"reaction"})
# Media that carry a caption: the caption is the message.
CAPTIONED_KINDS = frozenset({"image", "video", "document"})


def parse_delivery(payload: Any) -> list[IncomingMessage]:
    """The messages in a webhook payload; statuses, reactions and unknown shapes are
    skipped."""
    found: list[IncomingMessage] = []
    if not isinstance(payload, dict):
        return found
    for entry in _list(payload.get("entry")):
        for change in _list(as_dict(entry).get("changes")):
            value = as_dict(as_dict(change).get("value"))
            phone_number_id = str(as_dict(value.get("metadata")).get("phone_number_id", ""))
            for message in _list(value.get("messages")):
                message = as_dict(message)
                message_id, sender = message.get("id"), message.get("from")
                if not isinstance(message_id, str) or not isinstance(sender, str):
                    continue
                kind = str(message.get("type", "unknown"))
                if kind in IGNORED_KINDS:
                    continue
                body = _readable_text(message, kind)
                found.append(IncomingMessage(message_id, sender, phone_number_id, kind,
                                             body if isinstance(body, str) else None))
    return found


def _readable_text(message: dict[str, Any], kind: str) -> str | None:
    """What a message says in text: a text's body, a medium's caption; None otherwise."""
    if kind == "text":
        text = as_dict(message.get("text")).get("body")
        return text if isinstance(text, str) else None
    caption = as_dict(message.get(kind)).get("caption") if kind in CAPTIONED_KINDS else None
    return caption if isinstance(caption, str) and caption.strip() else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
