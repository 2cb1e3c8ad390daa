"""The web console: a surface for operators and advertisers over the same core as the
CLI (`bot/web/app.py` builds it, `bot/web/auth.py` decides who gets in)."""
