//go:build linux || darwin

package server

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// setNotSentLowat sets TCP_NOTSENT_LOWAT on tc.
func setNotSentLowat(tc *net.TCPConn, n int) error {
	rc, err := tc.SyscallConn()
	if err != nil {
		return fmt.Errorf("raw connection: %w", err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, n)
	}); err != nil {
		return fmt.Errorf("raw connection: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("setsockopt TCP_NOTSENT_LOWAT: %w", serr)
	}
	return nil
}
