#!/usr/bin/env bash
# Reproducible release builds of switchboard.
#
#   scripts/release.sh [OUTDIR]     build linux/amd64, linux/arm64 and darwin/arm64 into OUTDIR
#                                   (default dist/): one .tar.gz per target with the binary,
#                                   LICENSE, NOTICE, THIRD_PARTY_LICENSES.md, README.md and the
#                                   full license texts of the linked modules, plus SHA256SUMS.
#   scripts/release.sh --check      build linux/amd64 twice, from two clones of HEAD at different
#                                   paths, and fail unless the binaries are byte-identical (CI).
#
# The binaries are static (CGO_ENABLED=0), trimmed (-trimpath: no build paths inside) and stamped
# with the commit, its date and the module version by the Go toolchain (-buildvcs=true), so
# `switchboard version` needs no -ldflags. Build from a clean clone: a `git worktree` records no
# VCS information (Go only recognises a .git directory) and a dirty tree is marked "modified".
# Archives are reproducible too: sorted names, fixed owner and mtime (the commit's time), gzip -n.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(linux/amd64 linux/arm64 darwin/arm64)

build() { # build GOOS GOARCH OUT [SRC]
  local os=$1 arch=$2 out=$3 src=${4:-.}
  (cd "$src" && CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOFLAGS= \
    go build -trimpath -buildvcs=true -o "$out" ./cmd/switchboard)
}

if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  git clone -q . "$tmp/a/src"
  git clone -q . "$tmp/b/another/path"
  build linux amd64 "$tmp/one" "$tmp/a/src"
  build linux amd64 "$tmp/two" "$tmp/b/another/path"
  if ! cmp -s "$tmp/one" "$tmp/two"; then
    echo "release: two builds of the same commit differ" >&2
    exit 1
  fi
  if grep -q -a -F "$tmp" "$tmp/one"; then
    echo "release: the binary holds its build path (-trimpath not effective)" >&2
    exit 1
  fi
  echo "release: reproducible ($(sha256sum "$tmp/one" | cut -c1-16)…, $(stat -c %s "$tmp/one") bytes)"
  exit 0
fi

out=$(realpath -m "${1:-dist}")
mkdir -p "$out"
version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
epoch=$(git log -1 --format=%ct 2>/dev/null || echo 0)

# The full license texts of every module linked into the binary.
lic=$(mktemp -d)
trap 'rm -rf "$lic"' EXIT
go list -deps -f '{{with .Module}}{{if not .Main}}{{.Path}}@{{.Version}} {{.Dir}}{{end}}{{end}}' ./cmd/switchboard |
  sort -u | while read -r mod dir; do
    dest="$lic/licenses/${mod%@*}"
    mkdir -p "$dest"
    for f in LICENSE LICENSE.txt LICENSE.md COPYING NOTICE; do
      if [ -f "$dir/$f" ]; then cp "$dir/$f" "$dest/"; fi
    done
  done
cp "$(go env GOROOT)/LICENSE" "$lic/licenses/go-LICENSE"

rm -f "$out/SHA256SUMS"
for target in "${TARGETS[@]}"; do
  os=${target%/*} arch=${target#*/}
  name="switchboard_${version}_${os}_${arch}"
  stage="$lic/$name"
  mkdir -p "$stage"
  build "$os" "$arch" "$stage/switchboard"
  cp LICENSE NOTICE THIRD_PARTY_LICENSES.md README.md "$stage/"
  cp -r "$lic/licenses" "$stage/"
  tar -C "$lic" --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
    -cf - "$name" | gzip -n -9 >"$out/$name.tar.gz"
  echo "release: $out/$name.tar.gz"
done
(cd "$out" && sha256sum switchboard_"${version}"_*.tar.gz >SHA256SUMS)
cat "$out/SHA256SUMS"
