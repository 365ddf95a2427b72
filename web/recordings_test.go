package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concviz/concviz/scenarios"
	"github.com/concviz/concviz/tracer"
)

// fixtureTrace is a real trace recorded by the tracer's fixture generator.
func fixtureTrace(t *testing.T, name string) []byte {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join("..", "tracer", "testdata", "traces", "*-"+name+".trace"))
	if len(matches) == 0 {
		t.Skipf("no trace fixture %s", name)
	}
	b, err := os.ReadFile(matches[len(matches)-1])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVariantDiff(t *testing.T) {
	sc, err := scenarios.Lookup("race-counter")
	if err != nil {
		t.Fatal(err)
	}
	d, err := variantDiff(sc, "broken", "fixed")
	if err != nil {
		t.Fatal(err)
	}
	if d.A.Func != "counterBroken" || d.B.Func != "counterMutex" {
		t.Errorf("diff of %s against %s, want counterBroken against counterMutex", d.A.Func, d.B.Func)
	}
	var bug, fix, same bool
	for _, l := range d.Lines {
		switch {
		case l.Op == "-" && l.Mark == "bug" && strings.Contains(l.Text, "counter++"):
			bug = true
		case l.Op == "+" && l.Mark == "fix" && strings.Contains(l.Text, "mu.Lock()"):
			fix = true
		case l.Op == " " && strings.Contains(l.Text, "wg.Wait()"):
			same = l.A > 0 && l.B > 0
		}
	}
	if !bug || !fix || !same {
		b, _ := json.MarshalIndent(d, "", " ")
		t.Errorf("diff lacks the BUG line (%v), the FIX line (%v) or a shared line (%v):\n%s", bug, fix, same, b)
	}
	if _, err := variantDiff(sc, "broken", "nope"); err == nil {
		t.Error("an unknown variant diffed")
	}
}

// TestStoreCap saves recordings into a directory whose cap holds two: the
// oldest goes, the log says so, and a new store lists what is left.
func TestStoreCap(t *testing.T) {
	dir := t.TempDir()
	var logs []string
	logf := func(format string, args ...any) { logs = append(logs, format) }
	data := fixtureTrace(t, "deadlock-cross-wait-broken")
	var archive bytes.Buffer
	tracer.NewRecording(data, nil).Save(&archive)
	s, err := NewStore(dir, int64(archive.Len())*5/2, logf)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 3 {
		// Three different traces: the same one with a different tail.
		trace := append(append([]byte{}, data...), byte(i))
		rec := tracer.NewRecording(trace, &tracer.Report{Scenario: "deadlock-cross-wait", Variant: "broken", Outcome: scenarios.Deadlock})
		rec.Meta.Recorded = rec.Meta.Recorded.Add(time.Duration(i) * time.Second)
		_, tl, err := tracer.OpenRecording(data, "")
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Add(rec, tl, true)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, info.ID)
		// Modification times order the directory: make them distinct.
		os.Chtimes(filepath.Join(dir, fileName(info)), time.Now(), time.Now().Add(time.Duration(i)*time.Second))
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.concviz"))
	if len(files) != 2 {
		t.Errorf("%d files in the directory, want 2 under the cap", len(files))
	}
	if !strings.Contains(strings.Join(logs, "\n"), "deleted the oldest") {
		t.Errorf("the log does not say a recording was deleted: %q", logs)
	}
	again, err := NewStore(dir, 0, logf)
	if err != nil {
		t.Fatal(err)
	}
	list := again.List()
	if len(list) != 2 || list[0].ID != ids[2] || list[1].ID != ids[1] {
		t.Errorf("a new store lists %+v, want the two newest, newest first", list)
	}
	if _, _, tl, _, err := again.Get(ids[2]); err != nil || len(tl.Goroutines) == 0 {
		t.Errorf("read back from disk: %v", err)
	}
}

// TestRecordingRoutes uploads a trace and reads it back through every
// recording route.
func TestRecordingRoutes(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	data := fixtureTrace(t, "deadlock-cross-wait-broken")
	resp, err := http.Post(ts.URL+"/api/recordings?name=../../x.trace", "application/octet-stream", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var up UploadResult
	json.NewDecoder(resp.Body).Decode(&up)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || up.Recording.Name != "x.trace" || up.Recording.Scenario != "deadlock-cross-wait" {
		t.Fatalf("upload: %d %+v", resp.StatusCode, up)
	}
	id := up.Recording.ID
	var view RecordingView
	getJSONAt(t, ts.URL+"/api/recordings/"+id, &view)
	if view.Meta.Variant != "broken" || len(view.Timeline.Goroutines) != 2 {
		t.Errorf("recording view: %+v with %d goroutines, want broken with the scenario's 2", view.Meta, len(view.Timeline.Goroutines))
	}
	var list []RecordingInfo
	getJSONAt(t, ts.URL+"/api/recordings", &list)
	if len(list) != 1 || list[0].ID != id {
		t.Errorf("list = %+v", list)
	}
	file, err := http.Get(ts.URL + "/api/recordings/" + id + "/file")
	if err != nil {
		t.Fatal(err)
	}
	var zipped bytes.Buffer
	zipped.ReadFrom(file.Body)
	file.Body.Close()
	if !strings.Contains(file.Header.Get("Content-Disposition"), ".concviz") || !tracer.IsArchive(zipped.Bytes()) {
		t.Errorf("download: %q, %d bytes", file.Header.Get("Content-Disposition"), zipped.Len())
	}
	rec, err := tracer.LoadRecording(zipped.Bytes(), "")
	if err != nil || !bytes.Equal(rec.Trace, data) {
		t.Errorf("the downloaded recording does not hold the uploaded trace: %v", err)
	}
	for _, path := range []string{"/api/recordings/nope", "/api/recordings/nope/file", "/api/recordings/" + id + "/source?file=/etc/passwd"} {
		r, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, r.StatusCode)
		}
	}
}

// TestUploadTruncated: a trace cut short opens, and says how much was lost.
func TestUploadTruncated(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	data := fixtureTrace(t, "leak-unread-result-broken")
	resp, err := http.Post(ts.URL+"/api/recordings?name=cut.out", "application/octet-stream", bytes.NewReader(data[:len(data)*2/3]))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var up UploadResult
	json.NewDecoder(resp.Body).Decode(&up)
	if resp.StatusCode != http.StatusOK || !strings.Contains(strings.Join(up.Warnings, " "), "could not be used") {
		t.Errorf("truncated upload: %d %+v", resp.StatusCode, up)
	}
}

func getJSONAt(t *testing.T, url string, v any) {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d", url, r.StatusCode)
	}
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
