#!/usr/bin/env bash
# Rebuilds the committed contract artifacts in contracts/artifacts/.
#
#   bash contracts/build.sh          # install pinned npm packages, rebuild, overwrite artifacts
#   bash contracts/build.sh --check  # rebuild into a temp dir, fail unless byte-identical
#
# Needs node >= 18 and npm; package-lock.json pins every package exactly.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mode="${1:-build}"
case "$mode" in
  build | --check) ;;
  *)
    echo "usage: $0 [--check]" >&2
    exit 2
    ;;
esac

cd "$here"
# `npm ci` installs exactly what package-lock.json says and never rewrites it.
npm ci --no-audit --no-fund --loglevel=error >/dev/null

if [[ "$mode" == "--check" ]]; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
  node build.mjs "$out"
  if ! diff -r "$here/artifacts" "$out" >/dev/null; then
    echo "contracts/artifacts differ from a fresh build; run: bash contracts/build.sh" >&2
    diff -r "$here/artifacts" "$out" | head -20 >&2 || true
    exit 1
  fi
  echo "contracts/artifacts are byte-identical to a fresh build"
else
  node build.mjs "$here/artifacts"
  for f in "$here"/artifacts/*.json; do
    echo "wrote ${f#"$here"/} ($(wc -c <"$f") bytes)"
  done
fi
