"""What the pages do: campaigns created and edited with server-side validation, HTML in
names and keywords shown as text, the CSV equal to `causette ads report --json`, grants
and revocations audited, exports downloaded and users forgotten after a confirmation."""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import date, timedelta

import pytest

from bot.cli.ads import _ads
from bot.money.advertisers import add_advertiser
from tests.web.conftest import Console, post

SCRIPT = '<script>alert("x")</script>'


def _campaign_form(advertiser: str = "Acme", **changes: str) -> dict[str, str]:
    today = date.today()
    form = {"advertiser": advertiser, "headline": "Cook more", "body": "Pans.",
            "url": "https://example.com/pans", "keywords": "pan, cook*", "languages": "en",
            "cpm": "4.50", "budget": "250", "daily_budget": "20",
            "start": today.isoformat(), "end": (today + timedelta(days=10)).isoformat(),
            "status": "active"}
    return {**form, **changes}


async def test_operator_creates_edits_pauses_and_previews(console: Console) -> None:
    response = await post(console.operator, "/operator/campaigns/new", _campaign_form(),
                          csrf_from="/operator/campaigns/new")
    assert response.status == 303
    campaign_id = int(response.headers["Location"].split("/")[-1].split("?")[0])
    campaign = await console.store.campaign(campaign_id)
    assert campaign is not None
    assert (campaign.advertiser_id, campaign.budget_micros, campaign.daily_budget_micros,
            campaign.keywords) == (1, 250_000_000, 20_000_000, ("pan", "cook*"))
    page = await (await console.operator.get(response.headers["Location"])).text()
    assert "campaign created" in page
    # The preview is the block the terminal and WhatsApp send, and Discord's embed parts.
    assert "Sponsored · Acme" in page and "https://example.com/pans" in page
    # The terminal block ends with its "why this ad" line; Discord's embed has the button.
    assert "Why this ad: Acme paid for it; it matched &#34;pan&#34;, &#34;cook&#34;" in page
    assert "Why this ad?" in page
    edited = await post(console.operator, f"/operator/campaigns/{campaign_id}",
                        _campaign_form(headline="Cook better", budget="300"),
                        csrf_from=f"/operator/campaigns/{campaign_id}")
    assert edited.status == 303
    campaign = await console.store.campaign(campaign_id)
    assert campaign is not None and (campaign.headline, campaign.budget_micros) == (
        "Cook better", 300_000_000)
    await post(console.operator, f"/operator/campaigns/{campaign_id}/pause",
               csrf_from="/operator/campaigns")
    assert (await console.store.campaign(campaign_id)).status == "paused"  # type: ignore[union-attr]
    actions = [e.action for e in await console.store.audit_log(limit=3)]
    assert actions == ["campaign paused", "campaign edit", "campaign add"]
    # A's new campaign is A's: it shows on A's page, not on B's.
    assert "Cook better" in await (await console.a.get("/advertiser")).text()
    assert "Cook better" not in await (await console.b.get("/advertiser")).text()


@pytest.mark.parametrize(("changes", "field_error"), [
    ({"budget": "-5"}, "greater than 0"),
    ({"budget": "lots"}, "valid decimal"),
    ({"daily_budget": "900"}, "daily_budget is larger than budget"),
    ({"url": "javascript:alert(1)"}, "http:// or https://"),
    ({"url": "http://x.example/\nSet-Cookie:a=b"}, "line breaks or control characters"),
    ({"url": 'https://x.example/"onmouseover="x'}, "percent-encode them"),
    ({"end": "2020-01-01"}, "end is before start"),
    ({"start": "not a date"}, "valid date"),
    ({"keywords": ""}, "give keywords and/or categories"),
    ({"languages": "english"}, "two-letter codes"),
    ({"headline": ""}, "at least 1 character"),
    ({"advertiser": "Nobody"}, "choose an advertiser account"),
])
async def test_invalid_campaigns_come_back_with_the_fields_error(
        console: Console, changes: dict[str, str], field_error: str) -> None:
    before = len(await console.store.campaigns())
    response = await post(console.operator, "/operator/campaigns/new",
                          _campaign_form(**changes), csrf_from="/operator/campaigns/new")
    assert response.status == 400
    page = await response.text()
    assert field_error in page
    assert 'value="Pans."' in page  # what was typed stays in the form
    assert len(await console.store.campaigns()) == before


