#!/bin/sh
# Prints this provider's schema as `terraform providers schema -json` does,
# for tfplugindocs (make generate): exported by OpenTofu, which knows every
# kind of schema the provider serves (ephemeral resources among them; the
# Terraform 1.5.7 of the tests does not), from the provider built from this
# tree through dev_overrides, with the provider's key renamed to the short
# name tfplugindocs looks for.
#
#   provider-schema.sh TOFU_BINARY > schema.json
set -eu
tofu=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/bin/terraform-provider-slipstream" .
printf 'provider_installation {\n  dev_overrides {\n    "slipstream/slipstream" = "%s"\n  }\n  direct {}\n}\n' "$work/bin" >"$work/cli.tfrc"
mkdir "$work/config"
printf 'terraform {\n  required_providers {\n    slipstream = { source = "slipstream/slipstream" }\n  }\n}\n' >"$work/config/main.tf"
(cd "$work/config" && TF_CLI_CONFIG_FILE="$work/cli.tfrc" "$tofu" providers schema -json 2>"$work/stderr") >"$work/schema.json" || {
	cat "$work/stderr" >&2
	exit 1
}
sed 's|"registry.opentofu.org/slipstream/slipstream":|"slipstream":|' "$work/schema.json"
