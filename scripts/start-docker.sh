#!/usr/bin/env bash
# Starts a Docker engine in the background unless one already answers, and
# waits for its socket. The engine's log goes to /var/log/harden-dockerd.log.
set -euo pipefail

log() { printf '[start-docker] %s\n' "$*" >&2; }

if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  exit 0
fi
if [[ -n ${DOCKER_HOST:-} ]]; then
  log "DOCKER_HOST=$DOCKER_HOST does not answer; start that engine, or unset DOCKER_HOST"
  exit 2
fi
if ! command -v dockerd >/dev/null; then
  log "dockerd is not installed: apt-get install -y docker.io"
  exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
  log "no engine answers and starting dockerd needs root: sudo dockerd &"
  exit 2
fi
log "starting dockerd"
nohup dockerd >/var/log/harden-dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    log "engine $(docker version --format '{{.Server.Version}}') is up"
    exit 0
  fi
  sleep 1
done
log "dockerd did not answer within 60 s; see /var/log/harden-dockerd.log"
tail -n 20 /var/log/harden-dockerd.log >&2 || true
exit 2
