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
	list := strings.Join(quoted, " ")
	return `#!/bin/sh
set -eu
if command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends ` + list + `
elif command -v dnf >/dev/null 2>&1; then
  dnf install -y -q ` + list + `
elif command -v yum >/dev/null 2>&1; then
  yum install -y -q ` + list + `
elif command -v zypper >/dev/null 2>&1; then
  zypper --non-interactive install ` + list + `
elif command -v apk >/dev/null 2>&1; then
  apk add --no-cache ` + list + `
else
  echo "no known package manager (apt-get, dnf, yum, zypper, apk) to install: ` + strings.ReplaceAll(strings.Join(pkgs, " "), "'", "") + `" >&2
  exit 1
fi
`
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
