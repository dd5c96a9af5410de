package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/tandem-collab/tandem/store"
)

// compactedErr answers a request for history the store no longer has (the
// op log was compacted, see store.Retention) with 410 Gone, naming the oldest
// version still available in the detail and in the problem's oldest_v. It is
// nil for any other error. code is the wire code of the answer: not_found
// for a read, invalid_op for an op made against a compacted version.
func compactedErr(err error, code string) *httpError {
	var ce *store.CompactedError
	if !errors.As(err, &ce) {
		return nil
	}
	oldest := ce.Oldest
	return &httpError{status: http.StatusGone, code: code, oldest: &oldest,
		detail: fmt.Sprintf("the history of document %q before version %d was compacted away: version %d is gone, the oldest version still available is %d",
			ce.DocID, oldest, ce.Asked, oldest)}
}

// compactedOpMsg is what an op made against a compacted version is refused
// with: it cannot be transformed any more, and the client must re-join.
func compactedOpMsg(v int64, ce *store.CompactedError) string {
	return fmt.Sprintf("op made against version %d, older than the oldest version kept (%d): the history it needs was compacted; re-join", v, ce.Oldest)
}
