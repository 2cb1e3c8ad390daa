"""Operator pages: tiers, privacy. (Overview: routes_overview.py; campaigns:
routes_campaigns.py.)

An operator sees figures, grants and the audit log, never a conversation's text; the
only way a text leaves is a user's own data export, which is audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.money.tiers import MAX_GRANT_DAYS, Tiers
from bot.pipeline.privacy import Privacy
from bot.web.auth import SESSION_KEY, SETTINGS_KEY, STORE_KEY, Session
from bot.web.forms import bounded_days, parse_user, with_notice

routes = web.RouteTableDef()


def _session(request: web.Request) -> Session:
    session = request[SESSION_KEY]
    assert session is not None  # the guard lets no anonymous request this far
    return session


# Tiers --------------------------------------------------------------------------------

async def _tiers_page(request: web.Request, errors: dict[str, str] | None = None,
                      values: dict[str, str] | None = None, notice: str = "",
                      status: int = 200) -> web.Response:
    settings, store = request.app[SETTINGS_KEY], request.app[STORE_KEY]
    query = request.query
    filters = {name: query.get(name, "").strip()
               for name in ("user", "guild", "tier", "kind", "expiring")}
    grants = await store.active_grants(filters["kind"] or None)
    if filters["user"]:
        grants = [g for g in grants if filters["user"] in g.subject]
    if filters["guild"]:
        grants = [g for g in grants if f"discord:{filters['guild']}" in g.subject]
    if filters["tier"]:
        grants = [g for g in grants if g.tier == filters["tier"]]
    expiring = bounded_days(filters["expiring"], MAX_GRANT_DAYS, "expiring")
    if expiring is not None:
        horizon = (store.now() + timedelta(days=expiring)).isoformat()
        grants = [g for g in grants if g.expires_at and g.expires_at <= horizon]
    return aiohttp_jinja2.render_template("operator/tiers.html", request, {
        "grants": grants, "filters": filters, "tiers": list(settings.tiers),
        "sku_tiers": settings.sku_tiers, "audit": await store.audit_log(limit=50),
        "errors": errors or {}, "values": values or {"user": "", "tier": "", "days": "",
                                                     "reason": ""},
        "notice": notice or query.get("notice", "")}, status=status)


@routes.get("/operator/tiers")
async def tiers_page(request: web.Request) -> web.Response:
    """Grants (filtered), the grant form, the SKU mapping and the audit log."""
    return await _tiers_page(request)


@routes.post("/operator/tiers/grant")
async def grant(request: web.Request) -> web.StreamResponse:
    """Grant a tier to a user, as `causette premium grant` does."""
    form = await request.post()
    typed, user, user_error = parse_user(form)
    values = {"user": typed, "tier": str(form.get("tier", "")),
              "days": str(form.get("days", "")).strip(), "reason": str(form.get("reason", ""))}
    errors = {"user": user_error} if user is None else {}
    days: int | None = None
    if values["days"]:
        if not values["days"].isdigit() or not 0 < int(values["days"]) <= MAX_GRANT_DAYS:
            errors["days"] = (f"a whole number of days from 1 to {MAX_GRANT_DAYS} "
                              "(empty: no end)")
        else:
            days = int(values["days"])
    if len(values["reason"]) > 500:
        errors["reason"] = "at most 500 characters"
    if not errors and user is not None:
        tiers = Tiers(request.app[SETTINGS_KEY], request.app[STORE_KEY])
        try:
            granted = await tiers.grant("user", user, values["tier"], by=_session(request).actor,
                                        days=days, reason=values["reason"])
        except ValueError as exc:
            errors["tier"] = str(exc)
        else:
            until = f" until {granted.expires_at[:10]}" if granted.expires_at else ""
            raise web.HTTPSeeOther(with_notice(
                "/operator/tiers", f"{user} is now on {granted.tier}{until}"))
    return await _tiers_page(request, errors, values, status=400)


@routes.post("/operator/tiers/revoke")
async def revoke(request: web.Request) -> web.StreamResponse:
    """Revoke a subject's grant, as `causette premium revoke` does."""
    form = await request.post()
    kind, subject = str(form.get("kind", "")), str(form.get("subject", ""))
    if kind not in ("user", "role", "guild") or not subject:
        raise web.HTTPBadRequest(text="Which grant? (kind and subject are missing)")
    tiers = Tiers(request.app[SETTINGS_KEY], request.app[STORE_KEY])
    count = await tiers.revoke(kind, subject, by=_session(request).actor,  # type: ignore[arg-type]
                               reason=str(form.get("reason", ""))[:500])
    raise web.HTTPSeeOther(with_notice("/operator/tiers",
                                       f"revoked {count} grant(s) of {subject}"))


# Privacy ------------------------------------------------------------------------------

@routes.get("/operator/privacy")
@aiohttp_jinja2.template("operator/privacy.html")
async def privacy_page(request: web.Request) -> dict[str, Any]:
    """Export or forget a user."""
    return {"errors": {}, "user": "", "notice": request.query.get("notice", "")}


@routes.post("/operator/privacy/export")
async def export(request: web.Request) -> web.StreamResponse:
    """A user's data as a JSON download; the export is written to the audit log."""
    form = await request.post()
    typed, user, error = parse_user(form)
    if user is None:
        return aiohttp_jinja2.render_template("operator/privacy.html", request, {
            "errors": {"user": error}, "user": typed, "notice": ""}, status=400)
    store = request.app[STORE_KEY]
    data = await Privacy(request.app[SETTINGS_KEY], store).export(user)
    await store.record_audit(_session(request).actor, "privacy export", user,
                             f"{len(data)} bytes")
    filename = "causette-" + "".join(c if c.isalnum() else "-" for c in user) + ".json"
    return web.Response(body=data, content_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


@routes.post("/operator/privacy/forget")
async def forget(request: web.Request) -> web.StreamResponse:
    """First a confirmation page; with `confirm` naming the same user, the deletion."""
    form = await request.post()
    typed, user, error = parse_user(form)
    if user is None:
        return aiohttp_jinja2.render_template("operator/privacy.html", request, {
            "errors": {"user": error}, "user": typed, "notice": ""}, status=400)
    if str(form.get("confirm", "")).strip() != user:
        return aiohttp_jinja2.render_template("operator/forget_confirm.html", request, {
            "user": user, "mismatch": bool(form.get("confirm"))})
    counts = await Privacy(request.app[SETTINGS_KEY], request.app[STORE_KEY]).forget(user)
    summary = ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in counts.items())
    raise web.HTTPSeeOther(with_notice("/operator/privacy", f"forgot {user}: {summary}"))


@routes.post("/operator/sessions/revoke")
async def revoke_sessions(request: web.Request) -> web.StreamResponse:
    """Log everyone out (this session included)."""
    await request.app[STORE_KEY].revoke_web_sessions(actor=_session(request).actor)
    raise web.HTTPSeeOther("/login")
