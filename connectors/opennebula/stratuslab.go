package opennebula

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/OpenNebula/one/src/oca/go/src/goca/parameters"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/image"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// StratusLab (2010–2014, stratuslab.eu) ran OpenNebula behind an
// authenticating proxy, and its client, stratus-run-instance
// (github.com/StratusLab/client), had conventions of its own. NewStratusLab
// is this connector with those conventions, so that a recipe written for
// StratusLab (connector = "stratuslab") runs on the OpenNebula cloud that
// took its place:
//
//   - Endpoint: the endpoint setting, else STRATUSLAB_ENDPOINT, else
//     "endpoint" in ~/.stratuslab/stratuslab-user.cfg. A bare host name
//     is StratusLab's one-proxy on it, https://<host>:2634/xmlrpc (the
//     client's rule). An endpoint whose path ends in /xmlrpc is a
//     one-proxy: the credentials go as HTTP Basic authentication to its
//     /pswd/xmlrpc path, as the client sent them; any other URL (an
//     OpenNebula front-end's …/RPC2) is spoken to as OpenNebula.
//   - Credentials: the settings, else STRATUSLAB_USERNAME and
//     STRATUSLAB_PASSWORD, else the user configuration file (its
//     [default] section, then the section selected_section or
//     STRATUSLAB_USER_CONFIG_SECTION names).
//   - Contextualization: StratusLab's "cloud-init" method —
//     CONTEXT_METHOD="cloud-init", CLOUD_INIT_USER_DATA (the user-data
//     gzipped, in base64, at most 16 KB gzipped) and
//     CLOUD_INIT_AUTHORIZED_KEYS (an authorized_keys file, in base64) —
//     and PUBLIC_KEY for images contextualized the OpenNebula/HEPiX way.
//   - Sizing: StratusLab's instance types (t1.micro … c1.xlarge: cores,
//     memory and swap) and those of the configuration file's
//     [instance_types] section, chosen by the instance_type setting or
//     from the size asked for (default_instance_type of the file, else
//     m1.small, when none is asked for); the swap becomes a swap disk.
//   - Network: "public" (StratusLab's default) unless the network setting
//     names another.
//   - Images: besides OpenNebula image ids and template:<id>, a
//     Marketplace identifier ("BN1EEkPiBx87_uLj2-sdybSI-Xb") names the
//     image the cloud imported it as: the one image the user can use whose
//     template has STRATUSLAB_MARKETPLACE_ID set to it. The Marketplace
//     itself (marketplace.stratuslab.eu) is gone.
//
// StratusLab's reference cloud (cloud.lal.stratuslab.eu) is gone too, so
// no endpoint is assumed.

// StratusLabName is the StratusLab connector's name in the catalog and in
// errors.
const StratusLabName = "stratuslab"

// StratusLab's environment variables (the client's AuthnCommand and Util).
const (
	EnvStratusLabEndpoint = "STRATUSLAB_ENDPOINT"
	EnvStratusLabUsername = "STRATUSLAB_USERNAME"
	EnvStratusLabPassword = "STRATUSLAB_PASSWORD"
	EnvStratusLabSection  = "STRATUSLAB_USER_CONFIG_SECTION"
)

// StratusLab's defaults.
const (
	// stratusLabProxyPort and stratusLabProxyPath make the endpoint of a
	// bare host name (the client's setEndpointFromParts).
	stratusLabProxyPort = "2634"
	stratusLabProxyPath = "xmlrpc"
	// stratusLabConfig is the client's user configuration, under $HOME.
	stratusLabConfig = ".stratuslab/stratuslab-user.cfg"
	// StratusLabNetwork is the network a VM gets (the client's "public",
	// owned by oneadmin).
	StratusLabNetwork = "public"
	// StratusLabDefaultType is the client's default instance type.
	StratusLabDefaultType = "m1.small"
	// stratusLabMaxUserData is the client's limit of the gzipped
	// user-data (cloudinit/Util.py, MAX_BYTES).
	stratusLabMaxUserData = 16384
	// MarketplaceAttr is the image template attribute that says which
	// Marketplace image an OpenNebula image is.
	MarketplaceAttr = "STRATUSLAB_MARKETPLACE_ID"
)

// instanceType is a fixed size: cores, memory and swap in MiB.
type instanceType struct {
	Name                  string
	CPU, RAMMB, SwapMB    int
	fromConfigurationFile bool
}

