#!/usr/bin/env bash
# Runs harden's whole test suite against a real Docker engine, real libarchive
# and real SQLite files. Installs and starts what the tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/start-second-engine.sh
if ! swift build --build-tests 2>&1 | { grep -vE '^\[[0-9]+/[0-9]+\] (Compiling|Emitting|Wrapping|Linking|Write|Applying)' || true; }; then
  echo "swift build failed" >&2
  exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
swift test --skip-build >"$log" 2>&1
status=$?
set -e
if [[ $status -eq 0 ]]; then
  grep -E '^(✔ Suite|✔ Test run|Test Suite .All tests|[[:space:]]+Executed)' "$log"
else
  grep -vE '^(◇|↳|✔ Test .* passed)' "$log"
fi
runs=$(grep -E 'Test run with [0-9]+ tests? in [0-9]+ suites? (passed|failed)' "$log" || true)
tests=$(sed -E 's/.*Test run with ([0-9]+) tests?.*/\1/' <<<"$runs" | awk '{ n += $1 } END { print n + 0 }')
failed=$(grep -cE '^✘ Test .* failed' "$log" || true)
if [[ -n $runs ]]; then
  echo "swift-testing: $((tests - failed)) passed, $failed failed"
fi
exit "$status"
