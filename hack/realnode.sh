#!/usr/bin/env bash
# A real one-node Kubernetes cluster on this machine, for the tests that need
# what kwok fake nodes cannot give (test/realnode, docs/realnode.md): a real
# kubelet runs real runc containers from containerd on a CNI bridge, so a
# killed pod really dies, a container really restarts, and port-forward
# really goes through the kubelet. No registry, no Docker, no internet (the Go
# module proxy only).
#
#   hack/realnode.sh build    build kubelet, kube-proxy and the images (idempotent, cached)
#   hack/realnode.sh up       start the cluster (cleans a crashed run first); prints KUBECONFIG=<file>
#   hack/realnode.sh down     stop it and remove exactly what up added
#   hack/realnode.sh status   say whether one is up (exit 0) or not (exit 1)
#
# The control-plane binaries (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler) are hack/kube-testenv.sh's; kubelet and kube-proxy are built
# the same way (a wrapper module over k8s.io/kubernetes) into the same bin
# directory under their own stamp. Images are docker-archive tarballs packed by
# hack/realnode/mkimage from static binaries: localhost/pause:local and
# localhost/recsys:demo (/recsys and /models, working directory /).
#
# State lives in $FAULTLINE_REALNODE_DIR (default /tmp/faultline-realnode):
# logs/, the kubeconfig, pid files and what up found on the host before it
# changed anything. Needs root and the apt packages of hack/install-deps.sh
# (containerd runc containernetworking-plugins iptables nftables).
#
# Ports are fixed (6443, 2379/2380, 10250, 10248, 10249, 10256, 10257, 10259):
# one real node per machine.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.37.2}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
CACHE_ROOT=${FAULTLINE_KUBE_CACHE:-${HOME:-/root}/.cache/faultline/kube}
CACHE=$CACHE_ROOT/$K8S_VERSION
BIN=$CACHE/bin
IMG=$CACHE/realnode-images
LOG=$CACHE/realnode-build.log
STAMP=$BIN/.stamp-realnode-k8s-$K8S_VERSION
STATE=${FAULTLINE_REALNODE_DIR:-/tmp/faultline-realnode}
NODE=faultline-node
BRIDGE=flrn0
POD_CIDR=10.244.0.0/24
TOKEN=faultline-realnode
API=https://127.0.0.1:6443
CTR_SOCK=$STATE/ctrd/run/containerd.sock
# Host paths containerd, kubelet and the CNI plugins write outside the state
# dir (hard-coded in them); down removes those that up found absent.
HOST_PATHS=(/var/lib/kubelet /var/lib/cni /run/containerd /run/netns /opt/cni /etc/cni /var/log/pods /var/log/containers /run/mount)
# Sysctls kubelet and kube-proxy set; down puts the old values back.
SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes net.ipv4.ip_forward net.ipv4.conf.all.route_localnet net.bridge.bridge-nf-call-iptables
  net.ipv4.vs.conntrack net.netfilter.nf_conntrack_max)