// stratusLabTypes are the client's instance types (vm_manager.py,
// getDefaultInstanceTypes).
var stratusLabTypes = []instanceType{
	{Name: "t1.micro", CPU: 1, RAMMB: 512, SwapMB: 512},
	{Name: "m1.small", CPU: 1, RAMMB: 1536, SwapMB: 1536},
	{Name: "m1.medium", CPU: 1, RAMMB: 3072, SwapMB: 3072},
	{Name: "m1.large", CPU: 2, RAMMB: 6144, SwapMB: 6144},
	{Name: "m1.xlarge", CPU: 4, RAMMB: 8192, SwapMB: 8192},
	{Name: "c1.medium", CPU: 2, RAMMB: 1536, SwapMB: 1536},
	{Name: "c1.xlarge", CPU: 4, RAMMB: 6144, SwapMB: 6144},
}

// NewStratusLab makes the connector with StratusLab's defaults (above)
// from the catalog's provider settings of the stratuslab connector. It
// does not call the API.
func NewStratusLab(ctx context.Context, settings connectors.Settings) (connectors.Connector, error) {
	return newStratusLab(settings, os.Getenv, os.UserHomeDir)
}

func newStratusLab(settings connectors.Settings, getenv func(string) string, home func() (string, error)) (*Connector, error) {
	cfg, err := readStratusLabConfig(getenv, home)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", StratusLabName, err)
	}
	fl := &flavor{
		name: StratusLabName, context: stratusLabContext, keyVar: "PUBLIC_KEY",
		defaultNetwork: StratusLabNetwork, marketplace: true,
		instanceTypes: append(slices.Clone(stratusLabTypes), cfg.instanceTypes()...),
		defaultType:   StratusLabDefaultType,
	}
	if t := cfg["default_instance_type"]; t != "" {
		fl.defaultType = t
	}
	fl.credentials = func(s connectors.Settings, getenv func(string) string, _ func() (string, error)) (rpcConfig, error) {
		return stratusLabCredentials(s, getenv, cfg)
	}
	return newConnector(settings, fl, getenv, home)
}

func stratusLabCredentials(s connectors.Settings, getenv func(string) string, cfg iniSection) (rpcConfig, error) {
	first := func(setting, env, key string) string {
		if v := s.String(setting); v != "" {
			return v
		}
		if v := getenv(env); v != "" {
			return v
		}
		return cfg[key]
	}
	endpoint := first("endpoint", EnvStratusLabEndpoint, "endpoint")
	if endpoint == "" {
		return rpcConfig{}, fmt.Errorf("no endpoint: set the provider setting \"endpoint\" (the front-end's host name, or a URL), the environment variable %s, or endpoint in ~/%s",
			EnvStratusLabEndpoint, stratusLabConfig)
	}
	url, proxy, err := stratusLabEndpoint(endpoint)
	if err != nil {
		return rpcConfig{}, err
	}
	user, pass := first("username", EnvStratusLabUsername, "username"), first("password", EnvStratusLabPassword, "password")
	if user == "" {
		return rpcConfig{}, fmt.Errorf("no username: set the provider setting \"username\", the environment variable %s, or username in ~/%s", EnvStratusLabUsername, stratusLabConfig)
	}
	if pass == "" {
		return rpcConfig{}, fmt.Errorf("no password for user %q: set the provider setting \"password\", the environment variable %s, or password in ~/%s", user, EnvStratusLabPassword, stratusLabConfig)
	}
	return rpcConfig{endpoint: url, username: user, password: pass, basicAuth: proxy}, nil
}

// stratusLabEndpoint is the URL of a StratusLab endpoint setting, and
// whether it is a one-proxy (see the comment at the top of this file).
func stratusLabEndpoint(endpoint string) (string, bool, error) {
	if !strings.Contains(endpoint, "://") {
		host := endpoint
		if _, _, err := net.SplitHostPort(host); err != nil {
			host = net.JoinHostPort(strings.Trim(host, "[]"), stratusLabProxyPort)
		}
		endpoint = "https://" + host + "/" + stratusLabProxyPath
	}
	if err := checkEndpoint(endpoint); err != nil {
		return "", false, err
	}
	u, _ := url.Parse(endpoint) // checked above
	if path.Base(u.Path) != stratusLabProxyPath {
		return endpoint, false, nil
	}
	if dir := path.Dir(u.Path); path.Base(dir) != "pswd" {
		u.Path = path.Join(dir, "pswd", stratusLabProxyPath)
	}
	return u.String(), true, nil
}

