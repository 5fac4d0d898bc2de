#!/usr/bin/env bash
# Runs the web3.py end-to-end tests against a running Phalanx node.
#
#   PHALANX_RPC_URL=http://127.0.0.1:8545 PHALANX_DEV_KEY=0x... bash tests/python/run.sh [pytest args]
#
# The virtualenv lives in ${PHALANX_PY_VENV:-$HOME/.cache/phalanx-py-venv} and
# is reused while requirements.txt is unchanged (a stamp records its hash).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${PHALANX_PY_VENV:-$HOME/.cache/phalanx-py-venv}"
python="${PYTHON:-python3}"
stamp="$venv/.phalanx-requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"

if [[ ! -x "$venv/bin/python" ]]; then
  "$python" -m venv "$venv"
fi
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  echo "$want" >"$stamp"
fi

cd "$here"
exec "$venv/bin/python" -m pytest -p no:cacheprovider "$@" "$here"
