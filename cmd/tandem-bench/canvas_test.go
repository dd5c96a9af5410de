package main

import (
	"encoding/json"
	"testing"
)

// TestBigTreeShape checks the joined document is what the docs say: n
// objects, frames of 100 shapes at the top level, every parent a frame that
// exists, and content the server's JSON form takes ({id: {parent, key, props}}).
func TestBigTreeShape(t *testing.T) {
	for _, n := range []int{1, 101, 102, 10000} {
		objs := bigTree(n)
		if len(objs) != n {
			t.Fatalf("bigTree(%d) has %d objects", n, len(objs))
		}
		frames, keys := 0, map[string]bool{}
		for id, o := range objs {
			m := o.(map[string]any)
			parent, key := m["parent"].(string), m["key"].(string)
			if keys[key] {
				t.Fatalf("bigTree(%d): key %q twice", n, key)
			}
			keys[key] = true
			if parent == "" {
				frames++
				continue
			}
			p, ok := objs[parent].(map[string]any)
			if !ok || p["parent"] != "" {
				t.Fatalf("bigTree(%d): %s under %q, not a top-level frame", n, id, parent)
			}
		}
		if want := (n + 100) / 101; frames != want {
			t.Errorf("bigTree(%d): %d frames, want %d", n, frames, want)
		}
		if _, err := json.Marshal(objs); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSameVersion(t *testing.T) {
	mk := func(vs ...int64) []*canvasClient {
		var cs []*canvasClient
		for _, v := range vs {
			cs = append(cs, &canvasClient{v: v})
		}
		return cs
	}
	for _, c := range []struct {
		vs   []int64
		want bool
	}{{nil, true}, {[]int64{0}, true}, {[]int64{5, 5, 5}, true}, {[]int64{5, 4, 5}, false}, {[]int64{0, 3}, false}} {
		if got := sameVersion(mk(c.vs...)); got != c.want {
			t.Errorf("sameVersion(%v) = %v, want %v", c.vs, got, c.want)
		}
	}
}