// stratusLabContext is the client's "cloud-init" contextualization
// (cloudinit/Util.py, context_file; tm/TMContext.py read it back on the
// hosts): the user-data gzipped and in base64 (as the client's "none"
// pseudo-type sent a single part, unwrapped), an authorized_keys file in
// base64, and PUBLIC_KEY for images contextualized the HEPiX way.
func stratusLabContext(m machineContext) ([]pair, error) {
	ps := []pair{{"NETWORK", "YES"}, {"SET_HOSTNAME", m.Hostname}, {"CONTEXT_METHOD", "cloud-init"}}
	if m.SSHKey != "" {
		ps = append(ps, pair{"PUBLIC_KEY", m.SSHKey},
			pair{"CLOUD_INIT_AUTHORIZED_KEYS", base64.StdEncoding.EncodeToString([]byte(strings.TrimSpace(m.SSHKey) + "\n"))})
	}
	if m.UserData != "" {
		var b bytes.Buffer
		zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
		if err != nil {
			return nil, err
		}
		if _, err := zw.Write([]byte(m.UserData)); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		if b.Len() > stratusLabMaxUserData {
			return nil, fmt.Errorf("the user-data is %d bytes gzipped; StratusLab's cloud-init contextualization takes at most %d", b.Len(), stratusLabMaxUserData)
		}
		ps = append(ps, pair{"CLOUD_INIT_USER_DATA", base64.StdEncoding.EncodeToString(b.Bytes())})
	}
	return ps, nil
}

// marketplaceID is the form of a Marketplace identifier: 27 characters of
// URL-safe base64 (a SHA-1 of the image).
var marketplaceID = regexp.MustCompile(`^[A-Za-z0-9_-]{27}$`)

func isMarketplaceID(s string) bool { return marketplaceID.MatchString(s) }

// marketplaceImage is the image of a Marketplace identifier: the one
// image the user can use whose template's STRATUSLAB_MARKETPLACE_ID is it.
func (c *Connector) marketplaceImage(ctx context.Context, id string) (int, error) {
	images, err := guard(c, opImages, func() ([]image.Image, error) {
		pool, err := c.one.Images().InfoContext(ctx, parameters.PoolWhoAll, -1, -1)
		if err != nil {
			return nil, err
		}
		return pool.Images, nil
	})
	if err != nil {
		return -1, err
	}
	var found []string
	img := -1
	for _, im := range images {
		if v, err := im.Template.GetStr(MarketplaceAttr); err == nil && v == id {
			found = append(found, fmt.Sprintf("%d (%s)", im.ID, im.Name))
			img = im.ID
		}
	}
	switch len(found) {
	case 1:
		return img, nil
	case 0:
		return -1, c.permanent(opImages, "InvalidImage", "no image the user can use is StratusLab Marketplace image %s: import the image into an OpenNebula datastore "+
			"and set %s = %q in its template (oneimage update), or give its OpenNebula image id", id, MarketplaceAttr, id)
	}
	return -1, c.permanent(opImages, "InvalidImage", "several images are StratusLab Marketplace image %s (%s): give the OpenNebula image id of one", id, strings.Join(found, ", "))
}

// imageHint completes the message about an image id the flavor cannot
// read.
func (f *flavor) imageHint() string {
	if f.marketplace {
		return ", nor a StratusLab Marketplace identifier (27 letters, digits, - and _)"
	}
	return ""
}

// offers are the flavor's instance types as offers.
func (f *flavor) offers() []connectors.Offer {
	out := make([]connectors.Offer, 0, len(f.instanceTypes))
	for _, t := range f.instanceTypes {
		out = append(out, connectors.Offer{Name: t.Name, CPU: t.CPU, RAMMB: t.RAMMB})
	}
	return out
}

// instanceType finds an instance type by name; those of the
// configuration file win over the client's own of the same name.
func (f *flavor) instanceType(name string) (instanceType, bool) {
	found, ok := instanceType{}, false
	for _, t := range f.instanceTypes {
		if t.Name == name && (!ok || t.fromConfigurationFile) {
			found, ok = t, true
		}
	}
	return found, ok
}

