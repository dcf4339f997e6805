#!/bin/bash
set -e
set -x

function on_apache() {
    for INSTANCE_NAME in $SLIPSTREAM_SCALING_VMS; do
        echo Processing $INSTANCE_NAME
        ss-get --timeout 360 $INSTANCE_NAME:ready
        host_name=$(ss-get $INSTANCE_NAME:hostname)
        echo "New instance of $SLIPSTREAM_SCALING_NODE: $INSTANCE_NAME, $host_name"
    done
}

function on_testclient() {
    for NAME in $SLIPSTREAM_SCALING_VMS; do
        echo "test client $NAME was added"
    done
}

case $SLIPSTREAM_SCALING_NODE in
    "apache" )
        on_apache ;;
    "testclient" )
        on_testclient ;;
esac