package openstack

import (
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v2"
)

// cloudEntry is the part of a clouds.yaml entry the connector reads.
//
// gophercloud's openstack/config/clouds package would read it, but it
// imports gopkg.in/yaml.v2, which this module's go.sum does not hold;
// until it does, this file reads the same files, in the same places, with
// the same yaml v2 code under its new import path. Swapping it for
// clouds.Parse later changes nothing for users.
type cloudEntry struct {
	Auth struct {
		AuthURL                     string `yaml:"auth_url"`
		Username                    string `yaml:"username"`
		Password                    string `yaml:"password"`
		ProjectName                 string `yaml:"project_name"`
		ProjectID                   string `yaml:"project_id"`
		UserDomainName              string `yaml:"user_domain_name"`
		ProjectDomainName           string `yaml:"project_domain_name"`
		DomainName                  string `yaml:"domain_name"`
		ApplicationCredentialID     string `yaml:"application_credential_id"`
		ApplicationCredentialSecret string `yaml:"application_credential_secret"`
	} `yaml:"auth"`
	RegionName string `yaml:"region_name"`
	CACert     string `yaml:"cacert"`
	Verify     *bool  `yaml:"verify"`
}

type cloudsFile struct {
	Clouds map[string]cloudEntry `yaml:"clouds"`
}

// cloudsYAMLLocations are where clouds.yaml is looked for, as gophercloud
// and python-openstackclient look: only OS_CLIENT_CONFIG_FILE when it is
// set; else the working directory, the user's configuration folder
// (XDG_CONFIG_HOME or ~/.config) and /etc, each under openstack/.
func cloudsYAMLLocations(getenv func(string) string) []string {
	if p := getenv("OS_CLIENT_CONFIG_FILE"); p != "" {
		return []string{p}
	}
	var locs []string
	if wd, err := os.Getwd(); err == nil {
		locs = append(locs, filepath.Join(wd, "clouds.yaml"))
	}
	config := getenv("XDG_CONFIG_HOME")
	if config == "" {
		if home, err := os.UserHomeDir(); err == nil {
			config = filepath.Join(home, ".config")
		}
	}
	if config != "" {
		locs = append(locs, filepath.Join(config, "openstack", "clouds.yaml"))
	}
	return append(locs, "/etc/openstack/clouds.yaml")
}

// loadCloud reads the entry name from the first clouds.yaml found, with
// what secure.yaml beside it adds (secrets kept apart), secure.yaml
// winning where both set a value.
func loadCloud(name string, getenv func(string) string) (*cloudEntry, string, error) {
	locs := cloudsYAMLLocations(getenv)
	for _, path := range locs {
		b, err := os.ReadFile(path) // #nosec G304 -- OpenStack's clouds.yaml search path: OS_CLIENT_CONFIG_FILE, the working folder, the user's and /etc's
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, path, err
		}
		var file cloudsFile
		if err := yaml.Unmarshal(b, &file); err != nil {
			return nil, path, fmt.Errorf("%s: %w", path, err)
		}
		entry, ok := file.Clouds[name]
		if !ok {
			return nil, path, fmt.Errorf("%s has no cloud named %q", path, name)
		}
		secure := filepath.Join(filepath.Dir(path), "secure.yaml")
		if b, err := os.ReadFile(secure); err == nil { // #nosec G304 -- secure.yaml beside the clouds.yaml found above, as OpenStack's tools read it
			var sf cloudsFile
			if err := yaml.Unmarshal(b, &sf); err != nil {
				return nil, path, fmt.Errorf("%s: %w", secure, err)
			}
			if s, ok := sf.Clouds[name]; ok {
				entry = overlay(s, entry)
			}
		}
		return &entry, path, nil
	}
	return nil, "", fmt.Errorf("no clouds.yaml found (looked for %v)", locs)
}

// overlay is base with every value top sets.
func overlay(top, base cloudEntry) cloudEntry {
	pick := func(a, b string) string { return coalesce(a, b) }
	a, b := &top.Auth, &base.Auth
	b.AuthURL, b.Username, b.Password = pick(a.AuthURL, b.AuthURL), pick(a.Username, b.Username), pick(a.Password, b.Password)
	b.ProjectName, b.ProjectID = pick(a.ProjectName, b.ProjectName), pick(a.ProjectID, b.ProjectID)
	b.UserDomainName, b.ProjectDomainName = pick(a.UserDomainName, b.UserDomainName), pick(a.ProjectDomainName, b.ProjectDomainName)
	b.DomainName = pick(a.DomainName, b.DomainName)
	b.ApplicationCredentialID = pick(a.ApplicationCredentialID, b.ApplicationCredentialID)
	b.ApplicationCredentialSecret = pick(a.ApplicationCredentialSecret, b.ApplicationCredentialSecret)
	base.RegionName = pick(top.RegionName, base.RegionName)
	base.CACert = pick(top.CACert, base.CACert)
	if top.Verify != nil {
		base.Verify = top.Verify
	}
	return base
}

// coalesce is the first non-empty string.
func coalesce(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
