#!/usr/bin/env bash
# make-bench-image.sh - a real, large Debian + Python image for the `harden verify` benchmark,
# written out in the three forms `harden verify` reads.
#
#   image  harden-bench/debian-python:latest   FROM harden-local/python:3.11-slim, plus
#          gcc/libc6-dev/make, python3-numpy (OpenBLAS) and a few tools, installed
#          from the Debian mirror inside `docker build`, in several layers (~400 MB uncompressed)
#
#   OUTDIR/debian-python.docker.tar   docker save (docker-archive, uncompressed layer tars)
#   OUTDIR/debian-python.oci/         OCI image layout, gzip-compressed layers (skopeo)
#   OUTDIR/debian-python.oci.tar      tar of that layout (OCI archive)
#
# Usage: scripts/make-bench-image.sh [OUTDIR] [--force]
#   OUTDIR    where the three files go (default /tmp/harden-bench-images)
#   --force   rebuild the image and rewrite every output
#
# Idempotent: the image is built only when it is missing, and each output is written only
# when it is missing (every output is written to a temporary name first, then renamed).
# Environment: HARDEN_BENCH_IMAGE (default harden-bench/debian-python:latest).
# Needs: docker (a running engine, or root to start one), skopeo (apt-get install -y skopeo), GNU tar,
# and the local base image (scripts/make-local-bases.sh --only slim).
set -euo pipefail

IMAGE=${HARDEN_BENCH_IMAGE:-harden-bench/debian-python:latest}
BASE=harden-local/python:3.11-slim
OUT=/tmp/harden-bench-images
FORCE=0

