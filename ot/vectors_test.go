package ot

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/tandem-collab/tandem/internal/vectortest"
)

// vectorFile mirrors /testdata/ot-vectors.json. Ops stay raw so that this test
// decodes them with the package's own JSON decoder, which (unlike
// encoding/json) sees lone surrogate escapes.
type vectorFile struct {
	Comment string `json:"$comment"`
	Apply   []struct {
		Name   string          `json:"name"`
		Doc    string          `json:"doc"`
		Op     json.RawMessage `json:"op"`
		Result *string         `json:"result"`
		Error  string          `json:"error"`
	} `json:"apply"`
	Normalize []struct {
		Name   string          `json:"name"`
		Op     json.RawMessage `json:"op"`
		Result json.RawMessage `json:"result"`
	} `json:"normalize"`
	Transform []struct {
		Name   string          `json:"name"`
		A      json.RawMessage `json:"a"`
		B      json.RawMessage `json:"b"`
		Side   string          `json:"side"`
		Result json.RawMessage `json:"result"`
	} `json:"transform"`
	TransformSID []struct {
		Name            string          `json:"name"`
		Op              json.RawMessage `json:"op"`
		SID             string          `json:"sid"`
		Committed       json.RawMessage `json:"committed"`
		CommittedSID    string          `json:"committed_sid"`
		Result          json.RawMessage `json:"result"`
		CommittedResult json.RawMessage `json:"committed_result"`
	} `json:"transform_sid"`
	Commit []struct {
		Name    string `json:"name"`
		Doc     string `json:"doc"`
		Submits []struct {
			SID string          `json:"sid"`
			V   int             `json:"v"`
			Op  json.RawMessage `json:"op"`
		} `json:"submits"`
		Log    []json.RawMessage `json:"log"`
		Result string            `json:"result"`
	} `json:"commit"`
	Compose []struct {
		Name   string          `json:"name"`
		Doc    string          `json:"doc"`
		A      json.RawMessage `json:"a"`
		B      json.RawMessage `json:"b"`
		Result json.RawMessage `json:"result"`
	} `json:"compose"`
	Position []struct {
		Name   string          `json:"name"`
		Pos    int             `json:"pos"`
		Op     json.RawMessage `json:"op"`
		Own    bool            `json:"own"`
		Result int             `json:"result"`
	} `json:"position"`
	Selection []struct {
		Name   string          `json:"name"`
		Sel    Selection       `json:"sel"`
		Op     json.RawMessage `json:"op"`
		Own    bool            `json:"own"`
		Result Selection       `json:"result"`
	} `json:"selection"`
}

func loadVectors(t *testing.T) *vectorFile {
	t.Helper()
	var v vectorFile
	vectortest.Load(t, "ot-vectors.json", &v, 1)
	total := len(v.Apply) + len(v.Normalize) + len(v.Transform) + len(v.TransformSID) + len(v.Commit) +
		len(v.Compose) + len(v.Position) + len(v.Selection)
	if total < 60 {
		t.Fatalf("only %d vectors", total)
	}
	return &v
}

func mustRaw(t *testing.T, raw json.RawMessage) Op {
	t.Helper()
	op, err := ParseJSONRaw(raw)
	if err != nil {
		t.Fatalf("vector op %s: %v", raw, err)
	}
	return op
}

// errorName maps an error to the vector file's names.
func errorName(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrDoesNotFit):
		return "does_not_fit"
	case errors.Is(err, ErrInvalid):
		return "invalid"
	}
	return "untyped: " + err.Error()
}

func docOfLen(n int) string {
	const alphabet = "abcdéfgh日本😀"
	rs := []rune(alphabet)
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteRune(rs[i%len(rs)])
	}
	return b.String()
}

