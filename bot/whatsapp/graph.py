"""The Graph API client: sends answers, retrying 429 and 5xx with Retry-After."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp

from bot.config import Settings
from bot.whatsapp.payloads import as_dict

log = logging.getLogger(__name__)

WHATSAPP_LIMIT = 4096

# A Retry-After longer than this is not waited for inside a request: the row fails with
# the reason, and an operator retries it later.
MAX_RETRY_AFTER_S = 120.0


class GraphError(Exception):
    """The Graph API refused a request, or kept failing past the retry bound."""


class DeliveryUnknown(GraphError):
    """A message was sent but no answer came back (timeout, connection cut): Meta may
    have accepted it. Not sent again automatically, which could deliver it twice."""


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) as seconds to wait; None if absent
    or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


class GraphClient:
    """Sends messages through the WhatsApp Cloud API, retrying 429 and 5xx."""

    def __init__(self, session: aiohttp.ClientSession, settings: Settings) -> None:
        self.session = session
        self.base = settings.whatsapp_graph_url.rstrip("/")
        token = settings.whatsapp_access_token
        self.headers = {"Authorization": f"Bearer {token.get_secret_value() if token else ''}"}
        self.attempts = settings.whatsapp_send_attempts
        self.backoff = settings.whatsapp_retry_base_seconds
        # How to wait between tries (tests record the waits instead of timing them).
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def post(self, phone_number_id: str, payload: dict[str, Any], *,
                   idempotent: bool = False) -> dict[str, Any]:
        """POST to /{phone_number_id}/messages; raise GraphError when it cannot.

        429 and 5xx, and a connection that could not be made, are tried again, up to
        WHATSAPP_SEND_ATTEMPTS times, after WHATSAPP_RETRY_BASE_SECONDS doubling each
        time, or after what the answer's Retry-After asks when that is longer. Another
        4xx is final. A request that left but got no answer (a timeout, a connection
        cut) is tried again only when `idempotent`; otherwise it raises DeliveryUnknown
        (a message sent twice cannot be taken back)."""
        url = f"{self.base}/{phone_number_id}/messages"
        last = ""
        for attempt in range(self.attempts):
            asked: float | None = None
            try:
                async with self.session.post(url, json=payload, headers=self.headers,
                                             timeout=aiohttp.ClientTimeout(total=30)) as resp:
                    if resp.status < 300:
                        # Accepted: never tried again, even if the body is not JSON.
                        with contextlib.suppress(ValueError, aiohttp.ClientError,
                                                 TimeoutError):
                            data = await resp.json(content_type=None)
                            return data if isinstance(data, dict) else {}
                        return {}
                    last = f"HTTP {resp.status}{await _graph_detail(resp)}"
                    if resp.status != 429 and resp.status < 500:
                        raise GraphError(f"Graph API refused the message ({last})")
                    asked = retry_after_seconds(resp.headers.get("Retry-After"))
            except aiohttp.ClientConnectorError as exc:  # never connected: nothing left
                last = type(exc).__name__
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = type(exc).__name__
                if not idempotent and not isinstance(exc, aiohttp.ConnectionTimeoutError):
                    raise DeliveryUnknown(
                        f"no answer from the Graph API after the message was sent ({last}): "
                        "it may have been delivered, so it was not sent again") from exc
            if attempt + 1 == self.attempts:
                break
            wait = self.backoff * 2 ** attempt
            if asked is not None:
                if asked > MAX_RETRY_AFTER_S:
                    raise GraphError(f"Graph API asked to wait {asked:.0f} s ({last}); "
                                     "not waited for")
                wait = max(wait, asked)
            await self.sleep(wait)
        raise GraphError(f"Graph API failed {self.attempts} times (last: {last})")

    async def send_text(self, phone_number_id: str, to: str, text: str,
                        reply_to: str | None = None) -> str | None:
        """Send one text message (under 4,096 characters); returns its message id."""
        payload: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual",
                                   "to": to, "type": "text",
                                   "text": {"preview_url": False, "body": text}}
        if reply_to:
            payload["context"] = {"message_id": reply_to}
        data = await self.post(phone_number_id, payload)
        messages = data.get("messages")
        return str(messages[0].get("id")) if isinstance(messages, list) and messages else None

    async def mark_read_and_typing(self, phone_number_id: str, message_id: str) -> None:
        """Blue ticks and the typing indicator while the answer is generated."""
        payload = {"messaging_product": "whatsapp", "status": "read", "message_id": message_id,
                   "typing_indicator": {"type": "text"}}
        try:
            await self.post(phone_number_id, payload, idempotent=True)  # a receipt, twice: same
        except GraphError as exc:  # cosmetic: never stops the answer
            log.info("could not mark %s read: %s", message_id, exc)


async def _graph_detail(resp: aiohttp.ClientResponse) -> str:
    """Meta's own error message, when its answer has one (it says what to fix)."""
    with contextlib.suppress(ValueError, aiohttp.ClientError):
        error = as_dict(as_dict(await resp.json(content_type=None)).get("error"))
        message = error.get("message")
        if isinstance(message, str) and message:
            return f": {message[:200]}"
    return ""
