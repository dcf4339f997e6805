package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SlipStream's commands read their command lines with Python's optparse
// (client/src/main/python/slipstream/command/CommandBase.py in
// SlipStreamClient), and the scripts written for them follow its rules,
// which Go's flag package does not: --name=value, a long option shortened
// to any unambiguous prefix (--time 60), short options run together (-vv,
// -s12), options after the arguments, "--" ending the options. parseArgs
// reads a command line by those rules, and by the flag package's too
// (-name, -name=value, for the spellings the commands accepted before), so
// that both kinds of script run unchanged. The flags themselves are still
// defined on a flag.FlagSet, which the help lists.

// optionError is a command line that names an option wrongly.
type optionError struct {
	msg string
	// unknown: the word names no option at all (as opposed to an option
	// given a bad value or none); ss-display then takes it as text.
	unknown bool
}

func (e *optionError) Error() string { return e.msg }

// parse reads args as a command's command line: the flags go into fs and
// the other arguments are returned in order. It returns flag.ErrHelp for
// -h, --help (or a prefix of it) and -help, and an *optionError for a bad
// option.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	return parseArgs(fs, args, false)
}

// parseText is parse for a command whose arguments are free text
// (ss-display's message): a word that names none of its options is part
// of the text instead of an error. Its options are still read wherever
// they are, as SlipStream's ss-display read them.
func parseText(fs *flag.FlagSet, args []string) ([]string, error) {
	return parseArgs(fs, args, true)
}

func parseArgs(fs *flag.FlagSet, args []string, text bool) ([]string, error) {
	var positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(positional, args[i+1:]...), nil
		}
		if len(a) < 2 || a[0] != '-' {
			positional = append(positional, a) // "-" alone is an argument, as in optparse
			continue
		}
		consumed, err := readOption(fs, a, args[i+1:])
		var oe *optionError
		if text && errors.As(err, &oe) && oe.unknown {
			positional = append(positional, a)
			continue
		}
		if err != nil {
			return nil, err
		}
		i += consumed - 1
	}
	return positional, nil
}

// readOption reads the option word a, taking its value from rest when it
// needs one and was not given one in a; it returns how many words it used.
func readOption(fs *flag.FlagSet, a string, rest []string) (int, error) {
	if body, ok := strings.CutPrefix(a, "--"); ok {
		f, err := lookupLong(fs, body)
		if err != nil {
			return 0, err
		}
		return setOption(fs, f, "--", body, rest)
	}
	// -name and -name=value for a defined name (Go's flag package), and
	// -help; otherwise short options, optparse's way.
	body := a[1:]
	name, _, _ := strings.Cut(body, "=")
	if name == "help" {
		return 0, flag.ErrHelp
	}
	if f := fs.Lookup(name); f != nil {
		return setOption(fs, f, "-", body, rest)
	}
	return readShort(fs, body, rest)
}

// lookupLong finds the flag a --name names: exactly, or as the only flag
// (counting aliases as one) whose name starts with it, as optparse
// completes long options. "help" is one of the names.
func lookupLong(fs *flag.FlagSet, body string) (*flag.Flag, error) {
	name, _, _ := strings.Cut(body, "=")
	if name == "" {
		return nil, &optionError{msg: fmt.Sprintf("no such option: --%s", body), unknown: true}
	}
	if name == "help" {
		return nil, flag.ErrHelp
	}
	// A one-letter name is a short option's: --v is a prefix, as in
	// optparse, not -v.
	if f := fs.Lookup(name); f != nil && len(name) > 1 {
		return f, nil
	}
	matches := map[string]bool{} // canonical names
	if strings.HasPrefix("help", name) {
		matches["help"] = true
	}
	fs.VisitAll(func(f *flag.Flag) {
		if len(f.Name) > 1 && strings.HasPrefix(f.Name, name) {
			matches[canonicalName(f)] = true
		}
	})
	switch len(matches) {
	case 0:
		return nil, &optionError{msg: "no such option: --" + name, unknown: true}
	case 1:
		for m := range matches {
			if m == "help" {
				return nil, flag.ErrHelp
			}
			return fs.Lookup(m), nil
		}
	}
	var names []string
	for m := range matches {
		names = append(names, "--"+m)
	}
	sort.Strings(names)
	return nil, &optionError{msg: fmt.Sprintf("ambiguous option: --%s (%s?)", name, strings.Join(names, ", ")), unknown: true}
}

// setOption sets f from body ("name" or "name=value", as typed after
// dash) or, for a flag that takes a value and was given none in body,
// from the next word.
func setOption(fs *flag.FlagSet, f *flag.Flag, dash, body string, rest []string) (int, error) {
	_, value, hasValue := strings.Cut(body, "=")
	shown := dash + f.Name
	switch {
	case isBoolFlag(f) && !hasValue:
		value = "true"
	case !hasValue && len(rest) == 0:
		return 0, &optionError{msg: shown + " option requires an argument"}
	case !hasValue:
		if err := set(fs, f, shown, rest[0]); err != nil {
			return 0, err
		}
		return 2, nil
	}
	return 1, set(fs, f, shown, value)
}

