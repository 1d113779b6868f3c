#!/usr/bin/env bash
# Build mongo-compat into $1: this directory's program with FerretDB 1.24.2 from the Go
# module proxy, patched by patches/*.patch (each applied to a copy of the module, which
# the build then uses through a `replace`): see "mongo-compat" in the repository README.
set -euo pipefail
out=$1
src=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
(cd "$src" && go mod download github.com/FerretDB/FerretDB)
module=$(cd "$src" && go list -m -f '{{.Dir}}' github.com/FerretDB/FerretDB)
cp -r "$module" "$work/ferretdb"
chmod -R u+w "$work/ferretdb"
for p in "$src"/patches/*.patch; do
  patch -s -p1 -d "$work/ferretdb" <"$p"
done
mkdir "$work/main"
cp "$src"/go.mod "$src"/go.sum "$work/main/"
for f in "$src"/*.go; do
  case "$f" in *_test.go) ;; *) cp "$f" "$work/main/" ;; esac
done
cd "$work/main"
go mod edit -replace github.com/FerretDB/FerretDB="$work/ferretdb"
go build -o "$out" .
