package agent

import (
	"strings"
)

// packagesScript installs packages with whichever package manager the
// machine has; SlipStream's bootstrap broke across distributions, so the
// choice is made on the machine, not in the recipe. Package names were
// checked by the coordinator (no options, no shell syntax), and are quoted
// anyway.
func packagesScript(pkgs []string) string {
	quoted := make([]string, len(pkgs))
	for i, p := range pkgs {
		quoted[i] = shellQuote(p)
	}
	// Packages already there are not installed again: an image that was
	// built with them (or a re-run) needs no package mirror at all.
	return `#!/bin/sh
set -eu
installed() {
  case "$1" in *[=\<\>\*]*) return 1 ;; esac
  if command -v dpkg-query >/dev/null 2>&1; then
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
  elif command -v rpm >/dev/null 2>&1; then
    rpm -q "$1" >/dev/null 2>&1
  elif command -v apk >/dev/null 2>&1; then
    apk info -e "$1" >/dev/null 2>&1
  else
    return 1
  fi
}
missing=""
for p in ` + strings.Join(quoted, " ") + `; do
  installed "$p" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "packages already installed:" ` + strings.Join(quoted, " ") + `
  exit 0
fi
set -- $missing
if command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "$@"
elif command -v dnf >/dev/null 2>&1; then
  dnf install -y -q "$@"
elif command -v yum >/dev/null 2>&1; then
  yum install -y -q "$@"
elif command -v zypper >/dev/null 2>&1; then
  zypper --non-interactive install "$@"
elif command -v apk >/dev/null 2>&1; then
  apk add --no-cache "$@"
else
  echo "no known package manager (apt-get, dnf, yum, zypper, apk) to install:$missing" >&2
  exit 1
fi
`
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
