package web

// The tests of uploads that the server indexes instead of reading whole:
// a plain trace over Options.IndexAbove posted to /api/recordings becomes
// an indexed trace of /api/big, kept in a file of its own until it is
// evicted or the server closes.

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/concviz/concviz/tracer"
	"github.com/concviz/concviz/tracer/index"
)

// uploadServer is a server whose uploads over above are indexed, copied into
// a directory of the test's, with at most keep of them held. The caller
// closes it.
func uploadServer(t *testing.T, above int64, keep int) (*Server, *httptest.Server, string) {
	t.Helper()
	dir := t.TempDir()
	srv := NewServer(Options{Logf: t.Logf, IndexAbove: above, uploadDir: dir, maxBigUploads: keep})
	ts := httptest.NewServer(srv.Handler())
	return srv, ts, dir
}

// upload posts body as the file name and decodes the answer; chunked sends
// it without a Content-Length, as a stream of unknown size.
func upload(t *testing.T, base, name string, body []byte, chunked bool) (int, UploadResult, string, string) {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	if chunked {
		// A reader the client cannot measure is sent in chunks.
		r = io.MultiReader(r)
	}
	resp, err := http.Post(base+"/api/recordings?name="+name, "application/octet-stream", r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var up UploadResult
	var e apiError
	json.Unmarshal(raw, &up)
	json.Unmarshal(raw, &e)
	return resp.StatusCode, up, e.Error, string(raw)
}

// uploadFiles lists the files of the upload directory.
func uploadFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// heldUpload returns the indexed trace the server holds under id, or nil,
// read under the lock that uploads take.
func heldUpload(srv *Server, id string) *bigTrace {
	srv.bigMu.RLock()
	defer srv.bigMu.RUnlock()
	for _, b := range srv.big {
		if b.id == id {
			return b
		}
	}
	return nil
}

func TestBigUpload(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dir := t.TempDir()
	data, err := os.ReadFile(recordBig(t, dir, 300, 3000))
	if err != nil {
		t.Fatal(err)
	}
	small, err := os.ReadFile(recordBig(t, t.TempDir(), 3, 10))
	if err != nil {
		t.Fatal(err)
	}
	above := int64(len(data) / 2)
	if int64(len(small)) >= above {
		t.Fatalf("the small trace (%d bytes) is not under the threshold (%d)", len(small), above)
	}
	t.Logf("traces of %d and %d bytes, threshold %d", len(data), len(small), above)
	// The server's index is not at hand: the same bytes index the same.
	x, err := index.Open(t.Context(), filepath.Join(dir, "big.trace"), index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, ts, updir := uploadServer(t, above, 2)
	closed := false
	defer func() {
		if !closed {
			ts.Close()
			srv.Close()
		}
	}()

	var first BigInfo
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			code, up, msg, raw := upload(t, ts.URL, "big.trace", data, chunked)
			if code != http.StatusOK || up.Big == nil {
				t.Fatalf("upload: %d %q %s; want 200 with big", code, msg, clipText(raw))
			}
			if strings.Contains(raw, `"recording"`) {
				t.Errorf("an indexed upload's answer has a recording: %s", clipText(raw))
			}
			if up.Big.Name != "big.trace" || up.Big.Size != int64(len(data)) || !up.Big.Uploaded {
				t.Errorf("big = %+v, want big.trace of %d bytes, uploaded", up.Big, len(data))
			}
			if !chunked {
				first = *up.Big
			}
			in := waitIndexed(t, ts.URL, up.Big.ID)
			if in.Error != "" || !in.Ready || in.Stats.Events != x.Stats().Events || in.Lanes != x.LaneCount(false) {
				t.Fatalf("status after indexing: %+v; want %d events, %d lanes", in, x.Stats().Events, x.LaneCount(false))
			}

			// The window's lanes are the trace's goroutines, with spans.
			var c compactWindow
			getJSON(t, fmt.Sprintf("%s/api/big/%s/window?start=0&end=%d&px=800&count=20", ts.URL, up.Big.ID, in.Stats.Now), &c)
			want := x.Lanes(0, 20, false)
			spans := 0
			for i, l := range c.Lanes {
				if i >= len(want) || l.ID != want[i].ID {
					t.Fatalf("window lane %d is G%d, the trace has %+v", i, l.ID, want[min(i, len(want)-1)])
				}
				spans += len(l.Gap)
			}
			if len(c.Lanes) != len(want) || spans == 0 {
				t.Errorf("window has %d lanes, %d spans; want %d lanes with spans", len(c.Lanes), spans, len(want))
			}

			// The file exists while the trace is served.
			b := heldUpload(srv, up.Big.ID)
			if b == nil || filepath.Dir(b.temp) != updir {
				t.Fatalf("trace %s is not held in %s: %+v", up.Big.ID, updir, b)
			}
			if fi, err := os.Stat(b.temp); err != nil || fi.Size() != int64(len(data)) {
				t.Errorf("the upload's file: %v, %v; want %d bytes", fi, err, len(data))
			}
		})
	}

	t.Run("listed but not opened by itself", func(t *testing.T) {
		var list []BigInfo
		getJSON(t, ts.URL+"/api/big", &list)
		if len(list) != 2 || !list[0].Uploaded || !list[1].Uploaded {
			t.Errorf("GET /api/big = %+v, want the two uploads, marked", list)
		}
	})

	t.Run("small trace is a recording", func(t *testing.T) {
		code, up, msg, _ := upload(t, ts.URL, "small.trace", small, false)
		if code != http.StatusOK || up.Big != nil || up.Recording.ID == "" || up.Recording.Name != "small.trace" {
			t.Errorf("upload under the threshold: %d %q %+v; want a recording", code, msg, up)
		}
	})

	t.Run("garbage", func(t *testing.T) {
		// Over the threshold without a trace's header: read whole, and
		// refused as today.
		junk := bytes.Repeat([]byte("not a trace "), int(above)/10)
		if code, _, msg, _ := upload(t, ts.URL, "junk.bin", junk, false); code != http.StatusBadRequest || !strings.Contains(msg, "junk.bin cannot be opened: not a Go execution trace") {
			t.Errorf("garbage over the threshold: %d %q, want a readable 400", code, msg)
		}
		// A trace's magic and garbage after it: indexed, and the status
		// says it is not a trace.
		fake := append([]byte("go 1.x"), junk...)
		code, up, msg, _ := upload(t, ts.URL, "fake.trace", fake, false)
		if code != http.StatusOK || up.Big == nil {
			t.Fatalf("garbage after a trace's magic: %d %q, want it indexed", code, msg)
		}
		if in := waitIndexed(t, ts.URL, up.Big.ID); !strings.Contains(in.Error, tracer.ErrNotTrace.Error()) {
			t.Errorf("garbage after a trace's magic: status error %q, want one saying it is not a trace", in.Error)
		}
	})

	t.Run("eviction", func(t *testing.T) {
		// Three indexed uploads so far, two held: the first is gone, with
		// its file, and says why.
		if b := heldUpload(srv, first.ID); b != nil {
			t.Fatalf("upload %s still held after two newer ones", first.ID)
		}
		resp, err := http.Get(ts.URL + "/api/big/" + first.ID + "/window?start=0&end=10&px=10")
		if err != nil {
			t.Fatal(err)
		}
		var e apiError
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(e.Error, "closed this one to make room") {
			t.Errorf("evicted upload's window: %d %q; want 404 saying why", resp.StatusCode, e.Error)
		}
		if files := uploadFiles(t, updir); len(files) != 2 {
			t.Errorf("upload directory holds %q, want the two uploads held", files)
		}
		var list []BigInfo
		getJSON(t, ts.URL+"/api/big", &list)
		if len(list) != 2 || list[0].ID == first.ID {
			t.Errorf("GET /api/big after eviction = %+v", list)
		}
	})

	t.Run("close", func(t *testing.T) {
		ts.Close()
		srv.Close()
		closed = true
		if files := uploadFiles(t, updir); len(files) != 0 {
			t.Errorf("after Close the upload directory holds %q", files)
		}
		// Uploads that come later are refused (the handler is called
		// directly: the listener is closed).
		w := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/api/recordings?name=late.trace", bytes.NewReader(data))
		srv.handleUpload(w, req)
		if w.Code != http.StatusServiceUnavailable || len(uploadFiles(t, updir)) != 0 {
			t.Errorf("upload after Close: %d %s, files %q", w.Code, w.Body, uploadFiles(t, updir))
		}
	})
}

