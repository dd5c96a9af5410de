//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/internal/testkit"
	// Boards are tree documents: the store decodes their snapshots.
	_ "github.com/tandem-collab/tandem/tree"
)

// TestBrowserDemoTwoNodes: two chromium pages open the /demo/ page of one
// document on two different nodes, type at once, end with identical text
// (which is what Postgres holds) and each shows the other's named caret.
// Screenshots are kept in e2e/artifacts/.
func TestBrowserDemoTwoNodes(t *testing.T) {
	const initial = "Two browsers, two nodes.\n"
	c := newCluster(t, testkit.RedisURL(), 3*time.Second)
	ns := c.start(2)
	c.createDoc("browser-demo", initial)
	out, artifacts := runBrowserScript(t, "two_pages.mjs", "http://"+ns[0].addr+"/demo/browser-demo", "http://"+ns[1].addr+"/demo/browser-demo")
	var res struct{ Text string }
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("browser test output %q: %v", out, err)
	}
	// The pages agree; Postgres must hold the same text.
	waitStored(t, c, "browser-demo", res.Text)
	for _, f := range []string{"page-a-node-a.png", "page-b-node-b.png"} {
		if st, err := os.Stat(filepath.Join(artifacts, f)); err != nil || st.Size() == 0 {
			t.Fatalf("screenshot %s missing: %v", f, err)
		}
	}
	t.Logf("both pages: %q; screenshots in %s", res.Text, artifacts)
}

// TestBrowserSameSpotWholeWords: two people on two nodes type different
// phrases with emoji at one spot at the same time, twice (the end of a line,
// then the start of the next). The pages and Postgres converge on one text in
// which every phrase is whole, the two side by side: the issue a new user met
// first was "baelpthaa  👍 😀 tonweo  ". Screenshots of the demo showing the
// whole words are kept in e2e/artifacts/.
func TestBrowserSameSpotWholeWords(t *testing.T) {
	const initial = "Type here: \nand here.\n"
	c := newCluster(t, testkit.RedisURL(), 3*time.Second)
	ns := c.start(2)
	c.createDoc("same-spot", initial)
	out, artifacts := runBrowserScript(t, "same_spot.mjs", "http://"+ns[0].addr+"/demo/same-spot", "http://"+ns[1].addr+"/demo/same-spot")
	var res struct {
		Text   string
		Rounds [][2]string
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("browser test output %q: %v", out, err)
	}
	if len(res.Rounds) != 2 {
		t.Fatalf("browser test ran %d rounds", len(res.Rounds))
	}
	// Checked here too, not only in the script: each phrase once, whole, next
	// to the other of its round.
	want := utf8.RuneCountInString(initial)
	for _, r := range res.Rounds {
		for _, p := range r {
			if strings.Count(res.Text, p) != 1 {
				t.Fatalf("%q is not whole in %q", p, res.Text)
			}
			want += utf8.RuneCountInString(p)
		}
		if !strings.Contains(res.Text, r[0]+r[1]) && !strings.Contains(res.Text, r[1]+r[0]) {
			t.Fatalf("%q and %q are not side by side in %q", r[0], r[1], res.Text)
		}
	}
	if got := utf8.RuneCountInString(res.Text); got != want {
		t.Fatalf("the pages show %d code points, want %d: %q", got, want, res.Text)
	}
	waitStored(t, c, "same-spot", res.Text)
	for _, f := range []string{"same-spot-page-a.png", "same-spot-page-b.png"} {
		if st, err := os.Stat(filepath.Join(artifacts, f)); err != nil || st.Size() == 0 {
			t.Fatalf("screenshot %s missing: %v", f, err)
		}
	}
	t.Logf("both pages: %q; screenshots in %s", res.Text, artifacts)
}

