package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/internal/testkit"
)

// TestHealthcheck: the image's HEALTHCHECK command passes against a running
// server and fails against a dead address; without -url it checks the port
// of TANDEM_ADDR, as the image's health check does.
func TestHealthcheck(t *testing.T) {
	addr := testkit.FreeAddr(t)
	p := start(t, testkit.CleanEnv("TANDEM_ADDR="+addr))
	if got := p.Addr(t, 20*time.Second); got != addr {
		t.Fatalf("listening on %s, want %s", got, addr)
	}
	out, err := exec.Command(testkit.BuildTandem(t), "healthcheck", "-url", "http://"+addr+"/readyz").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "healthy") {
		t.Fatalf("healthcheck of a live server: %v\n%s", err, out)
	}
	_, port, _ := strings.Cut(addr, ":")
	for _, env := range []string{"TANDEM_ADDR=" + addr, "TANDEM_ADDR=:" + port, "TANDEM_ADDR=0.0.0.0:" + port} {
		for _, args := range [][]string{{"healthcheck"}, {"healthcheck", "-path", "/readyz"}} {
			cmd := exec.Command(testkit.BuildTandem(t), args...)
			cmd.Env = testkit.CleanEnv(env)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "healthy: http://127.0.0.1:"+port) {
				t.Fatalf("%s tandem %v: %v\n%s", env, args, err, out)
			}
		}
	}
	// The default (TANDEM_ADDR unset, so :8080) is not this server.
	cmd := exec.Command(testkit.BuildTandem(t), "healthcheck", "-timeout", "1s")
	cmd.Env = testkit.CleanEnv("TANDEM_ADDR=127.0.0.1:1")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "127.0.0.1:1/healthz") {
		t.Fatalf("healthcheck of another port passed or did not name it: %v\n%s", err, out)
	}
	cmd = exec.Command(testkit.BuildTandem(t), "healthcheck")
	cmd.Env = testkit.CleanEnv("TANDEM_ADDR=nonsense")
	if out, _ := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "TANDEM_ADDR") {
		t.Fatalf("a malformed TANDEM_ADDR: exit %d\n%s", cmd.ProcessState.ExitCode(), out)
	}

	p.Cmd.Process.Kill()
	p.Wait(t, 10*time.Second)
	cmd = exec.Command(testkit.BuildTandem(t), "healthcheck", "-url", "http://"+addr+"/healthz", "-timeout", "1s")
	out, err = cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "unhealthy") {
		t.Fatalf("healthcheck of a dead server: exit %d, %v\n%s", cmd.ProcessState.ExitCode(), err, out)
	}
}
