// Command release builds the provider's release as the Terraform Registry
// wants it: what `goreleaser release` makes from the .goreleaser.yml of
// HashiCorp's terraform-provider-scaffolding-framework, without goreleaser.
//
//	go run ./cmd/release -snapshot -clean -out dist                # dry run: unsigned, version 0.0.0-snapshot-<commit>
//	go run ./cmd/release -snapshot -platforms ci -out dist         # the CI subset (linux_amd64, darwin_arm64, windows_amd64)
//	go run ./cmd/release -version 1.2.3 -gpg-key FPR -out dist     # a real release, SHA256SUMS signed with gpg
//
// Into -out it writes, for the provider terraform-provider-slipstream and
// version V, nothing but what a GitHub release for the registry holds:
//
//	terraform-provider-slipstream_V_<os>_<arch>.zip   one per platform: the binary
//	                                                   terraform-provider-slipstream_vV(.exe),
//	                                                   LICENSE and README.md
//	terraform-provider-slipstream_V_manifest.json     terraform-registry-manifest.json
//	terraform-provider-slipstream_V_SHA256SUMS        sha256 of the zips and the manifest
//	terraform-provider-slipstream_V_SHA256SUMS.sig    its detached GPG signature (not for -snapshot)
//
// The builds are goreleaser's: CGO_ENABLED=0, -trimpath, -ldflags
// "-s -w -X main.version=V" (main.go has no commit variable: a snapshot's
// commit is in its version), GOARM=6 for arm. The zips are reproducible:
// sorted entries, every file dated at the commit's time (or
// SOURCE_DATE_EPOCH), so two runs on the same tree give the same
// SHA256SUMS. See docs/releasing.md.
//
// Only the provider: the registry needs nothing else, and slipc installs
// with go install …/cmd/slipc@vX.Y.Z (docs/releasing.md).
package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	projectName  = "terraform-provider-slipstream"
	manifestFile = "terraform-registry-manifest.json"
)

// platform is one GOOS/GOARCH target, named os_arch as in the archives.
type platform struct{ os, arch string }

func (p platform) String() string { return p.os + "_" + p.arch }

// allPlatforms is the scaffolding's goos × goarch (freebsd, windows, linux,
// darwin × amd64, 386, arm, arm64) without its ignores (darwin/386,
// windows/arm): 14 pairs, of which darwin/arm is no Go port (gone since Go
// 1.15; goreleaser skips it too), so 13 targets.
var allPlatforms = []platform{
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"freebsd", "386"}, {"freebsd", "amd64"}, {"freebsd", "arm"}, {"freebsd", "arm64"},
	{"linux", "386"}, {"linux", "amd64"}, {"linux", "arm"}, {"linux", "arm64"},
	{"windows", "386"}, {"windows", "amd64"}, {"windows", "arm64"},
}

// ciPlatforms is the subset the CI dry run builds: one per operating system
// users run Terraform on most, and the one the install test needs
// (linux_amd64). A full build takes too long on CI's two cores.
var ciPlatforms = []platform{{"linux", "amd64"}, {"darwin", "arm64"}, {"windows", "amd64"}}

// parsePlatforms reads -platforms: "all", "ci", or a comma-separated list
// of os_arch names from allPlatforms.
func parsePlatforms(s string) ([]platform, error) {
	switch s {
	case "all":
		return allPlatforms, nil
	case "ci":
		return ciPlatforms, nil
	}
	var out []platform
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(allPlatforms, func(p platform) bool { return p.String() == name })
		if i < 0 {
			var names []string
			for _, p := range allPlatforms {
				names = append(names, p.String())
			}
			return nil, fmt.Errorf("-platforms: unknown platform %q (want all, ci, or a list of %s)", name, strings.Join(names, ", "))
		}
		if !slices.Contains(out, allPlatforms[i]) {
			out = append(out, allPlatforms[i])
		}
	}
	return out, nil
}

