package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServe_agentDir: slipc serve tells which agent folder it serves and
// which platforms it found, and serves them without a token.
func TestServe_agentDir(t *testing.T) {
	data, agents := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(agents, "slipstream-agent-linux-arm64"), []byte("an agent"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- serve(ctx, []string{"-listen", "127.0.0.1:0", "-data", data, "-agent-dir", agents}, pw, os.Stderr)
		pw.Close()
	}()
	var url, agentLine string
	sc := bufio.NewScanner(pr)
	for url == "" && sc.Scan() {
		if strings.HasPrefix(sc.Text(), "Agent binaries from ") {
			agentLine = sc.Text()
		}
		if _, after, ok := strings.Cut(sc.Text(), "listening on "); ok {
			url = strings.Fields(after)[0]
		}
	}
	go io.Copy(io.Discard, pr)
	if want := "Agent binaries from " + agents + ": linux/arm64"; agentLine != want {
		t.Fatalf("printed %q, want %q", agentLine, want)
	}
	res, err := http.Get(url + "/v1/agent")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Agents map[string]struct{ Size int64 } `json:"agents"`
	}
	json.NewDecoder(res.Body).Decode(&list)
	res.Body.Close()
	if len(list.Agents) != 1 || list.Agents["linux/arm64"].Size != 8 {
		t.Fatalf("agents: %+v", list.Agents)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestDefaultAgentDir: without an agent folder next to the executable,
// the agents are looked for in DATA/agent.
func TestDefaultAgentDir(t *testing.T) {
	exe, _ := os.Executable()
	exe, _ = filepath.EvalSymlinks(exe)
	if st, err := os.Stat(filepath.Join(filepath.Dir(exe), "agent")); err == nil && st.IsDir() {
		t.Skip("the test binary has an agent folder next to it")
	}
	if got := defaultAgentDir("/srv/data"); got != filepath.Join("/srv/data", "agent") {
		t.Fatalf("got %s", got)
	}
}
