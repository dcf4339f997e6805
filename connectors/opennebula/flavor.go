package opennebula

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// flavor is what differs between OpenNebula and StratusLab: where the
// credentials come from, how the endpoint is reached, how a VM is
// contextualized, and how it is sized.
type flavor struct {
	// name is the connector's name in errors.
	name string
	// credentials finds the endpoint and credentials from the provider
	// settings, the environment and the flavor's files.
	credentials func(s connectors.Settings, getenv func(string) string, home func() (string, error)) (rpcConfig, error)
	// context is the CONTEXT of a machine (see context.go).
	context func(c machineContext) ([]pair, error)
	// keyVar is the CONTEXT variable that holds the SSH key as given,
	// which Describe reports back as the ssh_public_key setting.
	keyVar string
	// defaultNetwork is the network a VM from an image gets when the
	// network setting is empty ("" for the one network the user can use).
	defaultNetwork string
	// instanceTypes are the fixed sizes offered; nil sizes VMs freely
	// (one Free offer from the user's quota).
	instanceTypes []instanceType
	// defaultType is the instance type of a machine that asks for no
	// size and names no type.
	defaultType string
	// marketplace resolves StratusLab Marketplace identifiers as image
	// ids (stratuslab.go).
	marketplace bool
}

// rpcConfig is how to reach the XML-RPC endpoint.
type rpcConfig struct {
	endpoint string
	username string
	password string
	// basicAuth sends the credentials as HTTP Basic authentication too,
	// as StratusLab's authenticating proxy wants them.
	basicAuth bool
}

// openNebula is the flavor of a plain OpenNebula front-end.
var openNebula = &flavor{
	name:        Name,
	credentials: openNebulaCredentials,
	context:     openNebulaContext,
	keyVar:      "SSH_PUBLIC_KEY",
}

// openNebulaCredentials: each setting, else the Terraform provider's
// variable, else the CLI's (ONE_XMLRPC, the ONE_AUTH file), else the CLI's
// default endpoint.
func openNebulaCredentials(s connectors.Settings, getenv func(string) string, home func() (string, error)) (rpcConfig, error) {
	first := func(vals ...string) string {
		for _, v := range vals {
			if v != "" {
				return v
			}
		}
		return ""
	}
	endpoint := first(s.String("endpoint"), getenv(EnvEndpoint), getenv(EnvXMLRPC), DefaultEndpoint)
	if err := checkEndpoint(endpoint); err != nil {
		return rpcConfig{}, err
	}
	user := first(s.String("username"), getenv(EnvUsername))
	pass := first(s.String("password"), getenv(EnvPassword))
	if user == "" && pass == "" {
		var err error
		user, pass, err = readOneAuth(getenv, home)
		if err != nil {
			return rpcConfig{}, err
		}
	}
	if user == "" {
		return rpcConfig{}, fmt.Errorf("no username: set the provider setting \"username\", the environment variable %s, or a %s file", EnvUsername, EnvAuth)
	}
	if pass == "" {
		return rpcConfig{}, fmt.Errorf("no password for user %q: set the provider setting \"password\" (a password or a login token), the environment variable %s, or a %s file", user, EnvPassword, EnvAuth)
	}
	return rpcConfig{endpoint: endpoint, username: user, password: pass}, nil
}

// readOneAuth reads "user:password" from the first line of the file
// ONE_AUTH names, or of ~/.one/one_auth, as OpenNebula's CLI does.
func readOneAuth(getenv func(string) string, home func() (string, error)) (user, pass string, err error) {
	path := getenv(EnvAuth)
	if path == "" {
		dir, herr := home()
		if herr != nil {
			return "", "", fmt.Errorf("no credentials: set the provider settings \"username\" and \"password\", or %s and %s, or %s (no home folder to find ~/.one/one_auth: %v)", EnvUsername, EnvPassword, EnvAuth, herr)
		}
		path = filepath.Join(dir, ".one", "one_auth")
	}
	f, err := os.Open(path) // #nosec G304 -- the user's own credentials file, named by ONE_AUTH as OpenNebula's CLI reads it
	if errors.Is(err, fs.ErrNotExist) {
		return "", "", fmt.Errorf("no credentials: set the provider settings \"username\" and \"password\", or %s and %s, or %s (%s does not exist)", EnvUsername, EnvPassword, EnvAuth, path)
	}
	if err != nil {
		return "", "", fmt.Errorf("reading the credentials file %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	line := ""
	if sc.Scan() {
		line = strings.TrimSpace(sc.Text())
	}
	if err := sc.Err(); err != nil {
		return "", "", fmt.Errorf("reading the credentials file %s: %w", path, err)
	}
	user, pass, ok := strings.Cut(line, ":")
	if !ok || user == "" || pass == "" {
		// The line is not shown: it holds the password.
		return "", "", fmt.Errorf("the credentials file %s does not begin with a line \"user:password\"", path)
	}
	return user, pass, nil
}

// checkEndpoint refuses what cannot be an XML-RPC endpoint, and
// credentials in the URL, which would show in errors: they belong in
// username and password.
func checkEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("endpoint %q is not a URL: %w", endpoint, err)
	}
	if u.User != nil {
		return errors.New("the endpoint URL holds credentials: give them as username and password instead")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("endpoint %q is not an http or https URL, such as %s", endpoint, DefaultEndpoint)
	}
	return nil
}
