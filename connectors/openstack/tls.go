package openstack

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// transport is the HTTP transport for the credentials' TLS settings: the
// default one, unless a CA file (OS_CACERT, clouds.yaml cacert) is to be
// trusted or verification is off (clouds.yaml verify: false).
func (c credentials) transport() (http.RoundTripper, error) {
	if c.CACert == "" && !c.Insecure {
		return nil, nil
	}
	cfg := &tls.Config{InsecureSkipVerify: c.Insecure} // #nosec G402 -- only when the user's clouds.yaml says verify: false, OpenStack's own option for a test cloud
	if c.CACert != "" {
		path := c.CACert
		if rest, ok := strings.CutPrefix(path, "~/"); ok {
			if home, err := os.UserHomeDir(); err == nil {
				path = filepath.Join(home, rest)
			}
		}
		pem, err := os.ReadFile(path) // #nosec G304 -- the CA file the user's OS_CACERT or clouds.yaml cacert names
		if err != nil {
			return nil, fmt.Errorf("reading the CA certificates: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", path)
		}
		cfg.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return tr, nil
}

// isTLSError reports a certificate the connector does not trust: no retry
// will change that.
func isTLSError(err error) bool {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid) || errors.As(err, &verify)
}
