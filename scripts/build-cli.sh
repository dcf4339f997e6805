#!/bin/sh
# Builds the Terraform or OpenTofu CLI at a version from the Go module
# proxy into a folder:
#
#   build-cli.sh terraform|tofu VERSION DEST_DIR
#
# `go install <module>@VERSION` refuses these modules when their go.mod has
# a replace directive (OpenTofu's fork of hcl, Terraform's since 1.6), so
# the module is downloaded and built as the main module, in a temporary
# copy (the module cache is read-only). dev=no makes a release build, which
# says its version without "-dev".
set -eu
cli=$1 version=$2 dest=$3
case $cli in
terraform) module=github.com/hashicorp/terraform pkg=. ;;
tofu) module=github.com/opentofu/opentofu pkg=./cmd/tofu ;;
*) echo "build-cli: unknown CLI $cli (terraform or tofu)" >&2; exit 2 ;;
esac
src=$(GOFLAGS= go mod download -json "$module@v$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$src" ] || { echo "build-cli: cannot download $module@v$version" >&2; exit 1; }
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
cp -R "$src/." "$work/"
chmod -R u+w "$work"
mkdir -p "$dest"
cd "$work"
GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w -X $module/version.dev=no" -o "$dest/$cli.tmp" "$pkg"
mv -f "$dest/$cli.tmp" "$dest/$cli"
"$dest/$cli" version