func (f *flavor) instanceTypeNames() string {
	var names []string
	for _, t := range f.instanceTypes {
		if !slices.Contains(names, t.Name) {
			names = append(names, t.Name)
		}
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// iniSection is the selected section of StratusLab's user configuration
// over its [default] section, with the [instance_types] section apart.
type iniSection map[string]string

// instanceTypes are the configuration's [instance_types]: "name = cpu,
// ram, swap" (MiB); entries that are not three numbers with cpu and ram
// positive are ignored, as the client ignored them.
func (s iniSection) instanceTypes() []instanceType {
	var out []instanceType
	digits := regexp.MustCompile(`\d+`)
	for k, v := range s {
		name, ok := strings.CutPrefix(k, "instance_types.")
		if !ok {
			continue
		}
		nums := digits.FindAllString(v, -1)
		if len(nums) != 3 {
			continue
		}
		cpu, _ := strconv.Atoi(nums[0])
		ram, _ := strconv.Atoi(nums[1])
		swap, _ := strconv.Atoi(nums[2])
		if cpu > 0 && ram > 0 {
			out = append(out, instanceType{Name: name, CPU: cpu, RAMMB: ram, SwapMB: swap, fromConfigurationFile: true})
		}
	}
	slices.SortFunc(out, func(a, b instanceType) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// readStratusLabConfig reads ~/.stratuslab/stratuslab-user.cfg, a Python
// ConfigParser file: its [default] section, then the selected section
// over it; the [instance_types] section's entries as
// "instance_types.<name>". A missing file is an empty configuration.
func readStratusLabConfig(getenv func(string) string, home func() (string, error)) (iniSection, error) {
	dir, err := home()
	if err != nil {
		return iniSection{}, nil // no home, no configuration file: settings and variables only
	}
	file := path.Join(dir, stratusLabConfig)
	data, err := os.ReadFile(file) // #nosec G304 -- the user's own StratusLab configuration, where the StratusLab client kept it
	if os.IsNotExist(err) {
		return iniSection{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	sections, err := parseINI(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	out := iniSection{}
	for k, v := range sections["default"] {
		out[k] = v
	}
	selected := getenv(EnvStratusLabSection)
	if selected == "" {
		selected = out["selected_section"]
	}
	if selected != "" {
		sec, ok := sections[selected]
		if !ok {
			return nil, fmt.Errorf("%s: the selected section [%s] does not exist", file, selected)
		}
		for k, v := range sec {
			out[k] = v
		}
	}
	for k, v := range sections["instance_types"] {
		out["instance_types."+k] = v
	}
	return out, nil
}

// parseINI reads what Python's ConfigParser reads: [section] headers,
// "key = value" or "key: value" options (keys lower-cased), continuation
// lines, comments starting with # or ; (and " ;" after a value), and
// SafeConfigParser's interpolation: %% is a percent sign, %(key)s the
// value of another key of the section.
func parseINI(data string) (map[string]map[string]string, error) {
	sections := map[string]map[string]string{}
	var cur map[string]string
	lastKey := ""
	for n, line := range strings.Split(data, "\n") {
		line = strings.TrimRight(line, "\r")
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, ";"):
			continue
		case (line[0] == ' ' || line[0] == '\t') && cur != nil && lastKey != "":
			cur[lastKey] += "\n" + trimmed
			continue
		case strings.HasPrefix(trimmed, "["):
			name, ok := strings.CutSuffix(trimmed, "]")
			if !ok {
				return nil, fmt.Errorf("line %d: a section header without its ]", n+1)
			}
			name = strings.TrimPrefix(name, "[")
			if sections[name] == nil {
				sections[name] = map[string]string{}
			}
			cur, lastKey = sections[name], ""
			continue
		}
		if cur == nil {
			return nil, fmt.Errorf("line %d: an option before any [section]", n+1)
		}
		i := strings.IndexAny(line, "=:")
		if i <= 0 {
			return nil, fmt.Errorf("line %d: not \"key = value\"", n+1)
		}
		key := strings.ToLower(strings.TrimSpace(line[:i]))
		val := strings.TrimSpace(line[i+1:])
		if j := strings.Index(val, " ;"); j >= 0 {
			val = strings.TrimSpace(val[:j])
		}
		cur[key], lastKey = val, key
	}
	// Interpolated from the raw values, so that a value read twice (one
	// that another refers to) is expanded once.
	out := map[string]map[string]string{}
	for name, sec := range sections {
		out[name] = map[string]string{}
		for k, v := range sec {
			exp, err := interpolate(v, sec, sections["default"], 0)
			if err != nil {
				return nil, fmt.Errorf("[%s] %s: %w", name, k, err)
			}
			out[name][k] = exp
		}
	}
	return out, nil
}

// interpolate expands SafeConfigParser's %% and %(key)s. Its errors do
// not quote the value, which may be a password.
func interpolate(v string, sec, defaults map[string]string, depth int) (string, error) {
	if depth > 10 {
		return "", fmt.Errorf("interpolation nested too deeply")
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			b.WriteByte(v[i])
			continue
		}
		switch {
		case i+1 < len(v) && v[i+1] == '%':
			b.WriteByte('%')
			i++
		case i+1 < len(v) && v[i+1] == '(':
			end := strings.Index(v[i:], ")s")
			if end < 0 {
				return "", fmt.Errorf("a %%( without its )s")
			}
			name := strings.ToLower(v[i+2 : i+end])
			ref, ok := sec[name]
			if !ok {
				ref, ok = defaults[name]
			}
			if !ok {
				return "", fmt.Errorf("it refers to %s, which is not set", name)
			}
			out, err := interpolate(ref, sec, defaults, depth+1)
			if err != nil {
				return "", err
			}
			b.WriteString(out)
			i += end + 1
		default:
			return "", fmt.Errorf("a %% must be written %%%% (as the StratusLab client's configuration file says)")
		}
	}
	return b.String(), nil
}
