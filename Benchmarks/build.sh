#!/usr/bin/env bash
# Planning and building speed, harden against plain `docker build` on the same input.
#
#   1. `harden plan` over 1,000 generated recipes whose inputs did not change.
#   2. `harden build` of an up-to-date recipe (flask-distroless).
#   3. `harden build --force` of flask-distroless with every layer cached, against
#      `docker build` of the Dockerfile harden renders, same context, same engine,
#      2×N rounds of one each, interleaved.
#
# Usage: Benchmarks/build.sh [--recipes N] [--runs N]
# HARDEN=PATH measures that binary instead of a fresh scripts/build-release.sh build;
# BASELINE=PATH also times that binary (an older harden) in the same rounds, for a
# before/after figure from one run.
# Needs: a running engine and the local bases (scripts/setup.sh); installs hyperfine
# when it is missing (apt-get, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

recipes=1000
runs=20
while (($#)); do
  case $1 in
    --recipes) recipes=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    *) echo "usage: $0 [--recipes N] [--runs N]" >&2; exit 2 ;;
  esac
done

log() { printf '[build-bench +%ss] %s\n' "$SECONDS" "$*" >&2; }
die() { printf '[build-bench] ERROR: %s\n' "$*" >&2; exit 2; }
source "$root/Benchmarks/packages.sh"
command -v hyperfine >/dev/null || install_debian_packages hyperfine
harden=${HARDEN:-$("$root/scripts/build-release.sh")}
map=$root/scripts/local-image-map.yaml
export DOCKER_BUILDKIT=0

work=$(mktemp -d /tmp/harden-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "## harden plan, $recipes unchanged recipes"
mkdir -p "$work/plan/Recipes"
for i in $(seq -w 1 "$recipes"); do
  mkdir -p "$work/plan/Recipes/svc-$i"
  printf 'print("service %s")\n' "$i" >"$work/plan/Recipes/svc-$i/app.py"
  printf 'flask==2.2.5\n' >"$work/plan/Recipes/svc-$i/requirements.txt"
  cat >"$work/plan/Recipes/svc-$i.yaml" <<EOF
name: svc-$i
context: svc-$i
builder:
  from: python:3.11-slim
  workdir: /app
  copy: [{from: context, src: requirements.txt, dest: /app/requirements.txt}]
  run: [pip install --target /app/deps -r requirements.txt]
runtime:
  from: gcr.io/distroless/python3-debian12:nonroot
  env: {PYTHONPATH: /app/deps}
  copy:
    - {from: builder, src: /app/deps, dest: /app/deps}
    - {from: context, src: app.py, dest: /app/app.py}
  user: "65532"
  entrypoint: [/usr/bin/python3, /app/app.py]
EOF
done
# Record every recipe as built once, with the plan's own input digests, so the
# timed runs find them all up to date (building 1,000 images would take hours).
(cd "$work/plan" && "$harden" plan --image-map "$map" --format json >"$work/plan.json")
runtime_id=$(docker image inspect --format '{{.Id}}' harden-local/python3-debian12:nonroot)
python3 - "$work/plan.json" "$work/plan/.harden/harden.db" "$runtime_id" <<'EOF'
import json, sqlite3, sys, time
plans, db_path, image = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
db = sqlite3.connect(db_path)
now = time.time()
with db:
    for p in plans:
        db.execute(
            "INSERT INTO builds (recipe, status, trigger, reasons, input_digest, input_parts, base_images,"
            " runtime_image, started_at, finished_at, exit_status) VALUES (?, 'succeeded', 'manual', '[]', ?, ?, ?, ?, ?, ?, 0)",
            (p["recipe"], p["inputDigest"], json.dumps(p["inputParts"]), json.dumps(p["baseImages"]), image, now, now))
EOF
(cd "$work/plan" && "$harden" plan --image-map "$map" | grep -c 'up to date' | sed 's/^/up to date: /')
(cd "$work/plan" && hyperfine --warmup 2 --runs "$runs" --export-json "$work/plan-bench.json" \
  "'$harden' plan --image-map '$map'")
python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results'][0]; print(f'per recipe: {r[\"mean\"]/int(sys.argv[2])*1000:.3f} ms')" \
  "$work/plan-bench.json" "$recipes"

echo
echo "## harden version (process start and exit)"
if [[ -n ${BASELINE:-} ]]; then
  hyperfine -N --warmup 5 --runs 50 "'$harden' version" "'$BASELINE' version"
else
  hyperfine -N --warmup 5 --runs 50 "'$harden' version"
fi

echo
echo "## harden build, flask-distroless up to date"
state=$work/state
"$harden" build flask-distroless --image-map "$map" --state "$state" >/dev/null
if [[ -n ${BASELINE:-} ]]; then
  "$BASELINE" build flask-distroless --image-map "$map" --state "$state.baseline" >/dev/null 2>&1
  hyperfine --warmup 2 --runs "$runs" "'$harden' build flask-distroless --image-map '$map' --state '$state'" \
    "'$BASELINE' build flask-distroless --image-map '$map' --state '$state.baseline'"
else
  hyperfine --warmup 2 --runs "$runs" "'$harden' build flask-distroless --image-map '$map' --state '$state'"
fi

echo
echo "## harden build --force (all layers cached) vs docker build of the same Dockerfile"
"$harden" plan flask-distroless --image-map "$map" --state "$state" --format json \
  | python3 -c 'import json,sys; sys.stdout.write(json.load(sys.stdin)[0]["dockerfile"])' >"$work/Dockerfile"
docker build -q -f "$work/Dockerfile" Recipes/flask-distroless >/dev/null
"$harden" build flask-distroless --force --image-map "$map" --state "$state" >/dev/null 2>&1
if [[ -n ${BASELINE:-} ]]; then
  "$BASELINE" build flask-distroless --force --image-map "$map" --state "$state.baseline" >/dev/null 2>&1
  "$BASELINE" build flask-distroless --force --image-map "$map" --state "$state.baseline" >/dev/null 2>&1
fi
# Interleaved, one of each per round: the host's speed drifts by 10-20% over minutes,
# and hyperfine would time all of one command before the other.
python3 - "$((runs * 2))" "$harden" "$map" "$state" "$work/Dockerfile" "${BASELINE:-}" <<'PY'
import statistics, subprocess, sys, time
rounds, harden, image_map, state, dockerfile, baseline = int(sys.argv[1]), *sys.argv[2:]
commands = {
    "harden build --force": [harden, "build", "flask-distroless", "--force", "--image-map", image_map, "--state", state],
    "docker build": ["docker", "build", "-q", "-f", dockerfile, "Recipes/flask-distroless"],
}
if baseline:
    # Its own state directory: sharing one would make each binary redo what the other recorded.
    commands["baseline --force"] = [baseline, "build", "flask-distroless", "--force", "--image-map", image_map,
                                    "--state", state + ".baseline"]
times = {name: [] for name in commands}
for _ in range(rounds):
    for name, command in commands.items():
        started = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times[name].append((time.perf_counter() - started) * 1000)
for name, values in times.items():
    print(f"{name}: median {statistics.median(values):.1f} ms, mean {statistics.mean(values):.1f} ± {statistics.stdev(values):.1f} ms ({rounds} runs)")
docker = times["docker build"]
for name in [n for n in times if n != "docker build"]:
    ratios = [h / d for h, d in zip(times[name], docker)]
    print(f"{name.split()[0]} / docker: median of per-round ratios {statistics.median(ratios):.2f}, "
          f"ratio of medians {statistics.median(times[name]) / statistics.median(docker):.2f}")
PY
