#!/usr/bin/env bash
# Scanning speed on the ~400 MB Debian + Python bench image (scripts/make-bench-image.sh):
#
#   1. `harden scan --scanner builtin` against `harden verify` on the same image, both
#      forms (docker-archive, gzip OCI layout): scanning reads the layers in the same
#      single pass as verification, so it should cost little more (target ≤ 1.15×).
#   2. Cataloguing against the peers: `harden sbom` vs `syft scan` vs `trivy image
#      --format cyclonedx` (offline), on the same image.
#   3. 100,000 OSV advisories (Benchmarks/make-advisories.py; one in ten names a package
#      of the image) matched against the image's packages: load and match times, from
#      `harden scan --verbose` (target: matching under 1 s).
#
# Usage: Benchmarks/scan.sh [--runs N] [--advisories N] [--images DIR]
# Environment: HARDEN=PATH uses that binary instead of scripts/build-release.sh.
# Needs: hyperfine, skopeo, a running engine and the local bases (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

runs=5
count=100000
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
fixtures=$root/Tests/HardenScanTests/Fixtures/osv

echo "## harden scan against harden verify (one pass), and harden sbom against syft and trivy"
for form in docker-archive oci-layout; do
  case $form in
    docker-archive) input=$docker_tar; syft_src=docker-archive:$docker_tar ;;
    oci-layout) input=$oci_dir; syft_src=oci-dir:$oci_dir ;;
  esac
  echo "### $form"
  hyperfine --shell=bash --runs "$runs" --warmup 1 --style basic --export-markdown "$work/$form.md" \
    -n "harden verify" "$harden verify $input --format json >/dev/null; [ \$? -le 1 ]" \
    -n "harden scan --scanner builtin" \
    "$harden scan $input --scanner builtin --advisories $fixtures --format json >/dev/null; [ \$? -le 1 ]" \
    -n "harden sbom" "$harden sbom $input --format cyclonedx >/dev/null" \
    -n "syft scan" "$syft scan $syft_src -o cyclonedx-json --quiet >/dev/null" \
    -n "trivy image (SBOM, offline)" \
    "$trivy image --input $input --format cyclonedx --cache-backend memory --skip-db-update --offline-scan --skip-version-check --disable-telemetry --quiet >/dev/null" \
    >&2
  cat "$work/$form.md"
done

echo "## $count advisories"
"$harden" sbom "$docker_tar" --format cyclonedx >"$work/sbom.json"
python3 - "$work/sbom.json" >"$work/packages.txt" <<'EOF'
import json, sys
for c in json.load(open(sys.argv[1]))["components"]:
    purl = c.get("purl", "")
    if purl.startswith("pkg:deb/"):
        print("Debian:12", c["name"], c["version"])
    elif purl.startswith("pkg:pypi/"):
        print("PyPI", c["name"], c["version"])
EOF
python3 Benchmarks/make-advisories.py "$count" "$work/advisories" "$work/packages.txt"
echo "packages in the image: $(wc -l <"$work/packages.txt"), advisory files: $(find "$work/advisories" -name '*.json' | wc -l)"
for run in $(seq 1 "$runs"); do
  "$harden" scan "$docker_tar" --scanner builtin --advisories "$work/advisories" --format json --verbose \
    2>"$work/verbose.$run" >/dev/null || [[ $? -eq 1 ]]
done
python3 - "$work" "$runs" <<'EOF'
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
print("| phase | median of %d runs | min | max |" % runs)
print("|---|---|---|---|")
names = {"advisories": "load the advisories (decode every JSON file, index)",
         "image": "read, verify and catalogue the image",
         "builtin": "match every package against the advisories"}
for key in ("advisories", "image", "builtin"):
    values = phases.get(key, [])
    if values:
        print(f"| {names[key]} | {statistics.median(values):.3f} s | {min(values):.3f} s | {max(values):.3f} s |")
EOF