// readShort reads a word of short options, optparse's way: -v, -vv, -s 12,
// -s12, -vs12. A letter that takes a value takes the rest of the word, or
// the next word. Nothing is set unless the whole word is right.
func readShort(fs *flag.FlagSet, letters string, rest []string) (int, error) {
	type setting struct {
		f     *flag.Flag
		value string
	}
	var settings []setting
	used := 1
	for j, r := range letters {
		if r == 'h' {
			return 0, flag.ErrHelp
		}
		f := fs.Lookup(string(r))
		if f == nil {
			return 0, &optionError{msg: fmt.Sprintf("no such option: -%c", r), unknown: true}
		}
		if isBoolFlag(f) {
			settings = append(settings, setting{f, "true"})
			continue
		}
		value := letters[j+len(string(r)):]
		if value == "" {
			if len(rest) == 0 {
				return 0, &optionError{msg: fmt.Sprintf("-%c option requires an argument", r)}
			}
			value, used = rest[0], 2
		}
		settings = append(settings, setting{f, value})
		break
	}
	for _, s := range settings {
		if err := set(fs, s.f, "-"+s.f.Name, s.value); err != nil {
			return 0, err
		}
	}
	return used, nil
}

func set(fs *flag.FlagSet, f *flag.Flag, shown, value string) error {
	if err := fs.Set(f.Name, value); err != nil {
		return &optionError{msg: fmt.Sprintf("invalid value %q for %s: %v", value, shown, err)}
	}
	return nil
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// aliasValue is the Value of a flag that is another spelling of the flag
// named of: setting either sets the same thing, and the help lists both
// on one line.
type aliasValue struct {
	flag.Value
	of string
}

func (a *aliasValue) IsBoolFlag() bool {
	b, ok := a.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// alias defines name as another spelling of the defined flag of.
func alias(fs *flag.FlagSet, name, of string) {
	fs.Var(&aliasValue{Value: fs.Lookup(of).Value, of: of}, name, "")
}

// canonicalName is the name f is an alias of, or its own.
func canonicalName(f *flag.Flag) string {
	if a, ok := f.Value.(*aliasValue); ok {
		return a.of
	}
	return f.Name
}

// intValue is an integer option. Unlike the flag package's, its error says
// what is wrong.
type intValue int

func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return errors.New("not an integer")
	}
	*v = intValue(n)
	return nil
}

func (v *intValue) String() string { return strconv.Itoa(int(*v)) }

// countValue is optparse's counting option (-v, -vv): each use adds one.
type countValue int

func (c *countValue) Set(s string) error {
	switch s {
	case "true":
		*c++
	case "false":
		*c = 0
	default: // --verbose=2
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return errors.New("want a count: 0, 1, 2…")
		}
		*c = countValue(n)
	}
	return nil
}

func (c *countValue) String() string   { return strconv.Itoa(int(*c)) }
func (c *countValue) IsBoolFlag() bool { return true }

// runOptions are the options every one of SlipStream's run commands takes:
// -v from CommandBase, --run and --endpoint from VMCommandBase's
// add_run_opts_and_parse.
type runOptions struct {
	verbose  countValue
	run      string
	endpoint string
}

// commonOptions are the names runOptions defines; the help lists them
// apart from a command's own.
var commonOptions = map[string]bool{"verbose": true, "v": true, "run": true, "endpoint": true}

func (o *runOptions) define(fs *flag.FlagSet) {
	fs.Var(&o.verbose, "verbose", "print on stderr the coordinator, deployment and instance used, and each request with its answer")
	alias(fs, "v", "verbose")
	fs.StringVar(&o.run, "run", "", "SlipStream's run `UUID`: on a machine, the commands act on its own deployment whatever this says (another is noted on stderr), as SlipStream's did; by hand, the deployment if SLIPSTREAM_DIID is unset")
	fs.StringVar(&o.endpoint, "endpoint", "", "SlipStream's server `URL`: ignored on a machine, whose commands talk to its own coordinator only; by hand, the coordinator if SLIPSTREAM_SERVICEURL is unset (default $SLIPSTREAM_ENDPOINT)")
}

// lockedWriter serializes writes to stderr, which the requests' log and
// ss-get-all's waits share.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// verboseTransport logs each request and its answer (-v): method, URL and
// status, never a header (the token) or a body (the values).
type verboseTransport struct {
	next http.RoundTripper
	logf func(format string, args ...any)
}

func (t verboseTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	res, err := t.next.RoundTrip(req)
	took := time.Since(start).Round(time.Millisecond)
	if err != nil {
		t.logf("%s %s: %v (%s)", req.Method, req.URL.Redacted(), err, took)
		return nil, err
	}
	t.logf("%s %s: %s (%s)", req.Method, req.URL.Redacted(), res.Status, took)
	return res, nil
}

// verboseHTTP is c, or the default client, logging its requests.
func verboseHTTP(c *http.Client, logf func(format string, args ...any)) *http.Client {
	next := http.DefaultTransport
	if c != nil && c.Transport != nil {
		next = c.Transport
	}
	return &http.Client{Transport: verboseTransport{next: next, logf: logf}}
}
