#!/usr/bin/env bash
# Vendors uPlot (MIT, https://github.com/leeoniya/uPlot) into
# internal/report/assets/, which the HTML report embeds with //go:embed so a
# report opens without network access. Only the browser build and its
# stylesheet are kept, plus the license. Run it to change the version; the
# result is committed, so builds and tests never need the npm registry.
#
#   hack/vendor-uplot.sh            # the pinned version below
#   UPLOT_VERSION=1.6.33 hack/vendor-uplot.sh
set -euo pipefail
UPLOT_VERSION=${UPLOT_VERSION:-1.6.32}
cd "$(dirname "$0")/.."
dest=internal/report/assets
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# npm pack fetches the published tarball exactly as the registry serves it
# and prints its integrity, which we record next to the files.
(cd "$tmp" && npm pack --silent "uplot@$UPLOT_VERSION" >/dev/null)
tar -xzf "$tmp/uplot-$UPLOT_VERSION.tgz" -C "$tmp"
pkg="$tmp/package"
got=$(node -p 'require(process.argv[1]).version' "$pkg/package.json")
[ "$got" = "$UPLOT_VERSION" ] || { echo "vendor-uplot: got $got, want $UPLOT_VERSION" >&2; exit 1; }

mkdir -p "$dest"
cp "$pkg/dist/uPlot.iife.min.js" "$dest/uPlot.iife.min.js"
cp "$pkg/dist/uPlot.min.css" "$dest/uPlot.min.css"
cp "$pkg/LICENSE" "$dest/uPlot.LICENSE"
{
  echo "uplot $UPLOT_VERSION"
  echo "source: npm pack uplot@$UPLOT_VERSION (registry.npmjs.org)"
  echo "sha256:"
  (cd "$dest" && sha256sum uPlot.iife.min.js uPlot.min.css uPlot.LICENSE)
} > "$dest/uPlot.VERSION"
echo "vendored uPlot $UPLOT_VERSION into $dest"
