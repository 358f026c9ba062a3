#!/usr/bin/env bash
# Builds the release harden and prints its path (build output on stderr).
#
# The Swift runtime and Foundation are linked in (--static-swift-stdlib): a dynamically
# linked harden spends about 20 ms of every run loading and binding them, more than the
# engine needs for a cached build step.
#
# The executable is linked at a fixed address (-no-pie), as the Go tools beside it (docker,
# trivy, grype) ship: a position-independent one has ~140,000 relocations whose ~430 pages
# the loader writes on every start, 2 ms of a 7 ms `harden version` (Benchmarks/README.md).
# The price is address randomization for harden's own image; the shared libraries it loads
# (libarchive, SQLite, libc) keep theirs. HARDEN_PIE=1 builds a position-independent one.
set -euo pipefail
cd "$(dirname "$0")/.."
flags=(-c release --static-swift-stdlib)
[[ ${HARDEN_PIE:-0} == 1 ]] || flags+=(-Xlinker -no-pie)
swift build "${flags[@]}" --product harden >&2
printf '%s\n' "$(swift build "${flags[@]}" --show-bin-path)/harden"