// runBrowserScript runs node script (in e2e/browser) with the two page URLs
// and the artifacts directory, and returns its one line of JSON output and
// that directory. The tools are installed by `make e2e`; without them the
// test fails saying what is missing.
func runBrowserScript(t *testing.T, script, urlA, urlB string) (out []byte, artifacts string) {
	t.Helper()
	node, chromium, artifacts := browserTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, urlA, urlB, artifacts)
	cmd.Dir = "browser"
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("browser test %s: %v\nstdout:\n%s\nstderr:\n%s", script, err, stdout.String(), stderr.String())
	}
	return bytes.TrimSpace(stdout.Bytes()), artifacts
}

// TestBrowserCanvasTwoNodes: two chromium pages open one board of the
// /demo/canvas/ page on two different nodes. Page A creates the board (over
// REST, as a visitor's page does), adds three shapes and drags one while page
// B drags another and types into a sticky note; both end with the same
// content, read through the SDK, which is what Postgres holds, and each shows
// the other's named cursor and selection. Screenshots are kept in
// e2e/artifacts/.
func TestBrowserCanvasTwoNodes(t *testing.T) {
	c := newCluster(t, testkit.RedisURL(), 3*time.Second)
	ns := c.start(2)
	board := "canvas-e2e-" + testkit.RandHex(4)
	out, artifacts := runBrowserScript(t, "canvas.mjs", "http://"+ns[0].addr+"/demo/canvas/"+board, "http://"+ns[1].addr+"/demo/canvas/"+board)
	var res struct{ Content json.RawMessage }
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("browser test output %q: %v", out, err)
	}
	var want map[string]any
	if err := json.Unmarshal(res.Content, &want); err != nil || len(want) < 7 {
		t.Fatalf("the pages hold %s: want the starter board and three more shapes", res.Content)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, snap, err := c.st.Load(context.Background(), board)
		if err != nil {
			t.Fatal(err)
		}
		b, err := snap.Content.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if reflect.DeepEqual(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Postgres holds %s, the pages show %s", b, res.Content)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, f := range []string{"canvas-page-a.png", "canvas-page-b.png"} {
		if st, err := os.Stat(filepath.Join(artifacts, f)); err != nil || st.Size() == 0 {
			t.Fatalf("screenshot %s missing: %v", f, err)
		}
	}
	t.Logf("both pages and Postgres: %d objects; screenshots in %s", len(want), artifacts)
}

// waitStored waits until Postgres holds text for docID.
func waitStored(t *testing.T, c *cluster, docID, text string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, snap, err := c.st.Load(context.Background(), docID)
		if err != nil {
			t.Fatal(err)
		}
		if textdoc.String(snap.Content) == text {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Postgres holds %q, the pages show %q", textdoc.String(snap.Content), text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// browserTools finds what the browser tests need (node, Debian's chromium,
// playwright-core in e2e/browser) and makes the screenshot directory; it
// fails the test, saying what to install, when something is missing.
func browserTools(t *testing.T) (node, chromium, artifacts string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("the browser test needs node (apt-get install -y nodejs npm): %v", err)
	}
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the browser test needs Debian's chromium at %s (apt-get install -y chromium; `make e2e` installs it): %v", chromium, err)
	}
	if _, err := os.Stat("browser/node_modules/playwright-core"); err != nil {
		t.Fatalf("the browser test needs playwright-core in e2e/browser (cd e2e/browser && npm ci; `make e2e` does it): %v", err)
	}
	artifacts, err = filepath.Abs("artifacts")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	return node, chromium, artifacts
}

// standalone starts one tandem process on addr with the in-memory store and
// the extra settings, and waits until it is ready.
func standalone(t *testing.T, name, addr string, env ...string) *testkit.Process {
	t.Helper()
	cmd := exec.Command(testkit.BuildTandem(t))
	cmd.Env = testkit.CleanEnv(append([]string{"TANDEM_ADDR=" + addr, "TANDEM_LOG_LEVEL=info", "TANDEM_SHUTDOWN_TIMEOUT=2s"}, env...)...)
	p := testkit.StartProcess(t, name, cmd)
	p.Addr(t, 30*time.Second)
	p.WaitReady(t, "http://"+addr+"/readyz", 20*time.Second)
	return p
}

