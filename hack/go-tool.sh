#!/usr/bin/env bash
# Builds a pinned Go program through the Go module proxy into a cache outside the work tree, once
# per version. Prints the binary's path as its last line.
#   hack/go-tool.sh helm | kind | actionlint | crictl | etcd | etcdctl | etcdutl | coredns |
#                   kube-router | local-path-provisioner
set -euo pipefail

wrapper=""
copymain=""
case "${1:-}" in
  helm) pkg=helm.sh/helm/v3/cmd/helm; version=v3.22.0
        ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$version" ;;
  kind) pkg=sigs.k8s.io/kind; version=v0.33.0; ldflags="-s -w" ;;
  actionlint) pkg=github.com/rhysd/actionlint/cmd/actionlint; version=v1.7.12
        ldflags="-s -w -X github.com/rhysd/actionlint.version=$version" ;;
  crictl) pkg=sigs.k8s.io/cri-tools/cmd/crictl; version=v1.37.0
        ldflags="-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$version" ;;
  # The tag kubeadm v1.37 deploys (etcd:3.7.0-0). Its module has `replace` directives, which
  # `go install pkg@version` refuses: build etcdmain from a two-line main in a module of our own.
  etcd) pkg=go.etcd.io/etcd/server/v3; version=v3.7.0; ldflags="-s -w"
        wrapper='package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }' ;;
  # etcd's client and offline tools, as the etcd image kubeadm deploys carries them: `snapshot
  # save` is etcdctl's, `snapshot status` and `restore` etcdutl's. Same `replace` problem: their
  # package main (two small files) is copied into a module of our own.
  etcdctl) pkg=go.etcd.io/etcd/etcdctl/v3; version=v3.7.0; ldflags="-s -w"; copymain=1 ;;
  etcdutl) pkg=go.etcd.io/etcd/etcdutl/v3; version=v3.7.0; ldflags="-s -w"; copymain=1 ;;
  coredns) pkg=github.com/coredns/coredns; version=v1.14.6; ldflags="-s -w" ;;
  # The only kube-router the proxy serves; it routes pods between nodes and enforces
  # NetworkPolicy with iptables (kindnet's engine needs nftables queueing this kernel lacks).
  kube-router) pkg=github.com/cloudnativelabs/kube-router/v2/cmd/kube-router; version=v2.1.0
        ldflags="-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$version" ;;
  local-path-provisioner) pkg=github.com/rancher/local-path-provisioner; version=v0.0.30
        ldflags="-s -w" ;;
  *) echo "usage: $0 helm|kind|actionlint|crictl|etcd|etcdctl|etcdutl|coredns|kube-router|local-path-provisioner" >&2
     exit 2 ;;
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
if [[ -n "$wrapper$copymain" ]]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  (
    cd "$work"
    go mod init "breakfix.local/$name" >/dev/null 2>&1
    [[ -n "$wrapper" ]] && printf '%s\n' "$wrapper" > main.go
    go get "$pkg@$version" >/dev/null 2>&1
    if [[ -n "$copymain" ]]; then
      src="$(go list -m -f '{{.Dir}}' "$pkg")"
      for f in "$src"/*.go; do [[ "$f" == *_test.go ]] || cp "$f" .; done
      chmod u+w ./*.go
    fi
    go mod tidy >/dev/null 2>&1
    CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin.partial" .
  )
  mv "$bin.partial" "$bin"
else
  GOBIN="$(dirname "$bin")" CGO_ENABLED=0 go install -trimpath -ldflags "$ldflags" "$pkg@$version"
fi
echo "go-tool: $name built in $((SECONDS - start)) s" >&2
echo "$bin"
