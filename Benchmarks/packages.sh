# Sourced by the benchmarks: installs the Debian packages a benchmark lacks.
# Needs the caller's log and die.
install_debian_packages() {
  (($#)) || return 0
  [[ $(id -u) -eq 0 ]] || die "missing Debian packages: $* (sudo apt-get install -y $*)"
  log "apt-get install $*"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
    || die "apt-get install $* failed"
}
