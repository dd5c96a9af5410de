package rich

import (
	"fmt"
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

// cell is one character of a flattened Delta.
type cell struct {
	ch  string // the code point, or "<type:value>" for an embed
	key string // attrsKey
}

func cells(delta Op) []cell {
	var out []cell
	for _, c := range delta {
		key := attrsKey(c.Attrs)
		if c.Insert == "" {
			out = append(out, cell{"<" + c.Embed.Type + ":" + c.Embed.Value.String() + ">", key})
			continue
		}
		for _, r := range c.Insert {
			out = append(out, cell{string(r), key})
		}
	}
	return out
}

// diff describes the first difference between two Deltas, "" when equal.
func diff(got, want Op) string {
	if got.Equal(want) {
		return ""
	}
	g, w := cells(got), cells(want)
	for i := 0; i < max(len(g), len(w)); i++ {
		switch {
		case i >= len(g):
			return fmt.Sprintf("got ends at %d, want %d characters", len(g), len(w))
		case i >= len(w):
			return fmt.Sprintf("got %d characters, want %d", len(g), len(w))
		case g[i] != w[i]:
			return fmt.Sprintf("at %d: got %q %x, want %q %x (lengths %d, %d)", i, g[i].ch, g[i].key, w[i].ch, w[i].key, len(g), len(w))
		}
	}
	return "same characters, different runs:\n" + short(js(got), 400) + "\n" + short(js(want), 400)
}

func short(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n/2] + " ... " + s[len(s)-n/2:]
}

// smallNodes shrinks the tree's nodes for the rest of the test, so that small
// documents make deep trees and every rebalancing path runs. Tests that call
// it must not run in parallel.
func smallNodes(t testing.TB) {
	oldLeaf, oldKids := leafMax, kidsMax
	leafMax, kidsMax = 96, 8
	t.Cleanup(func() { leafMax, kidsMax = oldLeaf, oldKids })
}
