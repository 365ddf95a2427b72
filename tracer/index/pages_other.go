//go:build !(linux || darwin || freebsd)

package index

// newPage allocates a page of the arena on the heap.
func newPage() (page []byte, mapped bool) { return make([]byte, pageSize), false }

// freePage is never called: no page is mapped here.
func freePage(page []byte) {}
