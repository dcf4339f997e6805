#!/usr/bin/env bash
# The multi-cloud job on this machine: the fake clouds of the test suite
# (EC2, OpenStack, CloudSigma, each speaking its real API; their machines
# real Debian 12 systems booted by the real cloud-init: cmd/fakeclouds), a
# coordinator serving TLS from its own CA on the machines' bridge, and
# examples/recipes/multicloud compiled by slipc and applied by the real
# Terraform CLI: the database on EC2 generates a password, two web servers
# on OpenStack wait for it, a probe on CloudSigma waits for both. Terraform
# prints what they published, then destroys everything, and the fakes show
# that no machine is left.
#
# The recipe is not changed: the clouds are reached the way a user's
# environment reaches real accounts (AWS_ENDPOINT_URL_EC2 and AWS_* keys,
# OS_CLIENT_CONFIG_FILE with the recipe's clouds.yaml entry, CLOUDSIGMA_*),
# and the fakes serve the recipe's image ids.
#
# Everything lives under .demo-multicloud/. Running it again first removes
# what an interrupted run left; Ctrl-C (or any failure) destroys and cleans up.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
terraform=${TERRAFORM:-terraform}
demo=$root/.demo-multicloud
bin=$root/bin
. scripts/demo-lib.sh

cleanup() {
  set +e
  trap - EXIT INT TERM
  destroy_all
  if [ -f "$demo/clouds/fakeclouds.json" ]; then
    left=$("$bin/fakeclouds" machines -state "$demo/clouds" | wc -l)
    echo "  machines left in the fake clouds: $left"
  fi
  stop_coordinator
  if [ -f "$demo/fakeclouds.pid" ]; then
    pid=$(cat "$demo/fakeclouds.pid")
    kill "$pid" 2>/dev/null && while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done && echo "fake clouds stopped, their guests removed"
    rm -f "$demo/fakeclouds.pid"
  fi
}

# Leftovers of an interrupted run first.
cleanup
trap cleanup EXIT
trap 'exit 130' INT TERM
rm -rf "$demo"
mkdir -p "$demo"

step "the fake clouds: EC2, OpenStack and CloudSigma APIs; machines booted by cloud-init"
"$bin/fakeclouds" up -state "$demo/clouds" >"$demo/fakeclouds.json" 2>"$demo/fakeclouds.log" &
echo $! >"$demo/fakeclouds.pid"
for _ in $(seq 1800); do
  [ -s "$demo/clouds/fakeclouds.json" ] && break
  kill -0 "$(cat "$demo/fakeclouds.pid")" 2>/dev/null || { cat "$demo/fakeclouds.log" >&2; exit 1; }
  sleep 0.2
done
[ -s "$demo/clouds/fakeclouds.json" ] || { echo "the fake clouds did not start; see $demo/fakeclouds.log" >&2; exit 1; }
grep -E 'API on|base image' "$demo/fakeclouds.log" | sed 's/^/  /'
. "$demo/clouds/env"

step "the coordinator: slipc serve on $FAKECLOUDS_GATEWAY, TLS from its own CA"
ln -s "$demo/clouds/env" "$demo/extra-env"
start_coordinator "$FAKECLOUDS_GATEWAY"

step "slipc compile examples/recipes/multicloud (unchanged)"
"$bin/slipc" compile -o "$demo/tf" examples/recipes/multicloud
(cd "$demo/tf" && ls)

step "terraform apply (db on EC2, web on OpenStack, probe on CloudSigma; apply waits until all are Ready)"
apply_timed

step "the machines in the fake clouds"
"$bin/fakeclouds" machines -state "$demo/clouds" | sed 's/^/  /'

step "what the machines published (terraform output)"
(cd "$demo/tf" && "$terraform" output -no-color)

step "a second plan: no changes"
(cd "$demo/tf" && "$terraform" plan -no-color -detailed-exitcode >/dev/null && echo "  No changes.")

show_run

# cleanup (the EXIT trap) destroys, checks the clouds are empty, stops the
# coordinator and the fakes.
