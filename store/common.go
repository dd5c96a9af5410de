package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tandem-collab/tandem/doctype"
)

// Page size bounds of ListDocs (the REST API documents the same numbers).
const (
	DefaultListLimit = 50
	MaxListLimit     = 200
)

// DefaultSnapshotEvery is how many ops an engine lets accumulate past the latest
// snapshot before it writes a new one in the background. It bounds the replay
// work of Load and SnapshotAt; see docs/benchmarks-store.md for the measurement
// behind the number.
const DefaultSnapshotEvery = 500

func clampLimit(n int) int {
	if n <= 0 {
		return DefaultListLimit
	}
	if n > MaxListLimit {
		return MaxListLimit
	}
	return n
}

// encodeCursor hides the last id of a page so that clients cannot depend on the
// cursor's shape; the engines page by key ("id > last"), which stays correct while
// documents are created and deleted between pages.
func encodeCursor(lastID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(lastID))
}

func decodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 {
		return "", fmt.Errorf("list docs: %w: malformed cursor %q", ErrInvalidArgument, c)
	}
	return string(b), nil
}

func validateNew(d NewDocument) (NewDocument, error) {
	if d.ID == "" {
		return d, fmt.Errorf("create doc: %w: empty id", ErrInvalidArgument)
	}
	if !utf8.ValidString(d.ID) {
		return d, fmt.Errorf("create doc: %w: id is not UTF-8", ErrInvalidArgument)
	}
	if d.Type == "" {
		d.Type = DefaultType
	}
	t, err := doctype.Lookup(d.Type)
	if err != nil {
		return d, fmt.Errorf("create doc %q: %w: %w", d.ID, ErrInvalidArgument, err)
	}
	if d.Content == nil {
		d.Content = t.NewContent()
	} else {
		// A content of another type would fail on the first op: check it
		// now, by its encoding, which also makes the store's copy its own.
		c, err := t.DecodeContent(d.Content.AppendMsgpack(nil))
		if err != nil {
			return d, fmt.Errorf("create doc %q: %w: content is not %s: %w", d.ID, ErrInvalidArgument, d.Type, err)
		}
		d.Content = c
	}
	if d.Metadata == nil {
		d.Metadata = map[string]any{}
	}
	return d, nil
}

// checkRecords enforces what the contract asks of an append's records before
// any engine stores them: numbered expected, expected+1, ... (no log with
// holes), each with an op, a seq only with a sid, and no (sid, seq) twice.
func checkRecords(id string, expected int64, ops []OpRecord) error {
	if expected < 0 {
		return fmt.Errorf("append to %q: %w: expected version %d", id, ErrVersion, expected)
	}
	for i, r := range ops {
		if r.Version != expected+int64(i) {
			return fmt.Errorf("append to %q: %w: record %d has version %d, want %d", id, ErrVersion, i, r.Version, expected+int64(i))
		}
		if r.SID == "" && r.Seq != 0 {
			return fmt.Errorf("append to %q: %w: record %d has seq %d without sid", id, ErrInvalidArgument, i, r.Seq)
		}
		if r.Op == nil {
			return fmt.Errorf("append to %q: %w: record %d has no op", id, ErrInvalidArgument, i)
		}
	}
	return checkRepeats(id, ops)
}

// replay applies ops to a clone of base and returns it. It is where a corrupt
// log surfaces, so the error names the version that failed.
func replay(id string, baseVersion int64, base doctype.Content, ops []doctype.Op) (doctype.Content, error) {
	d := base.Clone()
	for i, op := range ops {
		if _, err := d.Apply(op); err != nil {
			return nil, fmt.Errorf("replay %q: op at version %d: %w", id, baseVersion+int64(i), err)
		}
	}
	return d, nil
}

// sidSeq is a client op's identity, the (sid, seq) pair committed at most once.
type sidSeq struct {
	sid string
	seq int64
}

// shortAppend is the most records checkRepeats scans for a repeated (sid,
// seq) without a map: nearly every append is one op or a few, and the
// server's garbage is what sets how often it collects.
const shortAppend = 16

// checkRepeats refuses an append that holds one (sid, seq) twice; records
// without a sid (the server's own) never repeat.
func checkRepeats(id string, ops []OpRecord) error {
	var seen map[sidSeq]struct{} // only for long appends: a short one is scanned
	if len(ops) > shortAppend {
		seen = make(map[sidSeq]struct{}, len(ops))
	}
	for i, r := range ops {
		if r.SID == "" {
			continue
		}
		dup := false
		if seen != nil {
			k := sidSeq{r.SID, r.Seq}
			_, dup = seen[k]
			seen[k] = struct{}{}
		} else {
			for _, earlier := range ops[:i] {
				dup = dup || earlier.SID == r.SID && earlier.Seq == r.Seq
			}
		}
		if dup {
			return fmt.Errorf("append to %q: %w: sid %q seq %d twice in one batch", id, ErrInvalidArgument, r.SID, r.Seq)
		}
	}
	return nil
}

// typeOf returns the doctype.Type of a stored document.
func typeOf(id, name string) (doctype.Type, error) {
	t, err := doctype.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("document %q: %w", id, err)
	}
	return t, nil
}

// crossed reports whether going from version from to version to passed a
// multiple of every, i.e. whether a background snapshot is due.
func crossed(from, to int64, every int) bool {
	if every <= 0 {
		return false
	}
	return from/int64(every) != to/int64(every)
}

// snapshotter writes snapshots off the hot path. AppendOps only marks a document
// as due (never blocks); one goroutine, owned by the engine and stopped by Close,
// drains the set. Marking the same document twice before the goroutine gets to it
// costs one snapshot, not two.
type snapshotter[K comparable] struct {
	build func(ctx context.Context, key K) error
	log   *slog.Logger

	mu      sync.Mutex
	pending map[K]struct{}
	wake    chan struct{}

	cancel context.CancelFunc
	done   chan struct{}
}

func newSnapshotter[K comparable](log *slog.Logger, build func(ctx context.Context, key K) error) *snapshotter[K] {
	ctx, cancel := context.WithCancel(context.Background())
	s := &snapshotter[K]{
		build:   build,
		log:     log,
		pending: make(map[K]struct{}),
		wake:    make(chan struct{}, 1),
		cancel:  cancel,
		done:    make(chan struct{}),
	}
	go s.run(ctx)
	return s
}

// mark schedules a snapshot of key. It never blocks.
func (s *snapshotter[K]) mark(key K) {
	s.mu.Lock()
	s.pending[key] = struct{}{}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *snapshotter[K]) run(ctx context.Context) {
	defer close(s.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		for {
			s.mu.Lock()
			var key K
			found := false
			for k := range s.pending {
				key, found = k, true
				delete(s.pending, k)
				break
			}
			s.mu.Unlock()
			if !found || ctx.Err() != nil {
				break
			}
			// A snapshot is only an optimisation: on failure the log is intact and
			// the next crossing retries, so logging is the right amount of fuss.
			bctx, cancel := context.WithTimeout(ctx, time.Minute)
			if err := s.build(bctx, key); err != nil && ctx.Err() == nil {
				s.log.Warn("store: background snapshot failed", "doc", key, "err", err)
			}
			cancel()
		}
	}
}

// stop ends the goroutine and waits for it; a snapshot being written is abandoned
// (its transaction rolls back), which loses nothing.
func (s *snapshotter[K]) stop() {
	s.cancel()
	<-s.done
}