// TestBigUploadLimits checks what stays as it was: the upload cap, a
// recording read whole however large, and an upload cut off at the cap
// leaving no file behind; and that a negative threshold indexes every
// plain trace.
func TestBigUploadLimits(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dir := t.TempDir()
	srv := NewServer(Options{Logf: t.Logf, IndexAbove: -1, MaxUpload: 64 << 10, uploadDir: dir})
	ts := httptest.NewServer(srv.Handler())
	defer srv.Close()
	defer ts.Close()

	data := fixtureTrace(t, "deadlock-cross-wait-broken")
	if len(data) > 64<<10 {
		t.Fatalf("the fixture is %d bytes, over the test's cap", len(data))
	}
	code, up, msg, _ := upload(t, ts.URL, "tiny.trace", data, false)
	if code != http.StatusOK || up.Big == nil {
		t.Fatalf("a trace with a negative threshold: %d %q %+v, want it indexed", code, msg, up)
	}
	if in := waitIndexed(t, ts.URL, up.Big.ID); in.Error != "" || in.Lanes == 0 {
		t.Errorf("tiny trace indexed: %+v", in)
	}

	// A .concviz recording is a zip: read whole into a recording.
	rec, _, err := tracer.OpenRecording(data, "x.trace")
	if err != nil {
		t.Fatal(err)
	}
	var zipped bytes.Buffer
	if err := rec.Save(&zipped); err != nil {
		t.Fatal(err)
	}
	if _, err := zip.NewReader(bytes.NewReader(zipped.Bytes()), int64(zipped.Len())); err != nil {
		t.Fatalf("the saved recording is not a zip: %v", err)
	}
	code, up, msg, _ = upload(t, ts.URL, "x.concviz", zipped.Bytes(), false)
	if code != http.StatusOK || up.Big != nil || up.Recording.Scenario != "deadlock-cross-wait" {
		t.Errorf("a recording: %d %q %+v, want a recording of its scenario", code, msg, up)
	}

	// Over the cap: refused by its length, or cut off while copied.
	huge := append(append([]byte{}, data...), make([]byte, 64<<10)...)
	for _, chunked := range []bool{false, true} {
		code, _, msg, _ := upload(t, ts.URL, "huge.trace", huge, chunked)
		if code != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "largest trace") {
			t.Errorf("over the cap (chunked %v): %d %q, want 413", chunked, code, msg)
		}
	}
	if files := uploadFiles(t, dir); len(files) != 1 {
		t.Errorf("upload directory holds %q, want only the one trace indexed", files)
	}
}

