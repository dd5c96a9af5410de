package wire

import (
	"reflect"
	"strings"
	"testing"
)

// TestSchemaMatchesStructTags pins every schema row to its Go field: the
// field the row names exists, of the type the row's kind reads and writes
// (the generated codecs rely on it), and the struct's msgpack tag (kept for generic
// MessagePack tools) names the row's key.
func TestSchemaMatchesStructTags(t *testing.T) {
	for _, s := range allSchemas() {
		typ := reflect.TypeOf(s.zero).Elem()
		if len(s.fields) > maxFields {
			t.Errorf("%s: %d rows, over maxFields", typ, len(s.fields))
		}
		seen := map[string]bool{}
		for _, f := range s.fields {
			sf, ok := typ.FieldByName(f.goName)
			if !ok {
				t.Errorf("%s: row %q names no field %s", typ, f.key, f.goName)
				continue
			}
			if seen[f.goName] {
				t.Errorf("%s: field %s in two rows", typ, f.goName)
			}
			seen[f.goName] = true
			want := goFieldType(f.val)
			if f.val == valInt && sf.Type.Kind() == reflect.Int {
				want = sf.Type
			}
			if sf.Type != want {
				t.Errorf("%s.%s: type %s, row kind %d wants %s", typ, f.goName, sf.Type, f.val, want)
			}
			tag, _, _ := strings.Cut(sf.Tag.Get("msgpack"), ",")
			if f.val == valContent {
				if tag != "-" {
					t.Errorf("%s.%s: tag %q, want \"-\" (its key is its type's)", typ, f.goName, tag)
				}
			} else if tag != f.key {
				t.Errorf("%s.%s: msgpack tag %q, row key %q", typ, f.goName, tag, f.key)
			}
			if sf.Tag.Get("validate") != "" {
				t.Errorf("%s.%s: a validate tag; the rule belongs in the row", typ, f.goName)
			}
		}
		for i := range typ.NumField() {
			if sf := typ.Field(i); sf.IsExported() && !seen[sf.Name] && sf.Tag.Get("msgpack") != "-" {
				t.Errorf("%s.%s: no row", typ, sf.Name)
			}
		}
	}
}
