#!/usr/bin/env bash
# Sets up (see setup.sh, with the dev extra) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh dev
exec .venv/bin/python -m pytest "$@"
