// Command slipstream-agent runs inside each machine.
//
//	slipstream-agent run [--state-dir DIR]
//	slipstream-agent uninstall
//
// run is the node executor: it follows the run's states through the
// coordinator and runs the node's scripts (see package
// coordination/agent). uninstall stops the agent and removes everything
// the bootstrap installed, whichever deployment it belongs to: the way to
// free a host still claimed by a deployment that no longer exists. It is
// also a multi-call binary: linked or copied as ss-get, ss-get-all,
// ss-set, ss-display, ss-random, ss-abort or ss-cancel-abort it behaves as
// SlipStream's command of that name, with the same options and exit codes
// (2 bad usage, 4 network, 5 server error, 7 client error, 8 aborted, 9
// timeout; ss-get-all --value exits 1 when an instance's value differs),
// so old deployment scripts run unchanged. docs/ss-commands.md compares
// them with SlipStream's, option by option.
//
//	ss-get [--timeout S] [--noblock] [--ignore-abort] key
//	ss-get-all [--timeout S] [--noblock] [--ignore-abort] [--value V] node key
//	ss-set [--ignore-abort] [--] key value
//	ss-display [--ignore-abort] [--] message
//	ss-random [-s N] [key]
//	ss-abort [--cancel] [--] [reason]
//	ss-cancel-abort
//
// Each also takes SlipStream's -v (requests on stderr), --run UUID and
// --endpoint URL (on a machine, its own deployment and coordinator are
// used whatever they say), and reads its command line as SlipStream's
// optparse did (--name=value, a long option cut short, -vv, -s12, options
// after the arguments, --) as well as Go's way (-name). The spellings
// these commands took first (--ignoreabort) are kept. Each command, and
// the agent itself, prints its usage, options and exit codes with --help
// (or -h) and exits 0, whether or not a coordinator is configured; a bad
// command line exits 2, as SlipStream's, with the error and the usage on
// stderr.
//
// It finds the coordinator from SLIPSTREAM_SERVICEURL, SLIPSTREAM_DIID (the
// deployment), SLIPSTREAM_NODE_INSTANCE_NAME and SLIPSTREAM_TOKEN, or from
// the JSON file named by SLIPSTREAM_AGENT_CONFIG (default
// /etc/slipstream/agent.json). That token is the machine's one-time
// bootstrap token: "run" exchanges it at its first start for a token of
// its own, kept in STATE/token.json (0600), and the ss-* commands use that
// one (SLIPSTREAM_TOKEN_FILE, which scripts are given, or the state
// folder's); no script's environment holds a token. The agent.json of a
// machine of a node's pool names no instance but the node, a pool token
// and machine_id_file: "run" then exchanges the pool token with the
// machine's cloud id, read from that file, and is from then on the
// instance the coordinator names (recorded in token.json).
package main

import (
	"os"
	"path/filepath"
	"strings"
)

func main() {
	os.Exit(run(os.Args, os.Getenv, os.Stdout, os.Stderr))
}

// agentName is the binary's own name; the build names its files
// slipstream-agent-linux-amd64 and so on, which are the agent too.
const agentName = "slipstream-agent"

// commandName is the command args ask for: the binary's name (ss-get when
// called through that link), or for the agent itself its first argument
// (agentName alone when there is none).
func commandName(args []string) (string, []string) {
	name := filepath.Base(args[0])
	if strings.HasPrefix(name, agentName) {
		if len(args) > 1 {
			return args[1], args[2:]
		}
		return agentName, nil
	}
	return name, args[1:]
}
