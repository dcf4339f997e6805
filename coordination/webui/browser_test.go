package webui_test

// Browser tests: the web view in a real headless Chromium (Debian's
// chromium package, which make deps installs), driven through the DevTools
// protocol with chromedp, against the real API over a coordinator and a
// bbolt store. On failure each test saves a screenshot and the page's text
// in its artifact folder (go test -artifacts, as make test runs it).

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"

	"github.com/slipstream/terraform-provider-slipstream/coordination/api"
	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store/boltstore"
	"github.com/slipstream/terraform-provider-slipstream/coordination/webui"
)

const admin = "admin-token-for-the-browser-tests"

// coordinatorServer is slipc serve's handler (the API and the view) over a
// fresh store.
func coordinatorServer(t testing.TB) (*httptest.Server, *coordinator.Coordinator) {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	c := coordinator.New(st, coordinator.Options{})
	h, err := api.New(c, api.Options{AdminToken: admin, ReportDir: t.TempDir(), MaxInstances: 20000})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(webui.Mount(h))
	t.Cleanup(func() { srv.Close(); c.Close(); st.Close() })
	return srv, c
}

// chromium finds the browser: $CHROMIUM, or chromium on PATH. Missing, the
// test is skipped, except in CI, where make deps installs it.
func chromium(t testing.TB) string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed: make deps installs Debian's chromium package")
		}
		t.Skip("chromium is not installed (apt-get install chromium, or make deps)")
	}
	return p
}

// browser starts a headless Chromium for the test, with a tab of its own.
func browser(t testing.TB) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.WindowSize(1280, 1000),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // start it now: a missing library fails here, clearly
		t.Fatalf("starting %s: %v", chromium(t), err)
	}
	if tt, ok := t.(*testing.T); ok {
		t.Cleanup(func() {
			if tt.Failed() {
				keepEvidence(tt, ctx)
			}
		})
	}
	return ctx
}

// keepEvidence saves what the page looked like when the test failed.
func keepEvidence(t *testing.T, ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("no screenshot: %v", err)
		return
	}
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	dir := t.ArtifactDir()
	_ = os.WriteFile(filepath.Join(dir, "page.png"), png, 0o644)
	_ = os.WriteFile(filepath.Join(dir, "page.txt"), []byte(text), 0o644)
	t.Logf("the page as it was: %s (page.png, page.txt)", dir)
}

// until waits for a JavaScript condition on the page, failing with what
// it waited for. A condition that throws (an element not there yet) is
// not met yet.
func until(t testing.TB, ctx context.Context, what, expr string) {
	t.Helper()
	expr = "(() => { try { return (" + expr + "); } catch (e) { return false; } })()"
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("waiting for %s: %v\nthe page says:\n%s", what, err, text)
	}
}

// text is the text of the first element a selector finds ("" for none).
func text(t testing.TB, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signIn opens the view and enters a token as a person would.
func signIn(t testing.TB, ctx context.Context, url, token string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(url+"/"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS(`#signin button[type="submit"]`)), // as a person does: form.submit() fires no submit event
	); err != nil {
		t.Fatal(err)
	}
}

// agent plays an instance's agent through the API with its own token.
type agent struct {
	*client.Client
	name string
}

func agents(t testing.TB, url string, tokens map[string]string, dep string) map[string]*agent {
	t.Helper()
	out := map[string]*agent{}
	for inst, bootstrap := range tokens {
		cl := &client.Client{BaseURL: url, Deployment: dep, Token: bootstrap, RetryFor: 10 * time.Second}
		own := "agent-token-of-" + inst + "-" + dep
		if _, err := cl.Exchange(context.Background(), client.TokenHash(own)); err != nil {
			t.Fatal(err)
		}
		cl.Token = own
		out[inst] = &agent{cl, inst}
	}
	return out
}

func (a *agent) complete(t testing.TB, states ...string) {
	t.Helper()
	for _, s := range states {
		if _, err := a.Complete(context.Background(), s); err != nil {
			t.Fatalf("%s completes %s: %v", a.name, s, err)
		}
	}
}

func (a *agent) set(t testing.TB, key, value string) {
	t.Helper()
	if err := a.Set(context.Background(), key, value, false); err != nil {
		t.Fatalf("%s sets %s: %v", a.name, key, err)
	}
}

const secret = "s3cret-db-password-never-in-the-browser"

