#!/usr/bin/env bash
# Builds a pinned Go program through the Go module proxy into a cache outside the work tree, once
# per version. Prints the binary's path as its last line.
#   hack/go-tool.sh helm | kind | actionlint | crictl | etcd | etcdctl | etcdutl | coredns |
#                   kube-router | local-path-provisioner | traefik | metrics-server
set -euo pipefail
hack="$(cd "$(dirname "$0")" && pwd)"

wrapper=""
copymain=""
maindir=""
prepare=""
# Names a build that differs from the module's own (its cache is kept apart).
flavor=""

# Traefik's module, once `go get` has it, has three gaps the proxy leaves; hack/traefik fills
# them (Traefik's own replace and exclude lines are carried over from its go.mod):
# - github.com/traefik/traefik/dynamic/ext, a nested module of two empty extension types;
# - its fork of go-http-auth: upstream v0.4.0 plus the two functions the fork adds;
# - lego's DNS providers for ACME that need a cloud SDK (six are not served): left out of a copy.
# A module's directory in the module cache (downloaded if need be), at the version the build
# list has, or the one given as module@version.
module_dir() {
  local at="$1"
  [[ "$at" == *@* ]] || at="$at@$(go list -m -f '{{.Version}}' "$at")"
  go mod download -json "$at" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])'
}

prepare_traefik() {
  local src here lego auth
  here="$hack/traefik"
  src="$(module_dir github.com/traefik/traefik/v3)"
  lego="$(module_dir github.com/go-acme/lego/v5)"
  auth="$(module_dir github.com/abbot/go-http-auth@v0.4.0)"
  cp -r "$here/ext" ext
  cp -r "$lego" lego
  cp -r "$auth" go-http-auth
  chmod -R u+w lego go-http-auth
  python3 "$here/trim_lego.py" lego/providers/dns/zz_gen_dns_providers.go
  cp "$here/http_auth_fork.go" go-http-auth/
  printf 'module github.com/abbot/go-http-auth\n\ngo 1.12\n' > go-http-auth/go.mod
  {
    echo "replace github.com/traefik/traefik/dynamic/ext => ./ext"
    echo "replace github.com/go-acme/lego/v5 => ./lego"
    echo "replace github.com/abbot/go-http-auth => ./go-http-auth"
    sed -n 's#^\s*\(github.com/gorilla/mux => .*\)#replace \1#p' "$src/go.mod"
    grep '^exclude ' "$src/go.mod" || true
  } >> go.mod
}
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
  # The ingress controller Ingress labs send requests through. Its module has `replace`
  # directives and a nested module the proxy does not serve; prepare_traefik fills those gaps.
  traefik) pkg=github.com/traefik/traefik/v3; version=v3.7.13; copymain=1; maindir=cmd/traefik
        ldflags="-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$version"
        prepare=prepare_traefik; flavor=-lean ;;
  # Resource metrics (`kubectl top`, HorizontalPodAutoscalers): not in the node image, its
  # image is loaded into a running cluster (hack/kind/metrics.py). Its Makefile's version flag.
  metrics-server) pkg=sigs.k8s.io/metrics-server/cmd/metrics-server; version=v0.8.0
        ldflags="-s -w -X k8s.io/client-go/pkg/version.gitVersion=$version" ;;
  *) echo "usage: $0 helm|kind|actionlint|crictl|etcd|etcdctl|etcdutl|coredns|kube-router|local-path-provisioner|traefik|metrics-server" >&2
     exit 2 ;;
esac
name="$1"
cache="${BREAKFIX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/breakfix}"
bin="$cache/tools/$name-$version$flavor/$name"
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
      src="$(module_dir "$pkg")/$maindir"
      for f in "$src"/*.go; do [[ "$f" == *_test.go ]] || cp "$f" .; done
      chmod u+w ./*.go
    fi
    [[ -z "$prepare" ]] || "$prepare"
    go mod tidy >/dev/null 2>&1
    CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin.partial" .
  )
  mv "$bin.partial" "$bin"
else
  GOBIN="$(dirname "$bin")" CGO_ENABLED=0 go install -trimpath -ldflags "$ldflags" "$pkg@$version"
fi
echo "go-tool: $name built in $((SECONDS - start)) s" >&2
echo "$bin"
