//go:build linux || darwin || freebsd

package index

import "syscall"

// newPage maps a page of the arena outside the Go heap: the garbage
// collector's heap goal then grows with what the trace reader allocates,
// not with the (pointer-free) index, which keeps peak RSS near the index's
// real size. A page that cannot be mapped comes from the heap instead.
func newPage() (page []byte, mapped bool) {
	b, err := syscall.Mmap(-1, 0, pageSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, pageSize), false
	}
	return b, true
}

// freePage unmaps a page that newPage mapped.
func freePage(page []byte) { syscall.Munmap(page) }
