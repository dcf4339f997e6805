# Shared by scripts/demo.sh and scripts/demo-multicloud.sh (sourced, not
# run): the steps both demos take around their machines.

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# start_coordinator IP: slipc serve on IP:8680 with TLS from its own CA,
# its data and log under $demo; then $demo/env (the coordinator's URL,
# admin token and CA fingerprint, and a Terraform CLI configuration that
# uses the provider built in $bin), which sources $demo/extra-env first
# when it exists.
start_coordinator() {
  "$bin/slipc" serve -listen "$1:8680" -data "$demo/coordinator" -tls-self-signed -agent-dir "$bin/agent" \
    >"$demo/coordinator.log" 2>&1 &
  echo $! >"$demo/coordinator.pid"
  for _ in $(seq 100); do
    grep -q "listening on" "$demo/coordinator.log" 2>/dev/null && break
    sleep 0.1
  done
  sed 's/^/  /' "$demo/coordinator.log"
  local fingerprint
  fingerprint=$(sed -n 's/^CA fingerprint.*: \([0-9a-f]\{64\}\)$/\1/p' "$demo/coordinator.log")
  [ -n "$fingerprint" ] || { echo "the coordinator did not start; see $demo/coordinator.log" >&2; exit 1; }
  cat >"$demo/env" <<EOF2
[ ! -f "$demo/extra-env" ] || . "$demo/extra-env"
export SLIPSTREAM_COORDINATOR_URL=https://$1:8680
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
}

# stop_coordinator stops what start_coordinator started.
stop_coordinator() {
  if [ -f "$demo/coordinator.pid" ]; then
    kill "$(cat "$demo/coordinator.pid")" 2>/dev/null && echo "coordinator stopped"
    rm -f "$demo/coordinator.pid"
  fi
}

# destroy_all runs terraform destroy in $demo/tf if anything was applied.
destroy_all() {
  if [ -f "$demo/tf/terraform.tfstate" ] && [ -f "$demo/env" ]; then
    step "terraform destroy"
    (. "$demo/env" && cd "$demo/tf" && "$terraform" destroy -auto-approve -no-color >"$demo/destroy.log" 2>&1) \
      && tail -n 1 "$demo/destroy.log" || { echo "terraform destroy failed; see $demo/destroy.log"; }
  fi
}

# apply_timed runs terraform apply in $demo/tf, showing its progress lines
# and how long it took.
apply_timed() {
  . "$demo/env"
  local start ms
  start=$(date +%s%N)
  (cd "$demo/tf" && "$terraform" apply -auto-approve -no-color "$@" 2>&1 | grep -v "^\s*$" | grep -E "Creating|Creation complete|Apply complete|Error|error|Warning" | sed 's/^/  /')
  ms=$((($(date +%s%N) - start) / 1000000))
  printf '  apply took %d.%01d s\n' $((ms / 1000)) $((ms % 1000 / 100))
}

# show_run prints the run as slipc status sees it, and where to watch it in
# a browser: the coordinator's web view, with a read-only viewer token.
# With DEMO_KEEP=1 it then keeps everything up until Ctrl-C, so the page
# can be looked at; Ctrl-C destroys and cleans up as usual.
show_run() {
  . "$demo/env"
  local id viewer
  id=$("$bin/slipc" status | awk 'NR == 2 { print $1 }')
  step "the run as the coordinator sees it (slipc status $id)"
  "$bin/slipc" status "$id" | sed 's/^/  /'
  step "the web view (slipc token viewer: read-only, no secrets)"
  viewer=$("$bin/slipc" token viewer -name demo -ttl 8h -deployment "$id" 2>/dev/null) || viewer="(slipc token viewer failed)"
  echo "  $SLIPSTREAM_COORDINATOR_URL/ui/#/d/$id"
  echo "  viewer token: $viewer"
  echo "  (the coordinator's certificate is from its own CA, SHA-256 $SLIPSTREAM_CA_FINGERPRINT: the browser asks you to accept it)"
  if [ "${DEMO_KEEP:-}" = 1 ]; then
    step "DEMO_KEEP=1: the deployment stays up; press Ctrl-C to destroy it and clean up"
    while :; do sleep 3600; done
  else
    echo "  (run with DEMO_KEEP=1 to keep the deployment up and look at it)"
  fi
}
