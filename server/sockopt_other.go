//go:build !linux && !darwin

package server

import (
	"errors"
	"net"
)

// setNotSentLowat: TCP_NOTSENT_LOWAT is not available on this system.
func setNotSentLowat(*net.TCPConn, int) error {
	return errors.New("TCP_NOTSENT_LOWAT is not supported on this system")
}
