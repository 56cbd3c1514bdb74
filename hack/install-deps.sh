#!/usr/bin/env bash
# Installs the Debian packages faultline's tests use, only when missing, so it
# is cheap to run before every test run. Idempotent; needs root to install
# (CI runs as root). Add a package as "command:package" below (command may be
# an absolute path for packages that put nothing in PATH).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
needs=(
  "stress-ng:stress-ng"   # StressChaos stressors (internal/fault/stress), the tool Chaos Mesh uses
  "prometheus:prometheus" # a real Prometheus server for the prometheus probe test (internal/probe)
  "chromium:chromium"     # HTML report browser test (internal/report); npm part: hack/install-browser.sh --node-only
  # the real-node tier (hack/realnode.sh, test/realnode): a real kubelet's runtime, CNI and the rules it writes
  "containerd:containerd"
  "runc:runc"
  "/usr/lib/cni/bridge:containernetworking-plugins" # an absolute path: command -v checks it is executable
  "iptables:iptables"
  "nft:nftables"
)
missing=()
for n in "${needs[@]}"; do
  cmd=${n%%:*} pkg=${n#*:}
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]}; run as root to install them (tests that need them will skip)" >&2
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
