// Pure layout math for the views: no DOM, no state, so that every function
// here can be reasoned about (and tested) on plain numbers. Times are
// nanoseconds since the first event of the trace, like the Go model.

// The time units a tick label can use, largest first.
const UNITS = [
  {ns: 1e9, name: 's'},
  {ns: 1e6, name: 'ms'},
  {ns: 1e3, name: 'µs'},
  {ns: 1, name: 'ns'},
];

// timeToX maps a time to an x coordinate for a view that shows
// [view.start, view.end] across [x0, x1].
export function timeToX(t, view, x0, x1) {
  const span = Math.max(1, view.end - view.start);
  return x0 + ((t - view.start) / span) * (x1 - x0);
}

// xToTime is the inverse of timeToX.
export function xToTime(x, view, x0, x1) {
  const w = Math.max(1, x1 - x0);
  return view.start + ((x - x0) / w) * (view.end - view.start);
}

// clampView keeps a view inside [0, duration] and no narrower than minSpan,
// preserving its width where it can, so that panning stops at the edges
// instead of squeezing the view.
export function clampView(view, duration, minSpan = 1000) {
  const total = Math.max(minSpan, duration);
  let width = Math.min(total, Math.max(minSpan, view.end - view.start));
  let start = view.start;
  if (start < 0) start = 0;
  if (start + width > total) start = total - width;
  return {start, end: start + width};
}

// zoomView scales a view by factor (<1 zooms in) around the time anchor,
// which stays at the same x on screen.
export function zoomView(view, factor, anchor, duration, minSpan = 1000) {
  const start = anchor - (anchor - view.start) * factor;
  const end = anchor + (view.end - anchor) * factor;
  return clampView({start, end}, duration, minSpan);
}

// panView shifts a view by dt nanoseconds.
export function panView(view, dt, duration, minSpan = 1000) {
  return clampView({start: view.start + dt, end: view.end + dt}, duration, minSpan);
}

// niceStep returns a tick step of 1, 2 or 5 times a power of ten such that
// a view of width span gets about target ticks.
export function niceStep(span, target = 8) {
  if (!(span > 0)) return 1;
  const raw = span / Math.max(1, target);
  const pow = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) {
    if (m * pow >= raw) return m * pow;
  }
  return 10 * pow;
}

// ticks lists the tick times of a view: multiples of niceStep inside it.
export function ticks(view, target = 8) {
  const step = niceStep(view.end - view.start, target);
  const out = [];
  for (let t = Math.ceil(view.start / step) * step; t <= view.end; t += step) {
    out.push(t);
  }
  return {step, ticks: out};
}

// formatDuration writes a duration (or a time) in the largest unit that
// keeps it at least 1, with at most three significant decimals: "1.25 ms".
export function formatDuration(ns) {
  const abs = Math.abs(ns);
  if (abs === 0) return '0';
  for (const u of UNITS) {
    if (abs >= u.ns) {
      const v = ns / u.ns;
      const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
      return `${Number(v.toFixed(digits))} ${u.name}`;
    }
  }
  return `${ns} ns`;
}

// layoutLanes places lanes top to bottom: each lane gets y (its top), the
// bar inside it (barY, barH), and the lanes' total height.
export function layoutLanes(ids, top, laneH, barH) {
  const lanes = ids.map((id, i) => {
    const y = top + i * laneH;
    return {id, y, h: laneH, barY: y + Math.round((laneH - barH) / 2), barH};
  });
  return {lanes, height: ids.length * laneH};
}

// laneAt returns the index of the lane under y, or -1.
export function laneAt(lanes, y) {
  for (let i = 0; i < lanes.length; i++) {
    if (y >= lanes[i].y && y < lanes[i].y + lanes[i].h) return i;
  }
  return -1;
}

// spanEnd is the end of a span, with an open span (end == -1) drawn up to
// now.
export function spanEnd(span, now) {
  return span.end < 0 ? Math.max(span.start, now) : span.end;
}

// spanAt returns the index of the span of a goroutine that covers time t,
// or -1. Spans are contiguous and ordered, so a binary search will do.
export function spanAt(spans, t, now) {
  let lo = 0;
  let hi = spans.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = spans[mid];
    if (t < s.start) {
      hi = mid - 1;
    } else if (t >= spanEnd(s, now) && !(mid === spans.length - 1 && t === spanEnd(s, now))) {
      lo = mid + 1;
    } else {
      return mid;
    }
  }
  return -1;
}

