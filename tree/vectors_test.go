package tree

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/tandem-collab/tandem/internal/vectortest"
)

// vectorLimits is the limits object of a vector, by snake_case name.
type vectorLimits struct {
	MaxObjects    int `json:"max_objects"`
	MaxProps      int `json:"max_props"`
	MaxDepth      int `json:"max_depth"`
	MaxValueBytes int `json:"max_value_bytes"`
	MaxValueDepth int `json:"max_value_depth"`
	MaxBytes      int `json:"max_bytes"`
	MaxOpBytes    int `json:"max_op_bytes"`
	MaxSelection  int `json:"max_selection"`
}

func (l *vectorLimits) limits() Limits {
	if l == nil {
		return Limits{}.WithDefaults()
	}
	return Limits(*l).WithDefaults()
}

type vectors struct {
	Comment string `json:"$comment"`
	Apply   []struct {
		Name     string              `json:"name"`
		Content  json.RawMessage     `json:"content"`
		Op       json.RawMessage     `json:"op"`
		Limits   *vectorLimits       `json:"limits"`
		Applied  json.RawMessage     `json:"applied"`
		Result   json.RawMessage     `json:"result"`
		Error    string              `json:"error"`
		Children map[string][]string `json:"children"`
	} `json:"apply"`
	Transform []struct {
		Name         string          `json:"name"`
		Op           json.RawMessage `json:"op"`
		SID          string          `json:"sid"`
		Committed    json.RawMessage `json:"committed"`
		CommittedSID string          `json:"committed_sid"`
		Result       json.RawMessage `json:"result"`
	} `json:"transform"`
	Selection []struct {
		Name    string          `json:"name"`
		Content json.RawMessage `json:"content"`
		Sel     json.RawMessage `json:"sel"`
		Result  Selection       `json:"result"`
	} `json:"selection"`
	Invalid []struct {
		Name   string          `json:"name"`
		Op     json.RawMessage `json:"op"`
		Error  string          `json:"error"`
		Limits *vectorLimits   `json:"limits"`
	} `json:"invalid"`
	Valid []struct {
		Name   string          `json:"name"`
		Op     json.RawMessage `json:"op"`
		Limits *vectorLimits   `json:"limits"`
	} `json:"valid"`
	Server []struct {
		Name    string          `json:"name"`
		Content json.RawMessage `json:"content"`
		Limits  *vectorLimits   `json:"limits"`
		Submit  []struct {
			Op      json.RawMessage `json:"op"`
			SID     string          `json:"sid"`
			V       int             `json:"v"`
			Applied json.RawMessage `json:"applied"`
			Error   string          `json:"error"`
		} `json:"submit"`
		Result json.RawMessage `json:"result"`
	} `json:"server"`
	Keys struct {
		Between []keyVector `json:"between"`
		Plain   []keyVector `json:"plain"`
		NKeys   []struct {
			A      string   `json:"a"`
			B      string   `json:"b"`
			N      int      `json:"n"`
			Result []string `json:"result"`
		} `json:"nkeys"`
	} `json:"keys"`
}

type keyVector struct {
	A      string `json:"a"`
	B      string `json:"b"`
	Result string `json:"result"`
	Error  bool   `json:"error"`
}

func loadVectors(t testing.TB) *vectors {
	t.Helper()
	var v vectors
	vectortest.Load(t, "tree-vectors.json", &v, 4)
	return &v
}

