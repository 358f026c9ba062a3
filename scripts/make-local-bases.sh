#!/usr/bin/env bash
# make-local-bases.sh - build local stand-ins for base images that cannot be pulled here.
#
#   harden-local/python:3.11-slim            stands in for  python:3.11-slim
#   harden-local/python3-debian12:nonroot    stands in for  gcr.io/distroless/python3-debian12:nonroot
#
# Both are made from Debian bookworm packages:
#   * the slim image with `debootstrap --variant=minbase` plus apt inside the chroot;
#   * the distroless image by harden itself: `harden build scripts/bases/python3-debian12.yaml`,
#     whose runtime is assembled from the packages pinned in python3-debian12.lock.yaml
#     (signed indexes checked, no maintainer script run, no shell, no package manager).
#     HARDEN names the harden binary; by default it is built with `swift build`.
#
# Usage: scripts/make-local-bases.sh [--force] [--only slim|distroless]
#   --force        rebuild images even if they already exist
#   --only NAME    build only one of the two images
#
# Environment:
#   HARDEN_DEBIAN_MIRROR           Debian mirror of the slim image (default: the host's apt source for bookworm,
#                                  else http://deb.debian.org/debian)
#   HARDEN_DEBIAN_SECURITY_MIRROR  security mirror, or "none" (default: the host's apt source for
#                                  bookworm-security; derived as <mirror>-security when
#                                  HARDEN_DEBIAN_MIRROR ends in /debian)
#   HARDEN_HOST_CA_BUNDLE          CA bundle copied into the slim image
#                                  (default /etc/ssl/certs/ca-certificates.crt)
#
# Needs root, docker, debootstrap, apt-get, dpkg-deb, GNU tar, chroot.
set -euo pipefail

