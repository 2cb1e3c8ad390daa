"""discord.py cogs, one per feature area; each module has an async ``setup(bot)``."""
