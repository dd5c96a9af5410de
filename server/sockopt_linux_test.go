package server

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSocketSendBuffer: a WebSocket's TCP connection gets the configured
// SO_SNDBUF (Linux reports twice what was asked: its bookkeeping) and
// TCP_NOTSENT_LOWAT before anything is written to it; 0 leaves the kernel's.
func TestSocketSendBuffer(t *testing.T) {
	for _, tc := range []struct {
		name         string
		sndbuf, wait int
	}{
		{"default", DefaultSocketSendBuffer, 0},
		{"32KiB and a low-water mark", 32 << 10, 8 << 10},
		{"kernel's", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, memStore(t), func(c *Config) {
				c.SocketSendBuffer, c.SocketNotSentLowat = tc.sndbuf, tc.wait
			})
			ts.connect(t, "sock-0123456789abcdef")
			var tcp *net.TCPConn
			for deadline := time.Now().Add(5 * time.Second); tcp == nil && time.Now().Before(deadline); {
				ts.srv.connMu.Lock()
				for c := range ts.srv.conns {
					if ms := c.session(); ms != nil {
						tcp = tcpConnOf(ms.WebsocketConnection().NetConn())
					}
				}
				ts.srv.connMu.Unlock()
			}
			if tcp == nil {
				t.Fatal("no TCP connection found behind the WebSocket")
			}
			rc, err := tcp.SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			var sndbuf, lowat int
			var serr, lerr error
			if err := rc.Control(func(fd uintptr) {
				sndbuf, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
				lowat, lerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
			}); err != nil || serr != nil || lerr != nil {
				t.Fatalf("getsockopt: %v %v %v", err, serr, lerr)
			}
			if tc.sndbuf > 0 && sndbuf != 2*tc.sndbuf {
				t.Errorf("SO_SNDBUF %d, want %d (twice %d)", sndbuf, 2*tc.sndbuf, tc.sndbuf)
			}
			if tc.sndbuf == 0 && sndbuf == 2*DefaultSocketSendBuffer {
				t.Errorf("SO_SNDBUF %d with SocketSendBuffer 0: it was set", sndbuf)
			}
			if tc.wait > 0 && lowat != tc.wait {
				t.Errorf("TCP_NOTSENT_LOWAT %d, want %d", lowat, tc.wait)
			}
		})
	}
}