@pytest.mark.parametrize(("method", "path", "data", "message"), [
    ("GET", "/operator/campaigns/99999999999999999999", None, "is not an id"),
    ("GET", "/advertiser/campaigns/99999999999999999999", None, "is not an id"),
    ("GET", "/operator/tiers?expiring=99999999999", None, "expiring is a whole number"),
    ("GET", "/operator/tiers?expiring=soon", None, "expiring is a whole number"),
    ("POST", "/operator/tiers/grant", {"user": "local:ada", "tier": "plus",
                                       "days": "99999999"}, "from 1 to 36500"),
    ("POST", "/operator/campaigns/new", {"end": "9999-12-31"}, "end is too far away"),
    ("POST", "/operator/campaigns/99999999999999999999/pause", {}, "is not an id"),
])
async def test_out_of_range_numbers_are_400_with_a_message(
        console: Console, method: str, path: str, data: dict[str, str] | None,
        message: str) -> None:
    client = console.a if path.startswith("/advertiser") else console.operator
    if method == "GET":
        response = await client.get(path)
    else:
        form = _campaign_form(**data) if path.endswith("/new") else data
        response = await post(client, path, form, csrf_from="/operator/tiers")
    assert response.status == 400
    assert message in await response.text()
    assert await console.store.active_grants("user") == []


async def test_edit_cannot_cut_the_budget_below_the_spend(console: Console) -> None:
    await console.store.charge_impression(console.a_campaign, 5_000_000, user_id=None,  # type: ignore[arg-type]
                                          platform="local", matched="pasta",
                                          day=date.today().isoformat())
    path = f"/operator/campaigns/{console.a_campaign}"
    response = await post(console.operator, path, _campaign_form(budget="1", daily_budget=""),
                          csrf_from=path)
    assert response.status == 400
    assert "below what it spent" in await response.text()


async def test_html_in_names_and_keywords_is_text_everywhere(console: Console) -> None:
    await add_advertiser(console.store, f"Evil {SCRIPT}", actor="test")
    response = await post(console.operator, "/operator/campaigns/new",
                          _campaign_form(advertiser=f"Evil {SCRIPT}", headline=SCRIPT,
                                         body=SCRIPT, keywords=f"{SCRIPT}, pan"),
                          csrf_from="/operator/campaigns/new")
    assert response.status == 303, await response.text()
    campaign_path = response.headers["Location"].split("?")[0]
    for path in ("/operator/campaigns", campaign_path, "/operator/tiers"):
        page = await (await console.operator.get(path)).text()
        assert SCRIPT not in page, path
        assert "&lt;script&gt;" in page, path
    # An invalid form echoes what was typed, escaped too.
    bad = await post(console.operator, "/operator/campaigns/new",
                     _campaign_form(headline=SCRIPT, budget="x"),
                     csrf_from="/operator/campaigns/new")
    assert SCRIPT not in await bad.text()
    bad_user = await post(console.operator, "/operator/privacy/export", {"user": SCRIPT},
                          csrf_from="/operator/privacy")
    assert bad_user.status == 400 and SCRIPT not in await bad_user.text()


