#!/usr/bin/env bash
# Check deploy/switchboard.service: `systemd-analyze verify` (syntax, directives, the binary it
# starts; any warning fails) and `systemd-analyze security --offline` (exposure at most 2.0 of 10). The unit names
# /usr/local/bin/switchboard; the check builds the binary and points a copy of the unit at it.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v systemd-analyze >/dev/null; then
  if [ "${CI:-}" = "true" ]; then echo "systemd-analyze missing in CI" >&2; exit 1; fi
  echo "systemd-analyze not installed: skipped"; exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 GOFLAGS= go build -trimpath -buildvcs=true -o "$tmp/switchboard" ./cmd/switchboard
sed "s|/usr/local/bin/switchboard|$tmp/switchboard|" deploy/switchboard.service >"$tmp/switchboard.service"
# verify exits 0 on an unknown or misspelt directive and only warns: any warning fails here.
if ! out=$(systemd-analyze verify "$tmp/switchboard.service" 2>&1) || [ -n "$out" ]; then
  echo "$out" >&2
  echo "unit: systemd-analyze verify complains about deploy/switchboard.service" >&2
  exit 1
fi
systemd-analyze security --offline=true --threshold=20 --no-pager "$tmp/switchboard.service" | tail -1
echo "unit: deploy/switchboard.service verifies"
