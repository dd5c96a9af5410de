//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/internal/testkit"
)

// TestReadmeTokenWalkthrough runs the README's "try it with tokens" shell
// block as a newcomer pastes it, with two changes only: the server listens on
// a free port instead of :8080 (which a test must not assume is free), and
// `make build` is the binary the tests built. The block must start the
// server, wait for it, mint a token, create a document with it, print a demo
// address carrying the token, and stop the server.
func TestReadmeTokenWalkthrough(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "To try it with tokens")
	m := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(after)
	if !ok || m == nil {
		t.Fatal("README.md has no shell block after \"To try it with tokens\"")
	}
	script := m[1]
	for _, want := range []string{"make build", "./bin/tandem &", "/healthz", "./bin/tandem token", "/v1/docs", "kill $SERVER"} {
		if !strings.Contains(script, want) {
			t.Fatalf("the README's token walk-through lacks %q:\n%s", want, script)
		}
	}
	for _, tool := range []string{"bash", "curl", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README walk-through needs %s: %v", tool, err)
		}
	}
	port := strconv.Itoa(testkit.FreePort(t))
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(testkit.BuildTandem(t), filepath.Join(dir, "bin", "tandem")); err != nil {
		t.Fatal(err)
	}
	script = strings.ReplaceAll(script, "localhost:8080", "localhost:"+port)
	script = strings.Replace(script, "make build", "true", 1)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", "export TANDEM_ADDR=127.0.0.1:"+port+"\n"+script)
	cmd.Dir = dir
	cmd.Env = testkit.CleanEnv()
	done := make(chan struct{})
	var out []byte
	go func() {
		out, err = cmd.CombinedOutput()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the walk-through did not finish in 60 s:\n%s", out)
	}
	if err != nil {
		t.Fatalf("the README's token walk-through failed: %v\n%s", err, out)
	}
	for _, re := range []string{
		`"id":"notes","type":"text","v":0,"content":"hello"`,
		`http://localhost:` + port + `/demo/notes\?token=eyJ[\w-]+\.[\w-]+\.[\w-]+`,
		`msg="token authentication on`,
		`msg="stopped cleanly"`,
	} {
		if !regexp.MustCompile(re).Match(out) {
			t.Errorf("the walk-through's output lacks %s:\n%s", re, out)
		}
	}
}
