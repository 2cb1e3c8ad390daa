"""The WhatsApp surface (Cloud API).

- `webhook`: `WhatsAppBot`, the aiohttp webhook that stores each message before it
  acknowledges it; `serve` runs it
- `delivery`: answering stored rows (leases, pick-ups, one row's state machine)
- `compose`: what a row is answered with (the shared typed commands, the assistant)
- `graph`: `GraphClient`, the Graph API client (429/5xx retried, Retry-After honoured)
- `payloads`: the signature check and the messages in a delivery
- `owners`: which process owns a stored message, and whether it died
"""

from bot.whatsapp.compose import CONVERSATION_KEY, PLATFORM, sender_locale
from bot.whatsapp.graph import (
    WHATSAPP_LIMIT,
    DeliveryUnknown,
    GraphClient,
    GraphError,
    retry_after_seconds,
)
from bot.whatsapp.owners import new_owner, node_id, owner_is_dead
from bot.whatsapp.payloads import IncomingMessage, parse_delivery, signature_ok
from bot.whatsapp.webhook import WhatsAppBot, missing_settings, serve

__all__ = [
    "CONVERSATION_KEY",
    "PLATFORM",
    "WHATSAPP_LIMIT",
    "DeliveryUnknown",
    "GraphClient",
    "GraphError",
    "IncomingMessage",
    "WhatsAppBot",
    "missing_settings",
    "new_owner",
    "node_id",
    "owner_is_dead",
    "parse_delivery",
    "retry_after_seconds",
    "sender_locale",
    "serve",
    "signature_ok",
]
