#!/usr/bin/env bash
# Installs the Go tools the tests need into a cache that survives between
# runs on the same machine ($HOME/.cache/faultline/bin), pinned by version.
set -euo pipefail
TOOLS="${HOME}/.cache/faultline/bin"
mkdir -p "$TOOLS"
STATICCHECK_VERSION=v0.8.2

stamp="$TOOLS/.staticcheck-$STATICCHECK_VERSION"
if [[ ! -x "$TOOLS/staticcheck" || ! -f "$stamp" ]]; then
  echo "installing staticcheck $STATICCHECK_VERSION into $TOOLS"
  GOBIN="$TOOLS" go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
  rm -f "$TOOLS"/.staticcheck-*
  touch "$stamp"
fi
