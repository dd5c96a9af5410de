package rich

import (
	"errors"
	"strings"
	"testing"

	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/ot"
)

func TestDoctypeAdapter(t *testing.T) {
	ty, err := doctype.Get(TypeName)
	if err != nil {
		t.Fatal(err)
	}
	if ty.Name() != "rich" || ty.ContentKey() != "text" {
		t.Fatalf("name %q, content key %q", ty.Name(), ty.ContentKey())
	}
	c := ty.NewContent()
	if js, _ := c.MarshalJSON(); string(js) != `["\n"]` {
		t.Fatalf("new content %s", js)
	}
	c, err = ty.ParseContentJSON([]byte(`["Hello world\n"]`))
	if err != nil {
		t.Fatal(err)
	}
	// Alice bolds "world" while bob, whose sid sorts first, types at 6.
	bold, err := ty.ParseOpJSON([]byte(`[6,{"r":5,"a":{"bold":true}}]`))
	if err != nil {
		t.Fatal(err)
	}
	typed, err := ty.DecodeOp(op(t, `[6,"big "]`).AppendMsgpack(nil))
	if err != nil {
		t.Fatal(err)
	}
	before := c.Clone()
	if _, err := c.Apply(bold); err != nil {
		t.Fatal(err)
	}
	typed2, err := typed.Transform("bob", bold, "alice")
	if err != nil {
		t.Fatal(err)
	}
	applied, err := c.Apply(typed2)
	if err != nil {
		t.Fatal(err)
	}
	if js, _ := applied.MarshalJSON(); string(js) != `[6,"big "]` {
		t.Fatalf("applied %s", js)
	}
	// Checked as sent against the document at its version: 12 code points
	// then, 16 now after the insert.
	late, _ := ty.ParseOpJSON([]byte(`[11,{"r":1,"a":{"heading":1}},4]`))
	if err := late.CheckBase(c, []doctype.Op{typed2}); err == nil {
		t.Fatal("a trailing retain past the document at the op's version passed CheckBase")
	}
	fits, _ := ty.ParseOpJSON([]byte(`[11,{"r":1,"a":{"heading":1}}]`))
	if err := fits.CheckBase(c, []doctype.Op{typed2}); err != nil {
		t.Fatal(err)
	}
	tail, _ := ty.ParseOpJSON([]byte(`[12,"x"]`))
	if err := tail.CheckBase(c, []doctype.Op{typed2}); !errors.Is(err, ErrFinalNewline) {
		t.Fatalf("an insert after the final newline at the op's version: %v", err)
	}
	if js, _ := c.MarshalJSON(); string(js) != `["Hello big ",{"i":"world","a":{"bold":true}},"\n"]` {
		t.Fatalf("content %s", js)
	}
	if js, _ := before.MarshalJSON(); string(js) != `["Hello world\n"]` {
		t.Fatal("Clone shares changes")
	}
	back, err := ty.DecodeContent(c.AppendMsgpack(nil))
	if err != nil || back.Size() != c.Size() {
		t.Fatalf("content round trip: %v", err)
	}
	// A selection: a caret at 6 stays before bob's insert there, unless own.
	sel, err := ty.DecodeSelection(NewSelection(ot.Selection{{Anchor: 6, Head: 6}}).AppendMsgpack(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := sel.Transform(typed, false).(*Selection).Ranges(); got[0] != (ot.Range{Anchor: 6, Head: 6}) {
		t.Fatalf("others' caret %v", got)
	}
	if got := sel.Transform(typed, true).(*Selection).Ranges(); got[0] != (ot.Range{Anchor: 10, Head: 10}) {
		t.Fatalf("own caret %v", got)
	}
	if _, err := c.FitSelection(NewSelection(ot.Selection{{Anchor: 99, Head: 99}})); err == nil {
		t.Fatal("a selection past the end fits")
	}
	// Errors: invalid_op for the final newline, too_large for limits.
	del, _ := ty.ParseOpJSON([]byte(`[15,-1]`))
	if _, err := c.Apply(del); err == nil || errors.Is(err, doctype.ErrTooLarge) {
		t.Fatalf("deleting the final newline: %v", err)
	}
	if _, err := ty.ParseOpJSON([]byte(`[{"i":"x","a":{"link":"` + strings.Repeat("x", MaxValueBytes+1) + `"}}]`)); !errors.Is(err, doctype.ErrTooLarge) {
		t.Fatalf("a long value: %v", err)
	}
}
