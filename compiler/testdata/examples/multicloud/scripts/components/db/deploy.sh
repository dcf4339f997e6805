#!/bin/sh
set -e
ss-random -s 32 password >/dev/null
ss-display "database ready on $(ss-get hostname)"
