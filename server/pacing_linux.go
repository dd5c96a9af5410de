//go:build linux

package server

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sampleSocket reads what pacing needs from TCP_INFO: the peer's advertised
// window (tcpi_snd_wnd, Linux 5.4 and later; 0 before, which only leaves the
// window out of the backlog), the bytes not yet acknowledged and not yet sent,
// and the least round trip seen. ok is false when the socket could not be
// read (it is closed).
func sampleSocket(rc syscall.RawConn) (s tcpSample, ok bool) {
	if rc == nil {
		return tcpSample{}, false
	}
	var info *unix.TCPInfo
	var err error
	if cerr := rc.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); cerr != nil || err != nil {
		return tcpSample{}, false
	}
	s = tcpSample{wnd: info.Snd_wnd, notsent: info.Notsent_bytes, rtt: time.Duration(info.Min_rtt) * time.Microsecond}
	// Not retransmitted bytes sent, less the acknowledged.
	if sent := info.Bytes_sent - info.Bytes_retrans; sent > info.Bytes_acked {
		s.unacked = uint32(min(sent-info.Bytes_acked, 1<<31))
	}
	return s, true
}
