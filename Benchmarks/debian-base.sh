#!/usr/bin/env bash
# Making the distroless Python runtime (scripts/bases/python3-debian12.yaml, 40 packages)
# from Debian packages, every cache warm, in one run:
#
#   1. resolution alone: `harden lock` over bookworm, bookworm-updates and bookworm-security
#      (InRelease fetched and checked with gpgv each time; the Packages indexes from the cache);
#   2. resolve + assemble: `harden lock`, then `harden base --output` (the image file);
#   3. the shell way, as scripts/make-local-bases.sh did it before harden: `dpkg-deb -x` of the
#      same .deb files, status.d records, users, CA bundle, and a tar of the root.
#
# Usage: Benchmarks/debian-base.sh [--runs N]
# HARDEN=PATH measures that binary instead of a fresh scripts/build-release.sh build.
# Needs: Debian's mirror (the host's apt sources), dpkg-deb; installs hyperfine when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

runs=10
while (($#)); do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N]" >&2; exit 2 ;;
  esac
done

log() { printf '[debian-base-bench +%ss] %s\n' "$SECONDS" "$*" >&2; }
die() { printf '[debian-base-bench] ERROR: %s\n' "$*" >&2; exit 2; }
source "$root/Benchmarks/packages.sh"
command -v hyperfine >/dev/null || install_debian_packages hyperfine
harden=$(release_harden "${HARDEN:-}")

work=$(mktemp -d /tmp/harden-debian-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
project=$work/project
mkdir -p "$project/Recipes"
cp -r scripts/bases/python3-debian12 scripts/bases/python3-debian12.yaml scripts/bases/python3-debian12.lock.yaml \
  "$project/Recipes/"
state=$work/state
recipe=$project/Recipes/python3-debian12.yaml

log "warming the caches (indexes, .deb files) ..."
"$harden" lock --root "$project" --state "$state" "$recipe" 2>/dev/null
"$harden" base --root "$project" --state "$state" "$recipe" --output "$work/harden.tar" >/dev/null 2>&1

# The shell way gets the same .deb files.
mkdir -p "$work/debs"
for sha in $(sed -n 's/^    sha256: "\(.*\)"$/\1/p' "$project/Recipes/python3-debian12.lock.yaml"); do
  cp "$state/debian/sha256/$sha" "$work/debs/$sha.deb"
done
cat >"$work/shell.sh" <<SHELL
set -euo pipefail
root=$work/shell-root
rm -rf "\$root"; mkdir -p "\$root/var/lib/dpkg/status.d" "\$root/etc/ssl/certs" "\$root/tmp" "\$root/home/nonroot"
for deb in $work/debs/*.deb; do
  pkg=\$(dpkg-deb -f "\$deb" Package)
  dpkg-deb -x "\$deb" "\$root"
  dpkg-deb -f "\$deb" | awk '{ print } NR == 1 && /^Package:/ { print "Status: install ok installed" }' \
    >"\$root/var/lib/dpkg/status.d/\$pkg"
  dpkg-deb -I "\$deb" md5sums >"\$root/var/lib/dpkg/status.d/\$pkg.md5sums" 2>/dev/null \
    || rm -f "\$root/var/lib/dpkg/status.d/\$pkg.md5sums"
done
find "\$root/usr/share/ca-certificates" -name '*.crt' | sort | xargs cat >"\$root/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"\$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"\$root/etc/group"
chmod 1777 "\$root/tmp"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "\$root" -cf $work/shell.tar .
SHELL
bash "$work/shell.sh"
echo "harden base: $(du -m "$work/harden.tar" | cut -f1) MB image; shell: $(du -m "$work/shell.tar" | cut -f1) MB tar" \
  "of $(ls "$work/debs" | wc -l) packages"

lock="$harden lock --root $project --state $state $recipe >/dev/null 2>&1"
base="$harden base --root $project --state $state $recipe --output $work/harden.tar >/dev/null 2>&1"
echo
echo "## resolution alone (harden lock), and resolve + assemble against the shell way"
hyperfine --shell=bash --runs "$runs" --warmup 1 --style basic --export-markdown "$work/debian.md" \
  -n "harden lock (resolve)" "$lock" \
  -n "harden lock + harden base (resolve + assemble)" "$lock && $base" \
  -n "harden base (assemble)" "$base" \
  -n "shell: dpkg-deb -x + records + tar" "bash $work/shell.sh" >&2
cat "$work/debian.md"
