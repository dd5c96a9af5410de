package rich

import (
	"encoding/json"
	"testing"

	"github.com/tandem-collab/tandem/internal/vectortest"
	"github.com/tandem-collab/tandem/ot"
)

// vectorFile mirrors /testdata/rich-vectors.json. Ops stay raw so that they
// are decoded by the package's own JSON decoder, which (unlike encoding/json)
// sees lone surrogate escapes.
type vectorFile struct {
	Comment string `json:"$comment"`
	Apply   []struct {
		Name   string          `json:"name"`
		Doc    json.RawMessage `json:"doc"`
		Op     json.RawMessage `json:"op"`
		Result json.RawMessage `json:"result"`
		Error  string          `json:"error"`
	} `json:"apply"`
	Normalize []struct {
		Name   string          `json:"name"`
		Op     json.RawMessage `json:"op"`
		Result json.RawMessage `json:"result"`
	} `json:"normalize"`
	Invalid []struct {
		Name  string          `json:"name"`
		Op    json.RawMessage `json:"op"`
		Error *string         `json:"error"`
	} `json:"invalid"`
	Content []struct {
		Name    string          `json:"name"`
		Content json.RawMessage `json:"content"`
		Result  json.RawMessage `json:"result"`
		Error   string          `json:"error"`
	} `json:"content"`
	Compose []struct {
		Name   string          `json:"name"`
		Doc    json.RawMessage `json:"doc"`
		A      json.RawMessage `json:"a"`
		B      json.RawMessage `json:"b"`
		Result json.RawMessage `json:"result"`
	} `json:"compose"`
	Transform []struct {
		Name    string          `json:"name"`
		Doc     json.RawMessage `json:"doc"`
		A       json.RawMessage `json:"a"`
		B       json.RawMessage `json:"b"`
		SIDA    string          `json:"sid_a"`
		SIDB    string          `json:"sid_b"`
		Later   string          `json:"later"`
		AAfterB json.RawMessage `json:"a_after_b"`
		BAfterA json.RawMessage `json:"b_after_a"`
		Result  json.RawMessage `json:"result"`
	} `json:"transform"`
	Invert []struct {
		Name   string          `json:"name"`
		Doc    json.RawMessage `json:"doc"`
		Op     json.RawMessage `json:"op"`
		Result json.RawMessage `json:"result"`
	} `json:"invert"`
	Selection []struct {
		Name   string          `json:"name"`
		Sel    ot.Selection    `json:"sel"`
		Op     json.RawMessage `json:"op"`
		Own    bool            `json:"own"`
		Result ot.Selection    `json:"result"`
	} `json:"selection"`
	Size []struct {
		Name string          `json:"name"`
		Doc  json.RawMessage `json:"doc"`
		Size int             `json:"size"`
	} `json:"size"`
	OpSize []struct {
		Name string          `json:"name"`
		Op   json.RawMessage `json:"op"`
		Size int             `json:"size"`
	} `json:"op_size"`
}

func loadVectors(t *testing.T) *vectorFile {
	t.Helper()
	var v vectorFile
	vectortest.Load(t, "rich-vectors.json", &v, 4)
	return &v
}

func rawOp(t *testing.T, raw json.RawMessage) Op {
	t.Helper()
	o, err := ParseJSON(raw)
	if err != nil {
		t.Fatalf("vector op %s: %v", raw, err)
	}
	return o
}

func rawDoc(t *testing.T, raw json.RawMessage) *Doc {
	t.Helper()
	d, err := ParseContentJSON(raw)
	if err != nil {
		t.Fatalf("vector document %s: %v", raw, err)
	}
	return d
}

// errorName maps an error to the vector file's names.
func errorName(err error) string {
	switch KindOf(err) {
	case 0:
		if err == nil {
			return ""
		}
		return "untyped: " + err.Error()
	case KindBadUTF8:
		return "invalid"
	}
	return KindOf(err).String()
}

