#!/usr/bin/env bash
# Build or install the real servers Ori's tests and `make up` start, into a cache outside the repo.
#
#   tools/build.sh            build everything missing, print the manifest
#   tools/build.sh etcd helm  only these
#   tools/build.sh --print    print the manifest of what is cached, build nothing
#
# Each Go-built tool lands in $ORI_TOOLS_CACHE/<name>-<version>-<hash of its wrapper source>/bin
# and is written there atomically (built in a temp dir, renamed into place), so an
# interrupted build never leaves a half tool behind and a warm run only checks stamps.
# Debian packages (redis-server, nginx) are installed with apt when absent.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache="${ORI_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ori-tools}"
mkdir -p "$cache"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-trimpath" GOWORK=off
strip_flags="-s -w"

log() { printf '[tools] %s\n' "$*" >&2; }
die() { printf '[tools] ERROR: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || die "Go is required (go1.26+); this machine kind ships it."

# key <name> <version> [files...]: a cache directory name unique to the version and wrapper source.
key() {
  local name=$1 version=$2; shift 2
  local h
  h=$( { echo "$version"; go env GOVERSION; for f in "$@"; do cat "$f"; done; } | sha256sum | cut -c1-12)
  echo "$cache/$name-$version-$h"
}

# finish <tmpdir> <dest>: stamp and move a finished build into place.
finish() {
  local tmp=$1 dest=$2
  (cd "$tmp/bin" && sha256sum -- * >"$tmp/SHA256SUMS")
  date -u +%FT%TZ >"$tmp/.done"
  rm -rf "$dest"
  mv "$tmp" "$dest"
}

timed() {
  local name=$1; shift
  local t0=$SECONDS
  "$@"
  log "$name ready in $((SECONDS - t0)) s"
}

build_helm() {
  local dest; dest=$(key helm "$HELM_VERSION")
  [[ -f $dest/.done ]] && return 0
  log "building helm $HELM_VERSION"
  local tmp; tmp=$(mktemp -d "$cache/.helm.XXXX")
  GOBIN="$tmp/bin" go install \
    -ldflags "$strip_flags -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  finish "$tmp" "$dest"
}

# kwok's default stages (what makes fake nodes Ready and pods Running) ship in its module, not
# in the binary; they are copied beside it so the controller always runs with its own version's.
KWOK_STAGES=(node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease
  pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete)

build_kwok() {
  local dest; dest=$(key kwok "$KWOK_VERSION" <(printf '%s\n' "${KWOK_STAGES[@]}"))
  [[ -f $dest/.done ]] && return 0
  log "building kwok and kwokctl $KWOK_VERSION"
  local tmp; tmp=$(mktemp -d "$cache/.kwok.XXXX")
  local ver="-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
  GOBIN="$tmp/bin" go install -ldflags "$strip_flags $ver" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
  local moddir stage
  moddir=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  mkdir -p "$tmp/stages"
  for stage in "${KWOK_STAGES[@]}"; do
    cp "$moddir/kustomize/stage/$stage.yaml" "$tmp/stages/$(basename "$stage").yaml"
  done
  chmod u+w "$tmp"/stages/*.yaml
  finish "$tmp" "$dest"
}

build_minio() {
  local dest; dest=$(key minio "$MINIO_VERSION")
  [[ -f $dest/.done ]] && return 0
  log "building minio $MINIO_VERSION"
  local tmp; tmp=$(mktemp -d "$cache/.minio.XXXX")
  GOBIN="$tmp/bin" go install -ldflags "$strip_flags" "github.com/minio/minio@$MINIO_VERSION"
  finish "$tmp" "$dest"
}

# livekit-server's main package is cmd/server; the binary is renamed to what it calls itself.
build_livekit() {
  local dest; dest=$(key livekit "$LIVEKIT_VERSION")
  [[ -f $dest/.done ]] && return 0
  log "building livekit-server $LIVEKIT_VERSION"
  local tmp; tmp=$(mktemp -d "$cache/.livekit.XXXX")
  GOBIN="$tmp/bin" go install -ldflags "$strip_flags" \
    "github.com/livekit/livekit-server/cmd/server@$LIVEKIT_VERSION"
  mv "$tmp/bin/server" "$tmp/bin/livekit-server"
  finish "$tmp" "$dest"
}

# wrapper_build <name> <version> <module path> <require> <package...>: build from a tools/go/<name> wrapper.
wrapper_build() {
  local name=$1 version=$2 require=$3; shift 3
  local src="$here/go/$name"
  local dest; dest=$(key "$name" "$version" "$src/main.go")
  [[ -f $dest/.done ]] && return 0
  log "building $name $version (wrapper module)"
  local tmp; tmp=$(mktemp -d "$cache/.$name.XXXX")
  local mod="$tmp/src"
  mkdir -p "$mod"
  cp "$src/main.go" "$mod/"
  (
    cd "$mod"
    go mod init "ori.dev/tools/$name" >/dev/null 2>&1
    go get "$require@$version" >/dev/null
    go mod tidy >/dev/null
    go build -ldflags "$strip_flags" -o "$tmp/bin/$name" .
  )
  rm -rf "$mod"
  finish "$tmp" "$dest"
}

build_etcd() { wrapper_build etcd "$ETCD_VERSION" go.etcd.io/etcd/server/v3; }
build_ferretdb() { wrapper_build ferretdb "$FERRETDB_VERSION" github.com/FerretDB/FerretDB; }

# Kubernetes' own go.mod requires its staging modules at v0.0.0 and replaces them with ./staging
# paths, which a dependent module cannot see. The wrapper replaces each of them with the published
# k8s.io/<x> v0.<minor>.<patch> tag, generated from the pinned go.mod so new staging modules are picked up.
build_kubernetes() {
  local dest; dest=$(key kubernetes "$KUBERNETES_VERSION")
  [[ -f $dest/.done ]] && return 0
  log "building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl $KUBERNETES_VERSION"
  local tmp; tmp=$(mktemp -d "$cache/.kubernetes.XXXX")
  local mod="$tmp/src" staging_ver="v0.${KUBERNETES_VERSION#v1.}"
  local minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  mkdir -p "$mod"
  (
    cd "$mod"
    go mod init ori.dev/tools/kubernetes >/dev/null 2>&1
    local gomod
    gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
    grep -E '^\s+k8s\.io/[a-z0-9-]+ v0\.0\.0$' "$gomod" | awk '{print $1}' | while read -r m; do
      go mod edit -replace "$m=$m@$staging_ver"
    done
    cat >tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
    go get "k8s.io/kubernetes@$KUBERNETES_VERSION" >/dev/null
    go mod tidy -e >/dev/null 2>&1 || true
    local v="k8s.io/component-base/version" c="k8s.io/client-go/pkg/version"
    local ld="$strip_flags -X $v.gitVersion=$KUBERNETES_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor"
    ld="$ld -X $c.gitVersion=$KUBERNETES_VERSION -X $c.gitMajor=1 -X $c.gitMinor=$minor"
    ld="$ld -X $v.gitTreeState=clean -X $c.gitTreeState=clean"
    go build -tags tools -ldflags "$ld" -o "$tmp/bin/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
  )
  rm -rf "$mod"
  finish "$tmp" "$dest"
}

# KEDA pins its dependencies with `replace` lines (k8s.io/*, controller-runtime, prometheus),
# which `go install` ignores, so it is built as the main module from its own go.mod and go.sum
# (a copy of the downloaded module). Cold: ~19 min wall on 2 shared cores, 2.3 GB peak RSS.
# module_copy <module@version> <dir>: a writable copy of a downloaded Go module, to build as
# the main module (only then do its go.mod's `replace` lines apply).
module_copy() {
  local moddir
  moddir=$(go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  cp -r "$moddir" "$2"
  chmod -R u+w "$2"
}

build_keda() {
  local dest; dest=$(key keda "$KEDA_VERSION")
  [[ -f $dest/.done ]] && return 0
  log "building keda-operator and keda-adapter $KEDA_VERSION"
  local tmp; tmp=$(mktemp -d "$cache/.keda.XXXX")
  module_copy "github.com/kedacore/keda/v2@$KEDA_VERSION" "$tmp/src"
  (
    cd "$tmp/src"
    go build -mod=mod -o "$tmp/bin/" \
      -ldflags "$strip_flags -X github.com/kedacore/keda/v2/version.Version=$KEDA_VERSION" \
      ./cmd/operator ./cmd/adapter
  )
  mv "$tmp/bin/operator" "$tmp/bin/keda-operator"
  mv "$tmp/bin/adapter" "$tmp/bin/keda-adapter"
  rm -rf "$tmp/src"
  finish "$tmp" "$dest"
}

# Tilt (only `tilt alpha tiltfile-result`, which evaluates the Tiltfile without Docker, is used
# here). Its go.mod has `replace` lines, so like KEDA it is built as the main module from a copy
# of the downloaded module. The module proxy serves some tags only (v0.37.6 yes, v0.36.3 no).
# Needs a C compiler (gcc).
build_tilt() {
  local dest; dest=$(key tilt "$TILT_VERSION")
  [[ -f $dest/.done ]] && return 0
  log "building tilt $TILT_VERSION"
  local tmp; tmp=$(mktemp -d "$cache/.tilt.XXXX")
  module_copy "github.com/tilt-dev/tilt@$TILT_VERSION" "$tmp/src"
  # v0.37.6's go.sum records a zip hash for docker/buildx v0.32.1 that neither the module proxy
  # nor the checksum database (sum.golang.org) has; without the line, Go checks it there instead.
  sed -i '\#^github.com/docker/buildx v0.32.1 h1:Zlau3oApu/xjwgRsOc4YLcnmpHUsCXOH1GR6KlOhTME=$#d' \
    "$tmp/src/go.sum"
  (
    cd "$tmp/src"
    # cgo, as Tilt's own release builds: its Starlark language server parses with tree-sitter (C).
    CGO_ENABLED=1 go build -mod=mod -tags osusergo -o "$tmp/bin/tilt" \
      -ldflags "$strip_flags -X main.version=${TILT_VERSION#v}" ./cmd/tilt
  )
  rm -rf "$tmp/src"
  finish "$tmp" "$dest"
}

# Debian packages: the servers the distribution already ships at a usable version.
install_debian() {
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  [[ -x /usr/sbin/nginx ]] || command -v nginx >/dev/null || missing+=(nginx-light)
  command -v espeak-ng >/dev/null || missing+=(espeak-ng)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  log "installing Debian packages: ${missing[*]}"
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # Keep package scripts from starting the services: tests and `make up` start their own.
  if [[ -z $sudo && ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  fi
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

manifest() {
  printf '%-12s %-40s %s\n' tool version path
  local d
  for d in "$cache"/*/; do
    [[ -f $d/.done ]] || continue
    local base; base=$(basename "$d")
    printf '%-12s %-40s %s\n' "${base%%-*}" "$(echo "$base" | cut -d- -f2- | sed 's/-[0-9a-f]\{12\}$//')" "$d"bin
  done
  printf '%-12s %-40s %s\n' redis "$(redis-server --version 2>/dev/null | awk '{print $3}' | cut -d= -f2)" "$(command -v redis-server || echo missing)"
  printf '%-12s %-40s %s\n' nginx "$(/usr/sbin/nginx -v 2>&1 | awk -F/ '{print $2}')" /usr/sbin/nginx
}

all=(debian helm kwok etcd ferretdb minio kubernetes livekit keda tilt)
if [[ ${1:-} == --print ]]; then manifest; exit 0; fi
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${all[@]}")

t0=$SECONDS
for t in "${targets[@]}"; do
  case $t in
    debian) timed debian install_debian ;;
    helm | kwok | etcd | ferretdb | minio | kubernetes | livekit | keda | tilt) timed "$t" "build_$t" ;;
    *) die "unknown tool '$t' (known: ${all[*]})" ;;
  esac
done
log "all requested tools ready in $((SECONDS - t0)) s (cache: $cache)"
manifest
