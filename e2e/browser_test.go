//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/internal/testkit"
)

// TestBrowserDemoTwoNodes: two chromium pages open the /demo/ page of one
// document on two different nodes, type at once, end with identical text
// (which is what Postgres holds) and each shows the other's named caret.
// Screenshots are kept in e2e/artifacts/.
func TestBrowserDemoTwoNodes(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("the browser test needs node (apt-get install -y nodejs npm): %v", err)
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the browser test needs Debian's chromium at %s (apt-get install -y chromium; `make e2e` installs it): %v", chromium, err)
	}
	if _, err := os.Stat("browser/node_modules/playwright-core"); err != nil {
		t.Fatalf("the browser test needs playwright-core in e2e/browser (cd e2e/browser && npm ci; `make e2e` does it): %v", err)
	}
	artifacts, err := filepath.Abs("artifacts")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	const initial = "Two browsers, two nodes.\n"
	c := newCluster(t, testkit.RedisURL(), 3*time.Second)
	ns := c.start(2)
	c.createDoc("browser-demo", initial)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "two_pages.mjs",
		"http://"+ns[0].addr+"/demo/browser-demo", "http://"+ns[1].addr+"/demo/browser-demo", artifacts)
	cmd.Dir = "browser"
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("browser test: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	var res struct{ Text string }
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res); err != nil {
		t.Fatalf("browser test output %q: %v", stdout.String(), err)
	}
	// The pages agree; Postgres must hold the same text.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, snap, err := c.st.Load(context.Background(), "browser-demo")
		if err != nil {
			t.Fatal(err)
		}
		if snap.Content == res.Text {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Postgres holds %q, the pages show %q", snap.Content, res.Text)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, f := range []string{"page-a-node-a.png", "page-b-node-b.png"} {
		if st, err := os.Stat(filepath.Join(artifacts, f)); err != nil || st.Size() == 0 {
			t.Fatalf("screenshot %s missing: %v", f, err)
		}
	}
	t.Logf("both pages: %q; screenshots in %s", res.Text, artifacts)
}
