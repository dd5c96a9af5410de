//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/internal/testkit"
)

// The deployment files are kept correct by reading (there is no Docker
// engine here) and by Debian's docker-compose, which parses and checks a
// compose file without one.

func composeConfig(t *testing.T, args ...string) string {
	t.Helper()
	out, err := composeConfigWith(t, "0123456789abcdef0123456789abcdef", args...)
	if err != nil {
		t.Fatalf("docker-compose config %v: %v\n%s", args, err, out)
	}
	return out
}

// composeConfigWith runs `docker-compose config` with TANDEM_AUTH_SECRET set
// to secret (empty: set but empty) and POSTGRES_PASSWORD to s3cret.
func composeConfigWith(t *testing.T, secret string, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Fatalf("validating docker-compose.yml needs Debian's docker-compose (apt-get install -y docker-compose; `make e2e` installs it): %v", err)
	}
	cmd := exec.Command(bin, append([]string{"-f", "../docker-compose.yml", "config"}, args...)...)
	cmd.Env = append(os.Environ(), "TANDEM_AUTH_SECRET="+secret, "POSTGRES_PASSWORD=s3cret")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestComposeNeedsSecret: without TANDEM_AUTH_SECRET (unset or empty) the
// compose file refuses to start, saying why, instead of running an open
// cluster; the obsolete top-level version key is gone from both files.
func TestComposeNeedsSecret(t *testing.T) {
	out, err := composeConfigWith(t, "")
	if err == nil {
		t.Fatalf("docker-compose config passed with an empty TANDEM_AUTH_SECRET:\n%s", out)
	}
	if !strings.Contains(out, "TANDEM_AUTH_SECRET") || !strings.Contains(out, "would run open") {
		t.Fatalf("the refusal does not say what to set and why:\n%s", out)
	}
	for _, f := range []string{"../docker-compose.yml", "../docker-compose.test.yml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if regexp.MustCompile(`(?m)^version:`).Match(b) {
			t.Errorf("%s still has the obsolete top-level version key", f)
		}
	}
}

// services splits `docker-compose config` output into service blocks.
func services(cfg string) map[string]string {
	out := map[string]string{}
	body := cfg[strings.Index(cfg, "services:\n")+len("services:\n"):]
	if end := regexp.MustCompile(`(?m)^\S`).FindStringIndex(body); end != nil {
		body = body[:end[0]]
	}
	heads := regexp.MustCompile(`(?m)^  ([A-Za-z0-9_-]+):\n`).FindAllStringSubmatchIndex(body, -1)
	for i, h := range heads {
		end := len(body)
		if i+1 < len(heads) {
			end = heads[i+1][0]
		}
		out[body[h[2]:h[3]]] = body[h[1]:end]
	}
	return out
}

func TestComposeFile(t *testing.T) {
	names := strings.Fields(composeConfig(t, "--services"))
	slices.Sort(names)
	if want := []string{"lb", "postgres", "redis", "tandem1", "tandem2"}; !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v", names, want)
	}
	svc := services(composeConfig(t))
	for _, name := range []string{"tandem1", "tandem2"} {
		s := svc[name]
		for _, want := range []string{
			"TANDEM_DATABASE_URL: postgres://tandem:s3cret@postgres:5432/tandem",
			"TANDEM_REDIS_URL: redis://redis:6379/0",
			"TANDEM_ADDR: :8080",
			"/usr/local/bin/tandem\n      - healthcheck\n      - -path\n      - /readyz",
			"TANDEM_AUTH_SECRET: 0123456789abcdef0123456789abcdef",
			"condition: service_healthy",
			"context: ",
		} {
			if !strings.Contains(s, want) {
				t.Errorf("%s lacks %q:\n%s", name, want, s)
			}
		}
		if strings.Contains(s, "-url") {
			t.Errorf("%s: the health check names a URL, which would not follow TANDEM_ADDR:\n%s", name, s)
		}
		if regexp.MustCompile(`(?m)^    ports:`).MatchString(s) {
			t.Errorf("%s publishes a port: only the load balancer should", name)
		}
	}
	for _, name := range []string{"postgres", "redis"} {
		if strings.Contains(svc[name], "ports:") {
			t.Errorf("%s publishes a port in the production file", name)
		}
	}
	if !strings.Contains(svc["lb"], "nginx.conf:/etc/nginx/nginx.conf:ro") || !strings.Contains(svc["lb"], "published: 8080") {
		t.Errorf("lb does not mount deploy/nginx.conf or publish 8080:\n%s", svc["lb"])
	}
	conf, err := os.ReadFile("../deploy/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"server tandem1:8080", "server tandem2:8080", "proxy_set_header Upgrade $http_upgrade", "proxy_set_header Host $http_host", "proxy_buffering off"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("deploy/nginx.conf lacks %q", want)
		}
	}
}

// TestDockerfile: multi-stage, runs as non-root, and its HEALTHCHECK command
// is one the binary really has (checked against a running node).
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	if n := len(regexp.MustCompile(`(?m)^FROM `).FindAllString(df, -1)); n < 2 {
		t.Errorf("Dockerfile has %d stages, want a multi-stage build", n)
	}
	user := regexp.MustCompile(`(?m)^USER (\S+)`).FindAllStringSubmatch(df, -1)
	if len(user) == 0 || strings.HasPrefix(user[len(user)-1][1], "root") || strings.HasPrefix(user[len(user)-1][1], "0") {
		t.Errorf("the final stage does not switch to a non-root user: %v", user)
	}
	hc := regexp.MustCompile(`(?s)HEALTHCHECK.*?CMD (\[[^\n]*\])`).FindStringSubmatch(df)
	if hc == nil {
		t.Fatalf("no HEALTHCHECK CMD [...] in the Dockerfile")
	}
	var argv []string
	if err := json.Unmarshal([]byte(hc[1]), &argv); err != nil || len(argv) < 2 || argv[0] != "/usr/local/bin/tandem" || argv[1] != "healthcheck" {
		t.Fatalf("HEALTHCHECK CMD %s: want [\"/usr/local/bin/tandem\", \"healthcheck\", ...] (%v)", hc[1], err)
	}
	if slices.Contains(argv, "-url") {
		t.Fatalf("HEALTHCHECK %s names a URL: it must follow TANDEM_ADDR", hc[1])
	}
	// The image's command, run where the image would: TANDEM_ADDR says where
	// the server listens (here a node on a random port, not 8080).
	c := newCluster(t, testkit.RedisURL(), 3*time.Second)
	nd := c.start(1)[0]
	check := func(timeout string) ([]byte, error) {
		cmd := exec.Command(testkit.BuildTandem(t), append(argv[1:], "-timeout", timeout)...)
		cmd.Env = testkit.CleanEnv("TANDEM_ADDR=" + nd.addr)
		return cmd.CombinedOutput()
	}
	if out, err := check("3s"); err != nil {
		t.Fatalf("the image's health check fails against a live node on TANDEM_ADDR=%s: %v\n%s", nd.addr, err, out)
	}
	nd.kill()
	if _, err := check("1s"); err == nil {
		t.Fatalf("the health check passes against a dead node")
	}
}
