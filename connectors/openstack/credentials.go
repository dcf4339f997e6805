package openstack

import (
	"fmt"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// credentials are what the connector logs in to Keystone v3 with.
type credentials struct {
	AuthURL       string
	Region        string
	User          string
	Password      string
	ProjectName   string
	ProjectID     string
	UserDomain    string
	ProjectDomain string
	AppCredID     string
	AppCredSecret string
	// CACert is a PEM file of the certificate authorities to trust (a
	// private cloud's); Insecure skips verifying the cloud's certificate
	// (clouds.yaml's verify: false).
	CACert   string
	Insecure bool
}

// source is one place credentials come from. Sources are merged value by
// value, the explicit settings first, then the clouds.yaml entry, then
// the OS_* environment variables.
type source struct {
	name string
	credentials
}

func (s source) password() bool { return s.User != "" || s.Password != "" }
func (s source) appCred() bool  { return s.AppCredID != "" }

// resolveCredentials merges the settings, the clouds.yaml entry (named by
// the cloud setting or OS_CLOUD) and the environment. The first source
// that names a credential decides how to log in (an application
// credential, or a user and password), so that a password in the
// environment does not turn an application credential from the settings
// into a half of each.
func resolveCredentials(settings connectors.Settings, getenv func(string) string) (credentials, error) {
	sources := []source{{name: "settings", credentials: credentials{
		AuthURL: settings.String("auth_url"), Region: settings.String("region"),
		User: settings.String("user_name"), Password: settings.String("password"),
		ProjectName: settings.String("project_name"),
		UserDomain:  settings.String("domain_name"), ProjectDomain: settings.String("domain_name"),
		AppCredID: settings.String("application_credential_id"), AppCredSecret: settings.String("application_credential_secret"),
	}}}
	if name := coalesce(settings.String("cloud"), getenv("OS_CLOUD")); name != "" {
		e, path, err := loadCloud(name, getenv)
		if err != nil {
			return credentials{}, configError("cloud", "OS_CLOUD", fmt.Sprintf("cannot read the clouds.yaml entry %q: %v", name, err))
		}
		a := e.Auth
		sources = append(sources, source{name: "clouds.yaml entry " + name + " (" + path + ")", credentials: credentials{
			AuthURL: a.AuthURL, Region: e.RegionName, User: a.Username, Password: a.Password,
			ProjectName: a.ProjectName, ProjectID: a.ProjectID,
			UserDomain: coalesce(a.UserDomainName, a.DomainName), ProjectDomain: coalesce(a.ProjectDomainName, a.DomainName),
			AppCredID: a.ApplicationCredentialID, AppCredSecret: a.ApplicationCredentialSecret,
			CACert: e.CACert, Insecure: e.Verify != nil && !*e.Verify,
		}})
	}
	sources = append(sources, source{name: "environment", credentials: credentials{
		AuthURL: getenv("OS_AUTH_URL"), Region: getenv("OS_REGION_NAME"),
		User: getenv("OS_USERNAME"), Password: getenv("OS_PASSWORD"),
		ProjectName: coalesce(getenv("OS_PROJECT_NAME"), getenv("OS_TENANT_NAME")),
		ProjectID:   coalesce(getenv("OS_PROJECT_ID"), getenv("OS_TENANT_ID")),
		UserDomain:  coalesce(getenv("OS_USER_DOMAIN_NAME"), getenv("OS_DOMAIN_NAME")),
		ProjectDomain: coalesce(getenv("OS_PROJECT_DOMAIN_NAME"), getenv("OS_USER_DOMAIN_NAME"),
			getenv("OS_DOMAIN_NAME")),
		AppCredID: getenv("OS_APPLICATION_CREDENTIAL_ID"), AppCredSecret: getenv("OS_APPLICATION_CREDENTIAL_SECRET"),
		CACert: getenv("OS_CACERT"),
	}})

	var c credentials
	useAppCred := false
	for _, s := range sources {
		if s.appCred() || s.password() {
			useAppCred = s.appCred()
			break
		}
	}
	for _, s := range sources {
		c.AuthURL = coalesce(c.AuthURL, s.AuthURL)
		c.Region = coalesce(c.Region, s.Region)
		c.CACert = coalesce(c.CACert, s.CACert)
		c.Insecure = c.Insecure || s.Insecure
		if useAppCred {
			c.AppCredID = coalesce(c.AppCredID, s.AppCredID)
			c.AppCredSecret = coalesce(c.AppCredSecret, s.AppCredSecret)
			continue
		}
		c.User, c.Password = coalesce(c.User, s.User), coalesce(c.Password, s.Password)
		if c.ProjectName == "" && c.ProjectID == "" { // the project by name or id, from one source
			c.ProjectName, c.ProjectID = s.ProjectName, s.ProjectID
		}
		c.UserDomain, c.ProjectDomain = coalesce(c.UserDomain, s.UserDomain), coalesce(c.ProjectDomain, s.ProjectDomain)
	}
	c.UserDomain = coalesce(c.UserDomain, "Default")
	c.ProjectDomain = coalesce(c.ProjectDomain, "Default")

	switch {
	case c.AuthURL == "":
		return c, configError("auth_url", "OS_AUTH_URL", "no Keystone v3 URL (or a clouds.yaml entry named by cloud or OS_CLOUD that has one)")
	case useAppCred && c.AppCredSecret == "":
		return c, configError("application_credential_secret", "OS_APPLICATION_CREDENTIAL_SECRET", "an application credential id without its secret")
	case useAppCred:
	case c.User == "":
		return c, configError("user_name", "OS_USERNAME", "no credentials: give a user name and password, or application_credential_id and application_credential_secret (OS_APPLICATION_CREDENTIAL_ID, OS_APPLICATION_CREDENTIAL_SECRET)")
	case c.Password == "":
		return c, configError("password", "OS_PASSWORD", "no password for user "+c.User)
	case c.ProjectName == "" && c.ProjectID == "":
		return c, configError("project_name", "OS_PROJECT_NAME", "no project to work in")
	}
	return c, nil
}

// configError is a permanent error about a missing or bad setting,
// naming it and its environment variable.
func configError(setting, env, what string) *connectors.Error {
	return &connectors.Error{Cloud: cloudName, Op: "configure", Code: "InvalidConfiguration", Kind: connectors.KindPermanent,
		Message: fmt.Sprintf("%s: set %s (or %s)", what, setting, env)}
}

// authOptions are gophercloud's options for these credentials, with
// re-authentication on: gophercloud keeps them and logs in again when a
// token expires.
func (c credentials) authOptions() gophercloud.AuthOptions {
	ao := gophercloud.AuthOptions{IdentityEndpoint: c.AuthURL, AllowReauth: true}
	if c.AppCredID != "" {
		ao.ApplicationCredentialID, ao.ApplicationCredentialSecret = c.AppCredID, c.AppCredSecret
		return ao
	}
	ao.Username, ao.Password, ao.DomainName = c.User, c.Password, c.UserDomain
	if c.ProjectID != "" {
		ao.Scope = &gophercloud.AuthScope{ProjectID: c.ProjectID}
	} else {
		ao.Scope = &gophercloud.AuthScope{ProjectName: c.ProjectName, DomainName: c.ProjectDomain}
	}
	return ao
}