// TestBrowser_lampLive: the page of a running lamp deployment shows the
// web servers blocked on db:password, then Ready once the database set it
// (with the secret nowhere in the page), then an abort with its message.
func TestBrowser_lampLive(t *testing.T) {
	srv, _ := coordinatorServer(t)
	ctx := browser(t)
	lamp := &coordinator.Deployment{ID: "lamp", Nodes: map[string]*coordinator.Node{
		"db":  {Multiplicity: 1, Cloud: "fixed", Params: map[string]coordinator.Param{"password": {Output: true, Sensitive: true}}},
		"web": {Multiplicity: 2, Cloud: "fixed", Params: map[string]coordinator.Param{"db_password": {Sensitive: true}}, Mappings: map[string]string{"db_password": "db:password"}},
	}}
	adminCl := &client.Client{BaseURL: srv.URL, Deployment: "lamp", Token: admin}
	tokens, err := adminCl.CreateDeployment(context.Background(), lamp)
	if err != nil {
		t.Fatal(err)
	}
	ag := agents(t, srv.URL, tokens, "lamp")
	for name, a := range ag {
		a.set(t, "hostname", name+".example")
		a.set(t, "statecustom", "installing "+strings.TrimSuffix(name, ".1"))
		a.complete(t, coordinator.Initializing)
	}
	for _, a := range ag {
		a.complete(t, coordinator.Provisioning)
	}
	// The web servers' deploy scripts: ss-get db_password, blocking.
	got := make(chan string, 2)
	for _, w := range []string{"web.1", "web.2"} {
		go func() {
			v, err := ag[w].Get(context.Background(), "db_password", time.Minute, false, nil)
			if err != nil {
				v = err.Error()
			}
			got <- v
		}()
	}

	signIn(t, ctx, srv.URL+"/ui", admin)
	until(t, ctx, "the deployments list", `document.querySelector('#deployments a[href="#/d/lamp"]') !== null`)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#deployments a[href="#/d/lamp"]`))); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, "the web servers blocked on db.1:password",
		`[...document.querySelectorAll('#waits tr[data-waiter]')].map(r => r.textContent).join('|').match(/web\.1db\.1:password \(as db_password\).*\|web\.2db\.1:password/) !== null`)
	until(t, ctx, "the wait graph", `document.querySelector('#wait-graph [data-vertex="db.1"]') !== null && document.querySelector('#wait-graph [data-vertex="web.1"]') !== null`)
	if s := text(t, ctx, "#progress li.current"); s != "Executing" {
		t.Errorf("the progress bar's current state is %q", s)
	}
	if s := text(t, ctx, "#barrier"); s != "0 / 3 completed Executing" {
		t.Errorf("barrier: %q", s)
	}
	until(t, ctx, "the two waiting web servers in the instance table", `document.querySelectorAll('#instance-table [data-state="Waiting"]').length === 2`)
	if s := text(t, ctx, "#deadlock"); s != "" && !strings.Contains(s, "Deadlock") {
		t.Errorf("deadlock banner: %q", s)
	}
	if deadlockHidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('#deadlock').hidden`)); err != nil || !deadlockHidden {
		t.Errorf("a deadlock is shown where there is none (%v)", err)
	}

	// The database sets its password: the web servers' gets return, every
	// instance goes through the run's states, and the run is Ready.
	ag["db.1"].set(t, "password", secret)
	for range 2 {
		if v := <-got; v != secret {
			t.Fatalf("a web server's get answered %q", v)
		}
	}
	until(t, ctx, "nobody blocked any more", `document.querySelector('#waits').textContent.includes('Nobody is blocked')`)
	for _, state := range []string{coordinator.Executing, coordinator.SendingReports} {
		for _, a := range ag {
			a.complete(t, state)
		}
	}
	until(t, ctx, "the run Ready", `(document.querySelector('#progress li.current') || {}).textContent === 'Ready'`)
	until(t, ctx, "the web servers Ready", `document.querySelectorAll('#instance-table [data-state="Ready"]').length === 3`)

	// The secret: set, shown as "(sensitive)", in no part of the page.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#instance-table tr[data-instance="web.1"] button`))); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, "web.1's parameters", `(document.querySelector('[data-param="web.1:db_password"]') || {}).textContent === '(sensitive)'`)
	// A value set now arrives through the event stream, as text.
	ag["web.1"].set(t, "url.service", `http://web.1.example/<b id="injected">x</b>`)
	until(t, ctx, "web.1's url.service, live", `(document.querySelector('[data-param="web.1:url.service"]') || {}).textContent === 'http://web.1.example/<b id="injected">x</b>'`)
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	injected, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('injected') !== null`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, secret) || injected {
		t.Fatalf("the page holds the secret (%v) or ran a value as HTML (%v)", strings.Contains(html, secret), injected)
	}

	// web.2 aborts: the banner names it, its message, and the time.
	if err := ag["web.2"].Abort(context.Background(), "apache failed to start: port 80 in use", false); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, "the abort banner", `!document.querySelector('#abort').hidden`)
	if by, msg := text(t, ctx, "#abort-by"), text(t, ctx, "#abort-message"); by != "web.2" || msg != "apache failed to start: port 80 in use" {
		t.Errorf("abort banner: by %q, message %q", by, msg)
	}
	until(t, ctx, "web.2 Aborted", `document.querySelector('#instance-table tr[data-instance="web.2"] [data-state="Aborted"]') !== null`)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/ui/#/")); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, "the aborted flag in the list", `(document.querySelector('#deployments tr[data-id="lamp"] .abort-flag') || {}).textContent === 'aborted'`)
}

// TestBrowser_tokens: a viewer token opens the view read-only (its role
// shown, no report download); an instance token opens nothing.
func TestBrowser_tokens(t *testing.T) {
	srv, _ := coordinatorServer(t)
	adminCl := &client.Client{BaseURL: srv.URL, Deployment: "web", Token: admin}
	tokens, err := adminCl.CreateDeployment(context.Background(), &coordinator.Deployment{ID: "web", Nodes: map[string]*coordinator.Node{"web": {Multiplicity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	ag := agents(t, srv.URL, tokens, "web")
	if err := ag["web.1"].UploadReport(context.Background(), "web.1", report(t)); err != nil {
		t.Fatal(err)
	}
	v, err := adminCl.CreateViewer(context.Background(), "reviewer", time.Hour, "web")
	if err != nil {
		t.Fatal(err)
	}

	ctx := browser(t)
	signIn(t, ctx, srv.URL+"/ui", "agent-token-of-web.1-web")
	until(t, ctx, "the instance token refused", `((document.querySelector('#signin-error') || {}).textContent || '').includes('viewer token')`)
	if s := text(t, ctx, "#main"); strings.Contains(s, "Deployments") {
		t.Fatalf("an instance token shows deployments: %s", s)
	}

	signIn(t, ctx, srv.URL+"/ui", v.Token)
	until(t, ctx, "the viewer's role", `document.querySelector('#role').textContent.startsWith('viewer of web until')`)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/ui/#/d/web")); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, "web.1's row", `document.querySelector('#instance-table tr[data-instance="web.1"]') !== null`)
	if s := text(t, ctx, `#instance-table tr[data-instance="web.1"] td:last-child`); s != "kept" {
		t.Errorf("a viewer's report cell: %q, want \"kept\" (no download)", s)
	}
	// Signing out forgets the token.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#token"))); err != nil {
		t.Fatal(err)
	}
	if left, err := chromedp.Run(ctx, chromedp.Evaluate[string](`sessionStorage.getItem('slipstream.token') || ''`)); err != nil || left != "" {
		t.Fatalf("after signing out: %q %v", left, err)
	}
}

