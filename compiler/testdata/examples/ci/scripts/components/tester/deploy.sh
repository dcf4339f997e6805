#!/bin/sh
# Wait for the application, then certify it.
set -e
target=$(ss-get target)
version=$(ss-get version)
if curl -fsS "$target" >/dev/null; then verdict=pass; else verdict=fail; fi
ss-set verdict "$verdict"
