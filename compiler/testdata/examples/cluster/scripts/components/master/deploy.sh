#!/bin/sh
# Wait for every worker to register (worker:ids lists the instance numbers),
# then publish the members and the cluster's address.
set -e
members=""
for i in $(ss-get worker:ids | tr ',' ' '); do
  members="$members $(ss-get --timeout 900 "worker.$i:registered")"
done
ss-set members "$members"
ss-set url.service "https://$(ss-get hostname):6443/"
