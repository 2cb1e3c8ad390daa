"""`python -m bot` is the same as the `causette` command."""

import sys

from bot.cli.main import main

sys.exit(main())
