//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/internal/testkit"
)

// TestBrowserCORSAndRateLimit: a browser app served from another origin
// calls the REST API with a token (docs/api.md, "CORS" and "Rate limit"), in
// chromium. From a listed origin the preflighted POST creates the document,
// its Location header is readable, the document reads back, and a burst past
// the rate answers 429 with a readable Retry-After. From an origin that is
// not listed the browser blocks the very first call, and nothing is created.
func TestBrowserCORSAndRateLimit(t *testing.T) {
	node, chromium, _ := browserTools(t)
	const secret = "cors-secret-0123456789abcdef0123"
	page := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><title>an app on another origin</title><p>app</p>"))
	})
	app, other := httptest.NewServer(page), httptest.NewServer(page)
	defer app.Close()
	defer other.Close()
	apiAddr := testkit.FreeAddr(t)
	standalone(t, "api", apiAddr, "TANDEM_AUTH_SECRET="+secret, "TANDEM_ALLOWED_ORIGINS="+app.URL,
		"TANDEM_REST_RATE=1", "TANDEM_REST_BURST=10")
	mint := func(sub string) string {
		claims := auth.TokenClaims{Name: sub, Docs: map[string]string{"*": "rw"}, Admin: true, RegisteredClaims: jwt.RegisteredClaims{
			Subject: sub, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
		}}
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	token := mint("app-backend")
	doc := "cors-" + testkit.RandHex(4)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "cors.mjs", app.URL+"/", other.URL+"/", "http://"+apiAddr, token, doc)
	cmd.Dir = "browser"
	cmd.Env = append(cmd.Environ(), "CHROMIUM="+chromium)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("cors.mjs: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr)
	}
	type seen struct {
		Create *struct {
			Status   int
			Location string
			Error    string
		}
		Read *struct {
			Status  int
			Content string
			Error   string
		}
		Limited *struct {
			Status     int
			RetryAfter string
			Code       string
			After      int
		}
	}
	var res struct{ App, Other seen }
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("cors.mjs printed %q: %v", out, err)
	}
	t.Logf("the pages saw: %s", out)

	a := res.App
	if a.Create == nil || a.Create.Status != http.StatusCreated || a.Create.Location != "/v1/docs/"+doc {
		t.Fatalf("create from the listed origin: %+v, want 201 with a readable Location /v1/docs/%s", a.Create, doc)
	}
	if a.Read == nil || a.Read.Status != http.StatusOK || a.Read.Content != "from another origin" {
		t.Fatalf("read from the listed origin: %+v", a.Read)
	}
	if a.Limited == nil || a.Limited.Status != http.StatusTooManyRequests || a.Limited.Code != "rate_limited" || a.Limited.RetryAfter == "" {
		t.Fatalf("burst from the listed origin: %+v, want a 429 rate_limited with a readable Retry-After", a.Limited)
	}
	// The bucket holds 10: the create and the read took two, the burst the
	// other eight (one per second comes back meanwhile, at most a few more).
	if a.Limited.After < 8 || a.Limited.After > 12 {
		t.Errorf("the burst was refused after %d calls, want about 8 (burst 10, rate 1/s)", a.Limited.After)
	}

	o := res.Other
	if o.Create == nil || o.Create.Error == "" || !strings.Contains(o.Create.Error, "Failed to fetch") {
		t.Fatalf("create from an origin that is not listed: %+v, want the browser to block it", o.Create)
	}
	// Checked with a token of its own: the app's bucket is empty by now.
	req, _ := http.NewRequest("GET", "http://"+apiAddr+"/v1/docs/"+doc+"-other", nil)
	req.Header.Set("Authorization", "Bearer "+mint("checker"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET the document the blocked page tried to create: %d, want 404", resp.StatusCode)
	}
}
