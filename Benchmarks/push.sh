#!/usr/bin/env bash
# Pushing the ~400 MB bench image (its gzip OCI layout, 142 MB) to a docker-registry on
# 127.0.0.1, harden against `skopeo copy oci:… docker://…` of the same layout:
#
#   1. a first push, into an empty registry (restarted on empty storage before each run, so
#      neither tool can mount blobs from an earlier run's repository);
#   2. a second push of the same image, everything already there (target ≤ 0.3 s);
#   3. what signing adds (target ≤ 0.5 s on top of the push): that second push, then with
#      --sign-key and --attest, for the bench layout (a signature and the two SBOMs: a layout
#      has no build record for provenance and VEX) and for flask-distroless as `harden build`
#      left it (signature, SBOMs, provenance, and VEX when its scan has anything to state).
#      Before each of these runs the registry is restarted and the image pushed unsigned, so
#      every run signs (a digest the key already signed is skipped).
#
# Both tools are checked once first: the registry must hold the layout's manifest digest.
# harden gets a state directory of its own, with no history: no earlier push to mount from.
# Usage: Benchmarks/push.sh [--runs N] [--images DIR]
# Environment: HARDEN=PATH uses that binary instead of scripts/build-release.sh.
# Needs: hyperfine, skopeo, docker-registry (scripts/setup.sh), a running engine for the image
# and for building flask-distroless (scripts/make-local-bases.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

runs=5
images=/tmp/harden-bench-images
while (($#)); do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    *) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2 ;;
  esac
done
for tool in hyperfine skopeo docker-registry; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install -y $tool" >&2; exit 2; }
done
harden=${HARDEN:-$("$root/scripts/build-release.sh")}
bash scripts/make-bench-image.sh "$images" >&2
layout=$images/debian-python.oci

work=$(mktemp -d /tmp/harden-push-bench.XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/config.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/storage}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
EOF
# Restarts the registry on empty storage; hyperfine runs it before each first-push run.
cat >"$work/restart.sh" <<EOF
[[ -f $work/registry.pid ]] && kill \$(cat $work/registry.pid) 2>/dev/null && sleep 0.2
rm -rf $work/storage
docker-registry serve $work/config.yml >>$work/registry.log 2>&1 &
echo \$! >$work/registry.pid
for _ in \$(seq 100); do curl -sf http://127.0.0.1:$port/v2/ >/dev/null && exit 0; sleep 0.05; done
exit 1
EOF
bash "$work/restart.sh"
trap 'kill $(cat "$work/registry.pid") 2>/dev/null; rm -rf "$work"' EXIT
host=127.0.0.1:$port

digest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1] + "/index.json"))["manifests"][0]["digest"])' "$layout")
echo "layout: $layout, manifest $digest, $(du -sm "$layout" | cut -f1) MB"
"$harden" push "$layout" "$host/check/harden:1" --state "$work/state" >/dev/null 2>&1
skopeo copy -q --dest-tls-verify=false "oci:$layout" "docker://$host/check/skopeo:1"
for name in harden skopeo; do
  stored=$(skopeo inspect --raw --tls-verify=false "docker://$host/check/$name:1" | sha256sum | cut -d' ' -f1)
  echo "$name: the registry holds sha256:$stored $([[ sha256:$stored == "$digest" ]] && echo '(the layout'"'"'s digest)' || echo '(NOT the layout'"'"'s digest)')"
done

echo
echo "## first push, into an empty registry"
hyperfine --shell=bash --runs "$runs" --warmup 1 --style basic --export-markdown "$work/first.md" \
  --prepare "bash $work/restart.sh" \
  -n "harden push" "$harden push $layout $host/bench/app:1 --state $work/state >/dev/null 2>&1" \
  -n "skopeo copy" "skopeo copy -q --dest-tls-verify=false oci:$layout docker://$host/bench/app:1" >&2
cat "$work/first.md"

echo
echo "## second push, every blob already there"
bash "$work/restart.sh"
"$harden" push "$layout" "$host/check/harden:1" --state "$work/state" >/dev/null 2>&1
skopeo copy -q --dest-tls-verify=false "oci:$layout" "docker://$host/check/skopeo:1"
hyperfine --shell=bash --runs "$((runs * 4))" --warmup 2 --style basic --export-markdown "$work/again.md" \
  -n "harden push" "$harden push $layout $host/check/harden:1 --state $work/state >/dev/null 2>&1" \
  -n "skopeo copy" "skopeo copy -q --dest-tls-verify=false oci:$layout docker://$host/check/skopeo:1" >&2
cat "$work/again.md"

echo
echo "## signing on top: a signed push where every blob is already there"
"$harden" key generate --output "$work/key" >/dev/null
# The scan of the build gets the real PyPA advisories beside the repository, when they are there.
records=$root/../shared/data/osv/PyPI
[[ -d $records ]] && "$harden" advisories import "$records" --state "$work/recipe-state" >/dev/null 2>&1
"$harden" build flask-distroless --image-map scripts/local-image-map.yaml --state "$work/recipe-state" >"$work/build.log" 2>&1 \
  || { cat "$work/build.log" >&2; exit 1; }
cat >"$work/unsigned.sh" <<EOF
bash $work/restart.sh
$harden push $layout $host/bench/app:1 --state $work/state >/dev/null 2>&1
$harden push flask-distroless $host/bench/flask:1 --state $work/recipe-state >/dev/null 2>&1
EOF
signed="--sign-key $work/key/harden.key"
echo "what the signed pushes attach:"
bash "$work/unsigned.sh"
"$harden" push "$layout" "$host/bench/app:1" --state "$work/state" $signed --attest sbom 2>/dev/null | sed 's/^/  bench layout: /'
"$harden" push flask-distroless "$host/bench/flask:1" --state "$work/recipe-state" $signed --attest sbom,provenance,vex 2>/dev/null \
  | sed 's/^/  flask-distroless: /'
hyperfine --shell=bash --runs "$((runs * 2))" --warmup 1 --style basic --export-markdown "$work/signed.md" \
  --prepare "bash $work/unsigned.sh" \
  -n "bench layout, push" "$harden push $layout $host/bench/app:1 --state $work/state >/dev/null 2>&1" \
  -n "bench layout, push --sign-key" "$harden push $layout $host/bench/app:1 --state $work/state $signed >/dev/null 2>&1" \
  -n "bench layout, push --sign-key --attest sbom" \
  "$harden push $layout $host/bench/app:1 --state $work/state $signed --attest sbom >/dev/null 2>&1" \
  -n "flask-distroless, push" "$harden push flask-distroless $host/bench/flask:1 --state $work/recipe-state >/dev/null 2>&1" \
  -n "flask-distroless, push --sign-key --attest sbom,provenance,vex" \
  "$harden push flask-distroless $host/bench/flask:1 --state $work/recipe-state $signed --attest sbom,provenance,vex >/dev/null 2>&1" >&2
cat "$work/signed.md"
