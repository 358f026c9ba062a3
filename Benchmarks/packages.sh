# Sourced by the benchmarks: installs the Debian packages a benchmark lacks, and
# finds or builds the harden binary. Needs the caller's log and die.
install_debian_packages() {
  (($#)) || return 0
  [[ $(id -u) -eq 0 ]] || die "missing Debian packages: $* (sudo apt-get install -y $*)"
  log "apt-get install $*"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
    || die "apt-get install $* failed"
}

# Prints the harden binary to measure: PATH when given, else a fresh release build.
release_harden() {
  if [[ -n ${1:-} ]]; then
    log "harden: $1 (not building)"
    printf '%s\n' "$1"
    return
  fi
  log "scripts/build-release.sh ..."
  "$(dirname "${BASH_SOURCE[0]}")/../scripts/build-release.sh" || die "swift build failed"
}
