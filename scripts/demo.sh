#!/usr/bin/env bash
# The main job on this machine: four throw-away SSH hosts (network
# namespaces running sshd), a coordinator serving TLS from its own CA, the
# lamp example compiled by slipc and applied by the real Terraform CLI with
# this provider. The database generates a password, three web servers wait
# for it and publish their URLs; Terraform prints what they published, then
# destroys everything and the hosts go away.
#
# Everything lives under .demo/. Running it again first removes what an
# interrupted run left; Ctrl-C (or any failure) destroys and cleans up.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
terraform=${TERRAFORM:-terraform}
demo=$root/.demo
bin=$root/bin

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

cleanup() {
  set +e
  trap - EXIT INT TERM
  if [ -f "$demo/tf/terraform.tfstate" ] && [ -f "$demo/env" ]; then
    step "terraform destroy"
    (. "$demo/env" && cd "$demo/tf" && "$terraform" destroy -auto-approve -no-color >"$demo/destroy.log" 2>&1) \
      && tail -n 1 "$demo/destroy.log" || { echo "terraform destroy failed; see $demo/destroy.log"; }
  fi
  if [ -f "$demo/coordinator.pid" ]; then
    kill "$(cat "$demo/coordinator.pid")" 2>/dev/null && echo "coordinator stopped"
    rm -f "$demo/coordinator.pid"
  fi
  if [ -f "$demo/hosts/pool.json" ] || [ -d "$demo/hosts" ]; then
    "$bin/nshosts" down -state "$demo/hosts" -prefix sl 2>&1 | sed 's/^/  /'
  fi
}

# Leftovers of an interrupted run first.
cleanup
trap cleanup EXIT
trap 'exit 130' INT TERM
rm -rf "$demo"
mkdir -p "$demo"

step "four SSH hosts (network namespaces with sshd)"
"$bin/nshosts" up -n 4 -state "$demo/hosts" -prefix sl >"$demo/hosts.json"
eval "$("$bin/nshosts" env -state "$demo/hosts")"
for ip in $NSHOSTS_HOSTS; do echo "  root@$ip"; done

step "the coordinator: slipc serve on $NSHOSTS_GATEWAY, TLS from its own CA"
"$bin/slipc" serve -listen "$NSHOSTS_GATEWAY:8680" -data "$demo/coordinator" -tls-self-signed -agent-dir "$bin/agent" \
  >"$demo/coordinator.log" 2>&1 &
echo $! >"$demo/coordinator.pid"
for _ in $(seq 100); do
  grep -q "listening on" "$demo/coordinator.log" 2>/dev/null && break
  sleep 0.1
done
sed 's/^/  /' "$demo/coordinator.log"
fingerprint=$(sed -n 's/^CA fingerprint.*: \([0-9a-f]\{64\}\)$/\1/p' "$demo/coordinator.log")
[ -n "$fingerprint" ] || { echo "the coordinator did not start; see $demo/coordinator.log" >&2; exit 1; }
cat >"$demo/env" <<EOF
export SLIPSTREAM_COORDINATOR_URL=https://$NSHOSTS_GATEWAY:8680
export SLIPSTREAM_TOKEN=$(cat "$demo/coordinator/admin-token")
export SLIPSTREAM_CA_FINGERPRINT=$fingerprint
export TF_CLI_CONFIG_FILE=$demo/terraformrc
export TF_IN_AUTOMATION=1
EOF
cat >"$demo/terraformrc" <<EOF
provider_installation {
  dev_overrides {
    "slipstream/slipstream" = "$bin"
  }
  direct {}
}
EOF

step "slipc compile examples/recipes/lamp, its lab cloud on these hosts"
cp -r examples/recipes/lamp "$demo/recipe"
# The first host is the database's, the other three the web servers'.
set -- $NSHOSTS_HOSTS
db_host=$1
shift
web_hosts=$(printf '"%s", ' "$@")
sed -i -e "s|^    db  *=.*|    db  = [\"$db_host\"]|" -e "s|^    web *=.*|    web = [${web_hosts%, }]|" \
  -e "s|^  user *=.*|&\n  private_key_file = \"$NSHOSTS_KEY\"\n  known_hosts = file(\"$NSHOSTS_KNOWN_HOSTS\")|" "$demo/recipe/lamp.slip.hcl"
"$bin/slipc" compile -o "$demo/tf" "$demo/recipe"
(cd "$demo/tf" && ls)

step "terraform apply (machines coordinate at run time; apply waits until they are Ready)"
. "$demo/env"
start=$(date +%s%N)
(cd "$demo/tf" && "$terraform" apply -auto-approve -no-color 2>&1 | grep -v "^\s*$" | grep -E "Creating|Creation complete|Apply complete|Error|error|Warning" | sed 's/^/  /')
ms=$((($(date +%s%N) - start) / 1000000))
printf '  apply took %d.%01d s\n' $((ms / 1000)) $((ms % 1000 / 100))

step "what the machines published (terraform output)"
(cd "$demo/tf" && "$terraform" output -no-color)

step "every runtime parameter (slipstream_deployment_ready.lamp; sensitive ones hidden)"
(cd "$demo/tf" && "$terraform" state show -no-color slipstream_deployment_ready.lamp | sed -n '/^    parameters/,/^    }/p')

step "a second plan: no changes"
(cd "$demo/tf" && "$terraform" plan -no-color -detailed-exitcode >/dev/null && echo "  No changes.")

# cleanup (the EXIT trap) destroys, stops the coordinator and removes the hosts.
