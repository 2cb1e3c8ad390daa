"""Who gets into the web console: logins, signed session cookies, CSRF, rate limits.

- Operators log in with WEB_ADMIN_TOKEN, compared in constant time (the digests of
  both, so neither length nor content leaks through timing); it is never stored.
- Advertisers log in with the token `causette ads advertiser add` printed once
  (`bot.money.advertisers` checks it against its stored hash).
- A login opens a session: a random id in an HttpOnly, SameSite=Strict cookie (Secure
  with WEB_SECURE_COOKIES), signed with a key derived from WEB_ADMIN_TOKEN, and a row
  in the database holding only the id's hash, its expiry and its CSRF token. Logging
  out, or an advertiser's new token, revokes it.
- Every POST carries the session's CSRF token (the login form a cookie-bound one).
- Failed logins are counted per address in the database; past MAX_FAILURES in
  FAILURE_WINDOW the login answers 429 until the window moves on. Each attempt is
  counted before its token is checked (and forgiven when it succeeds), in the step
  that checks the count, so concurrent attempts cannot slip past the limit.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.config import Settings
from bot.money import advertisers
from bot.store import Advertiser, Store, WebRole

SESSION_COOKIE = "causette_session"
LOGIN_COOKIE = "causette_login"  # binds the login form's CSRF token to this browser
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
SETTINGS_KEY: web.AppKey[Settings] = web.AppKey("settings", Settings)
STORE_KEY: web.AppKey[Store] = web.AppKey("store", Store)


@dataclass(frozen=True)
class Session:
    """The logged-in user of a request."""

    role: WebRole
    advertiser: Advertiser | None
    csrf: str
    id_hash: str

    @property
    def actor(self) -> str:
        """Who did it, for the audit log."""
        return "operator:web" if self.role == "operator" else f"advertiser:{self.advertiser_id}"

    @property
    def advertiser_id(self) -> int | None:
        """The advertiser's account id (None for an operator)."""
        return self.advertiser.id if self.advertiser else None


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


class Auth:
    """Logins and sessions over the store."""

    def __init__(self, settings: Settings, store: Store) -> None:
        if settings.web_admin_token is None:
            raise ValueError("set WEB_ADMIN_TOKEN to run the web console")
        self.settings = settings
        self.store = store
        admin = settings.web_admin_token.get_secret_value()
        self._admin_digest = _digest(admin)
        # Only a derived key is held, so a leaked cookie says nothing about the token.
        self._key = hmac.new(_digest(admin), b"causette web session", hashlib.sha256).digest()

    # Cookies -------------------------------------------------------------------------

    def _sign(self, value: str) -> str:
        return hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def _cookie_value(self, session_id: str) -> str:
        return f"{session_id}.{self._sign(session_id)}"

    def _session_id(self, cookie: str | None) -> str | None:
        if not cookie or "." not in cookie:
            return None
        session_id, _, signature = cookie.rpartition(".")
        return session_id if hmac.compare_digest(signature, self._sign(session_id)) else None

    def set_cookie(self, response: web.StreamResponse, name: str, value: str,
                   max_age: int | None = None) -> None:
        """A cookie as every console cookie is: HttpOnly, SameSite=Strict, Secure on HTTPS."""
        response.set_cookie(name, value, max_age=max_age, path="/", httponly=True,
                            samesite="Strict", secure=self.settings.web_secure_cookies)

    # Sessions ------------------------------------------------------------------------

    async def session(self, request: web.Request) -> Session | None:
        """The request's open session, if its cookie is genuine and not expired/revoked."""
        session_id = self._session_id(request.cookies.get(SESSION_COOKIE))
        if session_id is None:
            return None
        id_hash = advertisers.hash_token(session_id)
        row = await self.store.web_session(id_hash)
        if row is None:
            return None
        advertiser = None
        if row.role == "advertiser":
            advertiser = await self.store.advertiser(row.advertiser_id or 0)
            if advertiser is None:
                return None
        return Session(row.role, advertiser, row.csrf, id_hash)

    async def open_session(self, response: web.StreamResponse, address: str, role: WebRole,
                           advertiser: Advertiser | None) -> None:
        """Start a session and give the browser its cookie."""
        session_id = secrets.token_urlsafe(32)
        hours = self.settings.web_session_hours
        await self.store.create_web_session(
            advertisers.hash_token(session_id), role=role,
            advertiser_id=advertiser.id if advertiser else None, csrf=secrets.token_urlsafe(24),
            address=address, expires_at=self.store.now() + timedelta(hours=hours))
        self.set_cookie(response, SESSION_COOKIE, self._cookie_value(session_id),
                        max_age=int(hours * 3600))

    # Logins --------------------------------------------------------------------------

    async def claim_attempt(self, address: str) -> int | None:
        """Count this login attempt as a failure until it succeeds; None when the address
        failed MAX_FAILURES times in FAILURE_WINDOW already (one step: see the store)."""
        return await self.store.claim_login_attempt(
            address, self.store.now() - FAILURE_WINDOW, MAX_FAILURES)

    async def check_token(self, token: str) -> tuple[WebRole, Advertiser | None] | None:
        """Who this token logs in as (None: nobody)."""
        if hmac.compare_digest(_digest(token), self._admin_digest):
            return "operator", None
        advertiser = await advertisers.login(self.store, token)
        return ("advertiser", advertiser) if advertiser else None


