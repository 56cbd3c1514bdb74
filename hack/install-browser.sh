#!/usr/bin/env bash
# Installs what the HTML report's browser test (internal/report,
# report_browser_test.go) needs, only when missing, so it is cheap to run
# before every test run:
#   - Debian's chromium (apt; needs root), when /usr/bin/chromium is absent;
#   - playwright-core, pinned by internal/report/testdata/browser/package-lock.json,
#     into $FAULTLINE_NODE_DIR (default $HOME/.cache/faultline/node) with
#     `npm ci`, so the install is reproducible and lives outside the repo.
# Playwright never downloads a browser here: the test launches
# /usr/bin/chromium through executablePath.
#
#   hack/install-browser.sh              # both
#   hack/install-browser.sh --node-only  # only the npm part (chromium comes
#                                        # from hack/install-deps.sh)
#   hack/install-browser.sh --apt-only   # only chromium
set -euo pipefail
cd "$(dirname "$0")/.."

want_apt=1 want_node=1
case "${1:-}" in
  "") ;;
  --node-only) want_apt=0 ;;
  --apt-only) want_node=0 ;;
  *) echo "usage: $0 [--node-only|--apt-only]" >&2; exit 2 ;;
esac

if [ "$want_apt" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-browser: /usr/bin/chromium missing; run as root to install it (the browser test will skip)" >&2
  else
    echo "install-browser: installing chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium
  fi
fi

[ "$want_node" = 1 ] || exit 0
if ! command -v npm >/dev/null 2>&1; then
  echo "install-browser: npm missing; the browser test will skip" >&2
  exit 0
fi
src=internal/report/testdata/browser
dir=${FAULTLINE_NODE_DIR:-$HOME/.cache/faultline/node}
mkdir -p "$dir"
# The lock file's hash is the stamp: a changed pin reinstalls, an unchanged
# one costs nothing.
sum=$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -c1-16)
stamp="$dir/.installed-$sum"
if [ -f "$stamp" ] && [ -d "$dir/node_modules/playwright-core" ]; then
  exit 0
fi
echo "install-browser: installing playwright-core into $dir"
cp "$src/package.json" "$src/package-lock.json" "$dir/"
rm -f "$dir"/.installed-*
# PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: belt and braces; playwright-core has no
# install script, and browsers could not be downloaded here anyway.
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$dir" --no-audit --no-fund --ignore-scripts --loglevel=error
touch "$stamp"
