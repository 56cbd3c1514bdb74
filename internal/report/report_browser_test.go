package report

// The browser test needs, installed once per machine (CI: `make tools`):
//   - /usr/bin/chromium, Debian's package: hack/install-deps.sh (as root);
//   - playwright-core, pinned by testdata/browser/package-lock.json, in
//     $HOME/.cache/faultline/node: hack/install-browser.sh --node-only.
// Without them it skips, saying what is missing, unless CI=true, where it
// fails: CI must not pass by silently not testing. FAULTLINE_NODE_DIR and
// FAULTLINE_CHROMIUM point it elsewhere; FAULTLINE_REPORT_SCREENSHOT=path
// keeps the screenshot for a person to look at.

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// browserCheck is what testdata/browser/check.mjs prints.
type browserCheck struct {
	OK            bool     `json:"ok"`
	Error         string   `json:"error"`
	Title         string   `json:"title"`
	ConsoleErrors []string `json:"consoleErrors"`
	PageErrors    []string `json:"pageErrors"`
	External      []string `json:"external"`
	Charts        []struct {
		ID     string `json:"id"`
		Kind   string `json:"kind"`
		Points int    `json:"points"`
		Canvas bool   `json:"canvas"`
		Width  int    `json:"width"`
		Height int    `json:"height"`
		Inked  int    `json:"inked"`
	} `json:"charts"`
	State struct {
		Ready  bool     `json:"ready"`
		Errors []string `json:"errors"`
		Charts []struct {
			Experiment string `json:"experiment"`
			Kind       string `json:"kind"`
			Points     int    `json:"points"`
		} `json:"charts"`
	} `json:"state"`
	Verdicts []struct {
		Verdict string `json:"verdict"`
		Text    string `json:"text"`
	} `json:"verdicts"`
	Resized []struct {
		ID    string `json:"id"`
		Width int    `json:"width"`
	} `json:"resized"`
	Zoomed     []xRange `json:"zoomed"`
	Reset      []xRange `json:"reset"`
	Screenshot string   `json:"screenshot"`
}

type xRange struct {
	ID  string  `json:"id"`
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

// browserTools finds node, Chromium and playwright-core, or says what is
// missing and how to install it.
func browserTools(t *testing.T) (node, chromium, nodeDir string) {
	t.Helper()
	var missing []string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node (Debian nodejs)")
	}
	chromium = os.Getenv("FAULTLINE_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, chromium+" (hack/install-deps.sh installs Debian chromium)")
	}
	nodeDir = os.Getenv("FAULTLINE_NODE_DIR")
	if nodeDir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatalf("no home directory to find the playwright-core cache in: %v", err)
		}
		nodeDir = filepath.Join(home, ".cache", "faultline", "node")
	}
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", "playwright-core", "package.json")); err != nil {
		missing = append(missing, "playwright-core in "+nodeDir+" (hack/install-browser.sh --node-only)")
	}
	if len(missing) > 0 {
		msg := "browser test needs " + strings.Join(missing, ", ")
		// CI installs all three (make tools); there a missing tool is a
		// broken setup, not a reason to skip.
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return node, chromium, nodeDir
}

