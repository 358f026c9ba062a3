#!/usr/bin/env bash
# `harden rebuild --due --dry-run` over many recipes with nothing due, their bases on a
# loopback registry, against the hand-made peer: a shell loop of `skopeo inspect`; and the
# same dry run with its history in PostgreSQL instead of the SQLite file.
#
#   setup     a docker-registry on 127.0.0.1:PORT; 20 tiny distinct bases (the local
#             distroless stand-in + `LABEL bench.n=N`, classic builder) pushed as
#             127.0.0.1:PORT/bench/base-N:1, so the engine has them with RepoDigests;
#             1,000 runtime-only recipes spread over them, `schedule: {triggers:
#             [base-update]}`; every recipe recorded in the history as built once with
#             the plan's own input digests, the pushed base digests and a runtime image
#             that exists in the engine (building 1,000 images would measure the engine);
#             a PostgreSQL 15 server (initdb + pg_ctl in the work dir, 127.0.0.1:PORT, as
#             nobody when root) whose history gets the same rows (harden migrates the
#             schema, psql \copy the rows)
#   checks    (before timing; the run stops if one fails)
#             1. the dry run exits 0 and reports every recipe, none due, with no registry error
#             2. one base moved in the registry (a new image pushed under its tag, the local
#                tag kept on the old image): exactly the recipes on that base are due, for
#                base-update, naming the new digest; the tag is then put back (the old
#                manifest PUT again, same digest) and check 1 passes again
#             3. the skopeo loop prints the 20 pushed digests
#             4. with HARDEN_HISTORY=postgres://..., the dry run gives the same decisions
#   timed     harden rebuild --due --dry-run --format json       all recipes
#             harden rebuild --due --dry-run --format json R     one recipe, for scale
#             harden plan --format json                          same project, no registry
#             HARDEN_HISTORY=postgres://... harden rebuild --due --dry-run --format json
#                                                                all recipes, PostgreSQL history
#             skopeo loop     skopeo inspect --tls-verify=false --format '{{.Digest}}'
#                             docker://127.0.0.1:PORT/bench/base-N:1, one after the other
#             curl loop       curl -I of the same 20 manifests, one after the other (floor:
#                             what the registry itself costs)
#   target    harden's dry run over 1,000 recipes / 20 bases: <= 2 s wall, with either
#             history; PostgreSQL's <= 1.5x SQLite's
#
# Usage: Benchmarks/rebuild.sh [--harden PATH] [--recipes N] [--bases N] [--runs N]
#                              [--warmup N] [--port N] [--results DIR]
#   --harden PATH  use this harden binary and do not build (default: $HARDEN, else
#                  scripts/build-release.sh in this repository)
#   --recipes N    recipes (default 1000)
#   --bases N      distinct bases on the registry (default 20)
#   --runs N       hyperfine runs per command (default 10)
#   --warmup N     hyperfine warmup runs (default 1)
#   --port N       registry port on 127.0.0.1 (default: a free one)
#   --results DIR  where hyperfine JSON, checked outputs and summary.md go
#                  (default /tmp/harden-bench-results/rebuild-<UTC time>)
# Needs: a running engine with harden-local/python3-debian12:nonroot (scripts/setup.sh);
# installs hyperfine, skopeo, docker-registry, curl, postgresql if missing (apt-get, as root).
# Leaves nothing behind: the registry and PostgreSQL are stopped, the bench images removed, the
# work dir deleted.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

recipes=1000
bases=20
runs=10
warmup=1
port=
results=
harden=${HARDEN:-}
parent=harden-local/python3-debian12:nonroot

