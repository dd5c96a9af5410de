package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tandem-collab/tandem/auth"
)

// runToken is `tandem token`: it mints an HS256 access token with the
// server's secret, for trying the server locally and for scripts. A
// deployment's own backend mints tokens the same way (docs/api.md, "Tokens").
func runToken(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tandem token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	secret := fs.String("auth-secret", envOr("TANDEM_AUTH_SECRET", ""), "HS256 secret the server runs with [TANDEM_AUTH_SECRET]")
	sub := fs.String("sub", "", "user id (the token's sub); required")
	name := fs.String("name", "", "display name peers see")
	docs := fs.String("docs", "", "comma-separated grants id=mode or prefix*=mode, mode r or rw; e.g. '*=rw' or 'notes-1=rw,team-*=r'")
	admin := fs.Bool("admin", false, "may also create, list, patch and delete documents")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token is valid")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: tandem token -sub USER [-docs GRANTS] [-admin] [-name NAME] [-ttl 24h]\n\nPrints a token signed with TANDEM_AUTH_SECRET.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tandem token: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *secret == "" {
		fmt.Fprintln(stderr, "tandem token: no secret: set TANDEM_AUTH_SECRET (the server's) or -auth-secret")
		return 2
	}
	if len(*secret) < auth.MinSecretBytes {
		fmt.Fprintf(stderr, "tandem token: the secret has %d bytes; the server refuses secrets under %d\n", len(*secret), auth.MinSecretBytes)
		return 2
	}
	if *sub == "" {
		fmt.Fprintln(stderr, "tandem token: -sub (the user id) is required")
		return 2
	}
	grants, err := parseGrants(*docs)
	if err != nil {
		fmt.Fprintln(stderr, "tandem token:", err)
		return 2
	}
	tok, err := auth.MintToken([]byte(*secret), *sub, *name, grants, *admin, *ttl)
	if err != nil {
		fmt.Fprintln(stderr, "tandem token:", err)
		return 2
	}
	fmt.Fprintln(stdout, tok)
	return 0
}

// parseGrants reads "id=rw,prefix*=r" into the token's docs map.
func parseGrants(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, g := range strings.Split(s, ",") {
		if g = strings.TrimSpace(g); g == "" {
			continue
		}
		pat, mode, ok := strings.Cut(g, "=")
		if !ok || (mode != "r" && mode != "rw") {
			return nil, fmt.Errorf("-docs: grant %q must be id=r, id=rw, prefix*=r or prefix*=rw", g)
		}
		out[pat] = mode
	}
	return out, nil
}
