package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/internal/testkit"
)

// TestHealthcheck: the image's HEALTHCHECK command passes against a running
// server and fails against a dead address.
func TestHealthcheck(t *testing.T) {
	p := start(t, testkit.CleanEnv("TANDEM_ADDR=127.0.0.1:0"))
	addr := p.Addr(t, 20*time.Second)
	out, err := exec.Command(testkit.BuildTandem(t), "healthcheck", "-url", "http://"+addr+"/readyz").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "healthy") {
		t.Fatalf("healthcheck of a live server: %v\n%s", err, out)
	}
	p.Cmd.Process.Kill()
	p.Wait(t, 10*time.Second)
	cmd := exec.Command(testkit.BuildTandem(t), "healthcheck", "-url", "http://"+addr+"/healthz", "-timeout", "1s")
	out, err = cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "unhealthy") {
		t.Fatalf("healthcheck of a dead server: exit %d, %v\n%s", cmd.ProcessState.ExitCode(), err, out)
	}
}
