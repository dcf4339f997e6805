package bootstrap

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"embed"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"unicode"
	"unicode/utf8"
)

// MaxUserData is EC2's limit on the size of user-data.
const MaxUserData = 16384

// MachineIDFile is where cloud-init writes the machine's cloud id (EC2's
// "i-…", the server UUID on OpenStack and CloudSigma, the NoCloud
// meta-data's instance-id on the fake clouds) before it runs user-data. A
// pool machine's agent reads it to tell the coordinator which of the
// pool's machines it is.
const MachineIDFile = "/var/lib/cloud/data/instance-id"

// Config is what a machine needs to fetch, install and start its agent.
// It is either one instance's (Instance set, with the instance's
// bootstrap token) or any machine of a node's pool (Node set, Instance
// empty, with the pool token): a pool's machines are started by one cloud
// call with the same user-data, and each learns its instance from the
// coordinator, trading the pool token and its cloud id (MachineIDFile)
// for its agent's token.
type Config struct {
	ServiceURL    string            // coordinator base URL, e.g. https://10.0.0.1:8680
	Deployment    string            // deployment id (SLIPSTREAM_DIID)
	Instance      string            // node instance name, e.g. "web.2"; "" for a pool machine
	Node          string            // a pool machine's node, e.g. "worker"; "" for one instance's machine
	Token         string            // the instance's bootstrap token, or the pool token
	CAFingerprint string            // hex SHA-256 of the coordinator CA certificate's DER; may be empty
	CAPEM         string            // the coordinator CA certificate(s), PEM; may be empty; downloads trust only it when set
	Cloud         string            // connector name, exported to scripts as SLIPSTREAM_CLOUD
	AgentSHA256   map[string]string // "amd64"/"arm64" → hex SHA-256 of the agent for linux/<arch>
	AgentURL      string            // optional; default ServiceURL + "/v1/agent/linux/"; the arch is appended
	AgentPath     string            // optional: the agent is already on the host at this path; no download
	Root          string            // optional install root, for tests only; "" in production
}

// agentConfig is /etc/slipstream/agent.json, as slipstream-agent reads it.
// A pool machine's has no instance, and names its node and the file that
// holds its machine id.
type agentConfig struct {
	ServiceURL    string `json:"service_url"`
	Deployment    string `json:"deployment"`
	Instance      string `json:"instance"`
	Token         string `json:"token"`
	CAFingerprint string `json:"ca_fingerprint"`
	Cloud         string `json:"cloud"`
	Node          string `json:"node,omitempty"`
	MachineIDFile string `json:"machine_id_file,omitempty"`
}

// view is what the templates see: values checked and normalized.
type view struct {
	What      string            // "bootstrap" or "uninstaller", for the header comment
	Root      string            // no trailing slash; "" in production
	Sums      map[string]string // arch → lower-case hex
	Archs     string            // the keys of Sums, for an error message
	URL       string            // download base; the arch is appended
	AgentPath string
	CAPEM     string // re-encoded: only CERTIFICATE blocks
	JSON      string // agent.json, one line
	Owner     string // "<deployment> <instance>" (or "<deployment> <node>.pool"), what the owner file holds
}

//go:embed *.sh.tmpl
var templateFS embed.FS

// Commands are the names the agent answers to besides run (SlipStream's
// ss-* commands). The bootstrap links each one to the agent in
// /usr/local/bin and the uninstall removes them; cmd/slipstream-agent's
// tests check that the agent answers to exactly these, so a command
// cannot be documented and analysed (compiler/waitgraph) but missing on
// the machine.
var Commands = []string{"ss-abort", "ss-cancel-abort", "ss-display", "ss-get", "ss-get-all", "ss-random", "ss-set"}

var templates = template.Must(template.New("").
	Funcs(template.FuncMap{"sq": shellQuote, "commands": func() string { return strings.Join(Commands, " ") }}).
	ParseFS(templateFS, "*.sh.tmpl"))

// Script renders the POSIX sh script that installs and starts the agent.
// It runs as root (over SSH, or as user-data at first boot) and may be run
// again: see the package documentation.
func Script(c Config) (string, error) {
	s, _, err := script(c)
	return s, err
}

func script(c Config) (string, *view, error) {
	v, err := c.view()
	if err != nil {
		return "", nil, err
	}
	s, err := render("bootstrap.sh.tmpl", v)
	return s, v, err
}