AUTH_KEY = web.AppKey("auth", Auth)
# The logged-in user of a request (None: anonymous), set by `guard` before any handler.
SESSION_KEY: web.RequestKey[Session | None] = web.RequestKey("session")


def address(request: web.Request) -> str:
    """The client's address, as the rate limit counts it (the proxy's own behind one
    that does not pass it on: then the limit applies to all clients together)."""
    return request.remote or "unknown"


# Routes ------------------------------------------------------------------------------

routes = web.RouteTableDef()


def _home(session: Session) -> str:
    return "/operator" if session.role == "operator" else "/advertiser"


@routes.get("/")
async def index(request: web.Request) -> web.StreamResponse:
    """The home page of whoever is logged in, else the login form."""
    session = request.get(SESSION_KEY)
    raise web.HTTPSeeOther(_home(session) if session else "/login")


async def _login_page(request: web.Request, error: str = "", status: int = 200
                      ) -> web.Response:
    auth = request.app[AUTH_KEY]
    csrf = secrets.token_urlsafe(24)
    response = aiohttp_jinja2.render_template(
        "login.html", request, {"login_csrf": csrf, "error": error}, status=status)
    auth.set_cookie(response, LOGIN_COOKIE, csrf, max_age=3600)
    return response


@routes.get("/login")
async def login_form(request: web.Request) -> web.StreamResponse:
    """The login form (one token field: the operator's or an advertiser's)."""
    return await _login_page(request)


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    """Check the token; open a session or count the failure."""
    auth = request.app[AUTH_KEY]
    form = await request.post()
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(str(form.get("csrf", "")), expected):
        raise web.HTTPForbidden(text="The form expired or did not come from this console; "
                                     "reload the login page.")
    where = address(request)
    attempt = await auth.claim_attempt(where)
    if attempt is None:
        return await _login_page(request, "Too many failed logins from this address; wait "
                                          "15 minutes and try again.", status=429)
    found = await auth.check_token(str(form.get("token", "")).strip())
    if found is None:
        await auth.store.forget_login_failures(auth.store.now() - FAILURE_WINDOW)
        return await _login_page(request, "That token opens nothing.", status=401)
    await auth.store.forgive_login_attempt(attempt)
    role, advertiser = found
    response = web.HTTPSeeOther("/operator" if role == "operator" else "/advertiser")
    await auth.open_session(response, where, role, advertiser)
    response.del_cookie(LOGIN_COOKIE, path="/")
    raise response


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    """End this session (the CSRF middleware checked the form)."""
    session = request.get(SESSION_KEY)
    if session is not None:
        await request.app[AUTH_KEY].store.revoke_web_session(session.id_hash)
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


# Who may open what: the middleware decides before any handler runs ---------------------

@web.middleware
async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
    """Loads the session; sends the anonymous to the login page, refuses the wrong role
    (403) and any POST without the session's CSRF token (403)."""
    auth = request.app[AUTH_KEY]
    session = await auth.session(request)
    request[SESSION_KEY] = session
    path = request.path
    public = path in ("/", "/login") or path.startswith("/static/")
    if not public:
        if session is None:
            # A stale or missing session: log in again, then come back here.
            raise web.HTTPSeeOther("/login")
        needed = "operator" if path.startswith("/operator") else (
            "advertiser" if path.startswith("/advertiser") else None)
        if needed is not None and session.role != needed:
            raise web.HTTPForbidden(text="This page is not for this login.")
        if request.method == "POST":
            form = await request.post()  # cached: the handler reads the same form
            if not hmac.compare_digest(str(form.get("csrf", "")), session.csrf):
                raise web.HTTPForbidden(text="Missing or wrong CSRF token; reload the page.")
    return await handler(request)  # type: ignore[no-any-return]
