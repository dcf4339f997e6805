// Package bootstrap renders the shell scripts that put slipstream-agent on
// a machine and start it, and the one that takes it off again.
//
//	Script(c)          POSIX sh install-and-start script, run as root over SSH
//	UserData(c)        the same script as cloud-init user-data, at most MaxUserData bytes
//	UninstallScript(c) stops the agent and removes everything Script installed
//	OwnerScript(c)     prints who owns the host ("<deployment> <instance>"), see ParseOwner
//
// # One instance, or a pool's machine
//
// A Config is one instance's (Instance "web.2" and the instance's one-time
// bootstrap token) or a pool machine's (Instance empty, Node "worker" and
// the pool token). A pool is a batch of identical machines of one node
// that the provider starts with one cloud call (EC2 RunInstances with
// MinCount/MaxCount, OpenStack min_count, CloudSigma's list create), so
// they all get the same user-data, which cannot name an instance. Their
// agent.json has "instance": "", the "node" and "machine_id_file":
// MachineIDFile (/var/lib/cloud/data/instance-id, where cloud-init writes
// the machine's cloud id before it runs user-data); at its first start
// the agent exchanges the pool token and that id for its own token and
// learns its instance from the coordinator, once the provider has
// registered which machine id is which instance. Such a host's owner is
// "<deployment> <node>.pool" (PoolOwner): nobody adopts a cloud machine
// over SSH, so the owner only has to tell deployments apart.
//
// # User-data
//
// The user-data is the script itself, not a #cloud-config document:
// cloud-init runs a user-data that starts with "#!" as a script, once, at
// the end of the first boot (the scripts-user module, in cloud-final), and
// our fake clouds execute it the same way. UserData refuses a script larger
// than MaxUserData (16384 bytes, EC2's
// limit) with an error giving the size, the excess and the CA PEM's share
// of it. With a 64-character token, both architectures' checksums, a long
// https URL and a CA certificate the script is about 6 KB (6.0 KB with the
// ECDSA CA of slipc serve -tls-self-signed, 6.5 KB with an RSA-2048 CA), so
// even a CA bundle of several certificates fits.
//
// # What the script installs
//
// Every path below lies under Config.Root, which is "" in production and a
// temporary directory in tests:
//
//	/usr/local/bin/slipstream-agent          the agent, 0755
//	/usr/local/bin/ss-get, ss-get-all, ss-set, ss-display, ss-random, ss-abort, ss-cancel-abort (Commands)
//	                                         symbolic links to slipstream-agent (relative)
//	/etc/slipstream/                         0700
//	/etc/slipstream/agent.json               0600: {"service_url", "deployment", "instance",
//	                                         "token", "ca_fingerprint", "cloud"}, and for a pool
//	                                         machine "node" and "machine_id_file"
//	/etc/slipstream/owner                    "<deployment> <instance>\n" (a pool machine's:
//	                                         "<deployment> <node>.pool\n"): who the host belongs to
//	/etc/slipstream/ca.pem                   only when Config.CAPEM is set
//	/var/lib/slipstream/                     0700, the agent's state (SLIPSTREAM_STATE_DIR)
//	/etc/systemd/system/slipstream-agent.service   with systemd
//	/var/log/slipstream-agent.log            0600, without systemd
//	/run/slipstream-agent.pid                without systemd: the supervisor's pid
//
// agent.json is produced in Go with encoding/json (HTML escaping off), so
// quotes, backslashes and non-ASCII text in values come out right; the
// fingerprint is written in its plain form (lower case, no colons). The
// token (bootstrap or pool token) appears in the script exactly once, inside that JSON, is written
// only into agent.json (under umask 077, then chmod 600) and is never
// printed. The agent finds the file through SLIPSTREAM_AGENT_CONFIG.
//
// # How the script works
//
// It runs under set -eu, prefixes every message with "slipstream-bootstrap:"
// on stderr, and exits non-zero on any failure with a message that says
// what failed: its own checks say so explicitly, and a command that fails
// under set -e is followed by "failed while <step> (exit status N)". In
// order, it:
//
//  1. checks that it runs as root (unless Root is set);
//  2. maps uname -m to the agent's architecture (x86_64 or amd64 → amd64,
//     aarch64 or arm64 → arm64) and fails naming any other machine, or an
//     architecture for which Config.AgentSHA256 holds no checksum;
//  3. claims the host (see Ownership below), and refuses a host that
//     belongs to another deployment or instance;
//  4. picks a checksum tool: sha256sum, else shasum -a 256, else openssl
//     dgst -sha256, else fails saying none is installed;
//  5. if the installed agent already has the expected checksum, keeps it
//     (a re-run downloads nothing); otherwise gets the agent into a
//     temporary file next to its destination, either by copying
//     Config.AgentPath (uploaded beforehand by the SSH bootstrapper; the
//     script only reads it, removing it is the caller's business) or by downloading
//     AgentURL + arch (default ServiceURL + "/v1/agent/linux/" + arch, as
//     served by the coordinator) with
//     curl -fsS --compressed --retry 10 --retry-delay 2 --retry-connrefused (the
//     coordinator serves the agent gzip-compressed to clients that take it), else
//     wget -q --tries=10 --waitretry=2 --retry-connrefused, else fails
//     saying neither is installed. With Config.CAPEM the download trusts
//     that certificate only (curl --cacert, wget --ca-certificate), so TLS
//     is pinned to the coordinator's CA;
//  6. verifies the checksum of the copy it is about to install and refuses
//     a mismatch with the expected and the actual sums, leaving no file
//     behind; then chmod 755 and mv into place, an atomic rename;
//  7. links the ss-* commands, writes ca.pem and agent.json (each through a
//     temporary file and a rename, so the agent never reads half a file;
//     a stale ca.pem goes when CAPEM is empty);
//  8. starts the agent, as `slipstream-agent run` with
//     SLIPSTREAM_AGENT_CONFIG=<root>/etc/slipstream/agent.json and
//     SLIPSTREAM_STATE_DIR=<root>/var/lib/slipstream.
//
// With systemd — Root is "", /run/systemd/system exists and systemctl is
// installed — step 8 writes the unit slipstream-agent.service (Type=simple,
// After= and Wants=network-online.target, Restart=on-failure,
// RestartSec=2s, the two variables as Environment= lines,
// WantedBy=multi-user.target), runs systemctl daemon-reload and
// systemctl enable --now slipstream-agent. The unit is enabled, so the
// agent starts again at every boot.
//
// Without systemd, or whenever Root is set (so a test never reaches the
// host's systemd), the agent runs under a supervisor: a small sh loop that
// starts `slipstream-agent run`, restarts it 2 s after a non-zero exit and
// stops for good when it exits 0. The supervisor is started detached with
// setsid (nohup where setsid is missing), stdin from /dev/null, stdout and
// stderr appended to the log, /usr/local/bin first in PATH; it writes its
// own pid to the pid file, and the script waits for that file before it
// reports success. Being a session leader, the supervisor can be stopped
// with one signal to its process group, which reaches the agent and the
// scripts the agent runs; it also traps TERM and passes it to the agent, so
// stopping it by pid alone (no setsid) stops the agent too. Nothing
// restarts the supervisor after a reboot: this path is for containers and
// fake clouds.
//
// # Running the script again
//
// The script can be re-run, for example when an SSH bootstrap is retried or
// a machine is bootstrapped again with a new token. It installs only what
// differs (compared by checksum) and restarts the agent only if something
// did — the binary, agent.json, ca.pem or the unit — so a retry does not
// interrupt a deployment script the agent is running, while a new token
// takes effect at once. With systemd that is systemctl restart when the
// unit is active; without, the running supervisor is stopped (TERM to its
// group, KILL after 10 s) and a new one started. There is never more than
// one supervisor. A supervisor is recognised by its command line in
// /proc/PID/cmdline (its name, slipstream-supervisor, and the agent's
// path), never by the pid alone, so a stale pid file naming a recycled pid
// cannot get an unrelated process killed.
//
// # Ownership
//
// A host runs one agent: its paths are fixed, so a second deployment's
// bootstrap would overwrite the first one's configuration and take its
// host over. The bootstrap therefore claims the host before it writes
// anything of the agent: it writes "<deployment> <instance>" to a
// temporary file and hard-links it to /etc/slipstream/owner, which fails
// if the file exists, so of two bootstraps racing for a free host exactly
// one wins. A host whose owner is another deployment, or another instance
// of the same deployment, is refused with exit status ExitOwnedByOther (3)
// and the message "refusing to install: this host belongs to instance I of
// deployment D", and nothing is changed; the owner's own re-run goes on as
// before. An install made before the owner file existed is recognised by
// the deployment and instance in its agent.json. A bootstrap that claimed
// the host and then fails gives the claim up again (its EXIT trap removes
// the owner file), so a failed first install leaves the host free.
//
// There is no sharing of a host between deployments: per-deployment paths
// and unit names would be possible, but SlipStream ran one instance per
// machine, and two deployments' scripts on one machine would still collide
// on what they install. Refusing is the safe default.
//
// # Uninstalling
//
// UninstallScript stops the supervisor as above, or, when the unit file
// exists and systemctl is installed, runs systemctl disable --now and
// daemon-reload; then it removes the binary, the links, /etc/slipstream,
// /var/lib/slipstream, the unit, the pid file and the log. It succeeds when
// there is nothing to remove, so it can be run any number of times. It uses
// only Config.Root, Deployment and Instance, so a machine can be cleaned up
// without its token. With Deployment and Instance (or Node, for a pool
// machine) set it is guarded, as the provider runs it: a host owned by another deployment or instance is left
// as it is, with exit status ExitOwnedByOther. Without them it removes
// whatever agent is installed; `slipstream-agent uninstall` runs that form
// on a host, to free one still claimed by a deployment that is gone.
//
// # Validation and quoting
//
// Script and UserData check the Config first and report every problem at
// once, naming the field: ServiceURL, Deployment and Token must be set,
// and exactly one of Instance and Node; ServiceURL and AgentURL must be
// http or https URLs with a host and without credentials, query or
// fragment; Instance must look like node.N (web.2), Node like a node name
// (letters, digits and _); Token must be visible ASCII (it travels in an HTTP
// header); Deployment, Cloud, AgentPath and Root must be valid UTF-8
// without control characters (JSON would alter invalid UTF-8, no sh word
// can hold NUL, and values end up in environment variables and log
// lines); AgentPath and Root must be absolute, and AgentPath excludes
// AgentURL; AgentSHA256 must hold "amd64" and/or "arm64" and 64 hex digits
// each; CAFingerprint, when set, 64 hex digits (colons and upper case
// accepted). CAPEM must hold only certificates (a private key pasted by
// mistake is refused rather than sent in user-data); they are re-encoded
// without surrounding text, and one of them must match CAFingerprint when
// both are set, as the agent would otherwise pin another CA than the
// download trusted. A fingerprint without CAPEM is refused when the agent
// would be downloaded from an https ServiceURL: the fingerprint means a
// private CA, which curl and wget cannot check without its certificate.
//
// Every value from the Config reaches the script as one single-quoted sh
// word, in which each single quote is closed, escaped and reopened:
//
//	it's  →  'it'\''s'
//
// Messages expand such values from variables, never by splicing them into
// code, and agent.json and ca.pem are written with printf '%s' of such a
// word. A Cloud of `'; rm -rf / #` is therefore just a string that lands in
// agent.json unchanged.
//
// Config.Root exists for tests: every path the scripts write or remove is
// built from it, they read only /run/systemd/system and /proc outside it,
// and with Root set the supervisor path is always taken. The tests run the
// scripts for real against such roots, and the systemd path in a private
// mount namespace with a fake systemctl.
//
// # Requirements on the machine
//
// A POSIX sh (the tests run them under dash and bash), the usual
// coreutils (uname, id, mkdir, chmod, cp, mv, ln, rm, cut, sleep), sed,
// grep, /proc, a checksum tool and, unless AgentPath is used, curl 7.52 or
// later (for --retry-connrefused) or GNU wget. Busybox wget lacks --tries
// and --ca-certificate, so on Alpine-like images install curl or use
// AgentPath.
package bootstrap
