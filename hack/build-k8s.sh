#!/usr/bin/env bash
# Builds the pinned Kubernetes components (and the pause binary) from the Go module proxy into a
# per-version cache outside the work tree, so a warm run costs nothing.
# Prints the bin directory as its last line.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod="$here/k8s"
version="$(awk '/^require k8s.io\/kubernetes /{print $3}' "$mod/go.mod")"
cache="${BREAKFIX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/breakfix}"
bin="$cache/k8s/$version/bin"
components=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl kubeadm)

missing=()
for c in "${components[@]}" pause; do
  [[ -x "$bin/$c" ]] || missing+=("$c")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || { echo "build-k8s: Go is required (https://go.dev/dl)" >&2; exit 1; }
mkdir -p "$bin"
tmp="$(mktemp -d "$cache/k8s/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

minor="${version#v}"; major="${minor%%.*}"; minor="${minor#*.}"; minor="${minor%%.*}"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

pkgs=()
for c in "${components[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done

echo "build-k8s: building Kubernetes $version (${components[*]}) into $bin" >&2
echo "build-k8s: a cold build takes about 10 minutes on 2 cores; progress follows" >&2
start=$SECONDS
cd "$mod"
# -v names each package as it is compiled: count them for a progress line every 100 packages.
CGO_ENABLED=0 go build -mod=mod -trimpath -v -ldflags "$ldflags" -o "$tmp/" "${pkgs[@]}" 2>&1 |
  awk -v start="$start" '
    /^(#|go: |.*\.go:[0-9]+)/ { print > "/dev/stderr"; next }
    { n++; if (n % 100 == 0) { printf "build-k8s: %d packages compiled\n", n > "/dev/stderr"; fflush("/dev/stderr") } }
    END { printf "build-k8s: %d packages compiled\n", n > "/dev/stderr" }'
status=${PIPESTATUS[0]}
[[ $status -eq 0 ]] || { echo "build-k8s: go build failed (exit $status)" >&2; exit "$status"; }

# The pause container's init: upstream C source shipped inside the kubernetes module.
src="$(go list -mod=mod -m -f '{{.Dir}}' k8s.io/kubernetes)/build/pause/linux/pause.c"
cc -Os -static -o "$tmp/pause" "$src" -DVERSION="$version"
strip "$tmp/pause"

for c in "${components[@]}" pause; do mv -f "$tmp/$c" "$bin/$c"; done
echo "build-k8s: done in $((SECONDS - start)) s" >&2
echo "$bin"
