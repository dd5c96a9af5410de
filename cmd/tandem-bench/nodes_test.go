package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestNodeURL: client i goes to node i mod n, and one URL is every client's.
func TestNodeURL(t *testing.T) {
	cfg := config{URL: "ws://a/v1/ws", URLs: []string{"ws://a/v1/ws", "ws://b/v1/ws", "ws://c/v1/ws"}}
	for i, want := range []string{"ws://a/v1/ws", "ws://b/v1/ws", "ws://c/v1/ws", "ws://a/v1/ws", "ws://b/v1/ws"} {
		if got := cfg.nodeURL(i); got != want {
			t.Errorf("client %d on %s, want %s", i, got, want)
		}
	}
	one := config{URL: "ws://a/v1/ws"}
	if got := one.nodeURL(7); got != "ws://a/v1/ws" {
		t.Errorf("single URL: client 7 on %s", got)
	}
}

// TestEmptyURLList: a -url of commas only is refused before any dial.
func TestEmptyURLList(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run([]string{"-url", " , ,", "-duration", "1s"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "-url") {
		t.Fatalf("run with an empty -url list: %v", err)
	}
}
