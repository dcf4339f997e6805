// Package tlsutil gives the coordinator TLS without a public CA: slipc
// serve -tls-self-signed makes a private CA and a server certificate
// signed by it, and prints the CA's SHA-256 fingerprint; the provider and
// the agents pin that fingerprint instead of trusting the system roots.
package tlsutil

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Files of a self-signed setup, in the coordinator's data folder.
const (
	CAFile   = "ca.pem"
	CertFile = "server.pem"
	KeyFile  = "server-key.pem"
)

// Fingerprint is the hex SHA-256 of a certificate's DER bytes.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// normalize accepts fingerprints written with colons or in upper case.
func normalize(fp string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(fp), ":", ""))
}

// SelfSigned returns the server certificate and the CA fingerprint kept in
// dir, creating a CA and a certificate for hosts on first use. The CA key
// is not kept: nothing more can be signed with it, so a leaked data folder
// cannot mint certificates for other names.
func SelfSigned(dir string, hosts []string) (tls.Certificate, string, error) {
	caPath, certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	if _, err := os.Stat(certPath); errors.Is(err, os.ErrNotExist) {
		if err := generate(caPath, certPath, keyPath, hosts); err != nil {
			return tls.Certificate{}, "", err
		}
	}
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	caPEM, err := os.ReadFile(caPath) // #nosec G304 -- ca.pem in the TLS folder the operator gave slipc serve
	if err != nil {
		return tls.Certificate{}, "", err
	}
	block, _ := pem.Decode(caPEM)
	if block == nil {
		return tls.Certificate{}, "", fmt.Errorf("%s holds no certificate", caPath)
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	return cert, Fingerprint(ca), nil
}

func generate(caPath, certPath, keyPath string, hosts []string) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "SlipStream coordinator CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "SlipStream coordinator"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range append(hosts, "localhost", "127.0.0.1", "::1") {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFile(caPath, pemBytes("CERTIFICATE", caDER), 0o644); err != nil {
		return err
	}
	if err := writeFile(keyPath, pemBytes("EC PRIVATE KEY", keyDER), 0o600); err != nil {
		return err
	}
	// The certificate (with the CA after it, so clients get the chain)
	// last: its presence says the set is complete.
	return writeFile(certPath, append(pemBytes("CERTIFICATE", der), pemBytes("CERTIFICATE", caDER)...), 0o644)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	return n
}

func pemBytes(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// writeFile writes atomically (temp file, rename).
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// PinnedConfig is a client TLS configuration that trusts exactly the CA
// with the given fingerprint: the server's chain must include it and the
// server certificate must verify against it.
func PinnedConfig(fingerprint string) *tls.Config {
	want := normalize(fingerprint)
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Every parked long-poll's answer closes its connection, so an
		// agent reconnects often: resuming the session skips the
		// certificate signature and its check, most of a handshake's
		// cost to both sides. VerifyConnection still runs on resumption.
		ClientSessionCache: tls.NewLRUClientSessionCache(16),
		// The standard verification would consult the system roots, which
		// do not hold our private CA; VerifyConnection checks the chain
		// against the pinned CA instead.
		InsecureSkipVerify: true, // #nosec G402 -- not skipped but replaced: VerifyConnection below verifies the chain against the pinned CA and the server name
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the coordinator sent no certificate")
			}
			pool := x509.NewCertPool()
			found := false
			for _, c := range cs.PeerCertificates {
				if Fingerprint(c) == want && c.IsCA {
					pool.AddCert(c)
					found = true
				}
			}
			if !found {
				return fmt.Errorf("the coordinator's certificate is not signed by the pinned CA %s", want)
			}
			leaf := cs.PeerCertificates[0]
			_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: cs.ServerName, CurrentTime: verifyTime(leaf, clock())})
			return err
		},
	}
}

// clock is the machine's clock (tests move it).
var clock = time.Now

// verifyTime is the time a pinned chain is checked at: the machine's
// clock, or, when that falls outside the certificate's validity, a time
// within it. Trust comes from the pinned fingerprint, not from the dates,
// and a machine's clock is often wrong when its agent first calls (a
// cloud image booted before NTP synchronised, a hardware clock kept in
// local time, or reset): refusing the coordinator then would make the run
// depend on synchronised clocks. The signature chain and the name are
// still checked.
func verifyTime(leaf *x509.Certificate, now time.Time) time.Time {
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return leaf.NotBefore.Add(time.Second)
	}
	return now
}

// PinnedCAPEM connects to the coordinator at baseURL, checks its chain
// against the pinned CA as PinnedConfig does, and returns that CA
// certificate as PEM: what a machine's bootstrap needs to trust the
// coordinator with curl or wget, which cannot pin a fingerprint.
func PinnedCAPEM(ctx context.Context, baseURL, fingerprint string) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Scheme != "https" {
		return "", fmt.Errorf("a CA fingerprint needs an https coordinator URL, not %q", baseURL)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "443")
	}
	cfg := PinnedConfig(fingerprint)
	cfg.ServerName = u.Hostname()
	d := tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	want := normalize(fingerprint)
	for _, c := range conn.(*tls.Conn).ConnectionState().PeerCertificates {
		if Fingerprint(c) == want {
			return string(pemBytes("CERTIFICATE", c.Raw)), nil
		}
	}
	return "", fmt.Errorf("the coordinator's chain does not include the CA %s", want)
}