// jsonEqual compares two JSON texts as values (object key order ignored).
func jsonEqual(t testing.TB, got, want []byte) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("bad JSON %s: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("bad JSON %s: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

func mustContentJSON(t testing.TB, b []byte, lim Limits) *Content {
	t.Helper()
	c, err := ParseContentJSON(b, lim)
	if err != nil {
		t.Fatalf("content %s: %v", b, err)
	}
	return c
}

func mustOpJSON(t testing.TB, b []byte, lim Limits) Op {
	t.Helper()
	op, err := ParseOpJSON(b, lim)
	if err != nil {
		t.Fatalf("op %s: %v", b, err)
	}
	return op
}

func TestVectorsApply(t *testing.T) {
	v := loadVectors(t)
	if len(v.Apply) == 0 {
		t.Fatal("no apply vectors")
	}
	for _, c := range v.Apply {
		t.Run(c.Name, func(t *testing.T) {
			lim := c.Limits.limits()
			content := mustContentJSON(t, c.Content, lim)
			before, _ := content.MarshalJSON()
			op, err := ParseOpJSON(c.Op, lim)
			var applied Op
			if err == nil {
				// Apply the msgpack round trip too: both decoders agree.
				b, _ := op.MarshalMsgpack()
				op2, err2 := DecodeOp(b, lim)
				if err2 != nil || !reflect.DeepEqual(op, op2) {
					t.Fatalf("msgpack round trip: %v\n%#v\n%#v", err2, op, op2)
				}
				applied, err = content.Apply(op)
			}
			if c.Error != "" {
				if err == nil {
					t.Fatalf("applied %s, want error %s", mustJSON(applied), c.Error)
				}
				if got := KindOf(err).String(); got != c.Error {
					t.Fatalf("error %v (kind %s), want kind %s", err, got, c.Error)
				}
				after, _ := content.MarshalJSON()
				if string(after) != string(before) {
					t.Fatalf("failed op changed the content:\n%s\n%s", before, after)
				}
				return
			}
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			if got := mustJSON(applied); !jsonEqual(t, got, c.Applied) {
				t.Errorf("applied %s, want %s", got, c.Applied)
			}
			got, _ := content.MarshalJSON()
			if !jsonEqual(t, got, c.Result) {
				t.Errorf("result %s\nwant %s", got, c.Result)
			}
			for parent, want := range c.Children {
				if got := content.Children(parent); !reflect.DeepEqual(got, want) {
					t.Errorf("children of %q: %v, want %v", parent, got, want)
				}
			}
			checkInvariants(t, content)
			// The result round-trips through both encodings.
			b, _ := content.MarshalMsgpack()
			if len(b) != content.Size() {
				t.Errorf("Size %d, encoding %d bytes", content.Size(), len(b))
			}
			back, err := DecodeContent(b, lim)
			if err != nil {
				t.Fatalf("decode own encoding: %v", err)
			}
			if b2, _ := back.MarshalMsgpack(); string(b2) != string(b) {
				t.Errorf("msgpack round trip changed the content")
			}
		})
	}
}

func mustJSON(x any) []byte {
	b, err := json.Marshal(x)
	if err != nil {
		panic(err)
	}
	return b
}

func TestVectorsTransform(t *testing.T) {
	v := loadVectors(t)
	if len(v.Transform) == 0 {
		t.Fatal("no transform vectors")
	}
	lim := Limits{}
	for _, c := range v.Transform {
		t.Run(c.Name, func(t *testing.T) {
			op := mustOpJSON(t, c.Op, lim)
			committed := mustOpJSON(t, c.Committed, lim)
			got, err := Transform(op, committed, c.SID, c.CommittedSID)
			if err != nil {
				t.Fatalf("transform: %v", err)
			}
			if g := mustJSON(got); !jsonEqual(t, g, c.Result) {
				t.Errorf("got %s, want %s", g, c.Result)
			}
		})
	}
}

func TestVectorsSelection(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.Selection {
		t.Run(c.Name, func(t *testing.T) {
			content := mustContentJSON(t, c.Content, Limits{})
			sel, err := ParseSelectionJSON(c.Sel, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got := content.FilterSelection(sel); !reflect.DeepEqual(got, c.Result) {
				t.Errorf("got %#v, want %#v", got, c.Result)
			}
		})
	}
}

func TestVectorsInvalid(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.Invalid {
		t.Run(c.Name, func(t *testing.T) {
			lim := c.Limits.limits()
			op, err := ParseOpJSON(c.Op, lim)
			if err == nil {
				t.Fatalf("accepted %s as %s", c.Op, mustJSON(op))
			}
			if got := KindOf(err).String(); got != c.Error {
				t.Fatalf("error %v (kind %s), want %s", err, got, c.Error)
			}
			// The same op in MessagePack is refused the same way.
			var x any
			_ = json.Unmarshal(c.Op, &x)
			if b, ok := msgpackOf(x); ok {
				if _, err := DecodeOp(b, lim); KindOf(err).String() != c.Error {
					t.Fatalf("msgpack: error %v, want kind %s", err, c.Error)
				}
			}
		})
	}
	for _, c := range v.Valid {
		t.Run(c.Name, func(t *testing.T) {
			if _, err := ParseOpJSON(c.Op, c.Limits.limits()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// msgpackOf encodes a JSON-decoded value as MessagePack (numbers with a
// fraction as float64, others as integers); ok is false for values it
// cannot encode.
func msgpackOf(x any) ([]byte, bool) {
	var enc func(b []byte, x any) []byte
	enc = func(b []byte, x any) []byte {
		switch t := x.(type) {
		case nil:
			return appendNil(b)
		case bool:
			return appendBool(b, t)
		case float64:
			if t == float64(int64(t)) {
				return appendInt(b, int64(t))
			}
			return appendFloat(b, t)
		case string:
			return appendStr(b, t)
		case []any:
			b = appendArrayHeader(b, len(t))
			for _, e := range t {
				b = enc(b, e)
			}
			return b
		case map[string]any:
			b = appendMapHeader(b, len(t))
			for k, e := range t {
				b = enc(appendStr(b, k), e)
			}
			return b
		}
		panic(x)
	}
	return enc(nil, x), true
}

// TestVectorsServer plays submissions through transform and apply in commit
// order, as the document actor does.
func TestVectorsServer(t *testing.T) {
	v := loadVectors(t)
	if len(v.Server) == 0 {
		t.Fatal("no server vectors")
	}
	for _, c := range v.Server {
		t.Run(c.Name, func(t *testing.T) {
			lim := c.Limits.limits()
			content := mustContentJSON(t, c.Content, lim)
			type commit struct {
				op      Op
				sid     string
				removed []string
			}
			var log []commit
			for k, s := range c.Submit {
				op := mustOpJSON(t, s.Op, lim)
				since := make([]Since, 0, len(log)-s.V)
				for _, past := range log[s.V:] {
					since = append(since, Since{past.op, past.removed})
				}
				err := CheckBase(op, content, since)
				for _, past := range log[s.V:] {
					if err != nil {
						break
					}
					if op, err = Transform(op, past.op, s.SID, past.sid); err != nil {
						t.Fatalf("submission %d: transform: %v", k, err)
					}
				}
				var applied Op
				var removed []string
				if err == nil {
					applied, removed, err = content.ApplyRemoved(op)
				}
				if s.Error != "" {
					if KindOf(err).String() != s.Error {
						t.Fatalf("submission %d: %v (applied %s), want kind %s", k, err, mustJSON(applied), s.Error)
					}
					continue
				}
				if err != nil {
					t.Fatalf("submission %d: %v", k, err)
				}
				if got := mustJSON(applied); !jsonEqual(t, got, s.Applied) {
					t.Fatalf("submission %d applied %s, want %s", k, got, s.Applied)
				}
				log = append(log, commit{applied, s.SID, removed})
			}
			got, _ := content.MarshalJSON()
			if !jsonEqual(t, got, c.Result) {
				t.Fatalf("result %s\nwant %s", got, c.Result)
			}
			checkInvariants(t, content)
		})
	}
}

func TestVectorsKeys(t *testing.T) {
	v := loadVectors(t)
	if len(v.Keys.Between) < 100 {
		t.Fatalf("only %d key vectors", len(v.Keys.Between))
	}
	for _, c := range append(v.Keys.Between, v.Keys.Plain...) {
		got, err := KeyBetween(c.A, c.B)
		if c.Error {
			if err == nil {
				t.Errorf("KeyBetween(%q, %q) = %q, want an error", c.A, c.B, got)
			}
			continue
		}
		if err != nil || got != c.Result {
			t.Errorf("KeyBetween(%q, %q) = %q, %v; want %q", c.A, c.B, got, err, c.Result)
		}
		if (c.A != "" && got <= c.A) || (c.B != "" && got >= c.B) || !ValidKey(got) {
			t.Errorf("KeyBetween(%q, %q) = %q is not strictly between", c.A, c.B, got)
		}
	}
	for _, c := range v.Keys.NKeys {
		got, err := NKeysBetween(c.A, c.B, c.N)
		if err != nil || strings.Join(got, ",") != strings.Join(c.Result, ",") {
			t.Errorf("NKeysBetween(%q, %q, %d) = %v, %v; want %v", c.A, c.B, c.N, got, err, c.Result)
		}
	}
}