// UserData renders the script as cloud-init user-data: cloud-init runs a
// user-data that starts with "#!" as a script at first boot. It fails when
// the script exceeds MaxUserData.
func UserData(c Config) (string, error) {
	s, v, err := script(c)
	if err != nil {
		return "", err
	}
	if len(s) > MaxUserData {
		return "", fmt.Errorf("bootstrap: the user-data is %d bytes, %d over the %d-byte limit (EC2's); the CA PEM takes %d of them",
			len(s), len(s)-MaxUserData, MaxUserData, len(v.CAPEM))
	}
	return s, nil
}

// UninstallScript renders the script that stops the agent and removes
// everything Script installed. Only Config.Root, Deployment and Instance
// (or Node) matter to it, so a machine can be cleaned up without its
// token. With Deployment and Instance (or Node) set it is guarded: it
// removes the agent only if the host is that instance's (that node's pool
// machine's) or nobody's, and otherwise exits with ExitOwnedByOther,
// leaving everything in place. With all empty it removes whatever agent
// is installed.
func UninstallScript(c Config) (string, error) {
	root, err := checkRoot(c.Root)
	if err != nil {
		return "", err
	}
	v := &view{What: "uninstaller", Root: root}
	if c.Deployment != "" || c.Instance != "" || c.Node != "" {
		if v.Owner, err = c.owner(); err != nil {
			return "", err
		}
	}
	return render("uninstall.sh.tmpl", v)
}

// ExitOwnedByOther is the status with which the bootstrap and the guarded
// uninstall script refuse a host that belongs to another deployment or
// instance.
const ExitOwnedByOther = 3

// OwnerScript renders a script that prints who owns the host, as
// "<deployment> <instance>" (see ParseOwner; a pool machine's instance is
// "<node>.pool", PoolOwner), or nothing when no agent is installed. It
// reads neither the token nor anything else secret.
func OwnerScript(c Config) (string, error) {
	root, err := checkRoot(c.Root)
	if err != nil {
		return "", err
	}
	return render("owner.sh.tmpl", &view{What: "owner check", Root: root})
}

// ParseOwner splits what OwnerScript printed into the deployment and the
// instance (PoolOwner(node) for a pool's machine); ok is false when the
// host is free.
func ParseOwner(out string) (deployment, instance string, ok bool) {
	out = strings.TrimSpace(out)
	i := strings.LastIndexByte(out, ' ')
	if out == "" || i < 0 {
		return "", out, out != ""
	}
	return out[:i], out[i+1:], true
}

// PoolOwner is the instance part of a pool machine's owner line
// ("<deployment> <node>.pool"): a pool machine is a cloud machine, which
// nobody adopts over SSH, and it learns its instance only from the
// coordinator, after the bootstrap.
func PoolOwner(node string) string { return node + ".pool" }

// owner is the owner file's line for c, checked as Script checks it.
func (c Config) owner() (string, error) {
	if err := checkText(c.Deployment); err != nil || c.Deployment == "" {
		return "", fmt.Errorf("bootstrap: Config.Deployment %q: empty or not text", c.Deployment)
	}
	if err := c.checkIdentity(); err != nil {
		return "", err
	}
	if c.Instance == "" {
		return c.Deployment + " " + PoolOwner(c.Node), nil
	}
	return c.Deployment + " " + c.Instance, nil
}

// checkIdentity checks that c is one instance's or a pool's: exactly one
// of Instance and Node, well formed.
func (c Config) checkIdentity() error {
	switch {
	case c.Instance != "" && c.Node != "":
		return fmt.Errorf("bootstrap: Config.Instance (%q) and Config.Node (%q) are both set: a machine is either one instance's, or one of a node's pool, which learns its instance from the coordinator", c.Instance, c.Node)
	case c.Node != "":
		if !nodeRE.MatchString(c.Node) {
			return fmt.Errorf("bootstrap: Config.Node %q is not a node name (letters, digits and _)", c.Node)
		}
	case c.Instance == "":
		return errors.New("bootstrap: Config.Instance is empty: set it (one instance's machine), or Config.Node (a machine of the node's pool)")
	case !instanceRE.MatchString(c.Instance):
		return fmt.Errorf("bootstrap: Config.Instance %q is not a node instance name such as web.2 (node name, dot, index)", c.Instance)
	}
	return nil
}

