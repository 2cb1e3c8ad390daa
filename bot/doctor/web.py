"""The web console beside `causette run` (WEB_WITH_RUN): its login set. (Its port is
checked with the others, in `platforms.check_ports`.)"""

from __future__ import annotations

from bot.config import Settings
from bot.doctor.results import Check, Status

# Shorter than this, an operator token is guessable by a patient attacker.
MIN_ADMIN_TOKEN = 16


def check_web(settings: Settings) -> Check:
    """What the console needs to start with the bot: WEB_ADMIN_TOKEN, long enough."""
    where = f"http://{settings.web_host}:{settings.web_port}/"
    token = settings.web_admin_token
    if not settings.web_with_run:
        state = "WEB_ADMIN_TOKEN set" if token else "no WEB_ADMIN_TOKEN"
        return Check("web", Status.SKIP, f"not served by `causette run` (WEB_WITH_RUN=false; "
                     f"{state}); `causette web` serves it on {where}")
    fix = ("set WEB_ADMIN_TOKEN to a long random secret, e.g. the output of "
           "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`")
    if token is None:
        return Check("web", Status.FAIL, "WEB_WITH_RUN=true, but WEB_ADMIN_TOKEN is not set: "
                     "the console cannot start, nor the bot with it", fix=fix,
                     setting="WEB_ADMIN_TOKEN")
    if len(token.get_secret_value()) < MIN_ADMIN_TOKEN:
        return Check("web", Status.WARN, f"WEB_ADMIN_TOKEN is shorter than {MIN_ADMIN_TOKEN} "
                     "characters: the operator's login is guessable", fix=fix,
                     setting="WEB_ADMIN_TOKEN")
    return Check("web", Status.OK, f"served by `causette run` on {where}, operator login set")
