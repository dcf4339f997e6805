#!/bin/sh
# Register with the master by publishing this worker's address.
set -e
master=$(ss-get master_host)
ss-display "joining $master"
ss-set registered "$(ss-get hostname)"
