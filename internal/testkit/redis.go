package testkit

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RedisServer is a private redis-server on a loopback port, so that a test
// can stop and restart it without disturbing anyone else's Redis. Its owner
// stops it (Stop is safe to call again, e.g. deferred after a restart).
type RedisServer struct {
	cmd *exec.Cmd
}

// StartRedis runs redis-server on 127.0.0.1:port without persistence and
// waits (up to 10 s) until it answers PING. A missing redis-server binary
// fails the test: it is part of the test environment.
func StartRedis(tb testing.TB, port int) *RedisServer {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("this test needs redis-server on PATH (apt-get install redis-server): %v", err)
	}
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start redis-server: %v", err)
	}
	rs := &RedisServer{cmd: cmd}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := pingRedis(fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			return rs
		}
		if time.Now().After(deadline) {
			rs.Stop()
			tb.Fatalf("private redis-server on port %d did not come up: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pingRedis sends one inline PING and wants +PONG: enough to know the
// server accepts commands, without a Redis client library here.
func pingRedis(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// Stop kills the server and reaps it.
func (r *RedisServer) Stop() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}
