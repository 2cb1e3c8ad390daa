"""WhatsApp test helpers: a recording stand-in for the Graph API and webhook payloads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class GraphStub:
    """A stand-in Graph API: records POSTs, can fail the first N with a status."""

    received: list[dict[str, Any]] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)
    fail_first: int = 0
    fail_status: int = 500
    count: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.count += 1
        if self.count <= self.fail_first:
            return web.json_response({"error": "try later"}, status=self.fail_status)
        payload = await request.json()
        self.auth.append(request.headers.get("Authorization", ""))
        payload["_path"] = request.path
        self.received.append(payload)
        return web.json_response({"messages": [{"id": f"wamid.OUT{self.count}"}]})

    def texts(self) -> list[str]:
        return [p["text"]["body"] for p in self.received if p.get("type") == "text"]



def delivery(*messages: dict[str, Any], statuses: list[dict[str, Any]] | None = None) -> dict:
    value: dict[str, Any] = {"messaging_product": "whatsapp",
                             "metadata": {"display_phone_number": "15550000000",
                                          "phone_number_id": "PNID"},
                             "contacts": [{"profile": {"name": "Ada"}, "wa_id": "33612345678"}]}
    if messages:
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = statuses
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "WABA", "changes": [{"value": value, "field": "messages"}]}]}


def text(message_id: str, body: str, sender: str = "33612345678") -> dict[str, Any]:
    return {"from": sender, "id": message_id, "timestamp": "1764000000", "type": "text",
            "text": {"body": body}}
