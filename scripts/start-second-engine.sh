#!/usr/bin/env bash
# Starts a second Docker engine for the remote-engine tests, unless it answers already:
# dockerd on tcp://127.0.0.1:<port> with TLS (a CA, a server certificate for 127.0.0.1 and a
# client certificate, made with openssl), its own data and exec roots and its own bridge
# (harden-br1, 172.31.250.1/24: with --bridge=none dockerd deletes docker0, the first
# engine's bridge, on start). Writes the
# client environment that reaches it to $HARDEN_SECOND_ENGINE/env (default
# /tmp/harden-second-engine): DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH.
#
# The same engine over ssh://: an sshd on 127.0.0.1:<port> (its own host key and config)
# whose one authorized key may only run `docker system dial-stdio` against the engine's
# unix socket. $HARDEN_SECOND_ENGINE/ssh-env holds DOCKER_HOST=ssh://root@127.0.0.1:<port>
# and a PATH whose `ssh` adds `-F` with the key and the pinned host key (the docker client
# runs the `ssh` it finds on PATH).
set -euo pipefail

dir=${HARDEN_SECOND_ENGINE:-/tmp/harden-second-engine}
log() { printf '[start-second-engine] %s\n' "$*" >&2; }

answers() { (set -a; source "$1"; docker version --format '{{.Server.Version}}' >/dev/null 2>&1); }
if [[ -f $dir/env && -f $dir/ssh-env ]] && answers "$dir/env" && answers "$dir/ssh-env"; then
  exit 0
fi
[[ $(id -u) -eq 0 ]] || { log "starting dockerd needs root"; exit 2; }
for pidfile in "$dir/dockerd.pid" "$dir/ssh/sshd.pid"; do
  if [[ -f $pidfile ]]; then kill "$(cat "$pidfile")" 2>/dev/null || true; sleep 1; fi
done
rm -rf "$dir/certs" "$dir/env" "$dir/ssh" "$dir/ssh-env"
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
  -H "tcp://127.0.0.1:$port" -H "unix://$dir/docker.sock" --tlsverify --tlscacert "$dir/certs/ca.pem" \
  --tlscert "$dir/certs/server-cert.pem" --tlskey "$dir/certs/server-key.pem" \
  --bridge="$bridge" --iptables=false --ip6tables=false >"$dir/dockerd.log" 2>&1 </dev/null &
cat >"$dir/env.new" <<ENV
DOCKER_HOST=tcp://127.0.0.1:$port
DOCKER_TLS_VERIFY=1
DOCKER_CERT_PATH=$dir/certs
ENV
start_sshd() {
  local ssh=$dir/ssh ssh_port
  mkdir -p "$ssh/bin" /run/sshd
  ssh-keygen -q -t ed25519 -N '' -C "harden second engine host" -f "$ssh/host_key"
  ssh-keygen -q -t ed25519 -N '' -C "harden tests" -f "$ssh/client_key"
  printf 'command="docker -H unix://%s/docker.sock system dial-stdio",no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding %s\n' \
    "$dir" "$(cat "$ssh/client_key.pub")" >"$ssh/authorized_keys"
  ssh_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cat >"$ssh/sshd_config" <<SSHD
ListenAddress 127.0.0.1:$ssh_port
HostKey $ssh/host_key
PidFile $ssh/sshd.pid
AuthorizedKeysFile $ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
SSHD
  /usr/sbin/sshd -f "$ssh/sshd_config" -E "$ssh/sshd.log"
  printf '[127.0.0.1]:%s %s\n' "$ssh_port" "$(cut -d' ' -f1,2 "$ssh/host_key.pub")" >"$ssh/known_hosts"
  cat >"$ssh/config" <<SSH
Host 127.0.0.1
  IdentityFile $ssh/client_key
  IdentitiesOnly yes
  UserKnownHostsFile $ssh/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
SSH
  printf '#!/bin/sh\nexec /usr/bin/ssh -F %s "$@"\n' "$ssh/config" >"$ssh/bin/ssh"
  chmod +x "$ssh/bin/ssh"
  printf 'DOCKER_HOST=ssh://root@127.0.0.1:%s\nPATH=%s\n' "$ssh_port" "$ssh/bin:$PATH" >"$dir/ssh-env.new"
  for _ in $(seq 1 30); do
    if answers "$dir/ssh-env.new"; then
      mv "$dir/ssh-env.new" "$dir/ssh-env"
      log "second engine answers over ssh://root@127.0.0.1:$ssh_port"
      return 0
    fi
    sleep 1
  done
  log "the second engine did not answer over ssh within 30 s; see $ssh/sshd.log"
  tail -n 20 "$ssh/sshd.log" >&2 || true
  exit 2
}

for _ in $(seq 1 60); do
  if (set -a; source "$dir/env.new"; docker version --format '{{.Server.Version}}' >/dev/null 2>&1); then
    mv "$dir/env.new" "$dir/env"
    log "second engine is up"
    start_sshd
    exit 0
  fi
  sleep 1
done
log "the second dockerd did not answer within 60 s; see $dir/dockerd.log"
tail -n 20 "$dir/dockerd.log" >&2 || true
exit 2
