#!/bin/sh
set -e
echo "preparing $(hostname)"
