#!/usr/bin/env bash
# Builds the binaries of the Kubernetes test control plane used by
# internal/kube/testenv: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and kwok, all from the Go module proxy (no other network).
#
#   hack/kube-testenv.sh build      build if needed (idempotent, cached; seconds when cached)
#   hack/kube-testenv.sh print-env  print FAULTLINE_KUBE_BIN=<dir> and the versions (no build)
#
# The bin directory also holds kwok-stages.yaml, kwok's default Stage objects.
#   hack/kube-testenv.sh clean      remove the cached binaries of this version set
#
# Kubernetes' staging repos (k8s.io/api, k8s.io/apiserver, ...) are referenced by
# k8s.io/kubernetes' go.mod through relative `replace ./staging/...` lines, so
# `go install k8s.io/kubernetes/cmd/...@v` is refused. A throwaway wrapper module
# requires k8s.io/kubernetes and replaces every staging repo with its published
# v0.X.Y version instead. etcd's server module has the same problem, same fix.
# kwok has no replace lines and installs directly.
#
# Binaries are cached in $FAULTLINE_KUBE_CACHE/<k8s version>/bin
# (default ~/.cache/faultline/kube); the Go build cache is reused, so a rebuild
# after a cache wipe of only bin/ takes well under a minute. A cold build (empty
# Go module and build caches) takes ~13 minutes on 2 cores.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.7.3}
# kwok v0.8.0 is built against k8s.io/client-go v0.36.1; one minor of skew
# against a v1.37 apiserver is within Kubernetes' supported client skew.
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}

CACHE_ROOT=${FAULTLINE_KUBE_CACHE:-${HOME:-/root}/.cache/faultline/kube}
CACHE=$CACHE_ROOT/$K8S_VERSION
BIN=$CACHE/bin
LOG=$CACHE/build.log
STAMP=$BIN/.stamp-k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
# kwok only acts through Stage objects; these are the ones kwokctl uses by
# default (nodes become Ready and keep a lease; pods become Running/Ready,
# complete, and are deleted), taken from the same kwok module version.
KWOK_STAGES=(node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
  pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml)

