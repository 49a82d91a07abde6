#!/usr/bin/env bash
# GAZE's two commands:
#   ./dev.sh run    set up (virtual environment + pinned requirements) and serve GAZE (waitress)
#   ./dev.sh test   set up (with test requirements) and run the whole test suite
set -euo pipefail
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3}"
VENV="${GAZE_VENV:-.venv}"

setup() {
  local reqs="$1"
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV" || {
      echo "Could not create a virtual environment. On Debian/Ubuntu: sudo apt-get install python3-venv" >&2
      exit 1
    }
  fi
  local stamp="$VENV/.installed-$(basename "$reqs")"
  if [ ! -f "$stamp" ] || [ "$reqs" -nt "$stamp" ] || [ requirements.txt -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$reqs"
    touch "$stamp"
  fi
}

case "${1:-run}" in
  run)
    setup requirements.txt
    exec "$VENV/bin/python" -m gaze.serve
    ;;
  test)
    setup requirements-dev.txt
    shift || true
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  *)
    echo "usage: ./dev.sh run | ./dev.sh test [pytest args]" >&2
    exit 2
    ;;
esac
