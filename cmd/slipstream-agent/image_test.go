package main

import "testing"

// TestSealRoot: a builder machine's agent cleans the file system its state
// folder is the bootstrap's /var/lib/slipstream of, and nothing when its
// state folder is elsewhere.
func TestSealRoot(t *testing.T) {
	for dir, want := range map[string]string{
		"/var/lib/slipstream":                "/",
		"/var/lib/slipstream/":               "/",
		"/tmp/t1/var/lib/slipstream":         "/tmp/t1",
		"/tmp/state":                         "",
		"var/lib/slipstream":                 "",
		"/srv/var/lib/slipstream-other":      "",
		"/tmp/t1/var/lib/slipstream/../../x": "",
	} {
		if got := sealRoot(dir); got != want {
			t.Errorf("sealRoot(%q) = %q, want %q", dir, got, want)
		}
	}
}
