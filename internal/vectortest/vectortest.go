// Package vectortest loads the test vectors that the Go and TypeScript
// implementations of a document type share (/testdata/*-vectors.json), the
// same way for every type: the file must keep its $comment, every section
// in it must be one the Go test runs (encoding/json would skip an unknown
// one silently), and no section may be nearly empty.
package vectortest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Load reads ../testdata/name (tests run in their package's folder) into v,
// a pointer to a struct whose json-tagged slice fields are the file's
// sections and whose "$comment" field is a string. It fails the test when
// the file cannot be read, lacks its comment, has a section v does not
// name, or has a section with fewer than min vectors.
func Load(t testing.TB, name string, v any, min int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatalf("read vectors: %v", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode vectors %s: %v", name, err)
	}
	var sections map[string]json.RawMessage
	if err := json.Unmarshal(data, &sections); err != nil {
		t.Fatalf("decode vectors %s: %v", name, err)
	}
	rv := reflect.ValueOf(v).Elem()
	known := map[string]int{}
	for i := range rv.NumField() {
		key, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("json"), ",")
		f := rv.Field(i)
		switch {
		case key == "$comment":
			if f.String() == "" {
				t.Fatalf("vectors file %s lost its $comment", name)
			}
			known[key] = -1
		case f.Kind() == reflect.Slice:
			known[key] = f.Len()
		}
	}
	for k := range sections {
		if _, ok := known[k]; !ok {
			t.Fatalf("vectors file %s has a section %q that the Go tests do not run", name, k)
		}
	}
	for k, n := range known {
		if n >= 0 && n < min {
			t.Fatalf("vectors file %s: section %s has only %d vectors", name, k, n)
		}
	}
}
