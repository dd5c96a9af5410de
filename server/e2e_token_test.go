package server_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/client"
	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/server"
	"github.com/tandem-collab/tandem/wire"
)

// The Go client renews its token with Conn.Auth and edits past the first
// token's exp; a refused renewal changes nothing; a document the new token
// no longer grants is closed.
func TestE2EGoClientTokenRenewal(t *testing.T) {
	secret := []byte("e2e-token-secret-0123456789")
	ja, err := auth.NewJWTAuth(secret)
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.DefaultConfig()
	cfg.Authenticator = ja
	s := serve(t, openStore(t, testkit.Schema(t)), cfg, slog.LevelWarn)
	createDoc(t, s.st, "kept", "")
	createDoc(t, s.st, "lost", "")
	mint := func(sub string, docs map[string]string, ttl time.Duration) string {
		tok, err := auth.MintToken(secret, sub, "", docs, false, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first := time.Now().Add(2 * time.Second).Truncate(time.Second)
	c, err := client.Dial(ctx, client.Options{URL: s.wsURL, Token: mint("u1", map[string]string{"*": "rw"}, 2*time.Second),
		Backoff: client.Backoff{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	kept, err := c.Open(ctx, "kept")
	if err != nil {
		t.Fatal(err)
	}
	lost, err := c.Open(ctx, "lost")
	if err != nil {
		t.Fatal(err)
	}

	if _, err := c.Auth(ctx, mint("u2", map[string]string{"*": "rw"}, time.Hour)); !client.IsCode(err, wire.CodeUnauthorized) {
		t.Fatalf("renewal as another user: %v, want unauthorized", err)
	}
	exp, err := c.Auth(ctx, mint("u1", map[string]string{"kept": "r"}, time.Hour))
	if err != nil || exp.Before(time.Now().Add(59*time.Minute)) {
		t.Fatalf("renewal: exp %v, err %v", exp, err)
	}
	if kept.Mode() != wire.ModeRead {
		t.Fatalf("mode %q after the renewal, want r", kept.Mode())
	}
	if !client.IsCode(lost.Err(), wire.CodeForbidden) {
		t.Fatalf("the document no longer granted: err %v, want forbidden", lost.Err())
	}
	exp, err = c.Auth(ctx, mint("u1", map[string]string{"kept": "rw"}, time.Hour))
	if err != nil || kept.Mode() != wire.ModeReadWrite {
		t.Fatalf("renewal back to rw: mode %q, err %v", kept.Mode(), err)
	}
	_ = exp

	time.Sleep(time.Until(first) + 500*time.Millisecond)
	if err := kept.Insert(0, "after the first exp"); err != nil {
		t.Fatal(err)
	}
	if err := kept.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Sessions() != 1 || c.Err() != nil {
		t.Fatalf("sessions %d, err %v: the renewal should keep the one session", c.Sessions(), c.Err())
	}
}
