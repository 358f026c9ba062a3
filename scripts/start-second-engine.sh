#!/usr/bin/env bash
# Starts a second Docker engine for the remote-engine tests, unless it answers already:
# dockerd on tcp://127.0.0.1:<port> with TLS (a CA, a server certificate for 127.0.0.1 and a
# client certificate, made with openssl), its own data and exec roots and its own bridge
# (harden-br1, 172.31.250.1/24: with --bridge=none dockerd deletes docker0, the first
# engine's bridge, on start). Writes the
# client environment that reaches it to $HARDEN_SECOND_ENGINE/env (default
# /tmp/harden-second-engine): DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH.
set -euo pipefail

dir=${HARDEN_SECOND_ENGINE:-/tmp/harden-second-engine}
log() { printf '[start-second-engine] %s\n' "$*" >&2; }

if [[ -f $dir/env ]] && (set -a; source "$dir/env"; docker version --format '{{.Server.Version}}' >/dev/null 2>&1); then
  exit 0
fi
[[ $(id -u) -eq 0 ]] || { log "starting dockerd needs root"; exit 2; }
if [[ -f $dir/dockerd.pid ]]; then kill "$(cat "$dir/dockerd.pid")" 2>/dev/null || true; sleep 2; fi
rm -rf "$dir/certs" "$dir/env"
mkdir -p "$dir/certs"
cd "$dir/certs"
key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${key[@]}" -keyout ca-key.pem -out ca.pem -days 30 -subj "/CN=harden second engine CA" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
printf 'extendedKeyUsage=clientAuth\n' >client.ext
openssl req "${key[@]}" -keyout server-key.pem -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server-cert.pem -days 30 -extfile server.ext 2>/dev/null
openssl req "${key[@]}" -keyout key.pem -out client.csr -subj "/CN=harden tests" 2>/dev/null
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out cert.pem -days 30 -extfile client.ext 2>/dev/null
bridge=harden-br1
if ! ip link show "$bridge" >/dev/null 2>&1; then
  ip link add "$bridge" type bridge
  ip addr add 172.31.250.1/24 dev "$bridge"
fi
ip link set "$bridge" up
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log "starting dockerd on tcp://127.0.0.1:$port (TLS), data in $dir/root"
nohup dockerd --data-root "$dir/root" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
  -H "tcp://127.0.0.1:$port" --tlsverify --tlscacert "$dir/certs/ca.pem" \
  --tlscert "$dir/certs/server-cert.pem" --tlskey "$dir/certs/server-key.pem" \
  --bridge="$bridge" --iptables=false --ip6tables=false >"$dir/dockerd.log" 2>&1 </dev/null &
cat >"$dir/env.new" <<ENV
DOCKER_HOST=tcp://127.0.0.1:$port
DOCKER_TLS_VERIFY=1
DOCKER_CERT_PATH=$dir/certs
ENV
for _ in $(seq 1 60); do
  if (set -a; source "$dir/env.new"; docker version --format '{{.Server.Version}}' >/dev/null 2>&1); then
    mv "$dir/env.new" "$dir/env"
    log "second engine is up"
    exit 0
  fi
  sleep 1
done
log "the second dockerd did not answer within 60 s; see $dir/dockerd.log"
tail -n 20 "$dir/dockerd.log" >&2 || true
exit 2
