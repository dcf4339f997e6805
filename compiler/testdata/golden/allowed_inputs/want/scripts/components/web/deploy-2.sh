#!/bin/sh
set -e
port=$(ss-get port)
echo "listening on $port, tier $(ss-get tier)"
