#!/bin/sh
# The web tier on EC2 waits for the database on OpenStack.
set -e
host=$(ss-get db_host)
password=$(ss-get db_password)
ss-display "serving against $host"
