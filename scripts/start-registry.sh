#!/usr/bin/env bash
# Starts a local registry (Debian's docker-registry, distribution v2) in the
# background on 127.0.0.1:PORT, keeping images, config, log and pid in
# STORAGE_DIR, and waits until GET /v2/ answers. With HTPASSWD_FILE (bcrypt,
# as `htpasswd -Bbn USER PASSWORD` writes) it asks for basic credentials.
# Prints the registry's pid; stop it with: kill "$(cat STORAGE_DIR/registry.pid)"
#
# Usage: scripts/start-registry.sh PORT STORAGE_DIR [HTPASSWD_FILE]
set -euo pipefail

log() { printf '[start-registry] %s\n' "$*" >&2; }
usage="usage: scripts/start-registry.sh PORT STORAGE_DIR [HTPASSWD_FILE]"
port=${1:?$usage}
storage=${2:?$usage}
htpasswd=${3:-}

if ! command -v docker-registry >/dev/null; then
  log "docker-registry is missing: run scripts/setup.sh"
  exit 2
fi
if [[ -n $htpasswd && ! -r $htpasswd ]]; then
  log "cannot read $htpasswd"
  exit 2
fi
mkdir -p "$storage"
storage=$(cd "$storage" && pwd)

{
  cat <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $storage
http:
  addr: 127.0.0.1:$port
  secret: harden-local-registry
EOF
  if [[ -n $htpasswd ]]; then
    cat <<EOF
auth:
  htpasswd:
    realm: harden-local-registry
    path: $(realpath "$htpasswd")
EOF
  fi
} >"$storage/registry.yml"

nohup docker-registry serve "$storage/registry.yml" >"$storage/registry.log" 2>&1 &
pid=$!
echo "$pid" >"$storage/registry.pid"

# Any HTTP answer from our process counts: 401 is what an htpasswd registry says.
for _ in $(seq 100); do
  if ! kill -0 "$pid" 2>/dev/null; then
    log "docker-registry stopped; its log:"
    cat "$storage/registry.log" >&2
    exit 1
  fi
  status=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$port/v2/" || true)
  if [[ $status == 200 || $status == 401 ]]; then
    log "registry on 127.0.0.1:$port, pid $pid, log $storage/registry.log"
    echo "$pid"
    exit 0
  fi
  sleep 0.1
done
log "http://127.0.0.1:$port/v2/ did not answer within 10 s; stopping pid $pid"
kill "$pid"
exit 1
