#!/bin/sh
set -e
ss-set endpoint "$(ss-get hostname):6379"