// TestBigUploadEvictWhileIndexing sends uploads at once to a server that
// holds one and indexes slowly: each eviction stops an index still being
// built, and the uploads, status reads and evictions race for the list
// (run with -race).
func TestBigUploadEvictWhileIndexing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	// A trace of many generations: the reader hands out events a
	// generation at a time, so that an eviction stops it early.
	data, err := os.ReadFile(generationsTrace(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	open := make(chan struct{})
	close(open)
	// Each upload would take three seconds to index; the readers are
	// kept to see how far each got.
	var mu sync.Mutex
	readers := map[string]*slowReader{}
	slow := func(r io.Reader) io.Reader {
		s := &slowReader{r: r, rate: float64(len(data)) / 3, gate: open}
		mu.Lock()
		readers[r.(*os.File).Name()] = s
		mu.Unlock()
		return s
	}
	srv := NewServer(Options{Logf: t.Logf, IndexAbove: 1 << 10, uploadDir: dir, maxBigUploads: 1, wrapUpload: slow})
	ts := httptest.NewServer(srv.Handler())
	defer srv.Close()
	defer ts.Close()

	const n = 4
	ids := make(chan string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			code, up, msg, _ := upload(t, ts.URL, fmt.Sprintf("u%d.trace", i), data, i%2 == 1)
			if code != http.StatusOK || up.Big == nil {
				t.Errorf("upload %d: %d %q", i, code, msg)
				return
			}
			ids <- up.Big.ID
			// A status read that may race with the next eviction.
			resp, err := http.Get(ts.URL + "/api/big/" + up.Big.ID)
			if err == nil {
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	close(ids)
	var list []BigInfo
	getJSON(t, ts.URL+"/api/big", &list)
	if len(list) != 1 {
		t.Fatalf("GET /api/big = %+v, want the one upload held", list)
	}
	for id := range ids {
		if id == list[0].ID {
			continue
		}
		resp, err := http.Get(ts.URL + "/api/big/" + id)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("evicted upload %s: %d, want 404", id, resp.StatusCode)
		}
	}
	if files := uploadFiles(t, dir); len(files) != 1 {
		t.Errorf("upload directory holds %q, want the one held", files)
	}
	// The evicted ones were stopped part of the way through. (Their
	// goroutines have ended: eviction waits for them. The one held may
	// still be reading.)
	held := heldUpload(srv, list[0].ID).temp
	mu.Lock()
	defer mu.Unlock()
	stopped := 0
	for name, r := range readers {
		if name != held && r.n < int64(len(data)) {
			stopped++
		}
	}
	if len(readers) != n || stopped < n-1 {
		t.Errorf("%d of %d uploads were stopped before their end, want the %d evicted", stopped, len(readers), n-1)
	}
}
