package store_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/tokend/tokend/internal/store"
)

func methodNames(t reflect.Type) []string {
	names := make([]string, t.NumMethod())
	for i := range names {
		names[i] = t.Method(i).Name
	}
	return names
}

// TestEveryMethodIsReadOrWrite: each method of Store is a Reader's or a
// Writer's, never both, so a decorator knows which ones it must define.
func TestEveryMethodIsReadOrWrite(t *testing.T) {
	reads := methodNames(reflect.TypeFor[store.Reader]())
	writes := methodNames(reflect.TypeFor[store.Writer]())
	for _, m := range methodNames(reflect.TypeFor[store.Store]()) {
		r, w := slices.Contains(reads, m), slices.Contains(writes, m)
		switch {
		case r && w:
			t.Errorf("Store.%s is in both Reader and Writer; want one", m)
		case !r && !w:
			t.Errorf("Store.%s is in neither Reader nor Writer: is it a write, which every decorator must see?", m)
		}
	}
}