// tenThousand registers a deployment of 10,000 instances: a database and
// 9,999 web servers, a third of them with an agent at work.
func tenThousand(t testing.TB, c *coordinator.Coordinator) {
	t.Helper()
	d := coordinator.Deployment{ID: "big", Nodes: map[string]*coordinator.Node{
		"db":  {Multiplicity: 1, Params: map[string]coordinator.Param{"password": {Output: true, Sensitive: true}}},
		"web": {Multiplicity: 9999, Params: map[string]coordinator.Param{"db_password": {Sensitive: true}}, Mappings: map[string]string{"db_password": "db:password"}},
	}}
	hashes := map[string]string{}
	for i := 1; i <= 9999; i++ {
		hashes["web."+strconv.Itoa(i)] = client.TokenHash("boot-" + strconv.Itoa(i))
	}
	hashes["db.1"] = client.TokenHash("boot-db")
	if err := c.CreateDeployment(context.Background(), d, hashes); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 9999; i += 3 {
		if _, err := c.Exchange(context.Background(), "big", client.TokenHash("boot-"+strconv.Itoa(i)), client.TokenHash("agent-"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
}

// openBig signs in and opens the 10,000-instance page, returning how long
// the first render took (from the navigation to the first page of
// instances shown) and how long filtering by state took.
func openBig(t testing.TB, ctx context.Context, url string) (render, filter time.Duration) {
	t.Helper()
	signIn(t, ctx, url+"/ui", admin)
	until(t, ctx, "the list", `document.querySelector('#deployments a[href="#/d/big"]') !== null`)
	// A full load of the page (its files, who the token is, the overview,
	// the first page of instances), not a change of hash in a loaded one.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(url+"/ui/#/d/big")); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, "the first page of 10,000", `(document.querySelector('#page-info') || {}).textContent === '1–50 of 10,000' && document.querySelectorAll('#instance-table tr.i-row').length === 50`)
	render = time.Since(start)
	start = time.Now()
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#filter-state"), "Working"),
		chromedp.Evaluate[chromedp.Void](`void document.querySelector('#filter-state').dispatchEvent(new Event('change'))`)); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, "the Working filter", `(document.querySelector('#page-info') || {}).textContent === '1–50 of 3,333' && document.querySelectorAll('#instance-table [data-state="Working"]').length === 50`)
	filter = time.Since(start)
	return render, filter
}

// TestBrowser_tenThousandInstances: the page of a 10,000-instance
// deployment shows its counts and pages, and filters by state and name.
// How fast is BenchmarkBrowser_tenThousandInstances's business.
func TestBrowser_tenThousandInstances(t *testing.T) {
	srv, c := coordinatorServer(t)
	ctx := browser(t)
	tenThousand(t, c)
	openBig(t, ctx, srv.URL)
	if s := text(t, ctx, "#counts"); !strings.Contains(s, "Booting 6,667") || !strings.Contains(s, "Working 3,333") {
		t.Errorf("counts: %q", s)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#filter-match"), "web.999")); err != nil {
		t.Fatal(err)
	}
	// Of web.999 and web.9990 to web.9999, those Working (1 in 3 from web.1 on): web.9991, web.9994, web.9997.
	until(t, ctx, "the name filter", `(document.querySelector("#page-info") || {}).textContent === "1–3 of 3"`)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(".pager button:last-child"))); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkBrowser_tenThousandInstances measures the 10,000-instance page
