"""Who may open what: every page and action for anonymous, operator, advertiser A and
advertiser B; CSRF on every form; stale sessions; the login rate limit."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import pytest

from bot.cli.ads import _ads
from bot.money.ads import Ads
from bot.web.auth import AUTH_KEY, MAX_FAILURES, SESSION_COOKIE
from tests.web.conftest import ADMIN_TOKEN, Console, form_csrf, login, post, spec

# (method, path) of every route; {a} is advertiser A's campaign id.
OPERATOR_PAGES = ["/operator", "/operator/overview.png", "/operator/speed.png",
                  "/operator/tiers",
                  "/operator/campaigns", "/operator/campaigns/new", "/operator/campaigns/{a}",
                  "/operator/privacy"]
OPERATOR_ACTIONS = ["/operator/tiers/grant", "/operator/tiers/revoke",
                    "/operator/advertisers", "/operator/campaigns/new",
                    "/operator/campaigns/{a}", "/operator/campaigns/{a}/pause",
                    "/operator/campaigns/{a}/resume", "/operator/campaigns/{a}/link",
                    "/operator/privacy/export",
                    "/operator/privacy/forget", "/operator/sessions/revoke",
                    "/operator/whatsapp/retry"]
ADVERTISER_PAGES = ["/advertiser", "/advertiser/campaigns/{a}",
                    "/advertiser/campaigns/{a}/chart.png",
                    "/advertiser/campaigns/{a}/report.csv"]
ADVERTISER_ACTIONS = ["/advertiser/campaigns/{a}/pause", "/advertiser/campaigns/{a}/resume"]


def _path(console: Console, template: str) -> str:
    return template.format(a=console.a_campaign)


async def test_anonymous_is_sent_to_the_login_page(console: Console) -> None:
    for template in OPERATOR_PAGES + ADVERTISER_PAGES:
        response = await console.anonymous.get(_path(console, template), allow_redirects=False)
        assert (response.status, response.headers["Location"]) == (303, "/login"), template
    for template in OPERATOR_ACTIONS + ADVERTISER_ACTIONS + ["/logout"]:
        response = await console.anonymous.post(_path(console, template), data={"csrf": "x"},
                                                allow_redirects=False)
        assert (response.status, response.headers["Location"]) == (303, "/login"), template
    home = await console.anonymous.get("/", allow_redirects=False)
    assert home.headers["Location"] == "/login"


async def test_each_role_opens_its_own_pages_only(console: Console) -> None:
    for template in OPERATOR_PAGES:
        path = _path(console, template)
        assert (await console.operator.get(path)).status == 200, path
        for advertiser in (console.a, console.b):
            assert (await advertiser.get(path, allow_redirects=False)).status == 403, path
    for template in ADVERTISER_PAGES:
        path = _path(console, template)
        assert (await console.a.get(path)).status == 200, path
        assert (await console.operator.get(path, allow_redirects=False)).status == 403, path


async def test_an_advertiser_gets_404_for_another_advertisers_campaign(console: Console
                                                                       ) -> None:
    unknown = console.b_campaign + 100
    for template in ADVERTISER_PAGES[1:]:
        for campaign in (console.b_campaign, unknown):
            path = template.replace("{a}", str(campaign))
            response = await console.a.get(path, allow_redirects=False)
            # The same answer for someone else's campaign and for none at all.
            assert response.status == 404, path
            assert "Bistro" not in await response.text()
    for action in ADVERTISER_ACTIONS:
        response = await post(console.a, action.replace("{a}", str(console.b_campaign)),
                              csrf_from="/advertiser")
        assert response.status == 404
    b_campaign = await console.store.campaign(console.b_campaign)
    assert b_campaign is not None and b_campaign.status == "active"
    listing = await (await console.a.get("/advertiser")).text()
    assert "Acme pasta" in listing and "Bistro" not in listing
    assert "Bistro pasta" not in await (await console.a.get(
        f"/advertiser/campaigns/{console.a_campaign}")).text()


async def test_a_servers_campaign_never_reaches_an_advertisers_console(
        console: Console) -> None:
    # A server admin's `/sponsors add` with advertiser = "Acme" (the cog's own call).
    [guilds] = await Ads(console.settings, console.store).add(
        [spec("Acme", headline="Not Acme's at all")], actor="discord:7", guild_id="42")
    # And one the operator added under the name, not yet linked.
    [unlinked] = await Ads(console.settings, console.store).add(
        [spec("Acme", headline="Waiting for its link")], actor="operator")
    listing = await (await console.a.get("/advertiser")).text()
    assert "Acme pasta" in listing
    assert "Not Acme's at all" not in listing and "Waiting for its link" not in listing
    for campaign in (guilds, unlinked):
        path = f"/advertiser/campaigns/{campaign}"
        assert (await console.a.get(path)).status == 404
        response = await post(console.a, f"{path}/pause", csrf_from="/advertiser")
        assert response.status == 404
        assert (await console.store.campaign(campaign)).status == "active"  # type: ignore[union-attr]
    # The operator links by id, on the console or with `causette ads link`.
    form = f"/operator/campaigns/{unlinked}"
    response = await post(console.operator, f"{form}/link", {"advertiser_id": "1"},
                          csrf_from=form)
    assert response.status == 303
    assert "Waiting for its link" in await (await console.a.get("/advertiser")).text()
    assert await _ads(argparse.Namespace(ads_command="link", id=guilds, advertiser="1"),
                      console.settings) == 2
    response = await post(console.operator, f"/operator/campaigns/{guilds}/link",
                          {"advertiser_id": "1"}, csrf_from=form)
    assert "cannot be linked" in await (await console.operator.get(
        response.headers["Location"])).text()
    assert "Not Acme's at all" not in await (await console.a.get("/advertiser")).text()
    assert (await console.store.campaign(guilds)).advertiser_id is None  # type: ignore[union-attr]


async def test_advertiser_actions_on_own_campaign(console: Console) -> None:
    path = f"/advertiser/campaigns/{console.a_campaign}"
    response = await post(console.a, f"{path}/pause", csrf_from=path)
    assert response.status == 303
    assert (await console.store.campaign(console.a_campaign)).status == "paused"  # type: ignore[union-attr]
    page = await (await console.a.get(response.headers["Location"])).text()
    assert "campaign paused" in page
    await post(console.a, f"{path}/resume", csrf_from=path)
    assert (await console.store.campaign(console.a_campaign)).status == "active"  # type: ignore[union-attr]
    audit = await console.store.audit_log(limit=2)
    assert {e.actor for e in audit} == {"advertiser:1"}


@pytest.mark.parametrize("csrf", [None, "", "wrong"])
async def test_every_form_needs_the_sessions_csrf_token(console: Console, csrf: str | None
                                                        ) -> None:
    data: dict[str, Any] = {} if csrf is None else {"csrf": csrf}
    for client, actions in ((console.operator, OPERATOR_ACTIONS),
                            (console.a, ADVERTISER_ACTIONS)):
        for template in [*actions, "/logout"]:
            response = await client.post(_path(console, template), data=data,
                                         allow_redirects=False)
            assert response.status == 403, template
    # Another session's token is as wrong as none.
    b_token = await form_csrf(console.b, "/advertiser")
    response = await console.a.post(f"/advertiser/campaigns/{console.a_campaign}/pause",
                                    data={"csrf": b_token}, allow_redirects=False)
    assert response.status == 403
    assert (await console.store.campaign(console.a_campaign)).status == "active"  # type: ignore[union-attr]


async def test_login_form_needs_its_csrf_cookie(console: Console) -> None:
    client = await console.client()
    response = await client.post("/login", data={"csrf": "made-up", "token": ADMIN_TOKEN},
                                 allow_redirects=False)
    assert response.status == 403


async def test_session_cookie_flags(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    client = await console.client()
    response = await login(client, ADMIN_TOKEN)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie
    # Nothing of the token in the cookie or the database.
    assert ADMIN_TOKEN not in cookie
    assert ADMIN_TOKEN not in (console.settings.database_path.read_bytes().decode("latin-1"))
    # Behind HTTPS every cookie is Secure (a plain-HTTP client then cannot even log in).
    monkeypatch.setattr(client.server.app[AUTH_KEY].settings, "web_secure_cookies", True)
    page = await (await console.client()).get("/login")
    assert "Secure" in page.headers["Set-Cookie"]


async def test_logout_revokes_the_session(console: Console) -> None:
    cookie = console.a.session.cookie_jar.filter_cookies(console.a.make_url("/"))[SESSION_COOKIE]
    response = await post(console.a, "/logout", csrf_from="/advertiser")
    assert (response.status, response.headers["Location"]) == (303, "/login")
    # The old cookie, replayed, opens nothing.
    replay = await console.anonymous.get("/advertiser", allow_redirects=False,
                                         cookies={SESSION_COOKIE: cookie.value})
    assert (replay.status, replay.headers["Location"]) == (303, "/login")


async def test_forged_or_stale_cookie_goes_to_login(console: Console) -> None:
    cookie = console.a.session.cookie_jar.filter_cookies(console.a.make_url("/"))[SESSION_COOKIE]
    session_id, _, signature = cookie.value.rpartition(".")
    for forged in (f"{session_id}x.{signature}", f"{session_id}.{'0' * len(signature)}",
                   "garbage"):
        response = await console.anonymous.get("/advertiser", allow_redirects=False,
                                               cookies={SESSION_COOKIE: forged})
        assert response.headers["Location"] == "/login"
    # Every session revoked (the operator's button): the advertiser must log in again.
    await post(console.operator, "/operator/sessions/revoke", csrf_from="/operator")
    stale = await console.a.get("/advertiser", allow_redirects=False)
    assert (stale.status, stale.headers["Location"]) == (303, "/login")


async def test_expired_session_goes_to_login(console: Console) -> None:
    from datetime import timedelta

    clock_now = console.store.now() + timedelta(hours=console.settings.web_session_hours + 1)
    console.store._clock = lambda: clock_now
    response = await console.operator.get("/operator", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (303, "/login")


async def test_failed_logins_are_rate_limited_per_address(console: Console) -> None:
    client = await console.client()
    for _ in range(MAX_FAILURES):
        response = await login(client, "not-a-token")
        assert response.status == 401
        assert "That token opens nothing." in await response.text()
    # Even the right token waits once the address failed too often.
    blocked = await login(client, ADMIN_TOKEN)
    assert blocked.status == 429
    assert "Too many failed logins" in await blocked.text()
    assert SESSION_COOKIE not in blocked.cookies


async def test_sixty_concurrent_wrong_logins_get_five_401s(console: Console) -> None:
    client = await console.client()
    csrf = await form_csrf(client, "/login")
    answers = await asyncio.gather(*(
        client.post("/login", data={"csrf": csrf, "token": f"wrong-{n}"},
                    allow_redirects=False) for n in range(60)))
    statuses = sorted(response.status for response in answers)
    assert statuses == [401] * MAX_FAILURES + [429] * (60 - MAX_FAILURES)
    assert (await login(client, ADMIN_TOKEN)).status == 429


async def test_a_right_token_is_not_counted_as_a_failure(console: Console) -> None:
    # Each success from a browser of its own (a logged-in page carries the session's
    # CSRF token, not the login form's); the limit is per address, shared by all.
    for _ in range(MAX_FAILURES + 2):
        assert (await login(await console.client(), ADMIN_TOKEN)).status == 303
    client = await console.client()
    for _ in range(MAX_FAILURES):
        assert (await login(client, "not-a-token")).status == 401
    assert (await login(client, "not-a-token")).status == 429


async def test_tokens_log_in_as_their_owner(console: Console) -> None:
    client = await console.client()
    response = await login(client, console.b_token)
    assert response.headers["Location"] == "/advertiser"
    assert "Bistro pasta" in await (await client.get("/advertiser")).text()
    assert (await login(await console.client(), ADMIN_TOKEN)).headers["Location"] == "/operator"
    # An advertiser token with one character changed opens nothing.
    wrong = console.a_token[:-1] + ("A" if console.a_token[-1] != "A" else "B")
    assert (await login(await console.client(), wrong)).status == 401


async def test_oversize_body_is_413(console: Console) -> None:
    csrf = await form_csrf(console.operator, "/operator/privacy")
    response = await console.operator.post(
        "/operator/privacy/export", data={"csrf": csrf, "user": "x" * 200_000},
        allow_redirects=False)
    assert response.status == 413
    login_response = await console.anonymous.post("/login", data={"token": "x" * 200_000})
    assert login_response.status == 413
