#!/usr/bin/env bash
# Builds the release harden and prints its path (build output on stderr). The Swift
# runtime and Foundation are linked in (--static-swift-stdlib): a dynamically linked
# harden spends about 20 ms of every run loading and binding them, more than the
# engine needs for a cached build step.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --static-swift-stdlib --product harden >&2
printf '%s\n' "$(swift build -c release --static-swift-stdlib --show-bin-path)/harden"
