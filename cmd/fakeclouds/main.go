// Command fakeclouds runs the fake clouds of the test suite (EC2,
// OpenStack, CloudSigma: connectors/fakeclouds) as one process, for `make
// demo-multicloud` and for trying recipes by hand: each fake speaks its
// cloud's real API on a loopback port, and its machines are guests (real
// Debian 12 systems in namespaces of their own, booted by the real
// cloud-init from the user-data the API received: connectors/fakecloud/guest)
// on a bridge of this machine, where a coordinator listens for them.
// Needs root.
//
//	fakeclouds up -state DIR [-clouds ec2,openstack,cloudsigma] [-light] [-boot-delay 0s]
//	    [-image ec2=ami-…] [-region eu-west-1]
//	        start the fakes and serve until SIGINT or SIGTERM, then terminate
//	        every machine and remove the guests' network; writes DIR/env (the
//	        clouds' own environment variables: AWS_ENDPOINT_URL_EC2,
//	        OS_CLIENT_CONFIG_FILE, CLOUDSIGMA_ENDPOINT, … and
//	        FAKECLOUDS_GATEWAY, where the coordinator must listen) and
//	        DIR/fakeclouds.json once they serve
//	fakeclouds machines -state DIR   the machines of the running fakes that are not terminated
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud/guest"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakeclouds"
)

const usage = `usage: fakeclouds <command> [flags]

The fake clouds of SlipStream's test suite as one process: each speaks its
cloud's real API on a loopback port, and its machines are real Debian 12
systems in namespaces of their own, booted by the real cloud-init from the
user-data the API received. Needs root (and, the first time, debootstrap and
Debian's mirror to build the image: about 1.5 minutes, cached).

commands:
  up -state DIR [-clouds ec2,openstack,cloudsigma] [-light] [-boot-delay D]
     [-image CLOUD=ID ...] [-region REGION]
        start the fakes, write DIR/env and DIR/fakeclouds.json, and serve
        until SIGINT or SIGTERM; then terminate every machine and remove
        the guests' network and files. DIR/env exports each cloud's own
        variables (AWS_ENDPOINT_URL_EC2, AWS_ACCESS_KEY_ID, …,
        OS_CLIENT_CONFIG_FILE, CLOUDSIGMA_ENDPOINT, …) and
        FAKECLOUDS_GATEWAY, the address where the coordinator must listen
        for the machines. -image registers a base image of the cloud under
        that id (default: the ids of examples/recipes/multicloud); -light
        runs the user-data without cloud-init.
  machines -state DIR
        the machines of the running fakes that are not terminated, one per
        line: cloud, id, state, address, deployment and instance labels

exit status: 0 on success, 1 on error.
`

// state is DIR/fakeclouds.json: what the running process serves.
type state struct {
	PID     int               `json:"pid"`
	Gateway string            `json:"gateway"`
	Admin   string            `json:"admin"` // loopback URL of the machine listing
	Clouds  map[string]string `json:"clouds"`
	Images  map[string]string `json:"images"`
}

