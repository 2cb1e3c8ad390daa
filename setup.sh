#!/usr/bin/env bash
# Sets up Causette: a virtual environment, the package, and the default model.
# Idempotent: a second run reuses what is there (pip's wheel cache keeps the
# llama-cpp-python build, which takes ~5 minutes from source the first time).
#
# It says what it does and how long that takes, and is never silent for more than
# ~10 s: pip's build of llama-cpp-python prints nothing for minutes when its output
# is not a terminal, so a ticker reports the time spent meanwhile.
set -euo pipefail
cd "$(dirname "$0")"

# BEGIN helpers (tests/test_setup.py sources this block on its own)

# Seconds between "still ..." lines while a long step runs quietly.
tick_seconds="${CAUSETTE_TICK_SECONDS:-10}"

# Run a command; every $tick_seconds print how long it has been running, then how long
# it took. Its exit status is the command's.
with_ticker() {
  local label=$1
  shift
  local start=$SECONDS status=0 ticker
  (
    # A subshell's SECONDS keeps counting from the parent's value.
    while sleep "$tick_seconds"; do
      echo "  ... still $label, $((SECONDS - start)) s"
    done
  ) &
  ticker=$!
  # Ctrl-C or an error must not leave the ticker printing behind us.
  trap 'kill "$ticker" 2>/dev/null || true' EXIT
  "$@" || status=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  trap - EXIT
  if [ "$status" -eq 0 ]; then
    echo "  done in $((SECONDS - start)) s"
  fi
  return "$status"
}

# The llama-cpp-python version pyproject.toml pins (pinned so the cached build is reused).
llama_pin() {
  sed -n 's/.*"llama-cpp-python==\([0-9][0-9.]*\)".*/\1/p' pyproject.toml | head -n 1
}

# What getting llama-cpp-python $2 into the environment of python $1 will take:
# "installed" (importable at that version), "cached" (pip's wheel cache holds a
# build of it) or "build" (pip compiles it from source).
llama_state() {
  local py=$1 pin=$2
  if [ -x "$py" ] && "$py" - "$pin" 2>/dev/null <<'PY'
import importlib.metadata, importlib.util, sys
ok = (importlib.util.find_spec("llama_cpp") is not None
      and importlib.metadata.version("llama-cpp-python") == sys.argv[1])
sys.exit(0 if ok else 1)
PY
  then
    echo installed
  elif [ -x "$py" ] && "$py" -m pip cache list "llama_cpp_python-$pin-*" 2>/dev/null \
      | grep -q "llama_cpp_python-$pin-"; then
    echo cached
  else
    echo build
  fi
}

# One line: how long the source build takes here, and why it happens at all.
build_notice() {
  local pin=$1 cores here
  cores=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
  # The C++ build spreads over the cores: ~11 core-minutes in all (5.5 min on 2).
  if [ "$cores" -eq 2 ]; then
    here="as on this machine"
  else
    here="roughly $(((11 + cores - 1) / cores)) min with the $cores cores here"
  fi
  echo "Building llama-cpp-python $pin from source (PyPI only has its source): pip" \
    "compiles llama.cpp's C++, about 5.5 min on 2 cores ($here). Once only: pip's" \
    "wheel cache keeps the build for every later run."
}

# END helpers

extra="${1:-}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "Creating the virtual environment in .venv ($("$python" --version 2>&1))..."
  "$python" -m venv .venv
fi

pin=$(llama_pin)
package=".${extra:+[$extra]}"
pip_install=(.venv/bin/python -m pip install --disable-pip-version-check)
case "$(llama_state .venv/bin/python "$pin")" in
  installed)
    echo "Checking Causette's package and dependencies (llama-cpp-python $pin is" \
      "already built and installed)..."
    with_ticker "checking dependencies" "${pip_install[@]}" -q -e "$package"
    ;;
  cached)
    echo "Installing Causette's package and dependencies; llama-cpp-python $pin comes" \
      "from pip's wheel cache (built on an earlier run), so well under a minute..."
    with_ticker "installing" "${pip_install[@]}" -e "$package"
    ;;
  build)
    build_notice "$pin"
    # pip's own output (downloads, then "Building wheel for llama-cpp-python") plus the
    # ticker for the minutes the compiler works without a word.
    with_ticker "installing (the build of llama-cpp-python is the long part)" \
      "${pip_install[@]}" -e "$package"
    ;;
esac

# The web console's browser tests drive Debian's chromium through Playwright, which
# cannot download a browser of its own here; only the dev extra needs it.
if [ "$extra" = dev ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's chromium for the web console's browser tests (apt-get," \
      "once; about a minute on a fast mirror)..."
    export DEBIAN_FRONTEND=noninteractive
    with_ticker "installing chromium" sh -c \
      'apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null &&
       apt-get install -y -q chromium >/dev/null; }'
  else
    echo "No /usr/bin/chromium, and apt-get is not available as root: the browser tests" \
      "will be skipped (sudo apt-get install chromium adds it)."
  fi
fi

echo "Default model (SmolLM2-135M-Instruct, 94 MiB, checked by SHA-256):"
.venv/bin/causette model fetch