// TestBrowserDemoFirstHour drives the /demo/ page through what a newcomer
// meets (issue 20) in chromium, with a screenshot of every state in
// e2e/artifacts/demo-*.png (see browser/demo_states.mjs for the checks): two
// windows at a bare /demo/ meet in one document; caret names fade when idle
// and show while typing and on hover; at 420 px the header fits and a wider
// window's pointer stays on screen; dark and light colour schemes; renaming
// and recolouring; Copy link; a restart of a server on its memory store (the
// document is gone, the page offers to create it again with its text, and
// never claims it "could not be created"); and on a server with tokens: no
// token, an expired token, no access, read-only (badge, the token's name as
// "me"), and a missing document the token may not create.
func TestBrowserDemoFirstHour(t *testing.T) {
	node, chromium, artifacts := browserTools(t)
	const secret = "first-hour-secret-0123456789abcdef"
	openAddr, authAddr := testkit.FreeAddr(t), testkit.FreeAddr(t)
	open := standalone(t, "open", openAddr)
	standalone(t, "auth", authAddr, "TANDEM_AUTH_SECRET="+secret)

	tok := func(sub, name string, docs map[string]string, admin bool, ttl time.Duration) string {
		c := auth.TokenClaims{Name: name, Docs: docs, Admin: admin, RegisteredClaims: jwt.RegisteredClaims{
			Subject: sub, ExpiresAt: jwt.NewNumericDate(time.Now().Add(ttl)), IssuedAt: jwt.NewNumericDate(time.Now().Add(-2 * time.Hour)),
		}}
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tokens := map[string]string{
		"admin":   tok("root", "Root", map[string]string{"*": "rw"}, true, time.Hour),
		"expired": tok("late", "Lena", map[string]string{"*": "rw"}, false, -time.Hour),
		"none":    tok("olaf", "Olaf", map[string]string{"team-*": "rw"}, false, time.Hour),
		"reader":  tok("vera", "Vera Viewer", map[string]string{"notes": "r"}, false, time.Hour),
		"writer":  tok("walt", "Walt Writer", map[string]string{"*": "rw"}, false, time.Hour),
	}
	req, _ := http.NewRequest("POST", "http://"+authAddr+"/v1/docs", strings.NewReader(`{"id":"notes","content":"Team notes.\n"}`))
	req.Header.Set("Authorization", "Bearer "+tokens["admin"])
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("create notes: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	cfg, _ := json.Marshal(map[string]any{"open": "http://" + openAddr, "auth": "http://" + authAddr, "tokens": tokens, "out": artifacts})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "demo_states.mjs", string(cfg))
	cmd.Dir = "browser"
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var result struct {
		OK     bool
		Checks []string
	}
	sc := bufio.NewScanner(stdout)
	var out []string
	for sc.Scan() {
		line := sc.Text()
		out = append(out, line)
		switch {
		case strings.Contains(line, `"restart":true`):
			// The memory store forgets everything: the page's document is gone.
			open.Kill(t, 10*time.Second)
			open = standalone(t, "open (restarted)", openAddr)
			if _, err := io.WriteString(stdin, "restarted\n"); err != nil {
				t.Fatalf("tell the page script: %v", err)
			}
		case strings.Contains(line, `"ok":true`):
			if err := json.Unmarshal([]byte(line), &result); err != nil {
				t.Fatalf("result %q: %v", line, err)
			}
		}
	}
	if err := cmd.Wait(); err != nil || !result.OK {
		t.Fatalf("demo states: %v\nstdout:\n%s\nstderr:\n%s", err, strings.Join(out, "\n"), stderr.String())
	}
	// "Create it again with this text" stored the page's text on the restarted server.
	resp, err := http.Get("http://" + openAddr + "/v1/docs/welcome")
	if err != nil {
		t.Fatal(err)
	}
	var d struct{ Content string }
	_ = json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	if !strings.Contains(d.Content, "Kept across the restart.") || !strings.Contains(d.Content, "Welcome to Tandem!") {
		t.Fatalf("after the restart the server holds %q", d.Content)
	}
	for _, f := range []string{"demo-caret-name-while-typing", "demo-caret-name-idle", "demo-420px-dark", "demo-1000px-light", "demo-colour-palette",
		"demo-server-restarted", "demo-needs-token", "demo-token-expired", "demo-no-access", "demo-read-only", "demo-cannot-create"} {
		if st, err := os.Stat(filepath.Join(artifacts, f+".png")); err != nil || st.Size() == 0 {
			t.Errorf("screenshot %s.png missing: %v", f, err)
		}
	}
	t.Logf("%d checks passed: %s; screenshots in %s", len(result.Checks), strings.Join(result.Checks, "; "), artifacts)
}

// browserRun is what the offline and fallback scripts print: the text both
// pages converged on.
type browserRun struct {
	Text      string
	Transport string
}

// runConverging runs script with pages on two nodes of a fresh cluster on
// document id (created with initial) and checks what the script says
// against Postgres: the same text, every phrase once, every op in the log
// once by (sid, seq).
func runConverging(t *testing.T, script, id, initial string, phrases ...string) browserRun {
	t.Helper()
	c := newCluster(t, testkit.RedisURL(), 3*time.Second)
	ns := c.start(2)
	c.createDoc(id, initial)
	out, artifacts := runBrowserScript(t, script, "http://"+ns[0].addr+"/demo/"+id, "http://"+ns[1].addr+"/demo/"+id)
	var res browserRun
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("browser test output %q: %v", out, err)
	}
	want := utf8.RuneCountInString(initial)
	for _, p := range phrases {
		if strings.Count(res.Text, p) != 1 {
			t.Fatalf("%q is not there exactly once in %q", p, res.Text)
		}
		want += utf8.RuneCountInString(p)
	}
	if got := utf8.RuneCountInString(res.Text); got != want {
		t.Fatalf("the pages show %d code points, want %d (the initial text and each phrase once): %q", got, want, res.Text)
	}
	waitStored(t, c, id, res.Text)
	ops, err := c.st.ReadOps(context.Background(), id, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, o := range ops {
		k := fmt.Sprintf("%s/%d", o.SID, o.Seq)
		if seen[k] {
			t.Fatalf("op (sid, seq) %s is in the log twice", k)
		}
		seen[k] = true
	}
	t.Logf("%s: %q in %d ops; screenshots in %s; %s", script, res.Text, len(ops), artifacts, out)
	return res
}

// TestBrowserOfflineAcrossReload (issue 19, a): a page goes offline, types,
// is closed and opened again offline (the text typed offline is there, and
// takes more edits), while another page edits; back online, its edits land
// exactly once and both pages converge.
func TestBrowserOfflineAcrossReload(t *testing.T) {
	runConverging(t, "offline.mjs", "offline-reload", "The start.\n",
		"typed offline 😀. ", "and after the reload.", "Bob was here meanwhile. ")
}

// TestBrowserFallbackWithoutWebSocket (issue 19, b): a page whose WebSocket
// is blocked collaborates over the HTTP fallback with a normal page: the text
// converges both ways and each page shows the other's named caret.
func TestBrowserFallbackWithoutWebSocket(t *testing.T) {
	res := runConverging(t, "fallback.mjs", "fallback", "first line\nsecond line\n",
		"over SSE 😀 from Ada. more", " and over a WebSocket from Bob 👍")
	if !strings.Contains(res.Transport, "HTTP fallback") {
		t.Fatalf("page A's connection says %q, not the HTTP fallback", res.Transport)
	}
}

// TestBrowserTwoTabsOffline (issue 19, c): two tabs of one browser on one
// document, offline edits in both, back online: everything lands once.
func TestBrowserTwoTabsOffline(t *testing.T) {
	runConverging(t, "two_tabs.mjs", "two-tabs", "Middle.\n",
		"first tab, offline. ", " second tab, offline 👍", "Bob online. ")
}
