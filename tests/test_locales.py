"""Every string in both languages; command translations are valid Discord names."""

from __future__ import annotations

import re
import string

import discord

from bot.locales import STRINGS, pick_locale, t


def test_every_string_has_both_languages_with_the_same_fields() -> None:
    formatter = string.Formatter()
    for key, table in STRINGS.items():
        assert set(table) == {"en", "fr"}, key
        fields = [{f for _, f, _, _ in formatter.parse(text) if f} for text in table.values()]
        assert fields[0] == fields[1], key


def test_pick_locale() -> None:
    assert pick_locale(discord.Locale.french) == "fr"
    assert pick_locale(None, "fr") == "fr"
    assert pick_locale(discord.Locale.japanese, discord.Locale.french) == "fr"
    assert pick_locale(discord.Locale.german) == "en"
    assert t("busy", "fr", waiting=3).startswith("Je suis occupé")


async def test_french_command_names_are_valid() -> None:
    from bot.config import load_settings
    from bot.discord_app import CausetteTranslator, build_bot

    bot = await build_bot(load_settings(), open_core=False)
    translator = CausetteTranslator()
    name_re = re.compile(r"^[-_\w]{1,32}$")
    for command in bot.tree.walk_commands():
        name = await translator.translate(discord.app_commands.locale_str(command.name),
                                          discord.Locale.french, None)  # type: ignore[arg-type]
        assert name is not None and name_re.match(name) and name == name.lower(), command.name
        description = await translator.translate(
            discord.app_commands.locale_str(command.description), discord.Locale.french,
            None)  # type: ignore[arg-type]
        assert description and len(description) <= 100, command.description
    await bot.close()
