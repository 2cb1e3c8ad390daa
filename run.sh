#!/usr/bin/env bash
# Sets up (see setup.sh) and starts the bot: Discord when DISCORD_TOKEN is set in the
# environment or .env, otherwise the terminal chat on the bundled model.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
exec .venv/bin/causette run "$@"
