package azurefake

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"time"
)

// maxBody bounds a request body the HTTP server reads.
const maxBody = 8 << 20

// ServeHTTP answers a request that came over HTTP: it hands it to Do, as
// the SDK's transport would, and writes the answer back. The request's
// URL gets the scheme and host the client used, so that the links the
// fake answers with (the token endpoint, the pollers' status URLs, which
// the SDK builds from the URL it called) lead back to this server.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Host = r.Host
	out.URL.Scheme = "http"
	if r.TLS != nil {
		out.URL.Scheme = "https"
	}
	f.recordHost(r.Host)
	resp, err := f.Do(out)
	if err != nil {
		// The client went away (its context ended): nobody reads an answer.
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	if resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified {
		w.Header().Del("Content-Type")
		w.Header().Del("Content-Length")
		w.WriteHeader(resp.StatusCode)
		return
	}
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		f.logf("writing the answer to %s %s: %v", r.Method, r.URL.Path, err)
	}
}

// recordHost counts the Host of a request served over HTTP, so that
// tests can check every follow-up (token endpoint, poller status URL)
// came back to the server's own address.
func (f *Fake) recordHost(host string) {
	f.hostsMu.Lock()
	defer f.hostsMu.Unlock()
	if f.hosts == nil {
		f.hosts = map[string]int{}
	}
	f.hosts[host]++
}

// Hosts returns how many requests came over HTTP to each Host.
func (f *Fake) Hosts() map[string]int {
	f.hostsMu.Lock()
	defer f.hostsMu.Unlock()
	out := make(map[string]int, len(f.hosts))
	for k, v := range f.hosts {
		out[k] = v
	}
	return out
}

// Server is the fake served over HTTPS on loopback.
type Server struct {
	// URL is the server's root, https://127.0.0.1:port: the Resource
	// Manager endpoint and the Entra ID authority host.
	URL string
	// CAPEM is the PEM certificate of the CA that signed the server's
	// certificate: what a client must trust (the connector's ca_file).
	CAPEM []byte
	srv   *httptest.Server
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Client is an HTTP client that trusts the server's CA.
func (s *Server) Client() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CAPEM)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}, Timeout: time.Minute}
}

// StartTLS serves the fake over HTTPS on a loopback port, with a server
// certificate for 127.0.0.1 and localhost signed by a CA made for it, as
// an Azure Stack Hub with a private CA is served.
func (f *Fake) StartTLS() (*Server, error) {
	caPEM, cert, err := newServerCert()
	if err != nil {
		return nil, fmt.Errorf("azurefake: making the TLS certificates: %w", err)
	}
	srv := httptest.NewUnstartedServer(f)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	return &Server{URL: srv.URL, CAPEM: caPEM, srv: srv}, nil
}

// newServerCert makes a CA and a server certificate it signs for
// loopback.
func newServerCert() (caPEM []byte, cert tls.Certificate, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, cert, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "azurefake test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(7 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, cert, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, cert, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, cert, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(7 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, cert, err
	}
	cert = tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), cert, nil
}