// visibleSpans returns the screen rectangles of the spans that fall in the
// view, merging runs of spans narrower than minPx into one "busy" rectangle
// so that a long run costs a bounded number of draws (level of detail).
// Each rectangle is {x0, x1, index, merged}.
export function visibleSpans(spans, view, x0, x1, now, minPx = 1) {
  const out = [];
  let pending = null;
  for (let i = 0; i < spans.length; i++) {
    const s = spans[i];
    const e = spanEnd(s, now);
    if (e < view.start || s.start > view.end) continue;
    const a = Math.max(x0, timeToX(s.start, view, x0, x1));
    const b = Math.min(x1, timeToX(e, view, x0, x1));
    if (b - a < minPx) {
      if (pending && a - pending.x1 < minPx) {
        pending.x1 = Math.max(pending.x1, b);
        pending.merged = true;
        continue;
      }
      if (pending) out.push(pending);
      pending = {x0: a, x1: Math.max(b, a + minPx), index: i, merged: false};
      continue;
    }
    if (pending) {
      out.push(pending);
      pending = null;
    }
    out.push({x0: a, x1: b, index: i, merged: false});
  }
  if (pending) out.push(pending);
  return out;
}

// eventTimes lists, sorted and without duplicates, the times a player can
// step to: span starts, links and findings.
export function eventTimes(goroutines, links, findings) {
  const set = new Set();
  for (const g of goroutines) {
    for (const s of g.spans) set.add(s.start);
  }
  for (const l of links) set.add(l.time);
  for (const f of findings) set.add(f.time_ns);
  return [...set].sort((a, b) => a - b);
}

// nextEvent returns the first event time after t (or before t when dir is
// negative), or t itself when there is none.
export function nextEvent(times, t, dir) {
  if (dir > 0) {
    for (const x of times) if (x > t) return x;
  } else {
    for (let i = times.length - 1; i >= 0; i--) if (times[i] < t) return times[i];
  }
  return t;
}

// percentile returns the p-th percentile (0..100) of values, nearest-rank.
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

// baseName is the last element of a slash-separated path, as Go's
// path.Base: how a frame's absolute file is matched to a scenario's file.
export function baseName(file) {
  if (!file) return '';
  const i = file.lastIndexOf('/');
  return i < 0 ? file : file.slice(i + 1);
}

// userLine returns the line of file that a stack is at: the first frame, from
// the user frame outwards, in that file; 0 when the stack never enters it.
export function userLine(stack, file) {
  if (!stack || !stack.frames) return 0;
  const from = stack.user >= 0 ? stack.user : 0;
  for (let i = from; i < stack.frames.length; i++) {
    if (baseName(stack.frames[i].file) === file) return stack.frames[i].line;
  }
  for (let i = 0; i < from; i++) {
    if (baseName(stack.frames[i].file) === file) return stack.frames[i].line;
  }
  return 0;
}

// shortFunc shortens a function name for a lane label: the import path is
// dropped, and so is the package when it is the puzzles' own, where every
// scenario lane lives ("example.com/x/scenarios.worker.func1" becomes
// "worker.func1", "runtime/trace.Start" stays "trace.Start").
export function shortFunc(name) {
  if (!name) return '?';
  const slash = name.lastIndexOf('/');
  const last = slash < 0 ? name : name.slice(slash + 1);
  return last.startsWith('scenarios.') ? last.slice('scenarios.'.length) : last;
}

// pkgFunc drops the import path of a function name but keeps its package
// ("github.com/x/scenarios.worker" becomes "scenarios.worker"), for stacks,
// where the package says whose frame it is.
export function pkgFunc(name) {
  if (!name) return '?';
  const slash = name.lastIndexOf('/');
  return slash < 0 ? name : name.slice(slash + 1);
}

// arrowPath returns the control points of a link's curve from (x0, y0) to
// (x1, y1): a gentle bow so that arrows between the same lanes at close
// times stay apart from the vertical cursor.
export function arrowPath(x0, y0, x1, y1) {
  const dy = y1 - y0;
  const bow = Math.min(24, Math.abs(dy) / 3);
  return {x0, y0, cx: (x0 + x1) / 2 + bow, cy: (y0 + y1) / 2, x1, y1};
}
