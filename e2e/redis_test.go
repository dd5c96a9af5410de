//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startRedis runs a private redis-server on a loopback port, so that a test
// can stop and restart it without disturbing anyone else's Redis.
func startRedis(t *testing.T, port int) *exec.Cmd {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("this test needs redis-server on PATH (apt-get install redis-server): %v", err)
	}
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
		err := c.Ping(context.Background()).Err()
		_ = c.Close()
		if err == nil {
			return cmd
		}
		if time.Now().After(deadline) {
			stopRedis(cmd)
			t.Fatalf("private redis-server on port %d did not come up: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func stopRedis(cmd *exec.Cmd) {
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}
