#!/bin/sh
# Blocks in ss-get until the database published its password, then waits
# at its own gate (a file the test creates) before its ss-set, so a fault
# can strike while the set is in flight.
set -e
mkdir -p /var/lib/faults
echo run >>/var/lib/faults/deploy.count
password=$(ss-get --timeout 900 db_password)
[ -n "$password" ]
while [ ! -e /var/lib/faults/gate ]; do sleep 0.2; done
url="http://$(ss-get hostname)/$(date +%s%N)"
ss-set url.service "$url"
printf '%s:url.service\t%s\n' "$SLIPSTREAM_NODE_INSTANCE_NAME" "$url" >>/var/lib/faults/acks
ss-display "serving $url"
