#!/usr/bin/env bash
# Sets up Causette: a virtual environment, the package, and the default model.
# Idempotent: a second run reuses what is there (pip's wheel cache keeps the
# llama-cpp-python build, which takes ~5 minutes from source the first time).
set -euo pipefail
cd "$(dirname "$0")"
extra="${1:-}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --disable-pip-version-check -q -e ".${extra:+[$extra]}"
.venv/bin/causette model fetch
