#!/usr/bin/env bash
# The main job, as far as the project goes today: check every example
# recipe, show the lamp deployment's graph (mappings and the waits found in
# its scripts), compile it to Terraform and have the real Terraform CLI
# check the result's format; then show the diagnostics for a recipe that
# would deadlock at run time. Safe to run again and to interrupt: it only
# writes under .demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
slipc=bin/slipc
terraform=${TERRAFORM:-terraform}
out=.demo

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

rm -rf "$out"
mkdir -p "$out"

step "slipc validate: every example recipe"
for recipe in examples/recipes/*/; do
  printf '%-32s ' "$recipe"
  "$slipc" validate "$recipe"
done

step "slipc graph examples/recipes/lamp"
"$slipc" graph examples/recipes/lamp

step "slipc compile examples/recipes/lamp -> $out/lamp"
"$slipc" compile -o "$out/lamp" examples/recipes/lamp
find "$out/lamp" -type f | sort
"$terraform" fmt -check -recursive "$out/lamp" && echo "terraform fmt -check: the emitted Terraform is canonical"

step "the emitted main.tf"
cat "$out/lamp/main.tf"

step "a recipe whose scripts would deadlock: slipc refuses it"
mkdir -p "$out/deadlock"
cat > "$out/deadlock/deadlock.slip.hcl" <<'RECIPE'
cloud "lab" {
  connector = "fixed"
  hosts     = ["192.0.2.1", "192.0.2.2"]
}

image "debian" {}

component "a" {
  image = image.debian
  output "token" {}
  deploy = <<-EOT
    peer=$(ss-get b:token)
    ss-set token "a-$peer"
  EOT
}

component "b" {
  image = image.debian
  output "token" {}
  deploy = <<-EOT
    peer=$(ss-get a:token)
    ss-set token "b-$peer"
  EOT
}

deployment "pair" {
  node "a" {
    component = component.a
    cloud     = cloud.lab
  }
  node "b" {
    component = component.b
    cloud     = cloud.lab
  }
}
RECIPE
if "$slipc" validate "$out/deadlock"; then
  echo "expected slipc to report the deadlock" >&2
  exit 1
fi

step "done"
echo "Applying a compiled recipe to hosts needs the provider's resources and the coordinator,"
echo "which the next issues add; 'make demo' will then apply and destroy it on local hosts."
