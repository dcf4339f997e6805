#!/bin/sh
# Generate the database password once and publish it; web nodes wait for it.
set -e
password=$(ss-random -s 24 password)
port=$(ss-get port)
ss-display "database listening on port $port"
echo "database ready on $(ss-get hostname):$port"
