#!/bin/sh
# Written by slipc import slipstream: SlipStream set these outputs to their
# value when the run started; a recipe's outputs have none, so this script,
# the component's first, sets them.
set -e
ss-set port '8080'
