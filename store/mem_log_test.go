package store

import (
	"reflect"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/ot"
)

// The memory store's log exists so that the collector never traces it: a
// field that holds a pointer (a string, a slice, an interface, a time.Time
// with its location) would bring every committed op back into each
// collection's marking.
func TestMemLogHoldsNoPointers(t *testing.T) {
	for _, v := range []any{memRec{}, seqKey{}} {
		if p := pointerField(reflect.TypeOf(v), ""); p != "" {
			t.Errorf("%T holds a pointer at %s", v, p)
		}
	}
	if k := reflect.TypeOf(memLog{}.data).Elem().Kind(); k != reflect.Uint8 {
		t.Errorf("memLog.data holds %v, want bytes", k)
	}
}

func pointerField(t reflect.Type, path string) string {
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if p := pointerField(f.Type, path+"."+f.Name); p != "" {
				return p
			}
		}
		return ""
	case reflect.Array:
		return pointerField(t.Elem(), path+"[]")
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return ""
	default:
		return path + " (" + t.Kind().String() + ")"
	}
}

// TestMemLogRoundTrip: what goes in comes out, field by field, also after
// a failed batch was undone and after compaction's copy rebased the bytes.
func TestMemLogRoundTrip(t *testing.T) {
	typ, err := doctype.Lookup("text")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 6, 0, 0, 123456000, time.UTC)
	recs := []OpRecord{
		{Version: 0, Op: ot.Op{{Insert: "héllo"}}, SID: "s1", Seq: 1, UserID: "ann", CreatedAt: at},
		{Version: 1, Op: ot.Op{{Retain: 5}, {Insert: " 🌍"}}, SID: "", Seq: 0, UserID: "", CreatedAt: at.Add(time.Second)},
		{Version: 2, Op: ot.Op{{Retain: 2}, {Delete: 3}}, SID: "s2", Seq: 7, UserID: "bob", CreatedAt: at.Add(2 * time.Second)},
	}
	var l memLog
	for _, r := range recs {
		if err := l.add(r); err != nil {
			t.Fatal(err)
		}
	}
	check := func(l memLog, floor int64, want []OpRecord) {
		t.Helper()
		if l.len() != len(want) {
			t.Fatalf("%d records, want %d", l.len(), len(want))
		}
		for i, w := range want {
			got, err := l.record(typ, i, floor+int64(i))
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != w.Version || got.SID != w.SID || got.Seq != w.Seq || got.UserID != w.UserID ||
				!got.CreatedAt.Equal(w.CreatedAt) || !reflect.DeepEqual(got.Op, w.Op) {
				t.Errorf("record %d = %+v, want %+v", i, got, w)
			}
			if l.sid(i) != w.SID || !l.createdAt(i).Equal(w.CreatedAt) {
				t.Errorf("record %d: sid %q at %v, want %q at %v", i, l.sid(i), l.createdAt(i), w.SID, w.CreatedAt)
			}
		}
		ops, err := l.ops(typ, 0, l.len(), floor)
		if err != nil || len(ops) != len(want) {
			t.Fatalf("ops: %d, %v", len(ops), err)
		}
	}
	check(l, 0, recs)

	// A reader's copy taken now keeps its records whatever happens next.
	reader := l
	more := OpRecord{Version: 3, Op: ot.Op{{Insert: "x"}}, SID: "s3", Seq: 1, CreatedAt: at}
	if err := l.add(more); err != nil {
		t.Fatal(err)
	}
	l.truncate(3)
	check(l, 0, recs)
	check(reader, 0, recs)

	tail := l.from(1)
	check(tail, 1, recs[1:])
	check(l, 0, recs)
	if empty := l.from(3); empty.len() != 0 || len(empty.data) != 0 {
		t.Fatalf("from(len) = %d records, %d bytes", empty.len(), len(empty.data))
	}
}

func TestSeqIndex(t *testing.T) {
	x := newSeqIndex()
	x.add("a", 1, 10)
	x.add("b", 1, 11)
	x.add("a", 2, 12)
	for _, c := range []struct {
		sid  string
		seq  int64
		v    int64
		find bool
	}{{"a", 1, 10, true}, {"b", 1, 11, true}, {"a", 2, 12, true}, {"b", 2, 0, false}, {"c", 1, 0, false}} {
		if v, ok := x.find(c.sid, c.seq); ok != c.find || v != c.v {
			t.Errorf("find(%q, %d) = %d, %v; want %d, %v", c.sid, c.seq, v, ok, c.v, c.find)
		}
	}
	x.remove("a", 1)
	x.remove("zz", 1) // unknown sid: nothing to do
	if _, ok := x.find("a", 1); ok {
		t.Error("removed pair still found")
	}
	if v, ok := x.find("a", 2); !ok || v != 12 {
		t.Errorf("other pair of the sid lost: %d, %v", v, ok)
	}
}
