package server

import (
	"context"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestAPIDocMatchesRoutes: the route table of docs/api.md is what the server
// serves. Every documented route resolves to exactly that mux pattern, and
// every REST route the server registers is documented.
func TestAPIDocMatchesRoutes(t *testing.T) {
	b, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatalf("read docs/api.md: %v", err)
	}
	doc := string(b)
	_, section, ok := strings.Cut(doc, "\n## Routes\n")
	if !ok {
		t.Fatal("docs/api.md has no ## Routes section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `(GET|POST|PUT|PATCH|DELETE) (/[^` ]*)` \\|")
	var documented []string
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		documented = append(documented, m[1]+" "+m[2])
	}
	if len(documented) < 10 {
		t.Fatalf("found only %d routes in the table: %v", len(documented), documented)
	}

	srv, err := New(DefaultConfig(), memStore(t), testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	for _, pat := range documented {
		method, path, _ := strings.Cut(pat, " ")
		req, err := http.NewRequest(method, "http://tandem.test"+strings.ReplaceAll(path, "{id}", "some-doc"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, got := srv.Mux().Handler(req); got != pat {
			t.Errorf("docs/api.md documents %q, but the server routes it to %q", pat, got)
		}
	}
	for _, rt := range srv.rest.routes {
		if !slices.Contains(documented, rt.pattern()) {
			t.Errorf("the server serves %q, which the route table of docs/api.md does not document", rt.pattern())
		}
	}
}
