package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"time"
)

// loadProfiles takes profiles over an open-loop run's load window: the
// server's CPU profile and, with -server-allocs, what it allocated (both from
// its net/http/pprof, -server-pprof), and this process's CPU profile
// (-load-cpuprofile), so that none includes the set-up of thousands of
// connections. stop ends them and reports what failed.
type loadProfiles struct {
	self   *os.File
	server chan error
	allocs bool // the server's allocation profile is also on its way on server
}

// startLoadProfiles starts the profiles cfg asks for over a window of d.
func startLoadProfiles(ctx context.Context, cfg config, d time.Duration) (*loadProfiles, error) {
	lp := &loadProfiles{}
	if cfg.LoadProfile != "" {
		f, err := os.Create(cfg.LoadProfile)
		if err != nil {
			return nil, fmt.Errorf("load cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("load cpu profile (is -cpuprofile set too?): %w", err)
		}
		lp.self = f
	}
	if cfg.ServerPprof != "" {
		secs := max(1, int(d/time.Second))
		lp.server = make(chan error, 2)
		go func() { lp.server <- fetchProfile(ctx, cfg.ServerPprof, "profile", secs, cfg.ServerProfile) }()
		if cfg.ServerAllocs != "" {
			lp.allocs = true
			go func() { lp.server <- fetchProfile(ctx, cfg.ServerPprof, "allocs", secs, cfg.ServerAllocs) }()
		}
	}
	return lp, nil
}

// fetchProfile writes the profile name ("profile" for CPU, "allocs" for the
// allocations) over secs seconds from the pprof listener at hostPort to
// path: for allocs, the difference between its start and its end (net/http/pprof's
// delta profile), so only what was allocated in the window counts.
func fetchProfile(ctx context.Context, hostPort, name string, secs int, path string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(secs+30)*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", hostPort, name, secs), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("server profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("server profile: HTTP %d", resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("server profile: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("server profile: %w", err)
	}
	return f.Close()
}

// stopSelf ends this process's profile (at the end of the load window).
func (lp *loadProfiles) stopSelf() error {
	if lp == nil || lp.self == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := lp.self.Close()
	lp.self = nil
	return err
}

// wait ends this process's profile and waits for the server's.
func (lp *loadProfiles) wait() error {
	if lp == nil {
		return nil
	}
	err := lp.stopSelf()
	if lp.server != nil {
		n := 1
		if lp.allocs {
			n = 2
		}
		for range n {
			if e := <-lp.server; e != nil && err == nil {
				err = e
			}
		}
		lp.server = nil
	}
	return err
}
