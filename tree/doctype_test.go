package tree

import (
	"errors"
	"testing"

	"github.com/tandem-collab/tandem/doctype"
)

func TestDoctypeAdapter(t *testing.T) {
	typ, err := doctype.Get("tree")
	if err != nil {
		t.Fatal(err)
	}
	if typ.ContentKey() != "tree" {
		t.Fatalf("content key %q", typ.ContentKey())
	}
	c, err := typ.ParseContentJSON([]byte(`{"f":{"parent":"","key":"a0","props":{}},"r":{"parent":"f","key":"a0","props":{"x":1}}}`))
	if err != nil {
		t.Fatal(err)
	}
	op, err := typ.ParseOpJSON([]byte(`[["set","r","x",2]]`))
	if err != nil {
		t.Fatal(err)
	}
	committed, _ := typ.ParseOpJSON([]byte(`[["del","f"]]`))
	clone := c.Clone()
	appliedDel, err := clone.Apply(committed)
	if err != nil {
		t.Fatal(err)
	}
	sel, err := typ.DecodeSelection(Selection{"f", "r"}.AppendMsgpack(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := sel.Transform(appliedDel, false); got != nil {
		t.Fatalf("selection after deleting f and r: %v, want hidden", got)
	}
	op2, err := op.Transform("bob-0123456789abcd", appliedDel, "alice-0123456789ab")
	if err != nil {
		t.Fatal(err)
	}
	applied, err := clone.Apply(op2)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := applied.MarshalJSON(); string(b) != "[]" {
		t.Fatalf("set on a deleted object applied as %s", b)
	}
	if c.Size() == clone.Size() {
		t.Fatal("clone shares state")
	}
	// Limits: too_large matches doctype.ErrTooLarge, tree limits do not.
	big := make([]byte, 0, 2<<20)
	big = append(big, 0x91, 0x94, 0xa3, 's', 'e', 't', 0xa1, 'r', 0xa1, 'x', 0xdb, 0, 0x1f, 0xff, 0xff)
	big = append(big, make([]byte, 0x1fffff)...)
	if _, err := typ.DecodeOp(big); !errors.Is(err, doctype.ErrTooLarge) {
		t.Fatalf("2 MiB op: %v, want ErrTooLarge", err)
	}
	deep, _ := typ.ParseOpJSON([]byte(`[["new","x","r","a0",{}]]`))
	lim := Type{Limits: Limits{MaxDepth: 2}}
	small := lim.NewContent()
	if _, err := small.Apply(deep); err != nil {
		t.Fatalf("new under a missing parent: %v", err)
	}
	if _, err := c.Apply(&docOp{op: Op{NewObject("x", "r", "a0")}}); err != nil {
		t.Fatal(err)
	}
	tight, _ := lim.ParseContentJSON([]byte(`{"f":{"parent":"","key":"a0"},"r":{"parent":"f","key":"a0"}}`))
	if _, err := tight.Apply(deep); err == nil || errors.Is(err, doctype.ErrTooLarge) {
		t.Fatalf("past the depth limit: %v, want invalid_op", err)
	}
}
