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
. scripts/demo-lib.sh

cleanup() {
  set +e
  trap - EXIT INT TERM
  destroy_all
  stop_coordinator
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
start_coordinator "$NSHOSTS_GATEWAY"

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
apply_timed

step "what the machines published (terraform output)"
(cd "$demo/tf" && "$terraform" output -no-color)

step "every runtime parameter (slipstream_deployment_ready.lamp; sensitive ones hidden)"
(cd "$demo/tf" && "$terraform" state show -no-color slipstream_deployment_ready.lamp | sed -n '/^    parameters/,/^    }/p')

step "a second plan: no changes"
(cd "$demo/tf" && "$terraform" plan -no-color -detailed-exitcode >/dev/null && echo "  No changes.")

show_run

# cleanup (the EXIT trap) destroys, stops the coordinator and removes the hosts.