log() { printf '[make-bench-image +%ss] %s\n' "$SECONDS" "$*" >&2; }
die() { printf '[make-bench-image] ERROR: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

positional=()
while (($#)); do
  case $1 in
    --force) FORCE=1 ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option: $1 (try --help)" ;;
    *) positional+=("$1") ;;
  esac
  shift
done
((${#positional[@]} <= 1)) || die "at most one OUTDIR expected, got: ${positional[*]}"
((${#positional[@]} == 0)) || OUT=${positional[0]}

here=$(cd "$(dirname "$0")" && pwd)

# ---------------------------------------------------------------- preflight
command -v docker >/dev/null || die "docker is not installed (apt-get install -y docker.io)"
if ! timeout 30 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  if [[ -x $here/start-docker.sh ]]; then
    log "no Docker engine answers; starting one with scripts/start-docker.sh"
    bash "$here/start-docker.sh" || die "could not start a Docker engine"
  else
    die "no Docker engine answers"
  fi
fi
command -v skopeo >/dev/null || die "skopeo is not installed (apt-get install -y skopeo)"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
DOCKER_TAR=$OUT/debian-python.docker.tar
OCI_DIR=$OUT/debian-python.oci
OCI_TAR=$OUT/debian-python.oci.tar

work=$(mktemp -d "${TMPDIR:-/tmp}/harden-bench-image.XXXXXX")
cleanup() { rm -rf "$work" "$DOCKER_TAR.tmp" "$OCI_DIR.tmp" "$OCI_TAR.tmp"; }
trap cleanup EXIT

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

if ((FORCE)); then
  log "--force: rewriting every output"
  rm -rf "$DOCKER_TAR" "$OCI_DIR" "$OCI_TAR"
fi

# ---------------------------------------------------------------- 1. the image
if ((FORCE == 0)) && image_exists "$IMAGE"; then
  log "$IMAGE already exists - not rebuilding"
else
  if ! image_exists "$BASE"; then
    [[ -x $here/make-local-bases.sh ]] || die "base image $BASE is missing"
    log "base image $BASE is missing; building it with scripts/make-local-bases.sh --only slim"
    bash "$here/make-local-bases.sh" --only slim
  fi
  # Several layers on purpose: one per package group, a small application layer, and a
  # layer that deletes files of an earlier one (whiteouts), like real images have.
  cat >"$work/Dockerfile" <<EOF
FROM $BASE
ENV DEBIAN_FRONTEND=noninteractive
# a C compiler and headers (the classic "builder left in the runtime image" mistake)
RUN apt-get -q update \\
 && apt-get -q -y install --no-install-recommends gcc libc6-dev make \\
 && rm -rf /var/lib/apt/lists/*
# numerical Python from Debian (numpy + OpenBLAS)
RUN apt-get -q update \\
 && apt-get -q -y install --no-install-recommends python3-numpy \\
 && rm -rf /var/lib/apt/lists/*
# a few tools
RUN apt-get -q update \\
 && apt-get -q -y install --no-install-recommends curl less procps \\
 && rm -rf /var/lib/apt/lists/*
# the application
WORKDIR /app
COPY app.py requirements.txt /app/
RUN python3 -m compileall -q /app && useradd --system --uid 10001 --home-dir /app app
# deletes files of earlier layers: whiteouts in this layer
RUN rm -rf /usr/share/gcc /usr/lib/python3/dist-packages/numpy/*/tests
USER 10001
CMD ["python3", "/app/app.py"]
EOF
  cat >"$work/app.py" <<'EOF'
import numpy
print("numpy", numpy.__version__, "sum", int(numpy.arange(10).sum()))
EOF
  printf 'numpy\n' >"$work/requirements.txt"
  old_id=$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
  log "building $IMAGE FROM $BASE (apt-get from the Debian mirror; a few minutes; log: $work/build.log) ..."
  if ! DOCKER_BUILDKIT=0 docker build --pull=false -t "$IMAGE" "$work" >"$work/build.log" 2>&1; then
    tail -n 30 "$work/build.log" >&2
    die "docker build of $IMAGE failed"
  fi
  docker run --rm --network none "$IMAGE" >&2 || die "smoke test of $IMAGE failed"
  new_id=$(docker image inspect --format '{{.Id}}' "$IMAGE")
  if [[ -n $old_id && $old_id != "$new_id" ]]; then   # a replaced (--force) image, if unused
    docker image rm "$old_id" >/dev/null 2>&1 || log "note: previous $IMAGE ($old_id) is still in use, kept"
  fi
  rm -rf "$DOCKER_TAR" "$OCI_DIR" "$OCI_TAR"   # outputs of an older image are stale
fi
size=$(docker image inspect --format '{{.Size}}' "$IMAGE")
layers=$(docker image inspect --format '{{len .RootFS.Layers}}' "$IMAGE")
log "$IMAGE: $(awk -v s="$size" 'BEGIN { printf "%.1f MB", s / 1e6 }') uncompressed, $layers layers"
if ((size < 300000000 || size > 500000000)); then
  log "warning: image size $size bytes is outside the intended 350-450 MB"
fi

# ---------------------------------------------------------------- 2. docker-archive
if [[ -s $DOCKER_TAR ]]; then
  log "exists: $DOCKER_TAR"
else
  log "docker save -> $DOCKER_TAR"
  docker save -o "$DOCKER_TAR.tmp" "$IMAGE"
  mv "$DOCKER_TAR.tmp" "$DOCKER_TAR"
fi

# ---------------------------------------------------------------- 3. OCI layout (gzip layers)
if [[ -f $OCI_DIR/index.json && -f $OCI_DIR/oci-layout ]]; then
  log "exists: $OCI_DIR/"
else
  log "skopeo copy docker-archive -> $OCI_DIR/ (gzip layers)"
  rm -rf "$OCI_DIR" "$OCI_DIR.tmp"
  skopeo copy --quiet --dest-compress-format gzip \
    "docker-archive:$DOCKER_TAR" "oci:$OCI_DIR.tmp:${IMAGE##*:}"
  mv "$OCI_DIR.tmp" "$OCI_DIR"
fi
# every layer blob must be gzip (magic 1f 8b)
python3 - "$OCI_DIR" <<'EOF' || die "OCI layout check failed"
import json, os, sys
d = sys.argv[1]
idx = json.load(open(os.path.join(d, "index.json")))
m = json.load(open(os.path.join(d, "blobs", *idx["manifests"][0]["digest"].split(":"))))
for l in m["layers"]:
    p = os.path.join(d, "blobs", *l["digest"].split(":"))
    with open(p, "rb") as f:
        if f.read(2) != b"\x1f\x8b" or not l["mediaType"].endswith("gzip"):
            sys.exit(f"layer {l['digest']} ({l['mediaType']}) is not gzip")
EOF

# ---------------------------------------------------------------- 4. OCI archive
if [[ -s $OCI_TAR ]]; then
  log "exists: $OCI_TAR"
else
  log "tar of the layout -> $OCI_TAR"
  tar -C "$OCI_DIR" --sort=name --numeric-owner -cf "$OCI_TAR.tmp" oci-layout index.json blobs
  mv "$OCI_TAR.tmp" "$OCI_TAR"
fi

mb() { awk -v s="$1" 'BEGIN { printf "%.1f MB", s / 1e6 }'; }
log "done:"
printf '  %-34s %s (image, uncompressed, %s layers)\n' "$IMAGE" "$(mb "$size")" "$layers" >&2
printf '  %-34s %s\n' "$(basename "$DOCKER_TAR")" "$(mb "$(stat -c %s "$DOCKER_TAR")")" >&2
printf '  %-34s %s\n' "$(basename "$OCI_DIR")/" "$(mb "$(du -sb "$OCI_DIR" | cut -f1)")" >&2
printf '  %-34s %s\n' "$(basename "$OCI_TAR")" "$(mb "$(stat -c %s "$OCI_TAR")")" >&2
