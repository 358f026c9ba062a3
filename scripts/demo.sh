#!/usr/bin/env bash
# The main job, end to end, on the example recipe: prepares the machine, builds
# flask-distroless through the local image map, runs it and checks /health.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
harden=$(scripts/build-release.sh)

# The builtin scanner's advisories: `harden advisories sync` fetches OSV's archives where the
# network reaches them; here none does, so the real PyPA records beside the repository go in.
records=../shared/data/osv/PyPI
if [[ -d $records ]]; then
  $harden advisories import "$records"
else
  echo "no $records: the build's scan will say it has no advisories (run harden advisories sync)" >&2
fi

$harden plan flask-distroless --image-map scripts/local-image-map.yaml
$harden build flask-distroless --image-map scripts/local-image-map.yaml

image=harden/flask-distroless:latest
container=$(docker run -d --rm "$image")
trap 'docker rm -f "$container" >/dev/null 2>&1 || true' EXIT
address=$(docker inspect --format '{{.NetworkSettings.IPAddress}}' "$container")
for _ in $(seq 1 50); do
  if health=$(curl -sf "http://$address:8080/health"); then
    echo "GET http://$address:8080/health -> $health"
    if docker exec "$container" /bin/sh -c true >/dev/null 2>&1; then
      echo "unexpected: the runtime image has a shell" >&2
      exit 1
    fi
    echo "no shell in the runtime image: docker exec /bin/sh fails, as it should"
    exit 0
  fi
  sleep 0.2
done
echo "the container did not answer /health; its log:" >&2
docker logs "$container" >&2
exit 1
