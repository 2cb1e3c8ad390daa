#!/usr/bin/env bash
# Sets up (see setup.sh) and starts the bot: Discord when DISCORD_TOKEN is set in the
# environment or .env, otherwise the terminal chat on the bundled model.
#
# When the start fails (a non-zero exit), `causette doctor` checks the whole setup and
# says what to fix, then this script exits with the bot's own status. Under a service
# manager, run .venv/bin/causette run directly (docs/deploy/causette.service).
# CAUSETTE_SKIP_SETUP=1 skips setup.sh, for quick restarts of an installed copy.
set -euo pipefail
cd "$(dirname "$0")"
if [ "${CAUSETTE_SKIP_SETUP:-0}" != 1 ]; then
  ./setup.sh
fi
status=0
.venv/bin/causette run "$@" || status=$?
# 130: stopped with Ctrl-C, nothing to diagnose.
if [ "$status" -ne 0 ] && [ "$status" -ne 130 ]; then
  echo >&2
  echo "causette run exited with status $status; checking the setup (causette doctor):" >&2
  .venv/bin/causette doctor >&2 || true
fi
exit "$status"