SUITE=bookworm
PYVER=3.11
SLIM_IMAGE=harden-local/python:3.11-slim
DISTROLESS_IMAGE=harden-local/python3-debian12:nonroot
HOST_CA_BUNDLE=${HARDEN_HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

log() { printf '[make-local-bases +%ss] %s\n' "$SECONDS" "$*" >&2; }
die() { printf '[make-local-bases] ERROR: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

FORCE=0
ONLY=
while (($#)); do
  case $1 in
    --force) FORCE=1 ;;
    --only) [[ $# -ge 2 ]] || die "--only needs an argument (slim|distroless)"; ONLY=$2; shift ;;
    --only=*) ONLY=${1#--only=} ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
  shift
done
case $ONLY in ''|slim|distroless) ;; *) die "--only must be 'slim' or 'distroless', got '$ONLY'" ;; esac

# ---------------------------------------------------------------- preflight
[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap, chroot and file ownership need it)"
for cmd in docker debootstrap apt-get dpkg-deb dpkg tar chroot mount umount; do
  command -v "$cmd" >/dev/null 2>&1 || die "required command not found: $cmd"
done
if ! timeout 30 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  die "docker daemon is not answering (${DOCKER_HOST:-unix:///var/run/docker.sock}); start it, e.g. '(dockerd > /tmp/dockerd.log 2>&1 &)'"
fi
[[ -s $HOST_CA_BUNDLE ]] || die "host CA bundle not found: $HOST_CA_BUNDLE"

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

want() { [[ -z $ONLY || $ONLY == "$1" ]]; }
need_slim=0 need_distroless=0
if want slim; then
  if [[ $FORCE -eq 0 ]] && image_exists "$SLIM_IMAGE"; then
    log "$SLIM_IMAGE already exists - skipping (use --force to rebuild)"
  else
    need_slim=1
  fi
fi
# One made before harden assembled it (no dev.harden.base label) is made again.
made_by_harden() { [[ $(docker image inspect --format '{{index .Config.Labels "dev.harden.base"}}' "$1" 2>/dev/null) == python3-debian12 ]]; }
if want distroless; then
  if [[ $FORCE -eq 0 ]] && made_by_harden "$DISTROLESS_IMAGE"; then
    log "$DISTROLESS_IMAGE already exists - skipping (use --force to rebuild)"
  else
    need_distroless=1
  fi
fi
if [[ $need_slim -eq 0 && $need_distroless -eq 0 ]]; then
  log "nothing to do"
  exit 0
fi

ARCH=$(dpkg --print-architecture)

# Mirror of the host's apt sources for a suite (empty if none configured).
HOST_TARGETS=
host_mirror_for() {
  awk -v s="$1" '$2 == s && $3 == "deb" { sub(/\/+$/, "", $1); print $1; exit }' <<<"$HOST_TARGETS"
}
if [[ -n ${HARDEN_DEBIAN_MIRROR:-} ]]; then
  MIRROR=${HARDEN_DEBIAN_MIRROR%/}
  if [[ -n ${HARDEN_DEBIAN_SECURITY_MIRROR:-} ]]; then
    SECURITY_MIRROR=${HARDEN_DEBIAN_SECURITY_MIRROR%/}
  elif [[ $MIRROR == */debian ]]; then
    SECURITY_MIRROR=${MIRROR}-security
  else
    SECURITY_MIRROR=none
  fi
else
  HOST_TARGETS=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(TARGET_OF)' 2>/dev/null || true)
  MIRROR=$(host_mirror_for "$SUITE")
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
  SECURITY_MIRROR=${HARDEN_DEBIAN_SECURITY_MIRROR:-$(host_mirror_for "$SUITE-security")}
  SECURITY_MIRROR=${SECURITY_MIRROR:-${MIRROR}-security}
fi
[[ $SECURITY_MIRROR == none ]] && SECURITY_MIRROR=
log "mirror: $MIRROR  security: ${SECURITY_MIRROR:-<none>}  arch: $ARCH"

KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
SIGNED_BY=
[[ -r $KEYRING ]] && SIGNED_BY="[signed-by=$KEYRING] "

write_sources() { # $1 = file, $2 = optional "[options] " prefix
  {
    echo "deb ${2:-}$MIRROR $SUITE main"
    echo "deb ${2:-}$MIRROR $SUITE-updates main"
    [[ -z $SECURITY_MIRROR ]] || echo "deb ${2:-}$SECURITY_MIRROR $SUITE-security main"
  } >"$1"
}

# ---------------------------------------------------------------- work dir + cleanup
WORK=$(mktemp -d "${TMPDIR:-/tmp}/harden-bases.XXXXXX")
WORK=$(readlink -f "$WORK")

unmount_under() {
  local m
  awk -v p="$1/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r \
    | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" || true; done
}
cleanup() {
  local rc=$?
  if [[ -n ${WORK:-} && -d $WORK ]]; then
    unmount_under "$WORK"
    # --one-file-system: never descend into anything still mounted below WORK
    rm -rf --one-file-system "$WORK" || log "warning: could not remove $WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 141' PIPE

# ---------------------------------------------------------------- helpers
strip_docs() { # $1 = root
  local r=$1
  rm -rf "$r"/usr/share/doc "$r"/usr/share/man "$r"/usr/share/info "$r"/usr/share/lintian \
         "$r"/usr/share/linda "$r"/usr/share/groff
  if [[ -d $r/usr/share/locale ]]; then
    find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  fi
}

# Tar a root dir with sorted names and numeric owners and feed it to docker import.
# A replaced (--force) image that is left dangling and unused is removed afterwards.
import_root() { # $1 = root, $2 = image, rest = docker import args (--change ...)
  local root=$1 image=$2 old new; shift 2
  old=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
  tar -C "$root" --sort=name --numeric-owner -c . | docker import "$@" - "$image" >/dev/null
  new=$(docker image inspect --format '{{.Id}}' "$image")
  if [[ -n $old && $old != "$new" ]]; then
    docker image rm "$old" >/dev/null 2>&1 || log "note: previous $image ($old) is still in use, kept"
  fi
}

image_size() { docker image inspect --format '{{.Size}}' "$1" | awk '{ printf "%.1f MB", $1 / 1e6 }'; }

# ================================================================ 1. python:3.11-slim
build_slim() {
  local start=$SECONDS root=$WORK/slim
  log "[slim] debootstrap --variant=minbase $SUITE (log: debootstrap.log) ..."
  if ! debootstrap --variant=minbase --arch="$ARCH" --components=main \
        "$SUITE" "$root" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
    tail -n 30 "$WORK/debootstrap.log" >&2
    die "[slim] debootstrap failed"
  fi
  log "[slim] debootstrap done after $((SECONDS - start)) s"

  write_sources "$root/etc/apt/sources.list"
  rm -f "$root/etc/apt/sources.list.d/"*.sources "$root/etc/apt/sources.list.d/"*.list
  # apt inside the chroot (https mirrors, proxies) needs the host's CA bundle too
  mkdir -p "$root/etc/ssl/certs"
  install -m 0644 "$HOST_CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"
  [[ -s $root/etc/resolv.conf ]] || cp -L /etc/resolv.conf "$root/etc/resolv.conf"

  # same look as debian:bookworm-slim: keep future apt installs small
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d" "$root/etc/apt/apt.conf.d"
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  printf 'Acquire::Languages "none";\n' >"$root/etc/apt/apt.conf.d/docker-no-languages"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$root/etc/apt/apt.conf.d/docker-no-recommends"

  mount -t proc proc "$root/proc"
  local in_chroot=(chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin
                   DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 HOME=/root)
  log "[slim] apt-get update/upgrade + install python3 python3-pip ca-certificates ..."
  {
    "${in_chroot[@]}" apt-get -q update &&
    "${in_chroot[@]}" apt-get -q -y upgrade &&
    "${in_chroot[@]}" apt-get -q -y install --no-install-recommends python3 python3-pip ca-certificates
  } >"$WORK/slim-apt.log" 2>&1 || { umount "$root/proc"; tail -n 30 "$WORK/slim-apt.log" >&2; die "[slim] apt-get in chroot failed"; }
  "${in_chroot[@]}" apt-get -q clean >/dev/null
  umount "$root/proc"

  # Host CA bundle (it holds the CAs this machine needs to reach PyPI). Certificates the host
  # added locally (in its bundle, but neither among its distribution certificates nor in the
  # image's bundle) also go to /usr/local/share/ca-certificates, so that a later
  # update-ca-certificates (e.g. apt upgrading ca-certificates in a builder stage) keeps them.
  local known=("$root/etc/ssl/certs/ca-certificates.crt")
  if [[ -d /usr/share/ca-certificates ]]; then
    mapfile -t -O 1 known < <(find /usr/share/ca-certificates -name '*.crt' -type f | sort)
    known[0]="$root/etc/ssl/certs/ca-certificates.crt"
  fi
  mkdir -p "$root/usr/local/share/ca-certificates"
  awk -v host="$HOST_CA_BUNDLE" -v out="$root/usr/local/share/ca-certificates/harden-host" '
    { sub(/\r$/, "") }
    /-----BEGIN CERTIFICATE-----/ { inpem = 1; pem = "" }
    inpem { pem = pem $0 "\n" }
    /-----END CERTIFICATE-----/ {
      inpem = 0
      if (FILENAME != host) { have[pem] = 1; next }
      if (pem in have) next
      have[pem] = 1; n++
      f = sprintf("%s-%02d.crt", out, n); printf "%s", pem > f; close(f)
    }
    END { printf "%d\n", n }' "${known[@]}" "$HOST_CA_BUNDLE" \
    | { read -r n; log "[slim] $n host-local CA certificate(s) kept in /usr/local/share/ca-certificates"; }
  install -m 0644 "$HOST_CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"
  cat >"$root/etc/pip.conf" <<'EOF'
[global]
cert = /etc/ssl/certs/ca-certificates.crt
disable-pip-version-check = true
EOF

  # behave like the official image for `pip install` as root
  rm -f "$root/usr/lib/python$PYVER/EXTERNALLY-MANAGED"
  [[ -e $root/usr/bin/python ]] || ln -s python3 "$root/usr/bin/python"
  [[ -e $root/usr/bin/pip ]] || ln -s pip3 "$root/usr/bin/pip"

  # slim down, drop host leftovers
  strip_docs "$root"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
         "$root"/var/log/apt/* "$root"/var/log/bootstrap.log "$root"/tmp/* "$root"/var/tmp/* \
         "$root"/root/.cache
  mkdir -p "$root/var/lib/apt/lists/partial" "$root/var/cache/apt/archives/partial"
  find "$root/var/log" -type f -exec truncate -s 0 {} +
  : >"$root/etc/resolv.conf"
  printf 'localhost\n' >"$root/etc/hostname"
  rm -f "$root/etc/machine-id" "$root/var/lib/dbus/machine-id"
  unmount_under "$root"
  find "$root/dev" -mindepth 1 -xdev -delete 2>/dev/null || true   # docker provides /dev
  [[ -x $root/bin/sh ]] || die "[slim] /bin/sh missing in root"

  log "[slim] importing $SLIM_IMAGE ..."
  import_root "$root" "$SLIM_IMAGE" \
    --message "harden-local stand-in for python:3.11-slim (debootstrap $SUITE)" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PIP_DISABLE_PIP_VERSION_CHECK=1' \
    --change 'LABEL org.opencontainers.image.description="harden-local stand-in for python:3.11-slim"' \
    --change 'CMD ["python3"]'
  rm -rf --one-file-system "$root"

  docker run --rm --network none "$SLIM_IMAGE" sh -c \
    'python --version && pip --version && python3 -c "import ssl, sqlite3, venv"' >&2 \
    || die "[slim] smoke test failed"
  SLIM_TIME=$((SECONDS - start))
  log "[slim] done: $SLIM_IMAGE ($(image_size "$SLIM_IMAGE")) in ${SLIM_TIME} s"
}

# ================================================================ 2. distroless python3-debian12:nonroot
build_distroless() {
  local start=$SECONDS harden=${HARDEN:-}
  if [[ -z $harden ]]; then
    log "[distroless] swift build --product harden ..."
    ( cd "$(dirname "$0")/.." && swift build --product harden ) >"$WORK/swift-build.log" 2>&1 \
      || { tail -n 20 "$WORK/swift-build.log" >&2; die "[distroless] swift build failed"; }
    harden=$(cd "$(dirname "$0")/.." && swift build --show-bin-path)/harden
  fi
  local project
  project=$(cd "$(dirname "$0")/.." && pwd)
  log "[distroless] $harden build scripts/bases/python3-debian12.yaml ..."
  "$harden" build --root "$project" "$project/scripts/bases/python3-debian12.yaml" --force >&2 \
    || die "[distroless] harden build failed (see above)"

  # check: the runtime works (run directly, there is no shell)
  docker run --rm --network none "$DISTROLESS_IMAGE" -I -W ignore::DeprecationWarning -c '
import ssl, json, http.server, sqlite3, uuid, ctypes, zlib, hashlib, bz2, lzma, decimal
import dbm, curses, readline, socket, mimetypes, zoneinfo, crypt, os, sys
ctx = ssl.create_default_context(cafile="/etc/ssl/certs/ca-certificates.crt")
assert ctx.cert_store_stats()["x509_ca"] > 0
assert socket.getservbyname("http") == 80
assert mimetypes.guess_type("a.json")[0] == "application/json"
zoneinfo.ZoneInfo("Europe/Berlin")
ctypes.CDLL(None)
uuid.uuid4(); hashlib.sha3_256(b"x"); hashlib.blake2b(b"x")
assert os.getuid() == 65532
print("python", sys.version.split()[0], "uid", os.getuid())
' >&2 || die "[distroless] python smoke test failed"
  if docker run --rm --network none --entrypoint /bin/sh "$DISTROLESS_IMAGE" -c true >/dev/null 2>&1; then
    die "[distroless] /bin/sh unexpectedly runs"
  fi
  DISTROLESS_TIME=$((SECONDS - start))
  log "[distroless] done: $DISTROLESS_IMAGE ($(image_size "$DISTROLESS_IMAGE")) in ${DISTROLESS_TIME} s"
}

[[ $need_slim -eq 0 ]] || build_slim
[[ $need_distroless -eq 0 ]] || build_distroless
log "all done"