// in Chromium: the first render (navigation to the first page of
// instances shown, with the overview), a filter by state, and the tab's
// JavaScript heap afterwards.
func BenchmarkBrowser_tenThousandInstances(b *testing.B) {
	srv, c := coordinatorServer(b)
	tenThousand(b, c)
	var render, filter time.Duration
	var heap float64
	for b.Loop() {
		ctx := browser(b)
		r, f := openBig(b, ctx, srv.URL)
		render, filter = render+r, filter+f
		if _, err := chromedp.Call(ctx, performance.Enable, performance.EnableParams{}); err != nil {
			b.Fatal(err)
		}
		res, err := chromedp.Call(ctx, performance.GetMetrics, cdp.Empty{})
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range res.Metrics {
			if m.Name == "JSHeapUsedSize" {
				heap = m.Value
			}
		}
	}
	b.ReportMetric(float64(render.Milliseconds())/float64(b.N), "ms/first-render")
	b.ReportMetric(float64(filter.Milliseconds())/float64(b.N), "ms/filter")
	b.ReportMetric(heap/(1<<20), "MB-js-heap")
}

// report is a small report as an agent uploads it: a tar.gz of a log.
func report(t testing.TB) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	log := []byte("deploy.sh: done\n")
	if err := tw.WriteHeader(&tar.Header{Name: "deploy.log", Mode: 0o600, Size: int64(len(log))}); err != nil {
		t.Fatal(err)
	}
	tw.Write(log)
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// TestBrowser_deadlockShown: two instances waiting for each other are
// shown as a deadlock, in a banner and in red in the wait graph.
func TestBrowser_deadlockShown(t *testing.T) {
	srv, _ := coordinatorServer(t)
	adminCl := &client.Client{BaseURL: srv.URL, Deployment: "ring", Token: admin}
	tokens, err := adminCl.CreateDeployment(context.Background(), &coordinator.Deployment{ID: "ring", Nodes: map[string]*coordinator.Node{
		"a": {Multiplicity: 1, Params: map[string]coordinator.Param{"x": {Output: true}}},
		"b": {Multiplicity: 1, Params: map[string]coordinator.Param{"y": {Output: true}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ag := agents(t, srv.URL, tokens, "ring")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ag["a.1"].Get(ctx, "b.1:y", time.Minute, false, nil)
	go ag["b.1"].Get(ctx, "a.1:x", time.Minute, false, nil)

	page := browser(t)
	signIn(t, page, srv.URL+"/ui", admin)
	if err := chromedp.Do(page, chromedp.Navigate(srv.URL+"/ui/#/d/ring")); err != nil {
		t.Fatal(err)
	}
	until(t, page, "the deadlock banner", `!document.querySelector('#deadlock').hidden && document.querySelector('#deadlock .cycle').textContent.startsWith('a.1 → b.1 → a.1')`)
	until(t, page, "the cycle in red in the graph", `document.querySelectorAll('#wait-graph .vertex.cycle').length === 2 && document.querySelectorAll('#wait-graph .edge.cycle').length === 2`)
}
