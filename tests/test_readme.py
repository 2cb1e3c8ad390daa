"""The README lists every setting, every `causette` command and every slash command."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
from pathlib import Path

from discord import app_commands

import cogs
from bot.cli.main import build_parser
from bot.config import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme() -> None:
    missing = [name.upper() for name in Settings.model_fields
               if not re.search(rf"`{name.upper()}`", README)]
    assert missing == []


def _commands(parser: argparse.ArgumentParser, prefix: str) -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = _commands(sub, f"{prefix} {name}")
                found += nested or [f"{prefix} {name}"]
    return found


def test_every_cli_command_is_in_the_readme() -> None:
    commands = _commands(build_parser(), "causette")
    assert len(commands) > 20
    # A group's subcommands may be listed after the group's first (`ads list`).
    missing = [c for c in commands
               if f"`{c}" not in README and f"`{' '.join(c.split()[1:])}" not in README]
    assert missing == []


def _slash(command: app_commands.Command | app_commands.Group, prefix: str = "/") -> list[str]:
    if isinstance(command, app_commands.Group):
        return [name for sub in command.commands
                for name in _slash(sub, f"{prefix}{command.name} ")]
    return [f"{prefix}{command.name}"]


def test_every_slash_command_is_in_the_readme() -> None:
    names: list[str] = []
    for module in pkgutil.iter_modules(cogs.__path__):
        loaded = importlib.import_module(f"cogs.{module.name}")
        for value in vars(loaded).values():
            if isinstance(value, type) and value.__module__ == loaded.__name__:
                for command in getattr(value, "__cog_app_commands__", []):
                    names += _slash(command)
    assert len(names) > 20
    missing = [n for n in names if f"`{n}`" not in README]
    assert missing == []
