#!/usr/bin/env bash
# Installs versitygw (https://github.com/versity/versitygw), the S3-compatible
# server that the recorder/s3store tests start on 127.0.0.1, built from the Go
# module proxy.
#
#   recorder/s3store/testdata/install-s3-server.sh [BINDIR]
#
# BINDIR defaults to $(go env GOPATH)/bin. The tests find the binary through
# SETBRIDGE_S3_SERVER or PATH. VERSITYGW_VERSION overrides the pinned version.
set -euo pipefail
version="${VERSITYGW_VERSION:-v1.8.0}"
bindir="${1:-$(go env GOPATH)/bin}"
mkdir -p "$bindir"
bindir="$(cd "$bindir" && pwd)"
GOBIN="$bindir" GOFLAGS=-buildvcs=false go install -trimpath \
  "github.com/versity/versitygw/cmd/versitygw@${version}"
"$bindir/versitygw" --help >/dev/null
echo "versitygw ${version} installed: $bindir/versitygw"