// versionRE is a semantic version without build metadata (a "+" has no
// place in a registry version or a file name) and in lower case:
// Terraform and OpenTofu read a filesystem mirror's package names in lower
// case, so from a mirror 1.0.0-RC1 would be 1.0.0-rc1, which a
// configuration asking for 1.0.0-RC1 does not match.
var versionRE = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9a-z-]+(\.[0-9a-z-]+)*)?$`)

// snapshotVersion is goreleaser's snapshot version with no tag to start
// from, in lower case (see versionRE): 0.0.0-snapshot-<short commit>.
// Terraform selects a pre-release only when a configuration asks for it
// exactly.
func snapshotVersion(commit string) string {
	short := commit
	if len(short) > 7 {
		short = short[:7]
	}
	return "0.0.0-snapshot-" + short
}

// isSnapshotVersion reports whether a -version names a snapshot
// (pre-release starting with "snapshot"): those are never signed.
func isSnapshotVersion(v string) bool {
	_, pre, ok := strings.Cut(v, "-")
	return ok && strings.HasPrefix(pre, "snapshot")
}

type config struct {
	root      string // the module's folder: main.go, LICENSE, the manifest
	out       string
	version   string
	commit    string
	snapshot  bool
	platforms []platform
	gpgKey    string
	jobs      int
	goCmd     string
	mtime     time.Time // every file in every zip
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	version := fs.String("version", "", "release version X.Y.Z or X.Y.Z-pre, in lower case (a leading v is dropped); with -snapshot, defaults to 0.0.0-snapshot-<short commit>")
	snapshot := fs.Bool("snapshot", false, "a dry run: no signature (implied by a version whose pre-release starts with snapshot)")
	out := fs.String("out", "dist", "output folder; must be empty or missing unless -clean")
	clean := fs.Bool("clean", false, "remove the output folder first")
	platforms := fs.String("platforms", "all", "all (14 targets), ci (linux_amd64,darwin_arm64,windows_amd64), or a comma-separated list of os_arch")
	gpgKey := fs.String("gpg-key", os.Getenv("GPG_FINGERPRINT"), "GPG key (fingerprint or id) that signs SHA256SUMS; required unless -snapshot (default $GPG_FINGERPRINT)")
	jobs := fs.Int("j", runtime.GOMAXPROCS(0), "builds at a time")
	goCmd := fs.String("go", "go", "the go command that builds")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./cmd/release [flags]\n\nBuilds %s's Terraform Registry release (zips, manifest, SHA256SUMS, signature) into -out.\n\n", projectName)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "release: unexpected argument %q\n", fs.Arg(0))
		return 2
	}

	cfg, err := newConfig(*version, *snapshot, *out, *platforms, *gpgKey, *jobs, *goCmd)
	if err != nil {
		fmt.Fprintf(stderr, "release: %v\n", err)
		return 2
	}
	if *clean {
		if rel, err := filepath.Rel(cfg.out, cfg.root); err == nil && !strings.HasPrefix(rel, "..") {
			fmt.Fprintf(stderr, "release: -clean would remove %s, which holds the repository\n", cfg.out)
			return 2
		}
		if err := os.RemoveAll(cfg.out); err != nil {
			fmt.Fprintf(stderr, "release: %v\n", err)
			return 1
		}
	}
	if err := release(ctx, cfg, stdout); err != nil {
		fmt.Fprintf(stderr, "release: %v\n", err)
		return 1
	}
	return 0
}

func newConfig(version string, snapshot bool, out, platforms, gpgKey string, jobs int, goCmd string) (*config, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	cfg := &config{root: root, snapshot: snapshot, gpgKey: gpgKey, jobs: max(jobs, 1), goCmd: goCmd}
	if cfg.out, err = filepath.Abs(out); err != nil {
		return nil, err
	}
	if cfg.platforms, err = parsePlatforms(platforms); err != nil {
		return nil, err
	}
	cfg.commit, _ = gitOutput(root, "rev-parse", "HEAD")

	cfg.version = strings.TrimPrefix(version, "v")
	switch {
	case cfg.version == "" && !snapshot:
		return nil, errors.New("-version is required (or -snapshot for a dry run)")
	case cfg.version == "":
		if cfg.commit == "" {
			return nil, errors.New("-snapshot without -version needs a git checkout for its commit: pass -version")
		}
		cfg.version = snapshotVersion(cfg.commit)
	case !versionRE.MatchString(cfg.version):
		return nil, fmt.Errorf("-version %q is not a version X.Y.Z or X.Y.Z-pre in lower case (Terraform's filesystem mirrors read package names in lower case: 1.0.0-RC1 would not be found)", version)
	}
	if isSnapshotVersion(cfg.version) {
		cfg.snapshot = true
	}
	if !cfg.snapshot && cfg.gpgKey == "" {
		return nil, errors.New("a release for the registry needs SHA256SUMS.sig: pass -gpg-key (or set GPG_FINGERPRINT), or -snapshot for an unsigned dry run")
	}
	if cfg.mtime, err = sourceTime(root); err != nil {
		return nil, err
	}
	return cfg, nil
}

// moduleRoot is the folder holding go.mod and the registry manifest, found
// from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(dir, "go.mod")) && fileExists(filepath.Join(dir, manifestFile)) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no folder with go.mod and %s above the working directory: run from the repository", manifestFile)
		}
		dir = parent
	}
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

func gitOutput(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...) // #nosec G204 -- git with the fixed read-only arguments of this file (rev-parse HEAD, log -1 --format=%ct)
	cmd.Dir = dir
	b, err := cmd.Output()
	return strings.TrimSpace(string(b)), err
}

// sourceTime dates the files in the zips: SOURCE_DATE_EPOCH when set (the
// reproducible-builds convention), else the commit's time (goreleaser's
// mod_timestamp), else 1980-01-01, the earliest time a zip can hold.
func sourceTime(root string) (time.Time, error) {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: %v", s, err)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	if s, err := gitOutput(root, "log", "-1", "--format=%ct", "HEAD"); err == nil {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC(), nil
		}
	}
	return time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC), nil
}

func release(ctx context.Context, cfg *config, log io.Writer) error {
	start := time.Now()
	if err := os.MkdirAll(cfg.out, 0o750); err != nil {
		return err
	}
	if entries, err := os.ReadDir(cfg.out); err != nil {
		return err
	} else if len(entries) > 0 {
		return fmt.Errorf("%s is not empty: remove it or pass -clean", cfg.out)
	}
	extras, err := archiveExtras(cfg.root)
	if err != nil {
		return err
	}
	v := cfg.version

	kind := "release"
	if cfg.snapshot {
		kind = "snapshot"
	}
	commit := cfg.commit
	if commit == "" {
		commit = "unknown"
	}
	fmt.Fprintf(log, "%s %s (%s, commit %s) for %d platforms, %d builds at a time, into %s\n",
		projectName, v, kind, commit, len(cfg.platforms), cfg.jobs, cfg.out)

	work, err := os.MkdirTemp("", "slipstream-release-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, cfg.jobs)
	)
	for _, p := range cfg.platforms {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			t0 := time.Now()
			err := buildAndPack(ctx, cfg, work, extras, p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				return
			}
			fmt.Fprintf(log, "  %-13s built and packed in %s\n", p, time.Since(t0).Round(100*time.Millisecond))
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	// The manifest goes out under its release name and into the checksums,
	// as goreleaser's checksum.extra_files does.
	manifest, err := os.ReadFile(filepath.Join(cfg.root, manifestFile))
	if err != nil {
		return err
	}
	manifestName := fmt.Sprintf("%s_%s_manifest.json", projectName, v)
	if err := os.WriteFile(filepath.Join(cfg.out, manifestName), manifest, 0o644); err != nil { // #nosec G306 G703 -- a release file, published to everyone, written into the output folder the releaser named (-out)
		return err
	}
	sums := fmt.Sprintf("%s_%s_SHA256SUMS", projectName, v)
	if err := writeChecksums(cfg.out, sums); err != nil {
		return err
	}
	var note string
	if cfg.snapshot {
		note = fmt.Sprintf("%s.sig: not produced: a snapshot is not signed, and the registry refuses a release without it (docs/releasing.md)", sums)
	} else {
		if err := sign(ctx, cfg.gpgKey, filepath.Join(cfg.out, sums)); err != nil {
			return err
		}
		note = fmt.Sprintf("%s.sig: signed with GPG key %s", sums, cfg.gpgKey)
	}

	fmt.Fprintf(log, "%s:\n", cfg.out)
	if err := listDir(log, cfg.out); err != nil {
		return err
	}
	fmt.Fprintln(log, note)
	fmt.Fprintf(log, "done in %s\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// archiveExtras are the files goreleaser puts beside the binary by default
// (licence*, readme*, changelog*, either case, at the root), sorted.
func archiveExtras(root string) ([]string, error) {
	var names []string
	for _, pattern := range []string{"licence*", "LICENCE*", "license*", "LICENSE*", "readme*", "README*", "changelog*", "CHANGELOG*"} {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			return nil, err
		}
		for _, path := range m {
			name := filepath.Base(path)
			if fileExists(path) && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return names, nil
}

// buildAndPack builds the provider for p into work and packs it with the
// extras into its zip, terraform-provider-slipstream_V_OS_ARCH.zip.
func buildAndPack(ctx context.Context, cfg *config, work string, extras []string, p platform) error {
	bin := projectName + "_v" + cfg.version
	if p.os == "windows" {
		bin += ".exe"
	}
	dir := filepath.Join(work, p.String())
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	binPath := filepath.Join(dir, bin)
	cmd := exec.CommandContext(ctx, cfg.goCmd, "build", "-trimpath", // #nosec G204 G702 -- the go command the releaser named (-go), no shell: it builds our own package with fixed flags, a version checked by versionRE and a path in our temporary folder
		"-ldflags", "-s -w -X main.version="+cfg.version, "-o", binPath, ".")
	cmd.Dir = cfg.root
	cmd.Env = append(os.Environ(), buildEnv(p)...)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building for %s: %v\n%s", p, err, output.String())
	}
	files := []zipFile{{name: bin, path: binPath, mode: 0o755}}
	for _, name := range extras {
		files = append(files, zipFile{name: name, path: filepath.Join(cfg.root, name), mode: 0o644})
	}
	zipName := fmt.Sprintf("%s_%s_%s.zip", projectName, cfg.version, p)
	if err := writeZip(filepath.Join(cfg.out, zipName), files, cfg.mtime); err != nil {
		return err
	}
	return os.Remove(binPath) // #nosec G703 -- the binary just built in our own temporary folder: platform and version were checked against allPlatforms and versionRE
}

// buildEnv is goreleaser's environment for a target: no cgo, and its
// default microarchitecture levels rather than whatever the caller's
// environment says.
func buildEnv(p platform) []string {
	env := []string{"CGO_ENABLED=0", "GOOS=" + p.os, "GOARCH=" + p.arch}
	switch p.arch {
	case "amd64":
		env = append(env, "GOAMD64=v1")
	case "386":
		env = append(env, "GO386=sse2")
	case "arm":
		env = append(env, "GOARM=6")
	case "arm64":
		env = append(env, "GOARM64=v8.0")
	}
	return env
}

type zipFile struct {
	name string // in the zip
	path string // on disk
	mode os.FileMode
}

// writeZip packs files into a reproducible zip: entries sorted by name,
// each dated mtime (UTC) with a fixed mode, whatever their times and
// permissions on disk.
func writeZip(path string, files []zipFile, mtime time.Time) (err error) {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b zipFile) int { return strings.Compare(a.name, b.name) })
	f, err := os.Create(path) // #nosec G304 G703 -- the archive's path in the output folder the releaser named (-out), its name from a checked platform and version
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	zw := zip.NewWriter(f)
	for _, file := range files {
		hdr := &zip.FileHeader{Name: file.name, Method: zip.Deflate, Modified: mtime.UTC()}
		hdr.SetMode(file.mode)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if err := copyFile(w, file.path); err != nil {
			return err
		}
	}
	return zw.Close()
}

func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path) // #nosec G304 -- a file the release packs: a binary just built, or LICENSE/README at the root
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// writeChecksums writes name into dir: "<sha256 hex>  <file>" for every
// other file of dir (the zips and the manifest), sorted by name, as
// goreleaser's checksum step does (sha256sum's format).
func writeChecksums(dir, name string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, e := range entries { // ReadDir sorts by name
		if !e.Type().IsRegular() || e.Name() == name {
			continue
		}
		sum, err := fileSHA256(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", sum, e.Name())
	}
	return os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644) // #nosec G306 -- a release file, published to everyone
}

func fileSHA256(path string) (string, error) {
	h := sha256.New()
	if err := copyFile(h, path); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sign writes path.sig, a binary detached signature by key, as the
// scaffolding's signs step runs gpg. The registry checks it against the
// public key registered for the namespace.
func sign(ctx context.Context, key, path string) error {
	gpg, err := exec.LookPath("gpg")
	if err != nil {
		return fmt.Errorf("signing %s: %v (install GnuPG, or pass -snapshot for an unsigned dry run)", filepath.Base(path), err)
	}
	cmd := exec.CommandContext(ctx, gpg, "--batch", "--yes", "--local-user", key, "--output", path+".sig", "--detach-sign", path) // #nosec G204 -- gpg from PATH with the key the releaser named, no shell
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("signing %s with key %s: %v\n%s", filepath.Base(path), key, err, output.String())
	}
	return nil
}

// listDir prints the files of dir with their sizes, sorted.
func listDir(w io.Writer, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %-72s %10d\n", e.Name(), info.Size())
	}
	return nil
}
