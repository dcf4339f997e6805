#!/bin/sh
# A web server on OpenStack waits for the database on EC2: its address and
# the password it generated.
set -e
host=$(ss-get db_host)
password=$(ss-get --timeout 600 db_password)
[ -n "$password" ] || { ss-abort "empty database password"; exit 1; }
ss-display "serving $(ss-get title) against $host"
ss-set url.service "http://$(ss-get hostname)/"