log() { printf '[rebuild-bench +%ss] %s\n' "$SECONDS" "$*" >&2; }
die() { printf '[rebuild-bench] ERROR: %s\n' "$*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
positive() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 needs a positive number"; }

while (($#)); do
  case $1 in
    --harden) [[ $# -ge 2 ]] || die "--harden needs a path"; harden=$2; shift 2 ;;
    --recipes) [[ $# -ge 2 ]] && positive "$1" "$2"; recipes=$2; shift 2 ;;
    --bases) [[ $# -ge 2 ]] && positive "$1" "$2"; bases=$2; shift 2 ;;
    --runs) [[ $# -ge 2 ]] && positive "$1" "$2"; runs=$2; shift 2 ;;
    --warmup) [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || die "--warmup needs a number"; warmup=$2; shift 2 ;;
    --port) [[ $# -ge 2 ]] && positive "$1" "$2"; port=$2; shift 2 ;;
    --results) [[ $# -ge 2 ]] || die "--results needs a directory"; results=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
((recipes >= bases)) || die "--recipes ($recipes) must be at least --bases ($bases)"
results=${results:-/tmp/harden-bench-results/rebuild-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$results"
results=$(cd "$results" && pwd)

# ---------------------------------------------------------------- 1. tools
apt_missing=()
command -v hyperfine >/dev/null || apt_missing+=(hyperfine)
command -v skopeo >/dev/null || apt_missing+=(skopeo)
command -v docker-registry >/dev/null || apt_missing+=(docker-registry)
command -v curl >/dev/null || apt_missing+=(curl)
pg_bin=/usr/lib/postgresql/15/bin
[[ -x $pg_bin/initdb ]] || apt_missing+=(postgresql)
source "$root/Benchmarks/packages.sh"
install_debian_packages "${apt_missing[@]}"
command -v python3 >/dev/null || die "python3 is missing"
timeout 30 docker version --format '{{.Server.Version}}' >/dev/null 2>&1 \
  || die "the docker engine does not answer: scripts/setup.sh (or scripts/start-docker.sh)"
docker image inspect "$parent" >/dev/null 2>&1 || die "$parent is missing: scripts/setup.sh makes it"

# ---------------------------------------------------------------- 2. harden (release)
harden=$(release_harden "$harden")
[[ -x $harden ]] || die "no harden binary at $harden"
harden=$(realpath "$harden")
"$harden" rebuild --help >/dev/null 2>&1 || die "'$harden rebuild --help' failed: this harden has no rebuild command"

# ---------------------------------------------------------------- 3. registry, cleanup
work=$(mktemp -d "${TMPDIR:-/tmp}/harden-rebuild-bench.XXXXXX")
work=$(cd "$work" && pwd)
project=$work/project
registry_dir=$work/registry
images_made=()   # tags and IDs to remove at the end
as_server() { # runs a PostgreSQL program, as nobody when root (initdb refuses root)
  if [[ $(id -u) -eq 0 ]]; then runuser -u nobody -- "$@"; else "$@"; fi
}
cleanup() {
  local rc=$?
  if [[ -s $work/pg/data/postmaster.pid ]]; then
    as_server "$pg_bin/pg_ctl" -D "$work/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [[ -s $registry_dir/registry.pid ]]; then
    kill "$(cat "$registry_dir/registry.pid")" 2>/dev/null || true
  fi
  if ((${#images_made[@]})); then
    docker image rm -f "${images_made[@]}" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -z $port ]]; then
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
registry=127.0.0.1:$port
bash "$root/scripts/start-registry.sh" "$port" "$registry_dir" >/dev/null || die "the registry did not start"

# ---------------------------------------------------------------- 4. bases
log "building and pushing $bases bases to $registry/bench/base-N:1 ..."
export DOCKER_BUILDKIT=0
mkdir -p "$work/base"
: >"$work/bases.tsv"   # reference, image ID, pushed digest
for n in $(seq 1 "$bases"); do
  ref=$registry/bench/base-$n:1
  printf 'FROM %s\nLABEL bench.n=%s\n' "$parent" "$n" >"$work/base/Dockerfile"
  docker build -q -t "$ref" "$work/base" >/dev/null || die "docker build of $ref failed"
  images_made+=("$ref")
  out=$(docker push "$ref" 2>&1) || { printf '%s\n' "$out" >&2; die "docker push $ref failed"; }
  digest=$(grep -o 'digest: sha256:[0-9a-f]\{64\}' <<<"$out" | cut -d' ' -f2)
  [[ -n $digest ]] || die "no digest in the output of docker push $ref: $out"
  printf '%s\t%s\t%s\n' "$ref" "$(docker image inspect --format '{{.Id}}' "$ref")" "$digest" >>"$work/bases.tsv"
done
[[ $(cut -f2 "$work/bases.tsv" | sort -u | wc -l) -eq $bases ]] || die "the $bases bases are not distinct images"

# ---------------------------------------------------------------- 5. recipes and history
log "writing $recipes recipes ..."
mkdir -p "$project/Recipes"
mapfile -t refs < <(cut -f1 "$work/bases.tsv")
width=${#recipes}
for i in $(seq 1 "$recipes"); do
  name=$(printf 'svc-%0*d' "$width" "$i")
  base=${refs[$(((i - 1) % bases))]}
  mkdir -p "$project/Recipes/$name"
  printf '%s\n' "$name" >"$project/Recipes/$name/message.txt"
  cat >"$project/Recipes/$name.yaml" <<EOF
name: $name
context: $name
runtime:
  from: $base
  user: "65532"
  copy:
    - {from: context, src: message.txt, dest: /data/message.txt}
  entrypoint: [/usr/bin/python3, -c, "print(open('/data/message.txt').read().strip())"]
schedule:
  triggers: [base-update]
EOF
done
one=$(printf 'svc-%0*d' "$width" 1)

log "recording every recipe as built (history seeded from harden plan --format json) ..."
(cd "$project" && "$harden" plan --format json >"$work/plan.json") || die "harden plan failed"
runtime_id=$(docker image inspect --format '{{.Id}}' "$parent")
python3 - "$work/plan.json" "$project/.harden/harden.db" "$runtime_id" "$work/bases.tsv" "$recipes" <<'EOF' \
  || die "seeding the history failed"
import json, sqlite3, sys, time
plans, db_path, image, bases_tsv, want = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
digests = {ref: digest for ref, _, digest in (l.rstrip("\n").split("\t") for l in open(bases_tsv))}
if len(plans) != want:
    sys.exit(f"harden plan planned {len(plans)} recipes, not {want}")
db = sqlite3.connect(db_path)
columns = {row[1] for row in db.execute("PRAGMA table_info(builds)")}
if "base_digests" not in columns:
    sys.exit(f"{db_path}: table builds has no base_digests column (schema {db.execute('PRAGMA user_version').fetchone()[0]})")
if db.execute("SELECT count(*) FROM builds").fetchone()[0]:
    sys.exit(f"{db_path}: the history is not empty")
now = time.time() - 60
with db:
    for p in plans:
        if p["missingBases"]:
            sys.exit(f"{p['recipe']}: bases not in the engine: {p['missingBases']}")
        recorded = {base: digests[ref] for base, ref in p["resolvedBases"].items()}
        db.execute(
            "INSERT INTO builds (recipe, status, trigger, reasons, input_digest, input_parts, base_images,"
            " runtime_image, started_at, finished_at, exit_status, base_digests)"
            " VALUES (?, 'succeeded', 'manual', '[]', ?, ?, ?, ?, ?, ?, 0, ?)",
            (p["recipe"], p["inputDigest"], json.dumps(p["inputParts"]), json.dumps(p["baseImages"]), image,
             now, now + 1, json.dumps(recorded, sort_keys=True)))
print(f"seeded {len(plans)} builds", file=sys.stderr)
EOF

log "starting PostgreSQL 15 and copying the history into it ..."
mkdir -p "$work/pg"
[[ $(id -u) -ne 0 ]] || { chmod o+x "$work"; chown nobody "$work/pg"; } # mktemp -d is 0700: let nobody reach its own directory
pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$work/pg" && as_server "$pg_bin/initdb" -D "$work/pg/data" -U harden --auth=trust -E UTF8 --locale=C --no-sync \
  >"$work/pg/initdb.log" 2>&1) || die "initdb failed: $(tail -n 5 "$work/pg/initdb.log")"
(cd "$work/pg" && as_server "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/server.log" -w -t 60 \
  -o "-k $work/pg -c listen_addresses=127.0.0.1 -p $pg_port" start >/dev/null) \
  || die "PostgreSQL did not start: $(tail -n 5 "$work/pg/server.log")"
pg_url="postgres://harden@127.0.0.1:$pg_port/postgres?sslmode=disable"
psql_run() { "$pg_bin/psql" -X -q -h "$work/pg" -p "$pg_port" -U harden -d postgres -v ON_ERROR_STOP=1 "$@"; }
(cd "$project" && HARDEN_HISTORY=$pg_url "$harden" history --limit 1 >/dev/null) \
  || die "harden could not create its schema in PostgreSQL"
columns=$(python3 -c 'import sqlite3, sys; print(",".join(r[1] for r in sqlite3.connect(sys.argv[1]).execute("PRAGMA table_info(builds)")))' \
  "$project/.harden/harden.db")
python3 - "$project/.harden/harden.db" >"$work/builds.csv" <<'EOF' || die "exporting the SQLite history failed"
import csv, sqlite3, sys
out = csv.writer(sys.stdout)
for row in sqlite3.connect(sys.argv[1]).execute("SELECT * FROM builds ORDER BY id"):
    out.writerow(["\\N" if v is None else v for v in row])
EOF
psql_run -c "\\copy harden_builds ($columns) FROM '$work/builds.csv' WITH (FORMAT csv, NULL '\\N')" \
  -c "SELECT setval('harden_builds_id_seq', (SELECT max(id) FROM harden_builds))" >/dev/null \
  || die "copying the history into PostgreSQL failed"
[[ $(psql_run -At -c "SELECT count(*) FROM harden_builds") -eq $recipes ]] || die "PostgreSQL has not got $recipes builds"

# ---------------------------------------------------------------- 6. checks
dry_run() { # out-file [recipe...] -> exit status of the dry run
  local out=$1; shift
  local rc=0
  (cd "$project" && "$harden" rebuild --due --dry-run --format json "$@" >"$out" 2>"$out.err") || rc=$?
  return "$rc"
}
# expect: "none" (nothing due) or the reference of a moved base and its new digest
check_decisions() { # out-file expected-count none|moved-ref new-digest
  python3 - "$@" "$work/plan.json" <<'EOF'
import json, sys
path, count, moved, new_digest, plan_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
decisions = json.load(open(path))
on_base = {p["recipe"] for p in json.load(open(plan_path)) if moved in p["resolvedBases"].values()}
def fail(msg):
    print(msg); sys.exit(1)
if len(decisions) != count: fail(f"{len(decisions)} decisions, expected {count}")
errors = [(d["recipe"], r) for d in decisions for r in d["reasons"] if "registry not asked" in r]
if errors: fail(f"{len(errors)} registry errors, first: {errors[0]}")
due = {d["recipe"] for d in decisions if d["due"]}
if moved == "none":
    if due: fail(f"{len(due)} recipes due, expected none; first: {next(d for d in decisions if d['due'])}")
    print(f"{count} recipes, none due"); sys.exit(0)
if not on_base: fail(f"no recipe on {moved}")
if due != on_base:
    fail(f"{len(due)} due, expected the {len(on_base)} on {moved}; "
         f"unexpected {sorted(due - on_base)[:3]}, missing {sorted(on_base - due)[:3]}")
for d in decisions:
    if d["recipe"] in due:
        if d["triggers"] != ["base-update"] or not d["pull"]:
            fail(f"{d['recipe']}: triggers {d['triggers']}, pull {d['pull']}: expected base-update, pull")
        if not any(new_digest in r for r in d["reasons"]):
            fail(f"{d['recipe']}: no reason names {new_digest}: {d['reasons']}")
print(f"{count} recipes, exactly the {len(due)} on {moved} due (base-update, new digest named)")
EOF
}
check() { # name out-file expected-count none|moved-ref new-digest [recipe...]
  local name=$1 out=$2 count=$3 expect=$4 digest=$5 rc=0 note
  shift 5
  dry_run "$out" "$@" || rc=$?
  ((rc == 0)) || die "check '$name': harden rebuild --due --dry-run exited $rc: $(tail -n 5 "$out.err")"
  note=$(check_decisions "$out" "$count" "$expect" "$digest") || die "check '$name': $note"
  log "check '$name': ok: $note"
  printf '| %s | ok: %s |\n' "$name" "$note" >>"$work/checks.md"
}
manifest_digest() { # repository tag -> Docker-Content-Digest of the tag, from the registry
  curl -fsSI -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$registry/v2/$1/manifests/$2" | tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" { print $2 }'
}

: >"$work/checks.md"
check "nothing due, $recipes recipes" "$results/check-nothing-due.json" "$recipes" none ""
check "nothing due, 1 recipe" "$results/check-one-recipe.json" 1 none "" "$one"

moved_n=$(((bases + 1) / 2))
moved_ref=${refs[$((moved_n - 1))]}
moved_repo=bench/base-$moved_n
old_id=$(awk -F'\t' -v r="$moved_ref" '$1 == r { print $2 }' "$work/bases.tsv")
old_digest=$(awk -F'\t' -v r="$moved_ref" '$1 == r { print $3 }' "$work/bases.tsv")
log "moving $moved_ref in the registry (the engine keeps the old image under that tag) ..."
printf 'FROM %s\nLABEL bench.moved=%s\n' "$moved_ref" "$(date +%s%N)" >"$work/base/Dockerfile"
docker build -q -t "$moved_ref" "$work/base" >/dev/null || die "docker build of the moved base failed"
new_id=$(docker image inspect --format '{{.Id}}' "$moved_ref")
images_made+=("$new_id")
out=$(docker push "$moved_ref" 2>&1) || { printf '%s\n' "$out" >&2; die "docker push of the moved base failed"; }
new_digest=$(grep -o 'digest: sha256:[0-9a-f]\{64\}' <<<"$out" | cut -d' ' -f2)
docker tag "$old_id" "$moved_ref"
[[ -n $new_digest && $new_digest != "$old_digest" ]] || die "the moved base has no new digest ($new_digest)"
[[ $(manifest_digest "$moved_repo" 1) == "$new_digest" ]] || die "the registry does not show the moved digest"
[[ $(docker image inspect --format '{{.Id}}' "$moved_ref") == "$old_id" ]] || die "the local tag did not go back to the old image"
check "one base moved in the registry" "$results/check-one-base-moved.json" "$recipes" "$moved_ref" "$new_digest"

log "putting $moved_ref back (the old manifest PUT again under the tag) ..."
curl -fsS -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  -o "$work/old-manifest.json" "http://$registry/v2/$moved_repo/manifests/$old_digest" \
  || die "cannot read the old manifest of $moved_ref"
media=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["mediaType"])' "$work/old-manifest.json")
curl -fsS -X PUT -H "Content-Type: $media" --data-binary "@$work/old-manifest.json" \
  "http://$registry/v2/$moved_repo/manifests/1" >/dev/null || die "cannot put the old manifest back under $moved_ref"
[[ $(manifest_digest "$moved_repo" 1) == "$old_digest" ]] || die "$moved_ref did not go back to $old_digest"
docker image rm "$new_id" >/dev/null 2>&1 || true
check "base put back: nothing due" "$results/check-put-back.json" "$recipes" none ""
HARDEN_HISTORY=$pg_url check "PostgreSQL history: nothing due" "$results/check-postgres.json" "$recipes" none ""

# the peers
{
  echo '#!/usr/bin/env bash'
  echo 'set -euo pipefail'
  for ref in "${refs[@]}"; do
    printf "skopeo inspect --tls-verify=false --format '{{.Digest}}' docker://%s\n" "$ref"
  done
} >"$work/skopeo-loop.sh"
{
  cat <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
digest_of() { # URL -> the Docker-Content-Digest header of a HEAD request
  curl -fsSI -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "$1" \
    | tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" { print $2 }'
}
EOF
  for ref in "${refs[@]}"; do
    repo=${ref#"$registry"/}
    printf 'digest_of http://%s/v2/%s/manifests/%s\n' "$registry" "${repo%:*}" "${repo##*:}"
  done
} >"$work/curl-loop.sh"
cp "$work/skopeo-loop.sh" "$work/curl-loop.sh" "$results/"
for peer in skopeo curl; do
  bash "$work/$peer-loop.sh" >"$results/check-$peer.out" 2>"$work/$peer.err" \
    || die "the $peer loop failed: $(tail -n 3 "$work/$peer.err")"
  cut -f3 "$work/bases.tsv" | diff -q - "$results/check-$peer.out" >/dev/null \
    || die "the $peer loop did not print the $bases pushed digests (see $results/check-$peer.out)"
  log "check '$peer loop': ok: the $bases pushed digests"
  printf '| %s loop | ok: prints the %s pushed digests |\n' "$peer" "$bases" >>"$work/checks.md"
done

# ---------------------------------------------------------------- 7. hyperfine
log "hyperfine: $runs runs, $warmup warmup ..."
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
cd "$project"
hyperfine --shell=bash --runs "$runs" --warmup "$warmup" --style basic \
  --export-json "$results/hyperfine.json" --export-markdown "$results/hyperfine.md" \
  -n "harden rebuild --due --dry-run, $recipes recipes" "'$harden' rebuild --due --dry-run --format json >/dev/null" \
  -n "harden rebuild --due --dry-run, 1 recipe" "'$harden' rebuild --due --dry-run --format json $one >/dev/null" \
  -n "harden plan, $recipes recipes (no registry)" "'$harden' plan --format json >/dev/null" \
  -n "harden rebuild --due --dry-run, $recipes recipes, PostgreSQL history" \
  "HARDEN_HISTORY='$pg_url' '$harden' rebuild --due --dry-run --format json >/dev/null" \
  -n "skopeo loop, $bases bases" "bash '$work/skopeo-loop.sh' >/dev/null" \
  -n "curl loop, $bases bases" "bash '$work/curl-loop.sh' >/dev/null" >&2 \
  || die "hyperfine failed"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
cd "$root"
check "after timing: nothing due" "$results/check-after.json" "$recipes" none ""

# ---------------------------------------------------------------- 8. summary
python3 - "$results/hyperfine.json" "$work/checks.md" "$recipes" "$bases" "$runs" "$warmup" "$registry" \
    "$("$harden" --version 2>/dev/null || echo '?')" "$(skopeo --version)" "$(nproc)" "$load_before" "$load_after" \
    <<'EOF' | tee "$results/summary.md"
import json, sys
path, checks, recipes, bases, runs, warmup, registry, harden_v, skopeo_v, cores, load_before, load_after = sys.argv[1:]
recipes, bases = int(recipes), int(bases)
res = json.load(open(path))["results"]
by = {r["command"]: r for r in res}
ms = lambda s: f"{s * 1000:.0f} ms"
print(f"## harden rebuild --due --dry-run benchmark\n")
print(f"{recipes} runtime-only recipes with `schedule: {{triggers: [base-update]}}` on {bases} distinct bases "
      f"at {registry} (docker-registry on loopback), nothing due; hyperfine {runs} runs, {warmup} warmup; "
      f"harden {harden_v}, {skopeo_v}; {cores} cores, load average (1, 5, 15 min) {load_before} before "
      f"timing, {load_after} after.\n")
print("| case | mean ± σ | min … max | per unit | target |")
print("|---|---|---|---|---|")
main = f"harden rebuild --due --dry-run, {recipes} recipes"
postgres = f"{main}, PostgreSQL history"
skopeo = f"skopeo loop, {bases} bases"
for r in res:
    name, mean = r["command"], r["mean"]
    unit, target = "—", ""
    if "recipes" in name and "1 recipe" not in name:
        unit = f"{mean / recipes * 1000:.2f} ms per recipe"
    if "loop" in name:
        unit = f"{mean / bases * 1000:.1f} ms per base"
    if name == postgres and main in by:
        ratio = mean / by[main]["mean"]
        target = f"{ratio:.2f}× SQLite; ≤ 1.5× and ≤ 2 s: " + ("**met**" if ratio <= 1.5 and mean <= 2.0 else "**not met**")
    if name == main:
        target = "≤ 2 s: " + ("**met**" if mean <= 2.0 else "**not met**")
        if mean > 2.0 and r["min"] <= 2.0:
            target += f" (min {r['min']:.2f} s)"
    print(f"| {name} | {ms(mean)} ± {ms(r['stddev'] or 0)} | {ms(r['min'])} … {ms(r['max'])} | {unit} | {target} |")
if main in by and skopeo in by:
    a, b = by[main]["mean"], by[skopeo]["mean"]
    print(f"\nharden's dry run over {recipes} recipes takes {a / b:.2f}× the skopeo loop over their {bases} bases "
          f"({'faster' if a < b else 'slower'}).")
print("\nChecks before (and after) timing:\n")
print("| check | result |")
print("|---|---|")
print(open(checks).read().rstrip())
EOF
log "results: $results"
