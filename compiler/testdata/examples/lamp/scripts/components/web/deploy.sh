#!/bin/sh
# Wait for the database's password (set by the db node), then configure.
set -e
db_host=$(ss-get db_host)
db_password=$(ss-get --timeout 600 db_password)
title=$(ss-get title)
ss-display "configured against $db_host"
ss-set url.service "http://$(ss-get hostname)/"
