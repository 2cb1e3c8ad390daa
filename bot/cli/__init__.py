"""`causette ...`: the command line, one module per command group.

`main` builds the parser and dispatches; `common` holds what the commands share. Importing
this package must not load discord.py: only the Discord commands (`run` with a token,
`sync`) import it, inside the command. The entry point is `bot.cli.main:main`; nothing is
re-exported here, so the module `bot.cli.main` is not shadowed by its function.
"""
