package boltstore

import (
	"path/filepath"
	"testing"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "coordinator.db")
		return func(t *testing.T) store.Store {
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}