func render(name string, v *view) (string, error) {
	var b strings.Builder
	if err := templates.ExecuteTemplate(&b, name, v); err != nil {
		return "", fmt.Errorf("bootstrap: rendering %s: %v", name, err)
	}
	return b.String(), nil
}

// shellQuote makes s one sh word that stands for itself: inside single
// quotes nothing is special but the single quote, which is closed, escaped
// and reopened. Validation has ruled out NUL, which no sh word can hold.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

var (
	// instanceRE is the coordinator's node name (\w+) and index.
	instanceRE = regexp.MustCompile(`^[A-Za-z0-9_]+\.[0-9]+$`)
	nodeRE     = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	sha256RE   = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// view checks c and prepares what the bootstrap template needs. It reports
// every problem, not just the first, so a caller fixes them in one go.
func (c Config) view() (*view, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("bootstrap: "+format, args...))
	}
	required := func(field, value string) bool {
		if value == "" {
			bad("Config.%s is empty", field)
			return false
		}
		return true
	}

	if required("ServiceURL", c.ServiceURL) {
		if err := checkURL(c.ServiceURL); err != nil {
			bad("Config.ServiceURL: %v", err)
		}
	}
	if required("Deployment", c.Deployment) {
		if err := checkText(c.Deployment); err != nil {
			bad("Config.Deployment: %v", err)
		}
	}
	if err := c.checkIdentity(); err != nil {
		errs = append(errs, err)
	}
	// The agent sends the token in an HTTP header: visible ASCII only.
	if required("Token", c.Token) && strings.IndexFunc(c.Token, func(r rune) bool { return r < '!' || r > '~' }) >= 0 {
		bad("Config.Token holds a character other than visible ASCII")
	}
	if err := checkText(c.Cloud); err != nil {
		bad("Config.Cloud: %v", err)
	}

	// tlsutil accepts fingerprints with colons or in upper case; the file
	// gets the plain form.
	fp := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(c.CAFingerprint), ":", ""))
	if fp != "" && !sha256RE.MatchString(fp) {
		bad("Config.CAFingerprint %q is not a hex SHA-256 (64 hex digits)", c.CAFingerprint)
	}
	caPEM, fps, err := parseCAPEM(c.CAPEM)
	if err != nil {
		bad("Config.CAPEM: %v", err)
	} else if fp != "" && sha256RE.MatchString(fp) && len(fps) > 0 && !slices.Contains(fps, fp) {
		// The agent would pin one CA while the download trusted another.
		bad("Config.CAFingerprint %s matches no certificate in Config.CAPEM (%s)", fp, strings.Join(fps, ", "))
	}

	sums := map[string]string{}
	if len(c.AgentSHA256) == 0 {
		bad(`Config.AgentSHA256 is empty: it needs the agent's sha256 for "amd64" and/or "arm64"`)
	}
	for arch, sum := range c.AgentSHA256 {
		if arch != "amd64" && arch != "arm64" {
			bad(`Config.AgentSHA256 has the architecture %q: want "amd64" or "arm64"`, arch)
			continue
		}
		sum = strings.ToLower(strings.TrimSpace(sum))
		if !sha256RE.MatchString(sum) {
			bad("Config.AgentSHA256[%q] = %q is not a hex SHA-256 (64 hex digits)", arch, c.AgentSHA256[arch])
			continue
		}
		sums[arch] = sum
	}
	archs := make([]string, 0, len(sums))
	for arch := range sums {
		archs = append(archs, arch)
	}
	slices.Sort(archs)

	agentURL := c.AgentURL
	switch {
	case c.AgentPath != "" && c.AgentURL != "":
		bad("Config.AgentPath and Config.AgentURL are both set: the agent is either on the host already or downloaded")
	case c.AgentPath != "":
		if !path.IsAbs(c.AgentPath) {
			bad("Config.AgentPath %q is not an absolute path", c.AgentPath)
		} else if err := checkText(c.AgentPath); err != nil {
			bad("Config.AgentPath: %v", err)
		}
	case c.AgentURL != "":
		if err := checkURL(c.AgentURL); err != nil {
			bad("Config.AgentURL: %v", err)
		}
	default:
		agentURL = strings.TrimRight(c.ServiceURL, "/") + "/v1/agent/linux/"
		// A fingerprint means a private CA, which curl and wget cannot
		// trust without the certificate itself.
		if fp != "" && c.CAPEM == "" && strings.HasPrefix(strings.ToLower(c.ServiceURL), "https:") {
			bad("Config.CAFingerprint is set but Config.CAPEM is empty: the agent download from %s cannot verify the coordinator's private CA; pass the CA certificate", c.ServiceURL)
		}
	}

	root, err := checkRoot(c.Root)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false) // the file is not HTML; keep <, > and & readable
	ac := agentConfig{
		ServiceURL: c.ServiceURL, Deployment: c.Deployment, Instance: c.Instance,
		Token: c.Token, CAFingerprint: fp, Cloud: c.Cloud,
	}
	owner := c.Deployment + " " + c.Instance
	if c.Instance == "" {
		// A pool machine: the agent learns its instance by exchanging
		// the pool token with the machine's id, read from the file
		// cloud-init writes (under Root in tests, as every path).
		ac.Node, ac.MachineIDFile = c.Node, root+MachineIDFile
		owner = c.Deployment + " " + PoolOwner(c.Node)
	}
	if err := enc.Encode(ac); err != nil {
		return nil, fmt.Errorf("bootstrap: encoding agent.json: %v", err)
	}
	if c.AgentPath != "" {
		agentURL = ""
	}
	return &view{
		What: "bootstrap", Root: root, Sums: sums, Archs: strings.Join(archs, ", "),
		URL: agentURL, AgentPath: c.AgentPath, CAPEM: caPEM,
		JSON:  strings.TrimSuffix(js.String(), "\n"),
		Owner: owner,
	}, nil
}

