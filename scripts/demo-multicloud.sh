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

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

cleanup() {
  set +e
  trap - EXIT INT TERM
  if [ -f "$demo/tf/terraform.tfstate" ] && [ -f "$demo/env" ]; then
    step "terraform destroy"
    (. "$demo/env" && cd "$demo/tf" && "$terraform" destroy -auto-approve -no-color >"$demo/destroy.log" 2>&1) \
      && tail -n 1 "$demo/destroy.log" || { echo "terraform destroy failed; see $demo/destroy.log"; }
    if [ -f "$demo/clouds/fakeclouds.json" ]; then
      left=$("$bin/fakeclouds" machines -state "$demo/clouds" | wc -l)
      echo "  machines left in the fake clouds: $left"
    fi
  fi
  if [ -f "$demo/coordinator.pid" ]; then
    kill "$(cat "$demo/coordinator.pid")" 2>/dev/null && echo "coordinator stopped"
    rm -f "$demo/coordinator.pid"
  fi
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
"$bin/slipc" serve -listen "$FAKECLOUDS_GATEWAY:8680" -data "$demo/coordinator" -tls-self-signed -agent-dir "$bin/agent" \
  >"$demo/coordinator.log" 2>&1 &
echo $! >"$demo/coordinator.pid"
for _ in $(seq 100); do
  grep -q "listening on" "$demo/coordinator.log" 2>/dev/null && break
  sleep 0.1
done
sed 's/^/  /' "$demo/coordinator.log"
fingerprint=$(sed -n 's/^CA fingerprint.*: \([0-9a-f]\{64\}\)$/\1/p' "$demo/coordinator.log")
[ -n "$fingerprint" ] || { echo "the coordinator did not start; see $demo/coordinator.log" >&2; exit 1; }
cat >"$demo/env" <<EOF2
. "$demo/clouds/env"
export SLIPSTREAM_COORDINATOR_URL=https://$FAKECLOUDS_GATEWAY:8680
export SLIPSTREAM_TOKEN=$(cat "$demo/coordinator/admin-token")
export SLIPSTREAM_CA_FINGERPRINT=$fingerprint
export TF_CLI_CONFIG_FILE=$demo/terraformrc
export TF_IN_AUTOMATION=1
EOF2
cat >"$demo/terraformrc" <<EOF2
provider_installation {
  dev_overrides {
    "slipstream/slipstream" = "$bin"
  }
  direct {}
}
EOF2

step "slipc compile examples/recipes/multicloud (unchanged)"
"$bin/slipc" compile -o "$demo/tf" examples/recipes/multicloud
(cd "$demo/tf" && ls)

step "terraform apply (db on EC2, web on OpenStack, probe on CloudSigma; apply waits until all are Ready)"
. "$demo/env"
start=$(date +%s%N)
(cd "$demo/tf" && "$terraform" apply -auto-approve -no-color 2>&1 | grep -v "^\s*$" | grep -E "Creating|Creation complete|Apply complete|Error|error|Warning" | sed 's/^/  /')
ms=$((($(date +%s%N) - start) / 1000000))
printf '  apply took %d.%01d s\n' $((ms / 1000)) $((ms % 1000 / 100))

step "the machines in the fake clouds"
"$bin/fakeclouds" machines -state "$demo/clouds" | sed 's/^/  /'

step "what the machines published (terraform output)"
(cd "$demo/tf" && "$terraform" output -no-color)

step "a second plan: no changes"
(cd "$demo/tf" && "$terraform" plan -no-color -detailed-exitcode >/dev/null && echo "  No changes.")

# cleanup (the EXIT trap) destroys, checks the clouds are empty, stops the
# coordinator and the fakes.
