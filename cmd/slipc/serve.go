package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/slipstream/terraform-provider-slipstream/coordination/api"
	"github.com/slipstream/terraform-provider-slipstream/coordination/connlimit"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store/boltstore"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store/etcdstore"
	"github.com/slipstream/terraform-provider-slipstream/coordination/tlsutil"
	"github.com/slipstream/terraform-provider-slipstream/coordination/webui"
)

func runServe(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, args, stdout, stderr)
}

// serve runs the coordinator until ctx ends.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", "", "Run the coordinator: the HTTP/JSON API machines and the provider use to coordinate.\nIts state is kept in DATA/coordinator.db; the admin token is read from $SLIPSTREAM_ADMIN_TOKEN,\nfrom -admin-token-file, or generated into DATA/admin-token on first start.", stderr)
	listen := fs.String("listen", "127.0.0.1:8680", "`address` to listen on")
	data := fs.String("data", "slipstream-data", "`folder` for the store and the generated admin token")
	tokenFile := fs.String("admin-token-file", "", "read the admin token from this `file`")
	insecure := fs.Bool("insecure-listen", false, "allow plain HTTP on a non-loopback address")
	selfSigned := fs.Bool("tls-self-signed", false, "serve TLS with a private CA kept in the data folder; prints the CA fingerprint for clients to pin")
	certFile := fs.String("tls-cert", "", "serve TLS with this certificate `file` (PEM, chain included)")
	keyFile := fs.String("tls-key", "", "the certificate's private key `file` (PEM)")
	etcd := fs.String("etcd", "", "comma-separated etcd `endpoints`: keep the state in etcd instead of DATA/coordinator.db, so several slipc serve replicas can share it")
	etcdPrefix := fs.String("etcd-prefix", "/slipstream/", "key `prefix` of the coordinator's data in etcd")
	etcdCA := fs.String("etcd-cacert", "", "verify etcd's certificate with this CA `file` (PEM); implies TLS")
	etcdCert := fs.String("etcd-cert", "", "client certificate `file` for etcd (PEM)")
	etcdKey := fs.String("etcd-key", "", "the client certificate's key `file` (PEM)")
	maxConns := fs.Int("max-connections", 1024, "work on at most `n` connections at once; more are accepted and wait their turn (parked long-polls and event streams do not count). Bounds memory: about 35 KB each")
	memLimit := fs.String("memory-limit", "", "soft memory `limit` for the server, e.g. 256MiB or 2GiB (as GOMEMLIMIT, which it overrides): the garbage collector works harder as the heap nears it instead of letting it grow to twice what is live; not a hard cap (docs/performance.md)")
	agentDir := fs.String("agent-dir", "", "`folder` of the agent binaries served at /v1/agent (default: the agent folder next to slipc if there is one, else DATA/agent)")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "slipc serve: unexpected arguments %v\n", fs.Args())
		return exitUsage
	}
	if *maxConns < 1 {
		fmt.Fprintf(stderr, "slipc serve: -max-connections must be at least 1, not %d\n", *maxConns)
		return exitUsage
	}
	if *memLimit != "" {
		n, err := parseByteSize(*memLimit)
		if err != nil {
			fmt.Fprintf(stderr, "slipc serve: -memory-limit %q: %v\n", *memLimit, err)
			return exitUsage
		}
		debug.SetMemoryLimit(n)
	}
	useTLS := *selfSigned || *certFile != ""
	if (*certFile == "") != (*keyFile == "") || (*selfSigned && *certFile != "") {
		fmt.Fprintln(stderr, "slipc serve: give -tls-cert with -tls-key, or -tls-self-signed alone")
		return exitUsage
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		fmt.Fprintf(stderr, "slipc serve: -listen %q: %v\n", *listen, err)
		return exitUsage
	}
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" && !*insecure && !useTLS {
		fmt.Fprintf(stderr, "slipc serve: refusing plain HTTP on %s: tokens would cross the network unencrypted. Use -tls-self-signed or -tls-cert/-tls-key, or pass -insecure-listen.\n", *listen)
		return exitUsage
	}
	if err := os.MkdirAll(*data, 0o700); err != nil {
		fmt.Fprintf(stderr, "slipc serve: %v\n", err)
		return exitDiags
	}
	token, err := adminToken(*data, *tokenFile, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "slipc serve: %v\n", err)
		return exitDiags
	}
	var st store.Store
	if *etcd != "" {
		st, err = openEtcd(strings.Split(*etcd, ","), *etcdPrefix, *etcdCA, *etcdCert, *etcdKey)
		if err == nil {
			fmt.Fprintf(stdout, "State in etcd at %s under %s\n", *etcd, *etcdPrefix)
		}
	} else {
		st, err = boltstore.Open(filepath.Join(*data, "coordinator.db"))
	}
	if err != nil {
		fmt.Fprintf(stderr, "slipc serve: %v\n", err)
		return exitDiags
	}
	defer st.Close()
	coord := coordinator.New(st, coordinator.Options{})
	defer coord.Close()
	if *agentDir == "" {
		*agentDir = defaultAgentDir(*data)
	}
	// Errors answered as 500 are logged on stderr, with the request's
	// method and path only (api.Options.Log).
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	handler, err := api.New(coord, api.Options{AdminToken: token, AgentDir: *agentDir, ReportDir: filepath.Join(*data, "reports"), Log: logger})
	if err != nil {
		fmt.Fprintf(stderr, "slipc serve: %v\n", err)
		return exitDiags
	}
	agents := strings.Join(api.AvailableAgents(*agentDir), ", ")
	if agents == "" {
		agents = "none found"
	}
	fmt.Fprintf(stdout, "Agent binaries from %s: %s\n", *agentDir, agents)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "slipc serve: %v\n", err)
		return exitDiags
	}
	limited := connlimit.NewListener(ln, *maxConns)
	defer limited.Close() // on the error paths below; Shutdown closes it too
	ln = limited
	srv := &http.Server{Handler: webui.Mount(handler), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, ConnContext: connlimit.ConnContext,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	scheme := "http"
	if useTLS {
		var cert tls.Certificate
		if *selfSigned {
			var fp string
			if cert, fp, err = tlsutil.SelfSigned(*data, []string{host}); err != nil {
				fmt.Fprintf(stderr, "slipc serve: %v\n", err)
				return exitDiags
			}
			fmt.Fprintf(stdout, "CA fingerprint (pin it: SLIPSTREAM_CA_FINGERPRINT): %s\n", fp)
		} else if cert, err = tls.LoadX509KeyPair(*certFile, *keyFile); err != nil {
			fmt.Fprintf(stderr, "slipc serve: %v\n", err)
			return exitDiags
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "https"
	}
	fmt.Fprintf(stdout, "slipc %s coordinator listening on %s://%s (data in %s)\n", version, scheme, ln.Addr(), *data)
	fmt.Fprintf(stdout, "Web view: %s://%s%s (the admin token, or a viewer token from slipc token viewer)\n", scheme, ln.Addr(), webui.Prefix)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "slipc serve: %v\n", err)
		return exitDiags
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	coord.Close() // ends long-polls so shutdown does not wait for them
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(stderr, "slipc serve: %v\n", err)
	}
	return exitOK
}