// checkText rejects what a value cannot carry safely: invalid UTF-8 (JSON
// would replace it, so the agent would see another string), NUL (no sh
// word can hold it) and other control characters (values end up in
// environment variables, log lines and URLs).
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%q is not valid UTF-8", s)
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		return fmt.Errorf("%q holds the control character %U at byte %d", s, []rune(s[i:])[0], i)
	}
	return nil
}

// checkURL accepts an http or https URL to which paths can be appended.
func checkURL(s string) error {
	if err := checkText(s); err != nil {
		return err
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q is not an http or https URL", s)
	case u.Host == "":
		return fmt.Errorf("%q has no host", s)
	case u.User != nil:
		// It would show in curl's command line to every local user.
		return fmt.Errorf("%q carries credentials; the agent authenticates with its token", s)
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#"):
		return fmt.Errorf("%q has a query or fragment, to which no path can be appended", s)
	}
	return nil
}

// checkRoot returns the install root without a trailing slash; "/" is the
// same as "".
func checkRoot(root string) (string, error) {
	if root == "" {
		return "", nil
	}
	if err := checkText(root); err != nil {
		return "", fmt.Errorf("bootstrap: Config.Root: %v", err)
	}
	if !path.IsAbs(root) {
		return "", fmt.Errorf("bootstrap: Config.Root %q is not an absolute path", root)
	}
	root = path.Clean(root)
	if root == "/" {
		return "", nil
	}
	return root, nil
}

// parseCAPEM returns the certificates of a PEM bundle re-encoded without
// headers or surrounding text, and their fingerprints. Anything but
// certificates is refused: a private key pasted by mistake must not travel
// in user-data.
func parseCAPEM(s string) (string, []string, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil, nil
	}
	var out bytes.Buffer
	var fps []string
	rest := []byte(s)
	for {
		block, r := pem.Decode(rest)
		if block == nil {
			break
		}
		rest = r
		if block.Type != "CERTIFICATE" {
			return "", nil, fmt.Errorf("block %d is a %q, not a CERTIFICATE", len(fps)+1, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return "", nil, fmt.Errorf("certificate %d: %v", len(fps)+1, err)
		}
		sum := sha256.Sum256(cert.Raw)
		fps = append(fps, hex.EncodeToString(sum[:]))
		if err := pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}); err != nil {
			return "", nil, err
		}
	}
	if len(fps) == 0 {
		return "", nil, errors.New("no PEM certificate found")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return "", nil, fmt.Errorf("text after certificate %d is not PEM", len(fps))
	}
	return out.String(), fps, nil
}
