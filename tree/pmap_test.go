package tree

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestPmapAgainstMap runs random sets and deletes against a Go map, keeping
// old versions and checking that none of them ever changes; once with the
// real hash and once with a hash of 3 bits, which forces deep paths and
// collision nodes.
func TestPmapAgainstMap(t *testing.T) {
	for _, weak := range []bool{false, true} {
		t.Run(fmt.Sprintf("weak=%v", weak), func(t *testing.T) {
			if weak {
				saved := phash
				phash = func(s string) uint64 { return saved(s) & 7 }
				defer func() { phash = saved }()
			}
			rng := rand.New(rand.NewPCG(3, 4))
			type version struct {
				m    *pmap
				want map[string]*object
			}
			var versions []version
			m := &pmap{}
			gen := newGen()
			want := map[string]*object{}
			for step := range 20000 {
				key := fmt.Sprintf("k%d", rng.IntN(600))
				if rng.IntN(3) == 0 {
					m.Delete(key, gen)
					delete(want, key)
				} else {
					o := &object{key: fmt.Sprint(step)}
					m.Set(key, o, gen)
					want[key] = o
				}
				if step%500 == 0 {
					// Keep a version: as Content.Clone does, the copy and
					// the map go on in new generations.
					snap := make(map[string]*object, len(want))
					for k, v := range want {
						snap[k] = v
					}
					kept := *m
					versions = append(versions, version{&kept, snap})
					gen = newGen()
				}
			}
			versions = append(versions, version{m, want})
			for vi, v := range versions {
				if v.m.Len() != len(v.want) {
					t.Fatalf("version %d: Len %d, want %d", vi, v.m.Len(), len(v.want))
				}
				seen := 0
				v.m.Each(func(k string, o *object) bool {
					if v.want[k] != o {
						t.Fatalf("version %d: %s holds the wrong value", vi, k)
					}
					seen++
					return true
				})
				if seen != len(v.want) {
					t.Fatalf("version %d: Each saw %d of %d", vi, seen, len(v.want))
				}
				for k, o := range v.want {
					if got, ok := v.m.Get(k); !ok || got != o {
						t.Fatalf("version %d: Get(%s)", vi, k)
					}
				}
				if _, ok := v.m.Get("absent"); ok {
					t.Fatal("found an absent key")
				}
			}
			// Deleting everything leaves an empty map.
			for k := range want {
				m.Delete(k, gen)
			}
			if m.Len() != 0 || (m.root != nil && (m.root.datamap|m.root.nodemap) != 0) {
				t.Fatalf("emptied map has %d entries", m.Len())
			}
		})
	}
}
