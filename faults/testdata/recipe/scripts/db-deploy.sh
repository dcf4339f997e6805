#!/bin/sh
# Waits at its gate (a file the test creates), then publishes a generated
# password; every ss-set that succeeds is recorded for the checker.
set -e
mkdir -p /var/lib/faults
echo run >>/var/lib/faults/deploy.count
ss-display "waiting at the gate"
while [ ! -e /var/lib/faults/gate ]; do sleep 0.2; done
password=$(ss-random -s 24 password)
printf '%s:password\t%s\n' "$SLIPSTREAM_NODE_INSTANCE_NAME" "$password" >>/var/lib/faults/acks
# A value that needs new room in the coordinator's store (TestFaults_diskFull).
big=$(head -c 100000 /dev/zero | tr '\0' b)
ss-set big "$big"
printf '%s:big\t%s\n' "$SLIPSTREAM_NODE_INSTANCE_NAME" "$big" >>/var/lib/faults/acks
ss-display "password published"
