#!/usr/bin/env bash
# Build and check Switchboard's container image (Containerfile) with podman.
#
#   scripts/image.sh context DIR   prepare the build context in DIR (binary, CA certificates,
#                                  zoneinfo, passwd/group, empty data/)
#   scripts/image.sh build [TAG]   prepare a context and podman build the image (default tag
#                                  switchboard:<git describe>)
#   scripts/image.sh check [TAG]   build, then export the image's filesystem (podman create +
#                                  podman export) and run its entrypoint from it with chroot, as
#                                  user 65532 with the image's environment, until /readyz answers
#                                  200 and `switchboard health` (the HEALTHCHECK) succeeds; checks
#                                  user, volume and health check in the image's configuration.
#                                  Needs root (chroot); running containers is not needed.
set -euo pipefail
cd "$(dirname "$0")/.."

context() {
  local ctx=$1
  mkdir -p "$ctx/data"
  CGO_ENABLED=0 GOFLAGS= go build -trimpath -buildvcs=true -o "$ctx/switchboard" ./cmd/switchboard
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
  cp -r /usr/share/zoneinfo "$ctx/zoneinfo"
  echo 'switchboard:x:65532:65532:switchboard:/data:/sbin/nologin' >"$ctx/passwd"
  echo 'switchboard:x:65532:' >"$ctx/group"
  cp Containerfile "$ctx/"
}

build() {
  local tag=$1 ctx
  ctx=$(mktemp -d)
  context "$ctx"
  podman build -q --format docker -f "$ctx/Containerfile" -t "$tag" "$ctx" >/dev/null
  rm -rf "$ctx"
  echo "image: built $tag ($(podman image inspect --format '{{.Size}}' "$tag") bytes)"
}

check() {
  local tag=$1 ctr port
  # tmp, rootfs and pid stay global: the EXIT trap reads them.
  build "$tag"
  # The configuration a runtime would apply.
  local cfg
  cfg=$(podman image inspect --format '{{.Config.User}}|{{json .Config.Volumes}}|{{json .Config.Healthcheck}}|{{json .Config.Entrypoint}}' "$tag")
  case "$cfg" in
    65532:65532'|{"/data":{}}|'*'switchboard","health"]'*'|["/usr/local/bin/switchboard"]') ;;
    *) echo "image: unexpected configuration: $cfg" >&2; exit 1 ;;
  esac
  tmp=$(mktemp -d)
  rootfs="$tmp/rootfs"
  mkdir -p "$rootfs"
  ctr=$(podman create "$tag")
  podman export "$ctr" | tar -x -C "$rootfs"
  podman rm -f "$ctr" >/dev/null 2>&1 # (podman complains that there is no systemd for health timers)
  [ "$(stat -c %u "$rootfs/data")" = 65532 ] || { echo "image: /data is not owned by 65532" >&2; exit 1; }
  [ -z "$(find "$rootfs" -name sh -o -name busybox | head -1)" ] || { echo "image: holds a shell" >&2; exit 1; }
  # The image's environment, with another port (8080 may be taken on this machine).
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mapfile -t envs < <(podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$tag" | grep -v '^$')
  envs+=("SWITCHBOARD_ADDR=0.0.0.0:$port")
  # chroot execs the entrypoint: $pid is switchboard itself, stopped with SIGTERM (a drain).
  env -i "${envs[@]}" chroot --userspec=65532:65532 "$rootfs" /usr/local/bin/switchboard serve >"$tmp/serve.log" 2>&1 &
  pid=$!
  trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
      # The HEALTHCHECK command, from inside the image, as its user.
      env -i "${envs[@]}" chroot --userspec=65532:65532 "$rootfs" /usr/local/bin/switchboard health
      env -i "${envs[@]}" chroot --userspec=65532:65532 "$rootfs" /usr/local/bin/switchboard version --json
      [ -f "$rootfs/data/switchboard.db" ] || { echo "image: no database in the /data volume" >&2; exit 1; }
      echo "image: entrypoint from the exported filesystem answers /readyz on port $port"
      return 0
    fi
    if ! kill -0 $pid 2>/dev/null; then break; fi
    sleep 0.5
  done
  echo "image: /readyz did not answer; serve's output:" >&2
  cat "$tmp/serve.log" >&2
  exit 1
}

tag=${2:-switchboard:$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
case "${1:-}" in
  context) context "${2:?DIR}" ;;
  build) build "$tag" ;;
  check) check "$tag" ;;
  *) echo "usage: scripts/image.sh context DIR | build [TAG] | check [TAG]" >&2; exit 2 ;;
esac
