#!/bin/sh
# The web tier in the data centre waits for the database in the office.
set -e
host=$(ss-get db_host)
password=$(ss-get db_password)
ss-display "serving against $host"
