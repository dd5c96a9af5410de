package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of utime and stime in /proc/<pid>/stat: USER_HZ, which
// the Linux ABI fixes at 100 on every architecture Go supports.
const userHZ = 100

// procSample is what the load generator reads of the server process: its CPU
// time so far and its memory, from /proc, never estimated.
type procSample struct {
	At     time.Time
	CPU    time.Duration // utime + stime
	RSS    int64         // VmRSS, bytes
	HWM    int64         // VmHWM (peak RSS since start), bytes
	Thread int           // Threads
}

// readProc samples process pid.
func readProc(pid int) (procSample, error) {
	s := procSample{At: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("read server stats: %w", err)
	}
	if s.CPU, err = parseStatCPU(stat); err != nil {
		return s, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("read server memory: %w", err)
	}
	if s.RSS, s.HWM, s.Thread, err = parseStatus(status); err != nil {
		return s, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	return s, nil
}

// parseStatCPU returns utime+stime from the contents of /proc/<pid>/stat. The
// command name (field 2) is in parentheses and may itself contain spaces and
// parentheses, so fields are counted from the last ')'.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("no ')' in %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	// After ')': state is field 3, utime field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("only %d fields after the command", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu ticks %q: %w", s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// parseStatus reads VmRSS, VmHWM (bytes) and Threads from /proc/<pid>/status.
func parseStatus(b []byte) (rss, hwm int64, threads int, err error) {
	kb := func(v string) (int64, error) {
		v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
		n, err := strconv.ParseInt(v, 10, 64)
		return n << 10, err
	}
	var seen int
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch k {
		case "VmRSS":
			rss, err = kb(v)
			seen |= 1
		case "VmHWM":
			hwm, err = kb(v)
			seen |= 2
		case "Threads":
			threads, err = strconv.Atoi(strings.TrimSpace(v))
		}
		if err != nil {
			return 0, 0, 0, fmt.Errorf("%s: %w", k, err)
		}
	}
	if seen != 3 {
		return 0, 0, 0, fmt.Errorf("VmRSS or VmHWM missing")
	}
	return rss, hwm, threads, nil
}

// serverUsage is the server's resource use over a measured window.
type serverUsage struct {
	CPUSeconds float64 `json:"server_cpu_s"`
	// CPUCores is CPU seconds per wall second: 1.0 is one core fully busy.
	CPUCores float64 `json:"server_cpu_cores"`
	RSSBytes int64   `json:"server_rss_bytes"`
	// PeakRSSBytes is VmHWM: the peak resident set since the server started.
	PeakRSSBytes int64 `json:"server_peak_rss_bytes"`
}

func usageBetween(a, b procSample) *serverUsage {
	u := &serverUsage{CPUSeconds: (b.CPU - a.CPU).Seconds(), RSSBytes: b.RSS, PeakRSSBytes: b.HWM}
	if wall := b.At.Sub(a.At).Seconds(); wall > 0 {
		u.CPUCores = u.CPUSeconds / wall
	}
	return u
}

// procWatch samples the server at the start of a window and at its end; with
// pid 0 it does nothing and reports nil (figures are never guessed).
type procWatch struct {
	pid   int
	start procSample
	err   error
}

func watchServer(pid int) *procWatch {
	w := &procWatch{pid: pid}
	if pid > 0 {
		w.start, w.err = readProc(pid)
	}
	return w
}

func (w *procWatch) stop() (*serverUsage, error) {
	if w.pid <= 0 {
		return nil, nil
	}
	if w.err != nil {
		return nil, w.err
	}
	end, err := readProc(w.pid)
	if err != nil {
		return nil, err
	}
	return usageBetween(w.start, end), nil
}

// processAge is how long process pid has been running, from its start time
// in /proc/<pid>/stat (field 22, clock ticks since boot) and /proc/uptime.
func processAge(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no ')' in /proc/%d/stat", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	// After ')': state is field 3, so starttime (field 22) is f[19].
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: only %d fields", pid, len(f))
	}
	ticks, err := strconv.ParseInt(f[19], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat starttime: %w", pid, err)
	}
	up, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0, err
	}
	uf := strings.Fields(string(up))
	if len(uf) == 0 {
		return 0, fmt.Errorf("/proc/uptime is empty")
	}
	secs, err := strconv.ParseFloat(uf[0], 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/uptime: %w", err)
	}
	return time.Duration((secs - float64(ticks)/userHZ) * float64(time.Second)), nil
}
