package testkit

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildOut  []byte
)

// BuildTandem compiles cmd/tandem once per test binary and returns the path
// of the executable; every later call returns the same path. The binary lives
// in a temporary directory that RemoveTandem deletes. A build failure fails
// the test with the compiler's output.
func BuildTandem(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tandem-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "tandem")
		// The go of the toolchain running the tests, not whatever is on PATH.
		cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", builtBin, "github.com/tandem-collab/tandem/cmd/tandem")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		tb.Fatalf("go build ./cmd/tandem: %v\n%s", buildErr, buildOut)
	}
	return builtBin
}

// Main is a TestMain for packages that use BuildTandem: it runs the tests,
// then removes the binary, and exits with the tests' code.
func Main(m *testing.M) {
	code := m.Run()
	RemoveTandem()
	os.Exit(code)
}

// RemoveTandem deletes the binary BuildTandem made, if it made one; Main
// calls it after the tests.
func RemoveTandem() {
	if builtBin != "" {
		_ = os.RemoveAll(filepath.Dir(builtBin))
	}
}

// CleanEnv is the environment minus every TANDEM_ variable, plus extra, so
// that the developer's shell cannot change what a test configures.
func CleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TANDEM_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// Process is a started child process whose combined output is captured.
// Its owner is the test: the process is killed and reaped in Cleanup.
type Process struct {
	// Name says which process a failure message is about.
	Name string
	// Cmd is the running command.
	Cmd *exec.Cmd
	// Out holds stdout and stderr, readable while the process runs.
	Out  *LockedBuffer
	done chan struct{}
	err  error // the result of Wait; set before done is closed
}

// StartProcess starts cmd (its Stdout and Stderr are set to the Process's
// Out) and waits for it in a goroutine that ends when the process does. At
// the end of the test the process is killed and reaped, and its output is
// logged if the test failed.
func StartProcess(tb testing.TB, name string, cmd *exec.Cmd) *Process {
	tb.Helper()
	p := &Process{Name: name, Cmd: cmd, Out: &LockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Out, p.Out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if tb.Failed() {
			tb.Logf("%s output:\n%s", name, p.Out)
		}
	})
	return p
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait returns the exit code, failing the test if the process is still
// running after timeout.
func (p *Process) Wait(tb testing.TB, timeout time.Duration) int {
	tb.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		tb.Fatalf("%s still running after %v; output:\n%s", p.Name, timeout, p.Out)
	}
	return p.Cmd.ProcessState.ExitCode()
}

// Kill SIGKILLs the process (no drain, no goodbye) and waits for it to be
// gone, failing the test if it is not within timeout.
func (p *Process) Kill(tb testing.TB, timeout time.Duration) {
	tb.Helper()
	_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(timeout):
		tb.Fatalf("%s did not die after SIGKILL", p.Name)
	}
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// Addr waits for tandem's "listening" log line (logged at info) and returns
// the address it bound, failing the test if the process exits first or
// timeout passes.
func (p *Process) Addr(tb testing.TB, timeout time.Duration) string {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if m := listeningRE.FindStringSubmatch(p.Out.String()); m != nil {
			return m[1]
		}
		select {
		case <-p.done:
			tb.Fatalf("%s exited before listening (%v); output:\n%s", p.Name, p.err, p.Out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	tb.Fatalf("%s did not log its address; output:\n%s", p.Name, p.Out)
	return ""
}

// WaitReady polls url until it answers 200, failing the test if the process
// exits first or timeout passes.
func (p *Process) WaitReady(tb testing.TB, url string, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if p.Exited() {
			tb.Fatalf("%s exited during start-up (%v); output:\n%s", p.Name, p.err, p.Out)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: %s never answered 200 within %v (last error %v); output:\n%s", p.Name, url, timeout, err, p.Out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
