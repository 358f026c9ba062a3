#!/usr/bin/env bash
# `harden normalize` and `harden diff` on the ~400 MB bench image, with their references.
#
#   normalize   harden normalize DOCKER_TAR --output DIR (gzip, the default) and with
#               --compression none: MB of uncompressed layer data per second of wall time and
#               per CPU second (user + sys, /usr/bin/time), peak RSS
#   peer        skopeo copy --dest-compress docker-archive:TAR oci:DIR (the same image into
#               an OCI layout with gzip layers, no canonical order or clamped times)
#   diff        harden diff DOCKER_TAR NORMALIZED_LAYOUT (the raw image against its normalized
#               form: every mtime differs) and the same with --semantic
#   read once   harden verify DOCKER_TAR and harden verify NORMALIZED_LAYOUT, both at once:
#               each image read once, the reference for diff (target: diff <= 1.5x)
#
# Usage: Benchmarks/reproduce.sh [--runs N] [--images DIR] [--results DIR]
#   --runs N       hyperfine runs per command (default 3)
#   --images DIR   where the bench image files go (default /tmp/harden-bench-images)
#   --results DIR  where hyperfine JSON and summary.md go
#                  (default /tmp/harden-bench-results/reproduce-<UTC time>)
# Environment:
#   HARDEN=PATH    use this harden binary and do not build (default: scripts/build-release.sh)
# Installs what is missing: hyperfine, skopeo, time (apt-get, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

runs=3
images=/tmp/harden-bench-images
results=

log() { printf '[reproduce-bench +%ss] %s\n' "$SECONDS" "$*" >&2; }
die() { printf '[reproduce-bench] ERROR: %s\n' "$*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

while (($#)); do
  case $1 in
    --runs) [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive number"; runs=$2; shift 2 ;;
    --images) [[ $# -ge 2 ]] || die "--images needs a directory"; images=$2; shift 2 ;;
    --results) [[ $# -ge 2 ]] || die "--results needs a directory"; results=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
results=${results:-/tmp/harden-bench-results/reproduce-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$results"
results=$(cd "$results" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/harden-reproduce-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
command -v skopeo >/dev/null || missing+=(skopeo)
[[ -x /usr/bin/time ]] || missing+=(time)
source "$root/Benchmarks/packages.sh"
install_debian_packages "${missing[@]}"

harden=$(release_harden "${HARDEN:-}")
[[ -x $harden ]] || die "no harden binary at $harden"

bash "$root/scripts/make-bench-image.sh" "$images" || die "scripts/make-bench-image.sh failed"
docker_tar=$(cd "$images" && pwd)/debian-python.docker.tar
[[ -s $docker_tar ]] || die "no $docker_tar"

# ---------------------------------------------------------------- normalize, measured once per compression
rows=()
for compression in gzip none; do
  log "harden normalize --compression $compression (checked run, /usr/bin/time)"
  out=$work/normalized-$compression.oci
  /usr/bin/time -f '%e %U %S %M' -o "$work/normalize.time" \
    "$harden" normalize "$docker_tar" --output "$out" --compression "$compression" >"$results/normalize-$compression.out" \
    || die "harden normalize failed: $(cat "$results/normalize-$compression.out")"
  read -r wall user sys rss_kb <"$work/normalize.time"
  megabytes=$(awk '/MB of layers/ { print $1 }' "$results/normalize-$compression.out")
  [[ -n $megabytes ]] || die "harden normalize printed no size: $(cat "$results/normalize-$compression.out")"
  row=$(awk -v mb="$megabytes" -v w="$wall" -v u="$user" -v s="$sys" -v kb="$rss_kb" -v c="$compression" \
    'BEGIN { printf "| harden normalize --compression %s | %.0f MB | %.2f s | %.2f s | %.0f MB/s | %.0f MB/s | %.0f MiB |", c, mb, w, u + s, mb / w, mb / (u + s), kb / 1024 }')
  rows+=("$row")
  log "$row"
done

# ---------------------------------------------------------------- normalize vs skopeo, timed
hyperfine --runs "$runs" --export-json "$results/normalize.json" \
  --prepare "rm -rf $work/h.oci $work/n.oci $work/s.oci" \
  -n "harden normalize" "$harden normalize $docker_tar --output $work/h.oci" \
  -n "harden normalize --compression none" "$harden normalize $docker_tar --output $work/n.oci --compression none" \
  -n "skopeo copy --dest-compress" "skopeo copy -q --dest-compress docker-archive:$docker_tar oci:$work/s.oci" \
  >&2

# ---------------------------------------------------------------- diff vs reading both once
normalized=$work/normalized-gzip.oci
"$harden" diff "$docker_tar" "$normalized" >"$results/diff.out" && status=0 || status=$?
[[ $status -eq 1 ]] || die "harden diff should find differences (exit 1), gave $status"
hyperfine --runs "$runs" -i --export-json "$results/diff.json" \
  -n "harden diff" "$harden diff $docker_tar $normalized" \
  -n "harden diff --semantic" "$harden diff --semantic $docker_tar $normalized" \
  -n "read both once" \
  "$harden verify $docker_tar --format json >/dev/null & $harden verify $normalized --format json >/dev/null; wait" \
  >&2

mean() {
  python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results']; print(next(x['mean'] for x in r if x['command']==sys.argv[2]))" "$@"
}
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$@"; }
diff_mean=$(mean "$results/diff.json" "harden diff")
semantic_mean=$(mean "$results/diff.json" "harden diff --semantic")
floor_mean=$(mean "$results/diff.json" "read both once")
{
  echo "# reproduce benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
  echo
  echo "| normalize (checked run) | layers | wall | CPU | per wall second | per CPU second | peak RSS |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "| timed (hyperfine, $runs runs) | mean |"
  echo "|---|---|"
  for name in "harden normalize" "harden normalize --compression none" "skopeo copy --dest-compress"; do
    printf '| %s | %.2f s |\n' "$name" "$(mean "$results/normalize.json" "$name")"
  done
  printf '| harden diff (raw vs normalized) | %.2f s = %sx reading both once |\n' "$diff_mean" "$(ratio "$diff_mean" "$floor_mean")"
  printf '| harden diff --semantic | %.2f s = %sx reading both once |\n' "$semantic_mean" "$(ratio "$semantic_mean" "$floor_mean")"
  printf '| read both once (two harden verify at once) | %.2f s |\n' "$floor_mean"
} >"$results/summary.md"
cat "$results/summary.md"
