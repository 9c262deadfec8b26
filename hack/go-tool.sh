#!/usr/bin/env bash
# Builds a pinned Go command-line tool (helm, kind) through the Go module proxy into a cache
# outside the work tree, once per version. Prints the binary's path as its last line.
#   hack/go-tool.sh helm | kind | actionlint
set -euo pipefail

case "${1:-}" in
  helm) pkg=helm.sh/helm/v3/cmd/helm; version=v3.22.0
        ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$version" ;;
  kind) pkg=sigs.k8s.io/kind; version=v0.33.0; ldflags="-s -w" ;;
  actionlint) pkg=github.com/rhysd/actionlint/cmd/actionlint; version=v1.7.12
        ldflags="-s -w -X github.com/rhysd/actionlint.version=$version" ;;
  *) echo "usage: $0 helm|kind|actionlint" >&2; exit 2 ;;
esac
name="$1"
cache="${BREAKFIX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/breakfix}"
bin="$cache/tools/$name-$version/$name"
if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "go-tool: Go is required to build $name" >&2; exit 1; }
echo "go-tool: building $name $version (once; a few minutes on 2 cores)" >&2
start=$SECONDS
mkdir -p "$(dirname "$bin")"
GOBIN="$(dirname "$bin")" CGO_ENABLED=0 go install -trimpath -ldflags "$ldflags" "$pkg@$version"
echo "go-tool: $name built in $((SECONDS - start)) s" >&2
echo "$bin"
