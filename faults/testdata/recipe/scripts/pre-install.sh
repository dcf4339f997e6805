#!/bin/sh
# Counts its runs: a restarted agent must not run a completed phase again.
set -e
mkdir -p /var/lib/faults
echo "$SLIPSTREAM_NODE_INSTANCE_NAME" >>/var/lib/faults/pre_install.count
