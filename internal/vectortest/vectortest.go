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
// a pointer to a struct whose "$comment" field is a string and whose other
// json-tagged fields are the file's sections: a slice of vectors, or a
// struct whose json-tagged slice fields are the subsections of a section
// that groups several lists (tree's "keys"), checked the same way. It fails
// the test when the file cannot be read, lacks its comment, has a section
// or subsection v does not name, or has a list with fewer than min vectors.
func Load(t testing.TB, name string, v any, min int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatalf("read vectors: %v", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode vectors %s: %v", name, err)
	}
	rv := reflect.ValueOf(v).Elem()
	comment := ""
	for i := range rv.NumField() {
		if jsonKey(rv.Type().Field(i)) == "$comment" {
			comment = rv.Field(i).String()
		}
	}
	if comment == "" {
		t.Fatalf("vectors file %s lost its $comment", name)
	}
	checkSections(t, name, "", data, rv, min)
}

// checkSections checks the object data, decoded into the struct rv, against
// rv's fields: every key a field, every slice at least min long, every
// struct field a group of sections checked in turn. path names the object
// in messages ("" for the file).
func checkSections(t testing.TB, name, path string, data []byte, rv reflect.Value, min int) {
	t.Helper()
	var sections map[string]json.RawMessage
	if err := json.Unmarshal(data, &sections); err != nil {
		t.Fatalf("decode vectors %s%s: %v", name, path, err)
	}
	known := map[string]bool{}
	for i := range rv.NumField() {
		key := jsonKey(rv.Type().Field(i))
		if key == "" {
			continue
		}
		known[key] = true
		f := rv.Field(i)
		switch {
		case key == "$comment":
		case f.Kind() == reflect.Slice:
			if f.Len() < min {
				t.Fatalf("vectors file %s: section %s%s has only %d vectors", name, path, key, f.Len())
			}
		case f.Kind() == reflect.Struct:
			raw, ok := sections[key]
			if !ok {
				t.Fatalf("vectors file %s: section %s%s is missing", name, path, key)
			}
			checkSections(t, name, path+key+".", raw, f, min)
		}
	}
	for k := range sections {
		if !known[k] {
			t.Fatalf("vectors file %s has a section %q that the Go tests do not run", name, path+k)
		}
	}
}

// jsonKey is the key a struct field has in JSON, "" for an untagged or
// skipped one.
func jsonKey(f reflect.StructField) string {
	key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if key == "-" {
		return ""
	}
	return key
}
