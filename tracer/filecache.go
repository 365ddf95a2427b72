package tracer

import (
	"os"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// fileCacheSize bounds how many source files each cache keeps: far more than
// one diagnosis reads (a scenario names a handful), few enough that a server
// left running for a term, whose learners' edits each add a file, stays small.
const fileCacheSize = 256

// fileCache keeps what was derived from a local source file (its lines, its
// syntax tree) for the files used most recently. An entry is checked against
// the file's size and modification time on every use, so that a user who
// edits a file between two runs of viz test, or a trace opened after its
// source changed, is answered from the file as it is now, not as it was.
// It is safe for concurrent use; two goroutines that miss together may both
// load the file, which costs time, not correctness.
type fileCache[V any] struct {
	entries *lru.Cache[string, fileEntry[V]]
	load    func(path string) V
}

type fileEntry[V any] struct {
	size int64
	mod  time.Time
	v    V
}

func newFileCache[V any](load func(path string) V) *fileCache[V] {
	c, err := lru.New[string, fileEntry[V]](fileCacheSize)
	if err != nil {
		panic(err) // only for a size <= 0
	}
	return &fileCache[V]{entries: c, load: load}
}

// get returns what load derives from the file at path, and the zero value
// when the file cannot be read (a trace from another machine).
func (c *fileCache[V]) get(path string) V {
	fi, err := os.Stat(path)
	if err != nil {
		c.entries.Remove(path)
		var zero V
		return zero
	}
	if e, ok := c.entries.Get(path); ok && e.size == fi.Size() && e.mod.Equal(fi.ModTime()) {
		return e.v
	}
	v := c.load(path)
	c.entries.Add(path, fileEntry[V]{size: fi.Size(), mod: fi.ModTime(), v: v})
	return v
}