// TestHTMLInBrowser renders a two-experiment report (one with a
// "</script>" in its name) in headless Chromium and checks that it draws
// every chart with data, shows the verdicts, logs no errors and fetches
// nothing from the network.
func TestHTMLInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	node, chromium, nodeDir := browserTools(t)

	reports := []Report{
		fixture(fixtureOptions{name: "inference-gateway/pod-kill", seed: 1, rps: 40, mild: true}),
		fixture(fixtureOptions{name: `model-rollout </script><script>alert("x")</script>`, seed: 2, rps: 40,
			abortAt: 80 * time.Second, failSLOs: true}),
	}
	dir := t.TempDir()
	htmlPath := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	if err := WriteHTML(&buf, reports...); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(htmlPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "report.png")
	if keep := os.Getenv("FAULTLINE_REPORT_SCREENSHOT"); keep != "" {
		// For a person to look at: go test -run InBrowser with this set.
		shot = keep
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "browser", "check.mjs"), htmlPath, shot)
	cmd.Env = append(os.Environ(), "FAULTLINE_NODE_DIR="+nodeDir, "FAULTLINE_CHROMIUM="+chromium)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("check.mjs: %v\nstdout: %s\nstderr: %s", err, out, stderr.String())
	}
	var got browserCheck
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("check.mjs printed no verdict: %v\n%s\nstderr: %s", err, out, stderr.String())
	}
	if !got.OK {
		t.Fatalf("browser check failed: %s", got.Error)
	}
	if len(got.ConsoleErrors) > 0 || len(got.PageErrors) > 0 || len(got.State.Errors) > 0 {
		t.Errorf("errors in the page:\nconsole: %q\npage: %q\nreport.js: %q", got.ConsoleErrors, got.PageErrors, got.State.Errors)
	}
	if len(got.External) > 0 {
		t.Errorf("report fetched from the network: %q", got.External)
	}
	if !got.State.Ready {
		t.Error("report.js never finished")
	}

	// Two experiments × latency, throughput, error rate, probe states.
	want := map[string]bool{}
	for _, id := range []string{"exp-1", "exp-2"} {
		for _, kind := range []string{"latency", "throughput", "errors", "probes"} {
			want[id+"-"+kind] = true
		}
	}
	for _, c := range got.Charts {
		if !want[c.ID] {
			t.Errorf("unexpected chart %q", c.ID)
			continue
		}
		delete(want, c.ID)
		if !c.Canvas || c.Width < 300 || c.Height < 60 {
			t.Errorf("chart %s: canvas %v, %d×%d px; want a drawn canvas", c.ID, c.Canvas, c.Width, c.Height)
		}
		if c.Points < 50 {
			t.Errorf("chart %s has %d data points; want the run's buckets", c.ID, c.Points)
		}
		if c.Inked < 2000 {
			t.Errorf("chart %s: only %d inked pixels; it drew (almost) nothing", c.ID, c.Inked)
		}
	}
	for id := range want {
		t.Errorf("chart %s missing", id)
	}
	if len(got.State.Charts) != 8 {
		t.Errorf("window.__faultline lists %d charts, want 8", len(got.State.Charts))
	}
	for _, r := range got.Resized {
		if r.Width > 820 {
			t.Errorf("chart %s is %d px wide in an 820 px window; charts must follow the page width", r.ID, r.Width)
		}
	}

	// Zooming the first chart zoomed every chart of its experiment to the
	// same window, left the other experiment alone, and a double-click
	// showed the whole run again (90 s for exp-1).
	if len(got.Zoomed) != 8 || len(got.Reset) != 8 {
		t.Fatalf("x ranges after zoom %v, after reset %v", got.Zoomed, got.Reset)
	}
	for i, z := range got.Zoomed {
		exp1 := strings.HasPrefix(z.ID, "exp-1-")
		if exp1 && (z.Min < 20 || z.Max > 70 || z.Max-z.Min > 30 || z.Min != got.Zoomed[0].Min || z.Max != got.Zoomed[0].Max) {
			t.Errorf("%s after zooming exp-1-latency: %.1f–%.1f s; want the same narrowed window as exp-1-latency", z.ID, z.Min, z.Max)
		}
		if !exp1 && (z.Min != 0 || z.Max != 80) {
			t.Errorf("%s zoomed (%.1f–%.1f s) with another experiment's chart", z.ID, z.Min, z.Max)
		}
		if r := got.Reset[i]; exp1 && (r.Min != 0 || r.Max != 90) {
			t.Errorf("%s after double-click: %.1f–%.1f s, want 0–90", r.ID, r.Min, r.Max)
		}
	}

	verdicts := map[string]string{}
	for _, v := range got.Verdicts {
		verdicts[v.Verdict] = v.Text
	}
	if !strings.Contains(verdicts["pass"], "PASS") || !strings.Contains(verdicts["aborted"], "ABORTED") {
		t.Errorf("verdicts shown: %+v; want a PASS and an ABORTED", got.Verdicts)
	}
	if !strings.Contains(got.Title, "2 experiments") {
		t.Errorf("title %q", got.Title)
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 10_000 {
		t.Errorf("screenshot %s missing or blank: %v", shot, err)
	}
}
