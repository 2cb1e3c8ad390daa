"""Operator pages for every advertiser's campaigns: list, create, edit, pause/resume,
the preview of the sponsored block, and advertiser accounts."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.locales import t
from bot.money import advertisers
from bot.money.ads import AdContext, AdOffer, Ads, CampaignSpec
from bot.money.tiers import Tiers
from bot.safety.topics import CATEGORIES
from bot.store import Campaign
from bot.web.auth import SESSION_KEY, SETTINGS_KEY, STORE_KEY
from bot.web.forms import campaign_form_values, parse_campaign, path_id, with_notice

routes = web.RouteTableDef()


def _ads(request: web.Request) -> Ads:
    return Ads(request.app[SETTINGS_KEY], request.app[STORE_KEY])


def _actor(request: web.Request) -> str:
    session = request[SESSION_KEY]
    assert session is not None  # the guard lets no anonymous request this far
    return session.actor


def preview(request: web.Request, campaign: Campaign, locale: str = "en") -> dict[str, Any]:
    """The block as each surface shows it: the text the terminal and WhatsApp send
    (`Ads.block`), and the parts of Discord's embed (`cogs.sponsors.ad_embed`)."""
    settings, store = request.app[SETTINGS_KEY], request.app[STORE_KEY]
    matched = tuple((campaign.keywords or campaign.categories)[:2])
    context = AdContext("local", 0, Tiers(settings, store).free, "", "", locale)
    offer = AdOffer(campaign, matched, campaign.cpm_micros // 1000, context, "")
    return {"text": _ads(request).block(offer, locale),
            "discord": {"author": campaign.advertiser, "title": t("sponsored", locale),
                        "headline": campaign.headline, "body": campaign.body,
                        "footer": t("sponsored_footer", locale),
                        "buttons": [t("btn_why", locale), t("btn_visit", locale),
                                    t("btn_upgrade", locale)]}}


async def _list_page(request: web.Request, *, token: str = "", new_name: str = "",
                     errors: dict[str, str] | None = None, status: int = 200) -> web.Response:
    store = request.app[STORE_KEY]
    await store.end_finished_campaigns()
    return aiohttp_jinja2.render_template("operator/campaigns.html", request, {
        "campaigns": await store.campaigns(), "advertisers": await store.advertisers(),
        "token": token, "new_name": new_name, "errors": errors or {},
        "notice": request.query.get("notice", "")}, status=status)


@routes.get("/operator/campaigns")
async def campaigns(request: web.Request) -> web.Response:
    """Every campaign of every advertiser, and the advertiser accounts."""
    return await _list_page(request)


@routes.post("/operator/advertisers")
async def add_advertiser(request: web.Request) -> web.Response:
    """Create an advertiser account; its token is on this page only, never again."""
    form = await request.post()
    name = str(form.get("name", ""))
    try:
        account, token = await advertisers.add_advertiser(
            request.app[STORE_KEY], name, actor=_actor(request))
    except ValueError as exc:
        return await _list_page(request, new_name=name, errors={"name": str(exc)}, status=400)
    return await _list_page(request, token=token, new_name=account.name)


async def _form_page(request: web.Request, campaign: Campaign | None,
                     values: dict[str, Any], errors: dict[str, str],
                     status: int = 200) -> web.Response:
    store = request.app[STORE_KEY]
    return aiohttp_jinja2.render_template("operator/campaign_form.html", request, {
        "campaign": campaign, "values": values, "errors": errors,
        "categories": sorted(CATEGORIES), "advertisers": await store.advertisers(),
        "preview": preview(request, campaign) if campaign else None,
        "notice": request.query.get("notice", "")}, status=status)


@routes.get("/operator/campaigns/new")
async def new_campaign(request: web.Request) -> web.Response:
    """An empty campaign form."""
    return await _form_page(request, None, campaign_form_values(None), {})


@routes.post("/operator/campaigns/new")
async def create_campaign(request: web.Request) -> web.StreamResponse:
    """Validate and store a campaign for an advertiser account."""
    values, spec, errors = parse_campaign(await request.post())
    store = request.app[STORE_KEY]
    account = await store.advertiser_by_name(values["advertiser"])
    if account is None:
        errors["advertiser"] = "choose an advertiser account (add one first)"
    if spec is None or errors or account is None:
        return await _form_page(request, None, values, errors, status=400)
    # The operator chose the account: the campaign is linked to it by id.
    [campaign_id] = await _ads(request).add([spec], actor=_actor(request),
                                            advertiser_id=account.id)
    raise web.HTTPSeeOther(with_notice(f"/operator/campaigns/{campaign_id}", "campaign created"))


async def _campaign(request: web.Request) -> Campaign:
    found = await request.app[STORE_KEY].campaign(path_id(request.match_info["id"]))
    if found is None:
        raise web.HTTPNotFound(text="No such campaign.")
    return found


@routes.get(r"/operator/campaigns/{id:\d+}")
async def edit_campaign(request: web.Request) -> web.Response:
    """A campaign's form, filled, with its preview."""
    campaign = await _campaign(request)
    return await _form_page(request, campaign, campaign_form_values(campaign), {})


@routes.post(r"/operator/campaigns/{id:\d+}")
async def update_campaign(request: web.Request) -> web.StreamResponse:
    """Validate and store new terms (owner, status and spend stay)."""
    campaign = await _campaign(request)
    form = await request.post()
    values, spec, errors = parse_campaign(form)
    values["advertiser"] = campaign.advertiser
    if spec is not None and not errors:
        spec = CampaignSpec.model_validate({**spec.model_dump(), "advertiser": campaign.advertiser})
        if await _ads(request).update(campaign.id, spec, actor=_actor(request)):
            raise web.HTTPSeeOther(with_notice(f"/operator/campaigns/{campaign.id}",
                                               "campaign saved"))
        errors["budget"] = ("not saved: the campaign has ended or is exhausted, or this "
                            "budget is below what it spent")
    return await _form_page(request, campaign, values, errors, status=400)


@routes.post(r"/operator/campaigns/{id:\d+}/link")
async def link_campaign(request: web.Request) -> web.StreamResponse:
    """Give the campaign to an advertiser account (by id), or to none; as
    `causette ads link` does. A server's own campaign never belongs to an advertiser."""
    campaign = await _campaign(request)
    chosen = str((await request.post()).get("advertiser_id", "")).strip()
    if chosen and not chosen.isdigit():
        raise web.HTTPBadRequest(text="Which advertiser? (advertiser_id is not an account id)")
    advertiser_id = path_id(chosen) if chosen else None
    done = await _ads(request).link(campaign.id, advertiser_id, actor=_actor(request))
    notice = (f"campaign {campaign.id} linked to advertiser {advertiser_id}" if done
              and advertiser_id else f"campaign {campaign.id} belongs to no advertiser"
              if done else f"campaign {campaign.id} cannot be linked (a server's own "
              "campaign, or no such advertiser)")
    raise web.HTTPSeeOther(with_notice(f"/operator/campaigns/{campaign.id}", notice))


@routes.post(r"/operator/campaigns/{id:\d+}/{action:pause|resume}")
async def change_status(request: web.Request) -> web.StreamResponse:
    """Pause an active campaign or resume a paused one."""
    campaign = await _campaign(request)
    ads, action = _ads(request), request.match_info["action"]
    change = ads.pause if action == "pause" else ads.resume
    done = await change(campaign.id, _actor(request))
    notice = f"campaign {campaign.id} {action}d" if done else (
        f"campaign {campaign.id} is {campaign.status}: it cannot be {action}d")
    raise web.HTTPSeeOther(with_notice("/operator/campaigns", notice))