// machine is one line of `fakeclouds machines`.
type machine struct {
	Cloud      string `json:"cloud"`
	ID         string `json:"id"`
	State      string `json:"state"`
	IP         string `json:"ip"`
	Deployment string `json:"deployment"`
	Instance   string `json:"instance"`
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type imageFlag map[string]string

func (f imageFlag) String() string { return "" }
func (f imageFlag) Set(v string) error {
	cloud, id, ok := strings.Cut(v, "=")
	if !ok || cloud == "" || id == "" {
		return fmt.Errorf("want CLOUD=ID, got %q", v)
	}
	f[cloud] = id
	return nil
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 1
	}
	cmd, args := args[0], args[1:]
	if cmd == "-h" || cmd == "-help" || cmd == "--help" || cmd == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	fs := flag.NewFlagSet("fakeclouds "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	dir := fs.String("state", "", "`folder` for env, fakeclouds.json and the clouds' files")
	clouds := fs.String("clouds", strings.Join(fakeclouds.Names(), ","), "the clouds to fake, comma-separated")
	light := fs.Bool("light", false, "run the user-data without cloud-init (cheaper)")
	bootDelay := fs.Duration("boot-delay", 0, "how long a machine stays pending before it boots")
	region := fs.String("region", "eu-west-1", "the EC2 region the fake serves (the recipe's)")
	images := imageFlag{}
	fs.Var(images, "image", "a base image `CLOUD=ID` (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 1
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "fakeclouds:", err)
		return 1
	}
	if *dir == "" {
		return fail(errors.New("-state DIR is required"))
	}
	if fs.NArg() > 0 {
		return fail(fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	switch cmd {
	case "up":
		// The image ids of examples/recipes/multicloud, so that the
		// example runs on the fakes unchanged.
		for _, k := range fakeclouds.Names() {
			if _, ok := images[k]; !ok {
				images[k] = fakeclouds.ExampleImage(k)
			}
		}
		if err := up(*dir, strings.Split(*clouds, ","), *light, *bootDelay, *region, images, stdout, stderr); err != nil {
			return fail(err)
		}
		return 0
	case "machines":
		if err := listMachines(*dir, stdout); err != nil {
			return fail(err)
		}
		return 0
	}
	return fail(fmt.Errorf("unknown command %q (run fakeclouds -help)", cmd))
}

func up(dir string, clouds []string, light bool, bootDelay time.Duration, region string, images map[string]string, stdout, stderr io.Writer) error {
	if err := guest.Available(); err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil { // #nosec G703 -- the -dir folder the operator named on the command line
		return err
	}
	if err := guest.CleanupStale(guest.DefaultPrefix); err != nil {
		fmt.Fprintln(stderr, "fakeclouds: cleaning up stale guests:", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logf := func(format string, args ...any) {
		fmt.Fprintf(stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
	}
	logf("base image: Debian 12 with cloud-init (built once, then cached)")
	image, err := guest.BaseImage(ctx, guest.ImageOptions{Log: logf})
	if err != nil {
		return err
	}
	rt, err := guest.New(ctx, guest.Options{UserDataOnly: light, Log: logf})
	if err != nil {
		return err
	}
	defer rt.Close()
	st := state{PID: os.Getpid(), Gateway: rt.GatewayIP(), Clouds: map[string]string{}, Images: map[string]string{}}
	fakes := map[string]*fakeclouds.Fake{}
	defer func() {
		for name, f := range fakes {
			if err := f.Close(); err != nil {
				logf("closing %s: %v", name, err)
			}
		}
	}()
	env := map[string]string{"FAKECLOUDS_GATEWAY": rt.GatewayIP()}
	sort.Strings(clouds)
	for _, name := range clouds {
		r := ""
		if name == "ec2" {
			r = region
		}
		f, err := fakeclouds.Start(name, fakeclouds.Options{Dir: abs, Region: r,
			Cloud: fakecloud.Options{Runtime: rt, BootDelay: bootDelay, TerminatedRetention: time.Minute, Log: logf}})
		if err != nil {
			return err
		}
		fakes[name] = f
		if err := f.AddImage(images[name], "debian-12", []string{image}); err != nil {
			return fmt.Errorf("%s: registering image %s: %w", name, images[name], err)
		}
		st.Clouds[name], st.Images[name] = f.URL, images[name]
		for k, v := range f.Env {
			env[k] = v
		}
		logf("%s: API on %s, image %s", name, f.URL, images[name])
	}
	admin, err := serveAdmin(fakes)
	if err != nil {
		return err
	}
	defer admin.Close()
	st.Admin = "http://" + admin.Addr().String()
	if err := writeEnv(filepath.Join(abs, "env"), env); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := os.WriteFile(filepath.Join(abs, "fakeclouds.json"), append(b, '\n'), 0o600); err != nil { // #nosec G703 -- in the operator's -dir folder
		return err
	}
	fmt.Fprintf(stdout, "%s\n", b)
	logf("serving; the machines reach the coordinator on %s. Ctrl-C stops everything.", rt.GatewayIP())
	<-ctx.Done()
	logf("stopping: terminating every machine")
	// Left behind, the file would have `fakeclouds machines` look for fakes
	// that are gone.
	if err := os.Remove(filepath.Join(abs, "fakeclouds.json")); err != nil { // #nosec G703 -- in the operator's -dir folder
		logf("removing %s: %v", filepath.Join(abs, "fakeclouds.json"), err)
	}
	return nil
}

func writeEnv(path string, env map[string]string) error {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "export %s='%s'\n", k, strings.ReplaceAll(env[k], "'", `'\''`))
	}
	return os.WriteFile(path, []byte(b.String()), 0o600) // #nosec G703 -- the env file in the operator's -dir folder
}

// serveAdmin lists the fakes' machines over HTTP on loopback, for
// `fakeclouds machines`.
func serveAdmin(fakes map[string]*fakeclouds.Fake) (net.Listener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /machines", func(w http.ResponseWriter, _ *http.Request) {
		out := []machine{}
		for name, f := range fakes {
			for _, m := range f.Cloud.Machines(fakecloud.Live) {
				out = append(out, machine{Cloud: name, ID: m.ID, State: string(m.State), IP: m.PrivateIP,
					Deployment: m.Labels["slipstream-deployment"], Instance: m.Labels["slipstream-instance"]})
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Cloud+out[i].ID < out[j].Cloud+out[j].ID })
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out) // the client may have gone; nothing to tell it
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }() // it returns when the caller closes l
	return l, nil
}

func listMachines(dir string, stdout io.Writer) error {
	b, err := os.ReadFile(filepath.Join(dir, "fakeclouds.json")) // #nosec G304 G703 -- in the -dir folder the operator named
	if err != nil {
		return fmt.Errorf("no fakes running for %s (%w)", dir, err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("%s/fakeclouds.json: %w", dir, err)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(st.Admin + "/machines")
	if err != nil {
		return fmt.Errorf("the fakes (pid %d) do not answer: %w", st.PID, err)
	}
	defer resp.Body.Close()
	var ms []machine
	if err := json.NewDecoder(resp.Body).Decode(&ms); err != nil {
		return err
	}
	for _, m := range ms {
		fmt.Fprintf(stdout, "%-10s %-38s %-12s %-15s %s %s\n", m.Cloud, m.ID, m.State, m.IP, m.Deployment, m.Instance)
	}
	return nil
}
