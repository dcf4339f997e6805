#!/bin/sh
# Workers joined or left (a scale of the worker node): publish the members
# again, waiting for the new workers to register, and say what changed.
set -e
members=""
for i in $(ss-get worker:ids | tr ',' ' '); do
  members="$members $(ss-get --timeout 900 "worker.$i:registered")"
done
ss-set members "$members"
ss-set scaling "$SLIPSTREAM_SCALING_ACTION $SLIPSTREAM_SCALING_NODE: $SLIPSTREAM_SCALING_VMS"
