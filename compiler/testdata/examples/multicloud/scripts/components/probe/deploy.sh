#!/bin/sh
# The probe on CloudSigma waits until every web server on OpenStack has
# published its address, then records how many it saw.
set -e
urls=$(ss-get-all --timeout 600 web url.service)
n=$(printf '%s\n' "$urls" | grep -c 'http://')
ss-display "saw $n web servers"
ss-set checked "$n"