// sameOp compares an op with a vector's expected canonical op.
func sameOp(t *testing.T, got Op, want json.RawMessage) {
	t.Helper()
	w := rawOp(t, want)
	if !w.IsCanonical() {
		t.Fatalf("vector result %s is not canonical", want)
	}
	if !got.Equal(w) {
		t.Fatalf("got %s, want %s", js(got), want)
	}
}

func TestVectorsApply(t *testing.T) {
	for _, tc := range loadVectors(t).Apply {
		t.Run(tc.Name, func(t *testing.T) {
			d := rawDoc(t, tc.Doc)
			before := d.Delta()
			o, err := ParseJSON(tc.Op)
			if err == nil {
				err = d.Apply(o)
			}
			if tc.Error != "" {
				if got := errorName(err); got != tc.Error {
					t.Fatalf("got error %v (%q), want %q", err, got, tc.Error)
				}
				if !d.Delta().Equal(before) {
					t.Fatal("a failed Apply changed the document")
				}
				// The model agrees.
				if _, merr := applyModel(before, o); errorName(merr) != tc.Error {
					t.Fatalf("model error %v, want %q", merr, tc.Error)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			sameOp(t, d.Delta(), tc.Result)
			checkTree(t, d)
			sameOp(t, mustApplyModel(t, before, o), tc.Result)
			// What the server does: decode from MessagePack, normalise, apply.
			dec, err := DecodeOp(o.AppendMsgpack(nil))
			if err != nil {
				t.Fatalf("MessagePack round trip of %s: %v", tc.Op, err)
			}
			d2 := rawDoc(t, tc.Doc)
			if err := d2.Apply(dec.Normalize()); err != nil {
				t.Fatal(err)
			}
			sameOp(t, d2.Delta(), tc.Result)
		})
	}
}

func TestVectorsNormalize(t *testing.T) {
	for _, tc := range loadVectors(t).Normalize {
		t.Run(tc.Name, func(t *testing.T) {
			o := rawOp(t, tc.Op)
			n := o.Normalize()
			sameOp(t, n, tc.Result)
			if !n.Normalize().Equal(n) {
				t.Fatal("Normalize is not idempotent")
			}
			var u Op
			if err := u.UnmarshalJSON(tc.Op); err != nil || !u.Equal(n) {
				t.Fatalf("UnmarshalJSON gave %s, %v", js(u), err)
			}
		})
	}
}

func TestVectorsInvalid(t *testing.T) {
	for _, tc := range loadVectors(t).Invalid {
		t.Run(tc.Name, func(t *testing.T) {
			want := ""
			if tc.Error != nil {
				want = *tc.Error
			}
			o, err := ParseJSON(tc.Op)
			if got := errorName(err); got != want {
				t.Fatalf("ParseJSON: got error %v (%q), want %q", err, got, want)
			}
			if err != nil {
				return
			}
			// Valid ops survive both wire forms.
			again, err := DecodeOp(o.AppendMsgpack(nil))
			if err != nil || !again.Equal(o) {
				t.Fatalf("MessagePack round trip: %s, %v", js(again), err)
			}
		})
	}
}

func TestVectorsContent(t *testing.T) {
	for _, tc := range loadVectors(t).Content {
		t.Run(tc.Name, func(t *testing.T) {
			d, err := ParseContentJSON(tc.Content)
			if got := errorName(err); got != tc.Error {
				t.Fatalf("got error %v (%q), want %q", err, got, tc.Error)
			}
			if err != nil {
				return
			}
			sameOp(t, d.Delta(), tc.Result)
			// And through MessagePack, as the store and joined carry it.
			d2, err := DecodeContent(d.AppendMsgpack(nil), -1)
			if err != nil || !d2.Delta().Equal(d.Delta()) {
				t.Fatalf("MessagePack round trip: %v", err)
			}
		})
	}
}

func TestVectorsCompose(t *testing.T) {
	for _, tc := range loadVectors(t).Compose {
		t.Run(tc.Name, func(t *testing.T) {
			a, b := rawOp(t, tc.A), rawOp(t, tc.B)
			got, err := Compose(a, b)
			if err != nil {
				t.Fatal(err)
			}
			sameOp(t, got, tc.Result)
			doc := rawDoc(t, tc.Doc).Delta()
			want := mustApplyModel(t, mustApplyModel(t, doc, a), b)
			if d := diff(mustApplyModel(t, doc, got), want); d != "" {
				t.Fatalf("compose result applies differently: %s", d)
			}
		})
	}
}

func TestVectorsTransform(t *testing.T) {
	for _, tc := range loadVectors(t).Transform {
		t.Run(tc.Name, func(t *testing.T) {
			a, b := rawOp(t, tc.A), rawOp(t, tc.B)
			aLater := tc.Later == "a"
			if !aLater && tc.Later != "b" {
				t.Fatalf("later is %q", tc.Later)
			}
			// The later op is the one not yet committed: TransformPair moves it
			// and the committed one past each other, as a client does.
			var a2, b2 Op
			var err error
			if aLater {
				a2, b2, err = TransformPair(a, tc.SIDA, b, tc.SIDB)
			} else {
				b2, a2, err = TransformPair(b, tc.SIDB, a, tc.SIDA)
			}
			if err != nil {
				t.Fatal(err)
			}
			// The server's half agrees.
			if aLater {
				if s, err := TransformPast(a, tc.SIDA, b, tc.SIDB); err != nil || !s.Equal(a2) {
					t.Fatalf("TransformPast %s, %v; TransformPair %s", js(s), err, js(a2))
				}
			}
			sameOp(t, a2, tc.AAfterB)
			sameOp(t, b2, tc.BAfterA)
			doc := rawDoc(t, tc.Doc).Delta()
			ab := mustApplyModel(t, mustApplyModel(t, doc, a), b2)
			ba := mustApplyModel(t, mustApplyModel(t, doc, b), a2)
			sameOp(t, ab, tc.Result)
			sameOp(t, ba, tc.Result)
		})
	}
}

func TestVectorsInvert(t *testing.T) {
	for _, tc := range loadVectors(t).Invert {
		t.Run(tc.Name, func(t *testing.T) {
			d := rawDoc(t, tc.Doc)
			o := rawOp(t, tc.Op)
			inv, err := Invert(o, d)
			if err != nil {
				t.Fatal(err)
			}
			sameOp(t, inv, tc.Result)
			after := d.Clone()
			if err := after.Apply(o); err != nil {
				t.Fatal(err)
			}
			if err := after.Apply(inv); err != nil {
				t.Fatal(err)
			}
			if dd := diff(after.Delta(), d.Delta()); dd != "" {
				t.Fatalf("the inverse does not undo: %s", dd)
			}
		})
	}
}

func TestVectorsSelection(t *testing.T) {
	for _, tc := range loadVectors(t).Selection {
		t.Run(tc.Name, func(t *testing.T) {
			got := TransformSelection(tc.Sel, rawOp(t, tc.Op), tc.Own)
			if (got == nil) != (tc.Result == nil) || len(got) != len(tc.Result) {
				t.Fatalf("got %v, want %v", got, tc.Result)
			}
			for i := range got {
				if got[i] != tc.Result[i] {
					t.Fatalf("got %v, want %v", got, tc.Result)
				}
			}
		})
	}
}

func TestVectorsSize(t *testing.T) {
	v := loadVectors(t)
	for _, tc := range v.Size {
		t.Run(tc.Name, func(t *testing.T) {
			if got := rawDoc(t, tc.Doc).Size(); got != tc.Size {
				t.Fatalf("Size %d, want %d", got, tc.Size)
			}
		})
	}
	for _, tc := range v.OpSize {
		t.Run(tc.Name, func(t *testing.T) {
			o := rawOp(t, tc.Op)
			if got := o.Size(); got != tc.Size {
				t.Fatalf("Size %d, want %d", got, tc.Size)
			}
			if got := len(o.AppendMsgpack(nil)); got != tc.Size {
				t.Fatalf("encoded %d bytes, want %d", got, tc.Size)
			}
		})
	}
}
