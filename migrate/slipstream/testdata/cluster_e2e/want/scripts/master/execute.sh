#!/bin/sh -xe
# The join token, published for the workers.
token=$(ss-random --size 16)
ss-set token "$token"
ss-display "master on $(ss-get hostname), waiting for the workers"
ss-set ready true
# Every worker reports back; SlipStream's way to wait for all of them.
n=0
for id in $(ss-get --timeout 600 worker:ids | tr ',' ' '); do
  ss-get --timeout 600 --ignore-abort worker.$id:joined >/dev/null
  n=$((n + 1))
done
ss-set workers "$n"