# Staging versions follow the v1.X.Y -> v0.X.Y convention.
STAGING_VERSION=v0.${K8S_VERSION#v1.}

cached() {
  [[ -f "$STAMP" ]] || return 1
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$BIN/$b" ]] || return 1; done
  [[ -s "$BIN/kwok-stages.yaml" ]]
}

print_env() {
  echo "FAULTLINE_KUBE_BIN=$BIN"
  echo "FAULTLINE_KUBE_VERSION=$K8S_VERSION"
  echo "FAULTLINE_ETCD_VERSION=$ETCD_VERSION"
  echo "FAULTLINE_KWOK_VERSION=$KWOK_VERSION"
}

log() { echo "[$(date +%T)] $*" >>"$LOG"; }

# run logs a command and its output to $LOG; on failure the log tail is shown.
run() {
  log "+ $*"
  if ! "$@" >>"$LOG" 2>&1; then
    echo "kube-testenv: failed: $*" >&2
    echo "kube-testenv: last lines of $LOG:" >&2
    tail -n 30 "$LOG" >&2
    return 1
  fi
}

build() {
  mkdir -p "$CACHE"
  if cached; then
    echo "kube-testenv: cached binaries in $BIN" >&2
    print_env
    return 0
  fi
  # Several test packages may ask for the binaries at the same time: one builds,
  # the others wait and then find the cache filled.
  exec 9>"$CACHE/.lock"
  if command -v flock >/dev/null 2>&1; then
    flock 9
  fi
  if cached; then
    echo "kube-testenv: cached binaries in $BIN (built by a concurrent run)" >&2
    print_env
    return 0
  fi

  command -v go >/dev/null 2>&1 || { echo "kube-testenv: go not found in PATH" >&2; return 1; }
  : >"$LOG"
  local start=$SECONDS
  echo "kube-testenv: building k8s $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION (cold: ~13 min; log: $LOG)" >&2

  # The wrapper modules must not see the caller's go.work or -mod flags;
  # static binaries need no C toolchain on the build machine.
  export GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0
  local work=$CACHE/work stage=$CACHE/stage
  rm -rf "$work" "$stage"
  mkdir -p "$work/k8s" "$work/etcd" "$stage"
  export GOBIN=$stage

  # 1. Kubernetes through a wrapper module.
  log "resolving k8s.io/kubernetes@$K8S_VERSION"
  local gomod
  gomod=$(cd "$work/k8s" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" 2>>"$LOG" |
    sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [[ -f "$gomod" ]] || { echo "kube-testenv: cannot download k8s.io/kubernetes@$K8S_VERSION (see $LOG)" >&2; return 1; }
  {
    printf 'module faultline.local/kubewrap\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$K8S_VERSION"
    # Every "k8s.io/x => ./staging/src/k8s.io/x" becomes "k8s.io/x => k8s.io/x v0.X.Y".
    sed -n '/^replace (/,/^)/p' "$gomod" | awk -v v="$STAGING_VERSION" '/=>/ { print "\t" $1 " => " $1 " " v }'
    echo ')'
  } >"$work/k8s/go.mod"
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' kube-apiserver kube-controller-manager kube-scheduler
    printf ')\n'
  } >"$work/k8s/tools.go"
  printf 'package main\n\nfunc main() {}\n' >"$work/k8s/main.go"
  # Without these the binaries report v0.0.0 and clients warn about skew.
  local minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  (cd "$work/k8s" && run go mod tidy) || return 1
  (cd "$work/k8s" && run go install -ldflags "$ldflags" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler) || return 1
  log "kubernetes built after $((SECONDS - start))s"

  # 2. etcd through a wrapper module; the main package is go.etcd.io/etcd/server/v3 (binary "server").
  printf 'module faultline.local/etcdwrap\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >"$work/etcd/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >"$work/etcd/tools.go"
  printf 'package main\n\nfunc main() {}\n' >"$work/etcd/main.go"
  (cd "$work/etcd" && run go mod tidy) || return 1
  (cd "$work/etcd" && run go install -ldflags "-s -w" go.etcd.io/etcd/server/v3) || return 1
  mv -f "$stage/server" "$stage/etcd"
  log "etcd built after $((SECONDS - start))s"

  # 3. kwok: a plain module, installable at a version.
  (cd "$work" && run go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION") || return 1
  local kwokdir
  kwokdir=$(cd "$work" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" 2>>"$LOG" |
    sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [[ -d "$kwokdir" ]] || { echo "kube-testenv: cannot download sigs.k8s.io/kwok@$KWOK_VERSION (see $LOG)" >&2; return 1; }
  local st
  for st in "${KWOK_STAGES[@]}"; do
    echo '---'
    cat "$kwokdir/kustomize/stage/$st"
  done >"$stage/kwok-stages.yaml"
  log "kwok built after $((SECONDS - start))s"

  # Publish: binaries first, stamp last, so a half-finished build is never "cached".
  mkdir -p "$BIN"
  rm -f "$BIN"/.stamp-*
  local b
  for b in "${BINARIES[@]}"; do
    [[ -x "$stage/$b" ]] || { echo "kube-testenv: $b missing after build (see $LOG)" >&2; return 1; }
    mv -f "$stage/$b" "$BIN/$b"
  done
  mv -f "$stage/kwok-stages.yaml" "$BIN/kwok-stages.yaml"
  printf 'k8s=%s etcd=%s kwok=%s built=%s seconds=%s\n' "$K8S_VERSION" "$ETCD_VERSION" "$KWOK_VERSION" \
    "$(date -u +%FT%TZ)" "$((SECONDS - start))" >"$STAMP"
  rm -rf "$work" "$stage"
  echo "kube-testenv: built ${BINARIES[*]} in $((SECONDS - start))s into $BIN" >&2
  print_env
}

case "${1:-build}" in
build) build ;;
print-env) print_env ;;
clean) rm -rf "$BIN" "$CACHE/work" "$CACHE/stage" ;;
*)
  echo "usage: $0 [build|print-env|clean]" >&2
  exit 2
  ;;
esac
