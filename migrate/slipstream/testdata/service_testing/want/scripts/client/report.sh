#!/bin/sh -x
cp /tmp/data.txt $SLIPSTREAM_REPORT_DIR