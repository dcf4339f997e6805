package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
)

// runToken manages the coordinator's viewer tokens: read-only tokens for
// the web view and slipc status/watch, which never see a sensitive value.
func runToken(args []string, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprint(stderr, `Usage: slipc token viewer [-name NAME] [-ttl 24h] [-deployment ID]
       slipc token list
       slipc token revoke NAME

Issue, list and revoke viewer tokens: they read deployments (the web view at /ui/, slipc status and watch)
but cannot set, abort or finalize anything, and never see a sensitive value or a report. The coordinator and
its admin token come from `+envCoordinatorURL+` and `+envToken+`, as for slipc status.
`)
	}
	if len(args) == 0 {
		usage()
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage()
		return exitOK
	case "viewer":
		return tokenViewer(args[1:], stdout, stderr)
	case "list":
		return tokenList(args[1:], stdout, stderr)
	case "revoke":
		return tokenRevoke(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "slipc token: unknown subcommand %q\n", args[0])
	usage()
	return exitUsage
}

func tokenViewer(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("token viewer", "",
		"Issue a viewer token and print it (the token alone on stdout, for scripts; the rest on stderr).\n"+
			"It is shown once: the coordinator keeps only its SHA-256.", stderr)
	name := fs.String("name", "", "a `name` to list and revoke it by (default: viewer-<random>)")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token works (at most 8784h)")
	dep := fs.String("deployment", "", "limit the token to this deployment `id`")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitUsage
	}
	cl, ctx, cancel, ok := tokenClient(stderr)
	if !ok {
		return exitUsage
	}
	defer cancel()
	v, err := cl.CreateViewer(ctx, *name, *ttl, *dep)
	if err != nil {
		fmt.Fprintf(stderr, "slipc token viewer: %v\n", err)
		return exitDiags
	}
	scope := "every deployment"
	if v.Deployment != "" {
		scope = "deployment " + v.Deployment
	}
	fmt.Fprintf(stderr, "Viewer token %q for %s, until %s; open %s/ui/ and paste it.\n", v.Name, scope, v.Expires.Local().Format(time.RFC1123), cl.BaseURL)
	fmt.Fprintln(stdout, v.Token)
	return exitOK
}

func tokenList(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("token list", "", "List the viewer tokens: name, deployment, expiry (never the tokens).", stderr)
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	cl, ctx, cancel, ok := tokenClient(stderr)
	if !ok {
		return exitUsage
	}
	defer cancel()
	list, err := cl.Viewers(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "slipc token list: %v\n", err)
		return exitDiags
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDEPLOYMENT\tEXPIRES")
	for _, v := range list {
		dep, exp := v.Deployment, v.Expires.Local().Format(time.RFC3339)
		if dep == "" {
			dep = "(all)"
		}
		if !time.Now().Before(v.Expires) {
			exp += " (expired)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, dep, exp)
	}
	_ = tw.Flush() // to stdout, like the Fprintf calls before it
	return exitOK
}

func tokenRevoke(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("token revoke", "NAME", "Revoke a viewer token: it stops working at once.", stderr)
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if fs.NArg() != 1 || strings.TrimSpace(fs.Arg(0)) == "" {
		fs.Usage()
		return exitUsage
	}
	cl, ctx, cancel, ok := tokenClient(stderr)
	if !ok {
		return exitUsage
	}
	defer cancel()
	if err := cl.RemoveViewer(ctx, fs.Arg(0)); err != nil {
		fmt.Fprintf(stderr, "slipc token revoke: %v\n", err)
		return exitDiags
	}
	fmt.Fprintf(stdout, "Revoked viewer token %q\n", fs.Arg(0))
	return exitOK
}

// tokenClient is the admin client of the coordinator the environment
// names, with the time a token command may take.
func tokenClient(stderr io.Writer) (*client.Client, context.Context, context.CancelFunc, bool) {
	cl, err := clientFromEnv("")
	if err != nil {
		fmt.Fprintf(stderr, "slipc token: %v\n", err)
		return nil, nil, nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	return cl, ctx, cancel, true
}
