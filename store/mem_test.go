package store_test

import (
	"testing"

	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/store/storetest"
)

func TestMemContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := store.NewMem(store.MemOptions{SnapshotEvery: 5})
		t.Cleanup(s.Close)
		return s
	})
}