STAGING_VERSION=v0.${K8S_VERSION#v1.}

say() { echo "realnode: $*" >&2; }
die() {
  say "$*"
  exit 1
}
log() { echo "[$(date +%T)] $*" >>"$LOG"; }
run() {
  log "+ $*"
  if ! "$@" >>"$LOG" 2>&1; then
    say "failed: $*"
    say "last lines of $LOG:"
    tail -n 30 "$LOG" >&2
    return 1
  fi
}

built() {
  [[ -f "$STAMP" && -x "$BIN/kubelet" && -x "$BIN/kube-proxy" && -s "$IMG/pause.tar" && -s "$IMG/recsys.tar" ]]
}

# images packs localhost/pause:local and localhost/recsys:demo. They hold the
# project's own code, so they are rebuilt on every build (seconds with a warm
# Go build cache); kubelet and kube-proxy only when their stamp is missing.
images() {
  local work=$CACHE/realnode-imgwork
  rm -rf "$work"
  mkdir -p "$work/root/models" "$IMG"
  (cd "$REPO" && CGO_ENABLED=0 run go build -trimpath -o "$work/pause" ./hack/realnode/pause) || return 1
  (cd "$REPO" && CGO_ENABLED=0 run go build -trimpath -o "$work/root/recsys" ./demo/cmd/recsys) || return 1
  (cd "$REPO" && run go build -o "$work/mkimage" ./hack/realnode/mkimage) || return 1
  run "$work/root/recsys" model build --out "$work/root/models" || return 1
  run "$work/mkimage" -name localhost/pause:local -entrypoint /pause -o "$IMG/pause.tar.new" "/pause=$work/pause" || return 1
  run "$work/mkimage" -name localhost/recsys:demo -entrypoint /recsys -workdir / -o "$IMG/recsys.tar.new" \
    "/recsys=$work/root/recsys" "/models=$work/root/models" || return 1
  mv -f "$IMG/pause.tar.new" "$IMG/pause.tar"
  mv -f "$IMG/recsys.tar.new" "$IMG/recsys.tar"
  rm -rf "$work"
}

build() {
  mkdir -p "$CACHE"
  # etcd, kube-apiserver, kube-controller-manager, kube-scheduler: the kwok test env's (cached there).
  "$HERE/kube-testenv.sh" build >/dev/null
  exec 8>"$CACHE/.realnode-lock"
  command -v flock >/dev/null 2>&1 && flock 8
  : >"$LOG"
  local start=$SECONDS
  command -v go >/dev/null 2>&1 || die "go not found in PATH"
  if [[ -f "$STAMP" && -x "$BIN/kubelet" && -x "$BIN/kube-proxy" ]]; then
    say "kubelet, kube-proxy cached in $BIN"
  else
    say "building kubelet, kube-proxy $K8S_VERSION (cold: minutes; log: $LOG)"
    # Same wrapper module as hack/kube-testenv.sh (and the same flags, so the
    # Go build cache of its apiserver build is reused): k8s.io/kubernetes'
    # staging repos are replaced by their published v0.X.Y versions.
    export GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0
    local work=$CACHE/realnode-work stage=$CACHE/realnode-stage
    rm -rf "$work" "$stage"
    mkdir -p "$work" "$stage"
    local gomod
    gomod=$(cd "$work" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" 2>>"$LOG" |
      sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    [[ -f "$gomod" ]] || die "cannot download k8s.io/kubernetes@$K8S_VERSION (see $LOG)"
    {
      printf 'module faultline.local/realnodewrap\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$K8S_VERSION"
      sed -n '/^replace (/,/^)/p' "$gomod" | awk -v v="$STAGING_VERSION" '/=>/ { print "\t" $1 " => " $1 " " v }'
      echo ')'
    } >"$work/go.mod"
    printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kubelet"\n\t_ "k8s.io/kubernetes/cmd/kube-proxy"\n)\n' >"$work/tools.go"
    printf 'package main\n\nfunc main() {}\n' >"$work/main.go"
    local minor=${K8S_VERSION#v1.}
    minor=${minor%%.*}
    local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
    (cd "$work" && run go mod tidy) || return 1
    (cd "$work" && GOBIN=$stage run go install -ldflags "$ldflags" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy) || return 1
    mv -f "$stage/kubelet" "$stage/kube-proxy" "$BIN/"
    printf 'k8s=%s built=%s seconds=%s\n' "$K8S_VERSION" "$(date -u +%FT%TZ)" "$((SECONDS - start))" >"$STAMP"
    rm -rf "$work" "$stage"
    log "kubelet, kube-proxy built after $((SECONDS - start))s"
  fi
  images || return 1
  say "built in $((SECONDS - start))s: $BIN/{kubelet,kube-proxy}, $IMG/{pause,recsys}.tar"
}

need_root() { [[ $(id -u) -eq 0 ]] || die "needs root (containerd, runc, CNI, nftables)"; }

# ours lists the PIDs of the processes up started and recorded that are still running.
ours() {
  local f pid
  for f in "$STATE"/pids/*.pid; do
    [[ -f "$f" ]] || continue
    pid=$(cat "$f")
    mine "$pid" && echo "$pid"
  done
  return 0
}

# mine PID: the process runs and is one of ours (every one names the state
# dir on its command line), not another that reused a recorded PID.
mine() {
  [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "$STATE/"
}

api() { curl -sk --max-time 2 -H "Authorization: Bearer $TOKEN" "$@"; }

status() {
  if [[ -z "$(ours)" ]]; then
    say "not up (state dir $STATE)"
    return 1
  fi
  local name dead=()
  for name in containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
    mine "$(cat "$STATE/pids/$name.pid" 2>/dev/null)" || dead+=("$name")
  done
  if ((${#dead[@]} > 0)) || [[ "$(api "$API/readyz" 2>/dev/null)" != ok ]]; then
    say "partly up: ${dead[*]:-the API server} not running or not ready; run: $0 down (or $0 up, which cleans first)"
    return 1
  fi
  echo "KUBECONFIG=$STATE/kubeconfig"
}

# start NAME CMD...: run CMD in the background, log to logs/NAME.log, record its PID.
start() {
  local name=$1
  shift
  "$@" >"$STATE/logs/$name.log" 2>&1 &
  echo $! >"$STATE/pids/$name.pid"
}

# waitfor SECONDS WHAT CMD...: retry CMD every 0.25 s until it succeeds or time is up.
waitfor() {
  local secs=$1 what=$2 i
  shift 2
  for ((i = 0; i < secs * 4; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  say "timed out after ${secs}s waiting for $what; logs in $STATE/logs"
  return 1
}

node_ready() {
  api "$API/api/v1/nodes/$NODE" | python3 -c '
import json, sys
n = json.load(sys.stdin)
ok = any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
sys.exit(0 if ok and not n["spec"].get("taints") else 1)'
}

# port_free HOST:PORT: nothing accepts connections there.
port_free() { ! (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }

up() {
  need_root
  built || die "binaries or images missing; run: $0 build"
  local b
  for b in containerd runc ctr nft iptables ip curl openssl python3 /usr/lib/cni/bridge /usr/lib/cni/host-local; do
    command -v "$b" >/dev/null 2>&1 || die "$b missing; run hack/install-deps.sh as root"
  done
  if status >/dev/null 2>&1; then
    say "already up"
    echo "KUBECONFIG=$STATE/kubeconfig"
    return 0
  fi
  # A crashed or half-finished run: clean it up first.
  [[ -d "$STATE/before" ]] && { say "cleaning up an earlier run"; down; }
  local start=$SECONDS p
  NODE_IP=$(ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1)
  [[ -n "$NODE_IP" ]] || die "no global IPv4 address for the node"
  for p in 127.0.0.1:6443 127.0.0.1:2379 127.0.0.1:2380 "$NODE_IP:10250" 127.0.0.1:10248 127.0.0.1:10249 \
    127.0.0.1:10256 127.0.0.1:10257 127.0.0.1:10259; do
    port_free "$p" || die "$p is in use by another process: one real node (or other cluster on the standard ports) per machine"
  done
  mkdir -p "$STATE"/{logs,pids,before,ctrd/run,ctrd/cni,cni-ipam,pki,kubelet,pod-logs,manifests,hostpath}
  # 0. What up is about to change on the host, for down.
  local s
  for s in "${SYSCTLS[@]}"; do
    v=$(sysctl -n "$s" 2>/dev/null) && echo "$s=$v"
  done >"$STATE/before/sysctl"
  nft list tables >"$STATE/before/nft-tables"
  nft list ruleset >"$STATE/before/nft-ruleset"
  for p in "${HOST_PATHS[@]}" /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods /run/netns/cni-*; do
    [[ -e "$p" ]] && echo "$p"
  done >"$STATE/before/paths"
  ip link show "$BRIDGE" >/dev/null 2>&1 && die "a link named $BRIDGE exists already: another real node, or left by hand"
  # 1. containerd with its own root, state and socket; the sandbox image is
  #    ours. restrict_oom_score_adj: without CAP_SYS_RESOURCE the sandbox's
  #    oom_score_adj -998 makes runc fail ("can't get final child's PID from pipe").
  containerd config default | sed \
    -e "s#^root = .*#root = \"$STATE/ctrd/root\"#" -e "s#^state = .*#state = \"$STATE/ctrd/state\"#" \
    -e "s#address = \"/run/containerd/containerd.sock\"#address = \"$CTR_SOCK\"#" \
    -e 's#sandbox_image = .*#sandbox_image = "localhost/pause:local"#' \
    -e 's#restrict_oom_score_adj = false#restrict_oom_score_adj = true#' \
    -e 's#bin_dir = "/opt/cni/bin"#bin_dir = "/usr/lib/cni"#' -e "s#conf_dir = \"/etc/cni/net.d\"#conf_dir = \"$STATE/ctrd/cni\"#" \
    -e "s#path = \"/opt/containerd\"#path = \"$STATE/ctrd/opt\"#" >"$STATE/ctrd/config.toml"
  grep -q "restrict_oom_score_adj = true" "$STATE/ctrd/config.toml" || die "containerd config: restrict_oom_score_adj not found"
  cat >"$STATE/ctrd/cni/10-faultline.conflist" <<CNI
{"cniVersion": "1.0.0", "name": "faultline-realnode", "plugins": [{"type": "bridge", "bridge": "$BRIDGE", "isGateway": true,
 "ipMasq": false, "hairpinMode": true, "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]],
 "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$STATE/cni-ipam"}}]}
CNI
  start containerd containerd --config "$STATE/ctrd/config.toml"
  local ctr=(ctr --address "$CTR_SOCK" -n k8s.io)
  waitfor 20 containerd "${ctr[@]}" version || return 1
  "${ctr[@]}" images import "$IMG/pause.tar" >/dev/null
  "${ctr[@]}" images import "$IMG/recsys.tar" >/dev/null
  # Nothing can be pulled: the pause image faultline's pod-failure swaps in
  # (kube engine's DefaultPauseImage) is preloaded as ours, as a node image would.
  "${ctr[@]}" images tag localhost/pause:local registry.k8s.io/pause:3.10 >/dev/null
  # 2. Keys and a static token.
  openssl genrsa -out "$STATE/pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$STATE/pki/sa.key" -pubout -out "$STATE/pki/sa.pub" 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$STATE/pki/ca.key" -out "$STATE/pki/ca.crt" -days 2 -subj /CN=faultline-realnode-ca 2>/dev/null
  echo "$TOKEN,admin,admin,\"system:masters\"" >"$STATE/pki/tokens.csv"
  cat >"$STATE/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: faultline-realnode, cluster: {server: "$API", insecure-skip-tls-verify: true}}]
users: [{name: admin, user: {token: $TOKEN}}]
contexts: [{name: faultline-realnode, context: {cluster: faultline-realnode, user: admin}}]
current-context: faultline-realnode
KC
  # 3. Control plane.
  start etcd "$BIN/etcd" --data-dir "$STATE/etcd" --listen-client-urls http://127.0.0.1:2379 \
    --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380 \
    --initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster default=http://127.0.0.1:2380
  # InternalIP first: logs, exec and port-forward would otherwise resolve the node name.
  start kube-apiserver "$BIN/kube-apiserver" --etcd-servers http://127.0.0.1:2379 --cert-dir "$STATE/apiserver-certs" \
    --bind-address 127.0.0.1 --advertise-address "$NODE_IP" --secure-port 6443 --service-cluster-ip-range 10.96.0.0/16 \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$STATE/pki/sa.pub" \
    --service-account-signing-key-file "$STATE/pki/sa.key" --token-auth-file "$STATE/pki/tokens.csv" \
    --authorization-mode RBAC --client-ca-file "$STATE/pki/ca.crt" --kubelet-preferred-address-types InternalIP
  waitfor 60 "the API server" sh -c "[ \"\$(curl -sk --max-time 1 -H 'Authorization: Bearer $TOKEN' $API/readyz)\" = ok ]" || return 1
  start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig "$STATE/kubeconfig" \
    --service-account-private-key-file "$STATE/pki/sa.key" --root-ca-file "$STATE/pki/ca.crt" \
    --use-service-account-credentials=false --leader-elect=false --bind-address 127.0.0.1
  start kube-scheduler "$BIN/kube-scheduler" --kubeconfig "$STATE/kubeconfig" --leader-elect=false --bind-address 127.0.0.1
  # 4. kubelet: cgroupfs (no systemd), cgroup v1 allowed (this host's hierarchy).
  cat >"$STATE/kubelet-config.yaml" <<KCFG
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
readOnlyPort: 0
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$CTR_SOCK
podLogsDir: $STATE/pod-logs
staticPodPath: $STATE/manifests
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
KCFG
  start kubelet "$BIN/kubelet" --config "$STATE/kubelet-config.yaml" --kubeconfig "$STATE/kubeconfig" \
    --root-dir "$STATE/kubelet" --cert-dir "$STATE/kubelet/pki" --hostname-override "$NODE" --node-ip "$NODE_IP" -v 1
  waitfor 90 "node $NODE Ready" node_ready || return 1
  # 5. kube-proxy, nftables mode, for the ClusterIP Services the demo's pods
  #    call; conntrack flags 0 leave the host's conntrack sysctls alone.
  start kube-proxy "$BIN/kube-proxy" --kubeconfig "$STATE/kubeconfig" --proxy-mode nftables --hostname-override "$NODE" \
    --cluster-cidr "$POD_CIDR" --conntrack-max-per-core 0 --conntrack-tcp-timeout-established 0 \
    --conntrack-tcp-timeout-close-wait 0 --metrics-bind-address 127.0.0.1:10249 --healthz-bind-address 127.0.0.1:10256
  waitfor 30 "the default service account" sh -c "[ \"\$(curl -sk --max-time 1 -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $TOKEN' $API/api/v1/namespaces/default/serviceaccounts/default)\" = 200 ]" || return 1
  waitfor 30 "kube-proxy" sh -c "nft list table ip kube-proxy" || return 1
  say "up in $((SECONDS - start))s; node $NODE ($NODE_IP)"
  echo "KUBECONFIG=$STATE/kubeconfig"
}

# stop NAME...: SIGTERM the recorded PIDs together, SIGKILL what still runs after 10 s.
stop() {
  local name f pid i pids=()
  for name in "$@"; do
    f=$STATE/pids/$name.pid
    [[ -f "$f" ]] || continue
    pid=$(cat "$f")
    mine "$pid" && kill "$pid" 2>/dev/null && pids+=("$pid")
  done
  for ((i = 0; i < 40; i++)); do
    local alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    pids=("${alive[@]}")
    ((${#pids[@]} == 0)) && break
    sleep 0.25
  done
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
  for name in "$@"; do rm -f "$STATE/pids/$name.pid"; done
}

down() {
  need_root
  [[ -d "$STATE" ]] || { say "nothing to do ($STATE absent)"; return 0; }
  # Every step is best effort (a cgroup or mount may vanish under it); what
  # matters is checked at the end.
  set +e +o pipefail
  local start=$SECONDS ctr=(ctr --address "$CTR_SOCK" -n k8s.io) i
  # 1. While the kubelet runs, let it tear pods down through the CRI (CNI DEL, netns removal).
  if [[ -f "$STATE/pids/kubelet.pid" ]] && mine "$(cat "$STATE/pids/kubelet.pid")" &&
    [[ "$(api "$API/readyz")" == ok ]]; then
    local ns
    for ns in $(api "$API/api/v1/namespaces" | python3 -c 'import json,sys; [print(i["metadata"]["name"]) for i in json.load(sys.stdin)["items"]]' 2>/dev/null); do
      case "$ns" in kube-system | kube-public | kube-node-lease) continue ;; esac
      api -X DELETE "$API/apis/apps/v1/namespaces/$ns/deployments" -o /dev/null || true
      api -X DELETE "$API/apis/apps/v1/namespaces/$ns/replicasets" -o /dev/null || true
      api -X DELETE "$API/api/v1/namespaces/$ns/pods?gracePeriodSeconds=0" -o /dev/null || true
    done
    for ((i = 0; i < 60; i++)); do
      [[ -z "$("${ctr[@]}" task ls -q 2>/dev/null)" ]] && break
      sleep 0.5
    done
  fi
  # 2. Our processes, in reverse start order.
  stop kube-proxy kubelet kube-scheduler kube-controller-manager
  stop kube-apiserver
  stop etcd
  # 3. Whatever the runtime still holds, then containerd, then its shims (ours only: by socket address).
  if [[ -S "$CTR_SOCK" ]] && [[ -f "$STATE/pids/containerd.pid" ]] && mine "$(cat "$STATE/pids/containerd.pid")"; then
    local t
    for t in $("${ctr[@]}" task ls -q 2>/dev/null); do "${ctr[@]}" task kill -s SIGKILL "$t" >/dev/null 2>&1 || true; done
    for ((i = 0; i < 20; i++)); do
      [[ -z "$("${ctr[@]}" task ls -q 2>/dev/null)" ]] && break
      sleep 0.25
    done
    for t in $("${ctr[@]}" task ls -q 2>/dev/null); do "${ctr[@]}" task rm -f "$t" >/dev/null 2>&1 || true; done
    for t in $("${ctr[@]}" containers ls -q 2>/dev/null); do "${ctr[@]}" containers rm "$t" >/dev/null 2>&1 || true; done
  fi
  stop containerd
  local pid
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $CTR_SOCK" || true); do
    kill -9 "$pid" 2>/dev/null || true
  done
  # Container processes whose shim is gone would keep cgroups: kill what is left in our pod cgroups.
  local cg
  for cg in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [[ -d "$cg" ]] || continue
    grep -qx "$cg" "$STATE/before/paths" 2>/dev/null && continue
    find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u | while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done
  done
  # 4. Mounts under the state dir and the CNI network namespaces, deepest first.
  local m
  # A CNI namespace that existed before up is another runtime's: left alone.
  for m in $(awk -v s="$STATE/" 'index($2, s) == 1 || $2 ~ "^/run/netns/cni-" {print $2}' /proc/mounts | sort -r); do
    grep -qx "$m" "$STATE/before/paths" 2>/dev/null && continue
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  for m in /run/netns/cni-*; do
    [[ -e "$m" ]] && ! grep -qx "$m" "$STATE/before/paths" 2>/dev/null && rm -f "$m"
  done
  # 5. Network: the bridge, and the nftables tables that were not there before up.
  ip link del "$BRIDGE" 2>/dev/null || true
  if [[ -f "$STATE/before/nft-tables" ]]; then
    local fam name
    # Only the tables kubelet (iptables-nft: filter, nat, mangle, ...) and
    # kube-proxy (nftables mode) write; another program's tables made
    # meanwhile (faultline's own faultline_*, say) are not ours to delete.
    nft list tables | while read -r _ fam name; do
      case "$name" in filter | nat | mangle | raw | security | kube-proxy) ;; *) continue ;; esac
      grep -qx "table $fam $name" "$STATE/before/nft-tables" || nft delete table "$fam" "$name" || true
    done
    if ! diff -q <(nft list ruleset) "$STATE/before/nft-ruleset" >/dev/null; then
      say "note: the nft ruleset differs from before up (rules in tables that existed before, or another program's):"
      diff "$STATE/before/nft-ruleset" <(nft list ruleset) | head -20 >&2 || true
    fi
  fi
  # 6. Cgroups kubelet made (every v1 hierarchy and the unified one), leaves first.
  for cg in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [[ -d "$cg" ]] || continue
    grep -qx "$cg" "$STATE/before/paths" 2>/dev/null && continue
    for ((i = 0; i < 20; i++)); do
      find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [[ -d "$cg" ]] || break
      sleep 0.25
    done
    [[ -d "$cg" ]] && say "warning: cgroup $cg still present"
  done
  # 7. Sysctls.
  if [[ -f "$STATE/before/sysctl" ]]; then
    local kv
    while read -r kv; do sysctl -qw "$kv" || true; done <"$STATE/before/sysctl"
  fi
  # 8. Host paths that did not exist before up.
  if [[ -f "$STATE/before/paths" ]]; then
    for p in "${HOST_PATHS[@]}"; do
      [[ -e "$p" ]] && ! grep -qx "$p" "$STATE/before/paths" && rm -rf "$p"
    done
  fi
  # 9. The state dir, but for the logs (kept for a post-mortem; the next up starts them afresh).
  find "$STATE" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} +
  # 10. Check.
  local left=()
  pgrep -f "$STATE/" >/dev/null && left+=("processes: $(pgrep -f "$STATE/" | tr '\n' ' ')")
  awk -v s="$STATE/" 'index($2, s) == 1 {found = 1} END {exit !found}' /proc/mounts && left+=("mounts under $STATE")
  ip link show "$BRIDGE" >/dev/null 2>&1 && left+=("link $BRIDGE")
  [[ -e "$STATE/pids" || -e "$STATE/ctrd" ]] && left+=("state in $STATE")
  if ((${#left[@]} > 0)); then
    say "down left behind: ${left[*]}"
    return 1
  fi
  say "down in $((SECONDS - start))s (logs kept in $STATE/logs)"
}

case "${1:-}" in
build) build ;;
up) up ;;
down) down ;;
status) status ;;
*)
  echo "usage: $0 build|up|down|status" >&2
  exit 2
  ;;
esac