async def test_csv_matches_causette_ads_report_json(console: Console,
                                                    capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    store = console.store
    today = date.today()
    for day, cost in ((today - timedelta(days=1), 5000), (today, 5000), (today, 7000)):
        impression = await store.charge_impression(
            console.a_campaign, cost, user_id=None, platform="local",  # type: ignore[arg-type]
            matched="pasta", day=day.isoformat())
        assert impression is not None
    await store.record_click(impression)
    response = await console.a.get(f"/advertiser/campaigns/{console.a_campaign}/report.csv")
    assert response.status == 200 and response.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    capsys.readouterr()
    await _ads(argparse.Namespace(ads_command="report", json=True), console.settings)
    report = json.loads(capsys.readouterr().out)
    [expected] = [c for c in report["campaigns"] if c["id"] == console.a_campaign]
    assert [{k: str(v) for k, v in day.items()} for day in expected["days"]] == rows
    assert rows[-1] == {"day": today.isoformat(), "impressions": "2", "clicks": "1",
                        "spent": "0.012"}
    page = await (await console.a.get(f"/advertiser/campaigns/{console.a_campaign}")).text()
    assert "3 impressions, 1 clicks, CTR 33.3%" in page
    assert "No sensitive topics" in page and "No premium users" in page
    chart = await console.a.get(f"/advertiser/campaigns/{console.a_campaign}/chart.png")
    assert (await chart.read()).startswith(b"\x89PNG")


async def test_grant_and_revoke_through_the_core(console: Console) -> None:
    response = await post(console.operator, "/operator/tiers/grant",
                          {"user": "whatsapp:+33 6 12 34 56 78", "tier": "plus", "days": "30",
                           "reason": "support ticket 12"}, csrf_from="/operator/tiers")
    assert response.status == 303
    [grant] = await console.store.active_grants("user")
    assert (grant.subject, grant.tier, grant.reason) == ("whatsapp:33612345678", "plus",
                                                          "support ticket 12")
    assert grant.expires_at is not None
    page = await (await console.operator.get("/operator/tiers?tier=plus&expiring=31")).text()
    assert "whatsapp:33612345678" in page and "support ticket 12" in page
    other_tier = await (await console.operator.get("/operator/tiers?tier=pro")).text()
    assert "support ticket 12" not in other_tier.split("Audit log")[0]
    for bad, error in (({"user": "nobody", "tier": "plus"}, "nobody"),
                       ({"user": "local:ada", "tier": "gold"}, "unknown tier"),
                       ({"user": "local:ada", "tier": "plus", "days": "-3"}, "whole number")):
        refused = await post(console.operator, "/operator/tiers/grant", bad,
                             csrf_from="/operator/tiers")
        assert refused.status == 400 and error in await refused.text()
    revoked = await post(console.operator, "/operator/tiers/revoke",
                         {"kind": "user", "subject": "whatsapp:33612345678", "reason": "refund"},
                         csrf_from="/operator/tiers")
    assert revoked.status == 303
    assert await console.store.active_grants("user") == []
    audit = await console.store.audit_log(limit=2)
    assert [(e.action, e.actor, e.reason) for e in audit] == [
        ("revoke", "operator:web", "refund"), ("grant", "operator:web", "support ticket 12")]


async def test_export_downloads_json_and_forget_needs_confirmation(console: Console) -> None:
    store = console.store
    user_id = await store.ensure_user("local", "ada")
    conversation = await store.open_conversation(user_id, "k")
    await store.add_message(conversation, "user", "my secret recipe")
    response = await post(console.operator, "/operator/privacy/export", {"user": "local:ada"},
                          csrf_from="/operator/privacy")
    assert response.status == 200
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(await response.read())
    assert data["user_ref"] == "local:ada"
    assert data["conversations"][0]["messages"][0]["content"] == "my secret recipe"
    first = await post(console.operator, "/operator/privacy/forget", {"user": "local:ada"},
                       csrf_from="/operator/privacy")
    assert first.status == 200 and "Forget local:ada?" in await first.text()
    assert await store.ensure_user("local", "ada") == user_id  # nothing deleted yet
    wrong = await post(console.operator, "/operator/privacy/forget",
                       {"user": "local:ada", "confirm": "local:bob"},
                       csrf_from="/operator/privacy")
    assert "did not match" in await wrong.text()
    done = await post(console.operator, "/operator/privacy/forget",
                      {"user": "local:ada", "confirm": "local:ada"},
                      csrf_from="/operator/privacy")
    assert done.status == 303
    assert (await store.export_user("local:ada"))["user"] is None
    actions = [e.action for e in await store.audit_log(limit=2)]
    assert actions == ["forget", "privacy export"]


async def test_overview_shows_figures_never_texts(console: Console) -> None:
    store = console.store
    user_id = await store.ensure_user("local", "ada")
    conversation = await store.open_conversation(user_id, "k")
    await store.add_message(conversation, "user", "my secret recipe")
    await store.add_message(conversation, "assistant", "the answer text", status="complete")
    page = await (await console.operator.get("/operator")).text()
    assert "my secret recipe" not in page and "the answer text" not in page
    assert f"<td>{date.today().isoformat()}</td><td>1</td>" in page
    chart = await console.operator.get("/operator/overview.png")
    assert (await chart.read()).startswith(b"\x89PNG")


async def test_operator_adds_an_advertiser_and_sees_its_token_once(console: Console) -> None:
    response = await post(console.operator, "/operator/advertisers", {"name": "Cafe"},
                          csrf_from="/operator/campaigns")
    page = await response.text()
    token = page.split('<code class="token">')[1].split("</code>")[0]
    assert token.startswith("cadv_")
    assert token not in await (await console.operator.get("/operator/campaigns")).text()
    again = await post(console.operator, "/operator/advertisers", {"name": "Cafe"},
                       csrf_from="/operator/campaigns")
    assert again.status == 400 and "exists already" in await again.text()