func TestVectorsApply(t *testing.T) {
	for _, tc := range loadVectors(t).Apply {
		t.Run(tc.Name, func(t *testing.T) {
			op, err := ParseJSONRaw(tc.Op)
			var got string
			if err == nil {
				got, err = Apply(tc.Doc, op)
				d, derr := NewDoc(tc.Doc)
				if derr != nil {
					t.Fatalf("NewDoc: %v", derr)
				}
				rerr := d.Apply(op)
				if errorName(rerr) != errorName(err) {
					t.Fatalf("Doc.Apply error %v, Apply error %v", rerr, err)
				}
				if err == nil && d.String() != got {
					t.Fatalf("Doc.Apply gave %q, Apply gave %q", d.String(), got)
				}
				if err != nil && d.String() != tc.Doc {
					t.Fatalf("failed Doc.Apply changed the document to %q", d.String())
				}
			}
			if tc.Error != "" {
				if errorName(err) != tc.Error {
					t.Fatalf("got error %v (%q), want %q", err, errorName(err), tc.Error)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got != *tc.Result {
				t.Fatalf("got %q, want %q", got, *tc.Result)
			}
			// What the server does: decode to canonical form, then apply.
			var canon Op
			if err := canon.UnmarshalJSON(tc.Op); err != nil {
				t.Fatalf("UnmarshalJSON: %v", err)
			}
			if got2, err := Apply(tc.Doc, canon); err != nil || got2 != got {
				t.Fatalf("canonical op gave %q, %v; want %q", got2, err, got)
			}
		})
	}
}

func TestVectorsNormalize(t *testing.T) {
	for _, tc := range loadVectors(t).Normalize {
		t.Run(tc.Name, func(t *testing.T) {
			op := mustRaw(t, tc.Op)
			want := mustRaw(t, tc.Result)
			got := op.Normalize()
			if !opsEqual(got, want) {
				t.Fatalf("Normalize(%v) = %v, want %v", op, got, want)
			}
			if !want.IsCanonical() {
				t.Fatalf("expected result %v is not canonical", want)
			}
			parsed, err := Parse(jsonValue(t, tc.Op))
			if err != nil || !opsEqual(parsed, want) {
				t.Fatalf("Parse = %v, %v; want %v", parsed, err, want)
			}
		})
	}
}

func jsonValue(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVectorsTransform(t *testing.T) {
	v := loadVectors(t)
	sides := map[string]int{}
	for _, tc := range v.Transform {
		sides[tc.Name+"\x00"+string(tc.A)+string(tc.B)] |= map[string]int{"left": 1, "right": 2}[tc.Side]
		t.Run(tc.Name+"/"+tc.Side, func(t *testing.T) {
			a, b, want := mustRaw(t, tc.A), mustRaw(t, tc.B), mustRaw(t, tc.Result)
			side := Left
			if tc.Side == "right" {
				side = Right
			} else if tc.Side != "left" {
				t.Fatalf("bad side %q", tc.Side)
			}
			got, err := Transform(a, b, side)
			if err != nil {
				t.Fatal(err)
			}
			if !opsEqual(got, want) {
				t.Fatalf("Transform(%v, %v, %v) = %v, want %v", a, b, side, got, want)
			}
			// TP1 on a document long enough for both.
			doc := docOfLen(max(a.BaseLen(), b.BaseLen()))
			checkTP1(t, doc, a, b, side)
		})
	}
	for k, s := range sides {
		if s != 3 {
			t.Errorf("transform pair %q lacks a side", k)
		}
	}
}

func checkTP1(t *testing.T, doc string, a, b Op, side Side) {
	t.Helper()
	other := Right
	if side == Right {
		other = Left
	}
	a2, err := Transform(a, b, side)
	if err != nil {
		t.Fatalf("Transform(a, b): %v", err)
	}
	b2, err := Transform(b, a, other)
	if err != nil {
		t.Fatalf("Transform(b, a): %v", err)
	}
	viaA := mustApply(t, mustApply(t, doc, a), b2)
	viaB := mustApply(t, mustApply(t, doc, b), a2)
	if viaA != viaB {
		t.Fatalf("TP1 fails on %q: a=%v b=%v side=%v: a,b'=%q b,a'=%q (a'=%v b'=%v)", doc, a, b, side, viaA, viaB, a2, b2)
	}
	if !a2.IsCanonical() || !b2.IsCanonical() {
		t.Fatalf("transform results not canonical: %v %v", a2, b2)
	}
}

func mustApply(t *testing.T, doc string, op Op) string {
	t.Helper()
	out, err := Apply(doc, op)
	if err != nil {
		t.Fatalf("Apply(%q, %v): %v", doc, op, err)
	}
	return out
}

func TestVectorsCompose(t *testing.T) {
	for _, tc := range loadVectors(t).Compose {
		t.Run(tc.Name, func(t *testing.T) {
			a, b, want := mustRaw(t, tc.A), mustRaw(t, tc.B), mustRaw(t, tc.Result)
			got, err := Compose(a, b)
			if err != nil {
				t.Fatal(err)
			}
			if !opsEqual(got, want) {
				t.Fatalf("Compose(%v, %v) = %v, want %v", a, b, got, want)
			}
			if x, y := mustApply(t, mustApply(t, tc.Doc, a), b), mustApply(t, tc.Doc, got); x != y {
				t.Fatalf("a then b gives %q, composed gives %q", x, y)
			}
		})
	}
}

func TestVectorsTransformSID(t *testing.T) {
	for _, tc := range loadVectors(t).TransformSID {
		t.Run(tc.Name, func(t *testing.T) {
			op, committed := mustRaw(t, tc.Op), mustRaw(t, tc.Committed)
			want, wantCommitted := mustRaw(t, tc.Result), mustRaw(t, tc.CommittedResult)
			got, err := TransformPast(op, tc.SID, committed, tc.CommittedSID)
			if err != nil {
				t.Fatal(err)
			}
			if !opsEqual(got, want) {
				t.Fatalf("TransformPast(%v by %s, %v by %s) = %v, want %v", op, tc.SID, committed, tc.CommittedSID, got, want)
			}
			opPast, committedPast, err := TransformPair(op, tc.SID, committed, tc.CommittedSID)
			if err != nil {
				t.Fatal(err)
			}
			if !opsEqual(opPast, want) || !opsEqual(committedPast, wantCommitted) {
				t.Fatalf("TransformPair = %v, %v; want %v, %v", opPast, committedPast, want, wantCommitted)
			}
			// Both orders give one text.
			doc := docOfLen(max(op.BaseLen(), committed.BaseLen()))
			if x, y := mustApply(t, mustApply(t, doc, committed), opPast), mustApply(t, mustApply(t, doc, op), committedPast); x != y {
				t.Fatalf("the two orders give %q and %q", x, y)
			}
		})
	}
}

// TestVectorsCommit plays the server: each submitted op is transformed past
// every op committed since its version, ties by sid, and committed.
func TestVectorsCommit(t *testing.T) {
	for _, tc := range loadVectors(t).Commit {
		t.Run(tc.Name, func(t *testing.T) {
			type committed struct {
				op  Op
				sid string
			}
			var log []committed
			text := tc.Doc
			for i, s := range tc.Submits {
				if s.V > len(log) {
					t.Fatalf("submit %d is at version %d, ahead of %d", i, s.V, len(log))
				}
				op := mustRaw(t, s.Op)
				for _, c := range log[s.V:] {
					var err error
					if op, err = TransformPast(op, s.SID, c.op, c.sid); err != nil {
						t.Fatal(err)
					}
				}
				text = mustApply(t, text, op)
				log = append(log, committed{op, s.SID})
			}
			if len(log) != len(tc.Log) {
				t.Fatalf("committed %d ops, the vector lists %d", len(log), len(tc.Log))
			}
			for i, raw := range tc.Log {
				if want := mustRaw(t, raw); !opsEqual(log[i].op, want) {
					t.Fatalf("op %d committed as %v, want %v", i, log[i].op, want)
				}
			}
			if text != tc.Result {
				t.Fatalf("text %q, want %q", text, tc.Result)
			}
		})
	}
}

// owners gives TransformPositionPast and TransformSelectionPast the owner and
// author a vector's own flag stands for.
func owners(own bool) (owner, author string) {
	if own {
		return "alice-0123456789", "alice-0123456789"
	}
	return "bob-0123456789ab", "alice-0123456789"
}

func TestVectorsPosition(t *testing.T) {
	for _, tc := range loadVectors(t).Position {
		t.Run(tc.Name, func(t *testing.T) {
			op := mustRaw(t, tc.Op)
			owner, author := owners(tc.Own)
			if got := TransformPositionPast(tc.Pos, owner, op, author); got != tc.Result {
				t.Fatalf("TransformPositionPast(%d, own %v, %v) = %d, want %d", tc.Pos, tc.Own, op, got, tc.Result)
			}
			if !tc.Own {
				if got := TransformPosition(tc.Pos, op); got != tc.Result {
					t.Fatalf("TransformPosition(%d, %v) = %d, want %d", tc.Pos, op, got, tc.Result)
				}
			}
		})
	}
}

func TestVectorsSelection(t *testing.T) {
	same := func(a, b Selection) bool {
		return (a == nil) == (b == nil) && (reflect.DeepEqual([]Range(a), []Range(b)) || len(a)+len(b) == 0)
	}
	for _, tc := range loadVectors(t).Selection {
		t.Run(tc.Name, func(t *testing.T) {
			op := mustRaw(t, tc.Op)
			owner, author := owners(tc.Own)
			if got := TransformSelectionPast(tc.Sel, owner, op, author); !same(got, tc.Result) {
				t.Fatalf("TransformSelectionPast(%v, own %v, %v) = %#v, want %#v", tc.Sel, tc.Own, op, got, tc.Result)
			}
			if !tc.Own {
				if got := TransformSelection(tc.Sel, op); !same(got, tc.Result) {
					t.Fatalf("TransformSelection(%v, %v) = %#v, want %#v", tc.Sel, op, got, tc.Result)
				}
			}
		})
	}
}

func opsEqual(a, b Op) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
