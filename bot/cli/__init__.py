"""`causette ...`: the command line, one module per command group.

`main` builds the parser and dispatches; `common` holds what the commands share. Importing
this package must not load discord.py: only the Discord commands (`run` with a token,
`sync`) import it, inside the command."""

from bot.cli.main import main

__all__ = ["main"]
