"""The Discord fixtures (dpytest) of tests/cogs, for the safety tests that cross surfaces."""

from tests.cogs.conftest import bot, bot_settings, fake_engine  # noqa: F401