// adminToken finds the admin token: the environment, a file, or one
// generated on first start and kept (mode 0600) in the data folder.
func adminToken(data, file string, stdout io.Writer) (string, error) {
	if t := os.Getenv("SLIPSTREAM_ADMIN_TOKEN"); t != "" {
		return t, nil
	}
	if file == "" {
		file = filepath.Join(data, "admin-token")
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
			b := make([]byte, 32)
			if _, err := rand.Read(b); err != nil {
				return "", err
			}
			if err := os.WriteFile(file, []byte(hex.EncodeToString(b)+"\n"), 0o600); err != nil {
				return "", err
			}
			fmt.Fprintf(stdout, "Generated the admin token into %s\n", file)
		}
	}
	b, err := os.ReadFile(file) // #nosec G304 -- the operator's -admin-token-file, or admin-token in the -data folder
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// defaultAgentDir is where make build puts the agent binaries, the agent
// folder next to the slipc executable (bin/agent), if it exists; else
// DATA/agent.
func defaultAgentDir(data string) string {
	if exe, err := os.Executable(); err == nil {
		if exe, err := filepath.EvalSymlinks(exe); err == nil {
			dir := filepath.Join(filepath.Dir(exe), "agent")
			if st, err := os.Stat(dir); err == nil && st.IsDir() {
				return dir
			}
		}
	}
	return filepath.Join(data, "agent")
}

// openEtcd connects to an etcd cluster, checking it answers before the
// coordinator starts serving, so a wrong endpoint is a clear error at
// start rather than failing requests later.
func openEtcd(endpoints []string, prefix, caFile, certFile, keyFile string) (store.Store, error) {
	cfg := clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()}
	if caFile != "" || certFile != "" {
		tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if caFile != "" {
			pem, err := os.ReadFile(caFile) // #nosec G304 -- the operator's -etcd-cacert
			if err != nil {
				return nil, fmt.Errorf("-etcd-cacert: %w", err)
			}
			tlsCfg.RootCAs = x509.NewCertPool()
			if !tlsCfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("-etcd-cacert: no certificate in %s", caFile)
			}
		}
		if certFile != "" {
			cert, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return nil, fmt.Errorf("-etcd-cert/-etcd-key: %w", err)
			}
			tlsCfg.Certificates = []tls.Certificate{cert}
		}
		cfg.TLS = tlsCfg
	}
	client, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd %s: %w", strings.Join(endpoints, ","), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := client.Status(ctx, endpoints[0]); err != nil {
		_ = client.Close() // unused: the answer that did not come is the error
		return nil, fmt.Errorf("etcd %s does not answer: %w", endpoints[0], err)
	}
	return &closingStore{etcdstore.New(client, prefix), client}, nil
}

// closingStore closes the etcd client after the store.
type closingStore struct {
	*etcdstore.Store
	client *clientv3.Client
}

func (s *closingStore) Close() error {
	return errors.Join(s.Store.Close(), s.client.Close())
}

// parseByteSize reads a size as GOMEMLIMIT writes it: a whole number of
// bytes with an optional B, KiB, MiB, GiB or TiB suffix.
func parseByteSize(s string) (int64, error) {
	units := []struct {
		suffix string
		shift  uint
	}{{"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}, {"B", 0}}
	num, shift := s, uint(0)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			num, shift = rest, u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64>>shift {
		return 0, errors.New("want a positive size such as 256MiB or 2GiB (suffixes B, KiB, MiB, GiB, TiB)")
	}
	return n << shift, nil
}
