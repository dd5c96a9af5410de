package testkit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Serve serves h on a loopback httptest server until the end of the test,
// when it calls shutdown (the server's graceful drain, given 10 s; an error
// fails the test) and then closes the listener. Cleanups registered before
// Serve (closing the store or bus the server uses) run after both.
func Serve(tb testing.TB, h http.Handler, shutdown func(context.Context) error) *httptest.Server {
	tb.Helper()
	hs := httptest.NewServer(h)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := shutdown(ctx); err != nil {
			tb.Errorf("shutdown: %v", err)
		}
		hs.Close()
	})
	return hs
}
