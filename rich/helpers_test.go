package rich

import (
	"testing"
)

// op parses a JSON op (not normalised), failing the test on error.
func op(t testing.TB, js string) Op {
	t.Helper()
	o, err := ParseJSON([]byte(js))
	if err != nil {
		t.Fatalf("op %s: %v", js, err)
	}
	return o
}

// docOf builds a document from JSON content.
func docOf(t testing.TB, js string) *Doc {
	t.Helper()
	d, err := ParseContentJSON([]byte(js))
	if err != nil {
		t.Fatalf("content %s: %v", js, err)
	}
	return d
}

func js(o Op) string { return string(o.AppendJSON(nil)) }

// applyModel is the reference apply: compose the content with the op, after
// the checks Doc.Apply makes.
func applyModel(content, o Op) (Op, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	n := content.TargetLen()
	if err := checkFit(o, n); err != nil {
		return nil, err
	}
	if err := checkNewline(o, n); err != nil {
		return nil, err
	}
	return Compose(content, o)
}
