#!/usr/bin/env bash
# Scanning speed on the ~400 MB Debian + Python bench image (scripts/make-bench-image.sh):
#
#   1. Import of N synthetic OSV advisories (Benchmarks/make-advisories.py, one all.zip) plus
#      the 49 real PyPA records into an advisory database: time and peak RSS
#      (targets: 150,000 in ≤ 20 s, peak ≤ 300 MiB).
#   2. `harden scan --scanner builtin` with that database against `harden verify` on the same
#      image, both forms (docker-archive, gzip OCI layout), in one hyperfine run each
#      (target ≤ 1.15×), and the peak RSS of each (target for scan: ≤ 80 MiB).
#   3. Matching the image's packages against the database, from `harden scan --verbose`
#      (target ≤ 50 ms).
#   4. `harden compare` of two images with that database against verifying both (≤ 1.2×).
#   5. Cataloguing against the peers: `harden sbom` vs `syft scan` vs `trivy image
#      --format cyclonedx` (offline), on the same image.
#
# Usage: Benchmarks/scan.sh [--runs N] [--advisories N] [--images DIR]
# Environment: HARDEN=PATH uses that binary instead of scripts/build-release.sh.
# Needs: hyperfine, skopeo, GNU time, a running engine and the local bases (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

runs=5
count=150000
images=/tmp/harden-bench-images
while (($#)); do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --advisories) count=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    *) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2 ;;
  esac
done
command -v hyperfine >/dev/null || { echo "hyperfine is missing: apt-get install -y hyperfine" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "GNU time is missing: apt-get install -y time" >&2; exit 2; }

if [[ -n ${HARDEN:-} ]]; then
  harden=$HARDEN
else
  harden=$("$root/scripts/build-release.sh")
fi
source "$root/Benchmarks/peers.sh"
{ read -r trivy; read -r syft; read -r _; } < <(peer_paths)
[[ -n $trivy && -n $syft ]] || { echo "trivy or syft is missing: scripts/setup.sh installs them" >&2; exit 2; }
export SYFT_CHECK_FOR_APP_UPDATE=false

bash scripts/make-bench-image.sh "$images" >&2
docker_tar=$images/debian-python.docker.tar
oci_dir=$images/debian-python.oci

work=$(mktemp -d /tmp/harden-scan-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
real=$root/../shared/data/osv/PyPI

echo "## import of $count synthetic advisories and the 49 real PyPA records"
"$harden" sbom "$docker_tar" --format cyclonedx >"$work/sbom.json"
python3 - "$work/sbom.json" >"$work/packages.txt" <<'PY'
import json, sys
for c in json.load(open(sys.argv[1]))["components"]:
    purl = c.get("purl", "")
    if purl.startswith("pkg:deb/"):
        # Debian advisories name source packages.
        source = next((p["value"] for p in c.get("properties", []) if p["name"] == "harden:package:source"), c["name"])
        print("Debian:12", source, c["version"])
    elif purl.startswith("pkg:pypi/"):
        print("PyPI", c["name"], c["version"])
PY
python3 Benchmarks/make-advisories.py "$count" "$work/all.zip" "$work/packages.txt"
echo "packages in the image: $(wc -l <"$work/packages.txt"); archive: $(du -m "$work/all.zip" | cut -f1) MB"
echo
echo "| run | seconds | peak RSS |"
echo "|---|---|---|"
db=$work/advisories.db
for run in 1 2 3; do
  rm -f "$db"
  /usr/bin/time -f '%e %M' -o "$work/import.time" \
    "$harden" advisories import "$work/all.zip" "$real" --db "$db" >/dev/null 2>&1
  read -r seconds kib <"$work/import.time"
  echo "| $run | $seconds s | $((kib / 1024)) MiB |"
done
echo
"$harden" advisories status --db "$db" | sed 's/^/    /'

echo "## harden scan (with the database) against harden verify, and harden sbom against syft and trivy"
for form in docker-archive oci-layout; do
  case $form in
    docker-archive) input=$docker_tar; syft_src=docker-archive:$docker_tar ;;
    oci-layout) input=$oci_dir; syft_src=oci-dir:$oci_dir ;;
  esac
  echo "### $form"
  hyperfine --shell=bash --runs "$runs" --warmup 1 --style basic --export-markdown "$work/$form.md" \
    -n "harden verify" "$harden verify $input --format json >/dev/null; [ \$? -le 1 ]" \
    -n "harden scan --scanner builtin" \
    "$harden scan $input --scanner builtin --advisories $db --format json >/dev/null; [ \$? -le 1 ]" \
    -n "harden sbom" "$harden sbom $input --format cyclonedx >/dev/null" \
    -n "syft scan" "$syft scan $syft_src -o cyclonedx-json --quiet >/dev/null" \
    -n "trivy image (SBOM, offline)" \
    "$trivy image --input $input --format cyclonedx --cache-backend memory --skip-db-update --offline-scan --skip-version-check --disable-telemetry --quiet >/dev/null" \
    >&2
  cat "$work/$form.md"
  for tool in verify scan; do
    extra=()
    [[ $tool == scan ]] && extra=(--scanner builtin --advisories "$db")
    /usr/bin/time -f '%M' -o "$work/rss" "$harden" "$tool" "$input" "${extra[@]}" --format json >/dev/null 2>&1 || true
    echo "peak RSS, harden $tool ($form): $(($(tail -1 "$work/rss") / 1024)) MiB"
  done
done

echo "## matching the image's packages against the database"
for run in $(seq 1 "$runs"); do
  "$harden" scan "$docker_tar" --scanner builtin --advisories "$db" --format json --verbose \
    2>"$work/verbose.$run" >/dev/null || [[ $? -eq 1 ]]
done
python3 - "$work" "$runs" <<'PY'
import re, statistics, sys
work, runs = sys.argv[1], int(sys.argv[2])
phases = {}
for run in range(1, runs + 1):
    for line in open(f"{work}/verbose.{run}"):
        m = re.match(r"(advisories|image|builtin): .*? in ([0-9.]+) s", line)
        if m:
            phases.setdefault(m.group(1), []).append(float(m.group(2)))
        if line.startswith("builtin:") and run == 1:
            print("   ", line.strip())
print()
print("| phase | median of %d runs | min | max |" % runs)
print("|---|---|---|---|")
names = {"advisories": "open the advisory database",
         "image": "read and catalogue the image",
         "builtin": "match every package against the database"}
for key in ("advisories", "image", "builtin"):
    values = phases.get(key, [])
    if values:
        print(f"| {names[key]} | {statistics.median(values) * 1000:.0f} ms | {min(values) * 1000:.0f} ms | {max(values) * 1000:.0f} ms |")
PY

echo "## harden compare of two images against verifying both"
second=$work/runtime-base.tar
docker save -o "$second" harden-local/python3-debian12:nonroot
hyperfine --shell=bash --runs "$runs" --warmup 1 --style basic --export-markdown "$work/compare.md" \
  -n "harden verify, both images" \
  "$harden verify $docker_tar --format json >/dev/null; $harden verify $second --format json >/dev/null; true" \
  -n "harden compare --scanner builtin" \
  "$harden compare $docker_tar $second --scanner builtin --advisories $db --format json >/dev/null" >&2
cat "$work/compare.md"
