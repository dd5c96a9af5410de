package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// runHealthcheck is `tandem healthcheck`: it GETs a health endpoint of a
// running server and exits 0 on 200, 1 otherwise. Container images without a
// shell or curl (distroless) use it as their HEALTHCHECK. Without -url it
// checks the server this environment configures: the port of TANDEM_ADDR
// (default :8080) on 127.0.0.1, so that a health check written once follows
// the listen address.
func runHealthcheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tandem healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	u := fs.String("url", "", "endpoint to check; default http://<TANDEM_ADDR, a wildcard host as 127.0.0.1><-path>")
	path := fs.String("path", "/healthz", "path checked when -url is not given: /healthz (alive) or /readyz (alive and the store reachable)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	target := *u
	if target == "" {
		hostPort, err := dialAddr(envOr("TANDEM_ADDR", ":8080"))
		if err != nil {
			fmt.Fprintln(stderr, "tandem healthcheck: TANDEM_ADDR:", err)
			return 2
		}
		if !strings.HasPrefix(*path, "/") {
			*path = "/" + *path
		}
		target = "http://" + hostPort + *path
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		fmt.Fprintln(stderr, "tandem healthcheck:", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "tandem healthcheck: unhealthy:", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "tandem healthcheck: unhealthy: %s: %s: %s\n", target, resp.Status, body)
		return 1
	}
	fmt.Fprintf(stdout, "healthy: %s: %s", target, body)
	return 0
}

// dialAddr turns a listen address into one to connect to on this machine:
// an empty or wildcard host (":8080", "0.0.0.0:8080", "[::]:8080") becomes
// 127.0.0.1.
func dialAddr(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("%q is not host:port: %w", listen, err)
	}
	if port == "" || port == "0" {
		return "", fmt.Errorf("%q has no fixed port to check", listen)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}
