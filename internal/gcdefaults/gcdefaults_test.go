package gcdefaults

import (
	"math"
	"runtime/debug"
	"testing"
)

// Each default applies only when its variable is unset (or empty), and the
// memory limit only when the memory available is known.
func TestApply(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	const gib = int64(1 << 30)
	cases := []struct {
		name      string
		env       map[string]string
		avail     int64
		want      Applied
		wantGOGC  int
		wantLimit int64
	}{
		{"nothing set", nil, 8 * gib, Applied{GOGC: GOGC, Limit: 8 * gib / 100 * 90}, GOGC, 8 * gib / 100 * 90},
		{"empty variables", map[string]string{"GOGC": "", "GOMEMLIMIT": ""}, 8 * gib, Applied{GOGC: GOGC, Limit: 8 * gib / 100 * 90}, GOGC, 8 * gib / 100 * 90},
		{"GOGC set", map[string]string{"GOGC": "100"}, 8 * gib, Applied{Limit: 8 * gib / 100 * 90}, 100, 8 * gib / 100 * 90},
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "1GiB"}, 8 * gib, Applied{GOGC: GOGC}, GOGC, math.MaxInt64},
		{"both set", map[string]string{"GOGC": "100", "GOMEMLIMIT": "1GiB"}, 8 * gib, Applied{}, 100, math.MaxInt64},
		{"memory unknown", nil, 0, Applied{GOGC: GOGC}, GOGC, math.MaxInt64},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// What the environment would have set is the runtime's
			// starting point: 100 and no limit in this test.
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(math.MaxInt64)
			lookup := func(k string) (string, bool) { v, ok := c.env[k]; return v, ok }
			got := apply(lookup, func() int64 { return c.avail })
			if got != c.want {
				t.Errorf("Applied = %+v, want %+v", got, c.want)
			}
			if g := debug.SetGCPercent(100); g != c.wantGOGC {
				t.Errorf("GOGC = %d, want %d", g, c.wantGOGC)
			}
			if l := debug.SetMemoryLimit(-1); l != c.wantLimit {
				t.Errorf("memory limit = %d, want %d", l, c.wantLimit)
			}
		})
	}
}

// The memory available is read on this machine (a cgroup or the RAM).
func TestAvailable(t *testing.T) {
	if n := available(); n <= 0 {
		t.Fatalf("available() = %d, want the memory of this machine or cgroup", n)
	}
}
