//go:build e2e

package e2e

import (
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
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Fatalf("validating docker-compose.yml needs Debian's docker-compose (apt-get install -y docker-compose; `make e2e` installs it): %v", err)
	}
	cmd := exec.Command(bin, append([]string{"-f", "../docker-compose.yml", "config"}, args...)...)
	cmd.Env = append(os.Environ(), "TANDEM_AUTH_SECRET=", "POSTGRES_PASSWORD=s3cret")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker-compose config %v: %v\n%s", args, err, out)
	}
	return string(out)
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
			"/usr/local/bin/tandem\n      - healthcheck",
			"condition: service_healthy",
			"context: ",
		} {
			if !strings.Contains(s, want) {
				t.Errorf("%s lacks %q:\n%s", name, want, s)
			}
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
	hc := regexp.MustCompile(`(?s)HEALTHCHECK.*?CMD \["/usr/local/bin/tandem", "healthcheck", "-url", "([^"]+)"\]`).FindStringSubmatch(df)
	if hc == nil {
		t.Fatalf("no HEALTHCHECK running `tandem healthcheck -url ...`")
	}
	c := newCluster(t, testkit.RedisURL(), 3*time.Second)
	nd := c.start(1)[0]
	url := strings.Replace(hc[1], "127.0.0.1:8080", nd.addr, 1)
	if out, err := exec.Command(testkit.BuildTandem(t), "healthcheck", "-url", url).CombinedOutput(); err != nil {
		t.Fatalf("the image's health check fails against a live node: %v\n%s", err, out)
	}
	nd.kill()
	if err := exec.Command(testkit.BuildTandem(t), "healthcheck", "-url", url, "-timeout", "1s").Run(); err == nil {
		t.Fatalf("the health check passes against a dead node")
	}
}
