//go:build !linux

package server

import "syscall"

// sampleSocket: the peer's window is read from Linux's TCP_INFO only;
// elsewhere nothing is paced.
func sampleSocket(syscall.RawConn) (tcpSample, bool) { return tcpSample{}, false }
