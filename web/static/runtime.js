// The runtime lanes: what the Go runtime did during a run, drawn above the
// goroutine lanes on the timeline's own time axis and label column, so
// that a garbage collection sits right above the goroutines it slowed:
// GC cycles and stop-the-world pauses, the heap in use against the heap
// goal, and how many goroutines were running, runnable, in a system call
// or blocked. They follow a live run as its updates arrive.
//
// The lanes are also where a stretch of the run is picked for a profile:
// drag across them (or shift-drag across the goroutine lanes, or press w
// for the visible window) and pprof's own UI opens on a profile of just
// that window, built by the server from the trace (tracer/window.go).
//
// For tests, the root element's data-drawn attribute describes the last
// frame as JSON: {gc, stw, heap, goal, counts, maxCount, maxHeap,
// selection, rows}: how many intervals, points and buckets were drawn, the
// charts' scales, the selected window, and each row's [y, height] in CSS
// pixels of the canvas.

import {formatDuration, spanAt, timeToX, xToTime} from './layout.js';

// Geometry in CSS pixels. The label column and the right padding are the
// timeline's (its geometry says where its time axis runs).
const LABEL_W = 232;
const PAD_R = 18;
const ROW_GC = 18; // GC cycles and pauses
const ROW_CHART = 36; // the heap and the goroutine counts
const GAP = 5;
const PAD = 5;
const HEIGHT = PAD + ROW_GC + GAP + ROW_CHART + GAP + ROW_CHART + PAD;
const BUCKET_PX = 2; // one goroutine count per this many pixels
const MAX_COUNT_WORK = 4e5; // goroutines times buckets per frame, at most
const DRAG_PX = 3; // a drag narrower than this is a click
const STW_MIN_PX = 2; // a pause is drawn at least this wide

// The goroutine count kinds, bottom to top of the stacked chart.
export const COUNT_KINDS = ['running', 'runnable', 'syscall', 'blocked'];

// COUNT_NAMES are the legend's names of the count kinds; "blocked" counts
// every wait, sleeping included.
const COUNT_NAMES = {running: 'running', runnable: 'runnable', syscall: 'in syscall', blocked: 'blocked or asleep'};

// runtimeView builds the lanes inside root. timeline is the goroutine
// timeline, whose view and geometry the lanes share. The returned object's
// setData({runtime, goroutines, now, duration, live, cursor}) gives the
// lanes what to draw; setRun({recording, profile}) says which recording
// the run on screen is and which profile it recorded, for the links;
// profileWindow(w) opens the profile of a window {start, end}.
export function runtimeView(root, {timeline}) {
  // data is what the lanes draw; see setData.
  let data = {runtime: emptyRuntime(), goroutines: [], now: 0, duration: 0, live: false, cursor: null};
  // run names the recording on screen and its profile kind, or null.
  let run = null;
  // selection is the window picked for a profile, {start, end}, or null.
  let selection = null;
  // drag is the selection gesture in progress, or null.
  let drag = null;
  // frame is the pending requestAnimationFrame id, so draws coalesce.
  let frame = 0;
  let colors = readColors();

  root.textContent = '';
  const head = el('div', 'rt-head');
  const legendEl = el('div', 'legend rt-legend');
  const hint = el('span', 'rt-hint', 'drag to profile a window');
  hint.title = 'Drag here, shift-drag across the goroutine lanes, or press w for the visible window: pprof opens on that stretch of the run';
  const links = el('span', 'rt-links');
  const profileLink = link('rt-profile', 'Profile ↗', 'The run\'s profile in pprof: flame graph, top, source, graph');
  const downloadLink = link('rt-download', '.pb.gz', 'The run\'s profile for go tool pprof');
  downloadLink.removeAttribute('target');
  const windowLink = link('rt-window', '', 'A profile of the selected window, in pprof');
  // wallLink offers, beside a CPU run's window, the same window in wall
  // time: where the goroutines waited in it.
  const wallLink = link('rt-wall', 'wall ↗', 'The selected window in wall time: running and blocked, at the stacks that blocked');
  links.append(windowLink, wallLink, profileLink, downloadLink);
  head.append(legendEl, hint, links);
  const canvas = el('canvas', 'rt-canvas');
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', 'Runtime lanes: garbage collection, stop-the-world pauses, heap and goroutine counts');
  root.append(head, canvas);
  const ctx = canvas.getContext('2d');
  fillLegend();
  setRun(null);

  new ResizeObserver(() => schedule()).observe(root);
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    colors = readColors();
    fillLegend();
    schedule();
  });
  canvas.addEventListener('pointerdown', pointerDown);
  canvas.addEventListener('pointermove', pointerMove);
  canvas.addEventListener('pointerup', pointerUp);
  canvas.addEventListener('pointercancel', () => { drag = null; });

  return {
    setData, setRun, profileWindow, schedule,
    get selection() { return selection && {...selection}; },
  };

  function setData(d) {
    data = {...data, ...d};
    schedule();
  }

  // setRun shows the links of a run: its profile when it recorded one,
  // and windows of its recording.
  function setRun(r) {
    run = r && r.recording ? r : null;
    selection = null;
    const base = run ? `/pprof/${encodeURIComponent(run.recording)}/` : '';
    profileLink.hidden = !run || !run.profile;
    downloadLink.hidden = profileLink.hidden;
    if (!profileLink.hidden) {
      profileLink.href = base;
      profileLink.textContent = `${run.profile === 'wall' ? 'Wall-clock' : 'CPU'} profile ↗`;
      downloadLink.href = `${base}download`;
    }
    windowLink.hidden = true;
    wallLink.hidden = true;
    hint.hidden = !run;
    schedule();
  }

  // profileWindow selects window w and opens its profile in a new tab.
  function profileWindow(w) {
    if (!run || !w || !(w.end > w.start)) return;
    selection = {start: Math.max(0, Math.floor(w.start)), end: Math.ceil(w.end)};
    const kind = windowKind(run.profile);
    windowLink.href = windowProfileURL(run.recording, kind, selection);
    windowLink.textContent = `${formatDuration(selection.start)} – ${formatDuration(selection.end)} ↗`;
    windowLink.title = `A ${kind === 'cpu' ? 'CPU' : 'wall-clock'} profile of this window, in pprof`;
    windowLink.hidden = false;
    hint.hidden = true;
    wallLink.hidden = kind !== 'cpu';
    wallLink.href = windowProfileURL(run.recording, 'wall', selection);
    schedule();
    window.open(windowLink.href, '_blank', 'noopener');
  }

  function schedule() {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      draw();
    });
  }

  // ---- render ----

  function draw() {
    const width = Math.max(300, root.clientWidth);
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(HEIGHT * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(HEIGHT * dpr);
      canvas.style.width = `${width}px`;
      canvas.style.height = `${HEIGHT}px`;
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = colors.panel;
    ctx.fillRect(0, 0, width, HEIGHT);
    const {x0, x1} = axis(width);
    const view = timeline.view;
    const end = data.live ? data.now : Math.max(data.now, data.duration);
    const rt = data.runtime || emptyRuntime();
    const gcY = PAD;
    const heapY = gcY + ROW_GC + GAP;
    const countY = heapY + ROW_CHART + GAP;

    ctx.save();
    ctx.beginPath();
    ctx.rect(x0, 0, x1 - x0, HEIGHT);
    ctx.clip();
    drawGrid(x0, x1);
    const gc = drawIntervals(rt.gc, view, x0, x1, end, gcY, ROW_GC, withAlpha(colors.gc, 0.55), 1);
    const stw = drawIntervals(rt.stw, view, x0, x1, end, gcY, ROW_GC, colors.stw, STW_MIN_PX);
    const heap = drawHeap(rt, view, x0, x1, end, heapY);
    const counts = drawCounts(view, x0, x1, end, countY);
    drawSelection(view, x0, x1);
    if (data.cursor != null) {
      const x = Math.round(timeToX(data.cursor, view, x0, x1)) + 0.5;
      ctx.strokeStyle = colors.cursor;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(x, 0);
      ctx.lineTo(x, HEIGHT);
      ctx.stroke();
    }
    ctx.restore();

    drawLabel('GC · STW', gc.n || stw.n ? `${rt.gc.length} GC, ${rt.stw.length} STW` : 'none', gcY, ROW_GC);
    drawLabel('Heap', heap.max ? `≤ ${bytes(heap.max)}` : 'no samples', heapY, ROW_CHART);
    drawLabel('Goroutines', counts.max ? `≤ ${counts.max}` : '', countY, ROW_CHART);
    ctx.strokeStyle = colors.line;
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(LABEL_W - 8.5, 0);
    ctx.lineTo(LABEL_W - 8.5, HEIGHT);
    ctx.moveTo(0, HEIGHT - 0.5);
    ctx.lineTo(width, HEIGHT - 0.5);
    ctx.stroke();

    root.dataset.drawn = JSON.stringify({
      gc: gc.n, stw: stw.n, heap: heap.points, goal: heap.goalPoints, counts: counts.buckets,
      maxCount: counts.max, maxHeap: heap.max, selection,
      rows: {gc: [gcY, ROW_GC], heap: [heapY, ROW_CHART], count: [countY, ROW_CHART]},
    });
  }

  // drawGrid shades the chart rows, so that an empty chart still shows
  // where it would be.
  function drawGrid(x0, x1) {
    ctx.fillStyle = colors.laneAlt;
    ctx.fillRect(x0, PAD + ROW_GC + GAP, x1 - x0, ROW_CHART);
    ctx.fillRect(x0, PAD + ROW_GC + GAP + ROW_CHART + GAP, x1 - x0, ROW_CHART);
  }

  // drawIntervals draws GC cycles or pauses in a row and returns how many
  // fell in the view.
  function drawIntervals(ivs, view, x0, x1, end, y, h, color, minPx) {
    let n = 0;
    ctx.fillStyle = color;
    for (const iv of ivs || []) {
      const e = iv.end < 0 ? end : iv.end;
      if (e < view.start || iv.start > view.end) continue;
      const a = timeToX(iv.start, view, x0, x1);
      const b = timeToX(e, view, x0, x1);
      const w = Math.max(minPx, b - a);
      ctx.fillRect(w > b - a ? (a + b - w) / 2 : a, y, w, h);
      n++;
    }
    return {n};
  }

  // drawHeap draws the heap in use as a filled step chart and the heap goal
  // as a dashed step line, on a scale from zero to the larger of the two
  // in view.
  function drawHeap(rt, view, x0, x1, end, y) {
    const heap = stepPoints(rt.heap, view, x0, x1, end);
    const goal = stepPoints(rt.heap_goal, view, x0, x1, end);
    const max = Math.max(0, ...heap.map((p) => p[1]), ...goal.map((p) => p[1]));
    const out = {max, points: heap.length, goalPoints: goal.length};
    if (!max) return out;
    const yOf = (v) => y + ROW_CHART - (v / max) * (ROW_CHART - 4);
    if (heap.length) {
      ctx.beginPath();
      ctx.moveTo(heap[0][0], y + ROW_CHART);
      for (const [x, v] of heap) ctx.lineTo(x, yOf(v));
      ctx.lineTo(heap[heap.length - 1][0], y + ROW_CHART);
      ctx.closePath();
      ctx.fillStyle = withAlpha(colors.heap, 0.35);
      ctx.fill();
      ctx.beginPath();
      heap.forEach(([x, v], i) => (i ? ctx.lineTo(x, yOf(v)) : ctx.moveTo(x, yOf(v))));
      ctx.strokeStyle = colors.heap;
      ctx.lineWidth = 1.5;
      ctx.stroke();
    }
    if (goal.length) {
      ctx.beginPath();
      goal.forEach(([x, v], i) => (i ? ctx.lineTo(x, yOf(v)) : ctx.moveTo(x, yOf(v))));
      ctx.strokeStyle = colors.goal;
      ctx.lineWidth = 1.5;
      ctx.setLineDash([5, 3]);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    return out;
  }

  // drawCounts draws the goroutines by state as a stacked chart.
  function drawCounts(view, x0, x1, end, y) {
    const {buckets, max} = stateCounts(data.goroutines, view, x0, x1, end, BUCKET_PX);
    if (!max) return {buckets: 0, max: 0};
    const scale = (ROW_CHART - 4) / max;
    for (const b of buckets) {
      let top = y + ROW_CHART;
      for (const k of COUNT_KINDS) {
        const h = b[k] * scale;
        if (h <= 0) continue;
        ctx.fillStyle = colors.count[k];
        ctx.fillRect(b.x0, top - h, b.x1 - b.x0, h);
        top -= h;
      }
    }
    return {buckets: buckets.length, max};
  }

  function drawSelection(view, x0, x1) {
    const s = drag && drag.moved ? drag.window : selection;
    if (!s) return;
    const a = Math.max(x0, timeToX(s.start, view, x0, x1));
    const b = Math.min(x1, timeToX(s.end, view, x0, x1));
    if (b <= a) return;
    ctx.fillStyle = withAlpha(colors.accent, 0.14);
    ctx.fillRect(a, 0, b - a, HEIGHT);
    ctx.strokeStyle = colors.accent;
    ctx.lineWidth = 1;
    ctx.strokeRect(a + 0.5, 0.5, b - a - 1, HEIGHT - 1);
  }

  function drawLabel(name, value, y, h) {
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'left';
    ctx.font = `600 11px ${colors.sans}`;
    ctx.fillStyle = colors.muted;
    ctx.fillText(name.toUpperCase(), 14, y + h / 2);
    if (value) {
      ctx.textAlign = 'right';
      ctx.font = `11px ${colors.mono}`;
      ctx.fillText(value, LABEL_W - 14, y + h / 2);
      ctx.textAlign = 'left';
    }
  }

  function fillLegend() {
    legendEl.textContent = '';
    const item = (cls, color, text) => {
      const s = document.createElement('span');
      const i = document.createElement('i');
      if (cls) i.className = cls;
      if (color) i.style.background = color;
      s.append(i, text);
      legendEl.append(s);
    };
    item('', withAlpha(colors.gc, 0.55), 'GC cycle');
    item('lg-stw', colors.stw, 'stop-the-world');
    item('', withAlpha(colors.heap, 0.5), 'heap in use');
    item('lg-goal', '', 'heap goal');
    // Running, runnable and in syscall have the colours of the goroutine
    // legend below.
    item('', colors.count.blocked, COUNT_NAMES.blocked);
  }

  // ---- interaction ----

  function pointerDown(e) {
    const {x0, x1} = axis(Math.max(300, root.clientWidth));
    if (!run || e.offsetX < x0 || e.offsetX > x1) return;
    drag = {x: e.offsetX, moved: false, window: null};
    canvas.setPointerCapture(e.pointerId);
  }

  function pointerMove(e) {
    const {x0, x1} = axis(Math.max(300, root.clientWidth));
    const view = timeline.view;
    if (!drag) {
      canvas.title = describe(xToTime(e.offsetX, view, x0, x1), e.offsetX >= x0);
      return;
    }
    if (!drag.moved && Math.abs(e.offsetX - drag.x) < DRAG_PX) return;
    drag.moved = true;
    const a = xToTime(Math.max(x0, Math.min(x1, drag.x)), view, x0, x1);
    const b = xToTime(Math.max(x0, Math.min(x1, e.offsetX)), view, x0, x1);
    drag.window = {start: Math.max(0, Math.min(a, b)), end: Math.max(a, b)};
    schedule();
  }

  function pointerUp() {
    const d = drag;
    drag = null;
    if (!d) return;
    if (d.moved && d.window) {
      profileWindow(d.window);
    } else {
      selection = null;
      windowLink.hidden = true;
      wallLink.hidden = true;
      hint.hidden = false;
      schedule();
    }
  }

  // describe says what the lanes show at time t, for the hover title.
  function describe(t, inside) {
    if (!inside) return '';
    const rt = data.runtime || emptyRuntime();
    const end = data.live ? data.now : Math.max(data.now, data.duration);
    const parts = [formatDuration(t)];
    const gc = rt.gc.find((iv) => t >= iv.start && t <= (iv.end < 0 ? end : iv.end));
    if (gc) parts.push(`GC mark phase, ${formatDuration((gc.end < 0 ? end : gc.end) - gc.start)}`);
    const heap = valueAt(rt.heap, t);
    const goal = valueAt(rt.heap_goal, t);
    if (heap != null) parts.push(`heap ${bytes(heap)}${goal != null ? ` of a ${bytes(goal)} goal` : ''}`);
    const c = countAt(data.goroutines, t, end);
    parts.push(COUNT_KINDS.map((k) => `${c[k]} ${k}`).join(', '));
    return parts.join('\n');
  }

  // ---- helpers ----

  // axis is where the timeline's time axis runs, so that both line up.
  function axis(width) {
    const g = timeline.geometry;
    if (g && g.x1 > g.x0) return {x0: g.x0, x1: g.x1};
    return {x0: LABEL_W, x1: width - PAD_R};
  }

  function link(cls, text, titleText) {
    const a = el('a', `rt-link ${cls}`, text);
    a.target = '_blank';
    a.rel = 'noopener';
    a.title = titleText;
    a.hidden = true;
    return a;
  }
}

// emptyRuntime is the runtime lanes of a run that has none yet.
export function emptyRuntime() {
  return {gc: [], stw: [], heap: [], heap_goal: []};
}

// applyRuntimeDelta patches the runtime lanes rt with an update's delta:
// intervals replace those from the given index on, samples append.
export function applyRuntimeDelta(rt, d) {
  if (!d) return rt;
  if (d.gc) rt.gc.splice(d.gc_from || 0, rt.gc.length, ...d.gc);
  if (d.stw) rt.stw.splice(d.stw_from || 0, rt.stw.length, ...d.stw);
  if (d.heap) rt.heap.push(...d.heap);
  if (d.heap_goal) rt.heap_goal.push(...d.heap_goal);
  return rt;
}

// runtimeOf copies the runtime lanes of a final timeline.
export function runtimeOf(t) {
  const r = (t && t.runtime) || {};
  return {gc: r.gc || [], stw: r.stw || [], heap: r.heap || [], heap_goal: r.heap_goal || []};
}

// windowKind is the kind of a window's profile: CPU samples when the run
// recorded a CPU profile (they are in its trace only then), otherwise wall
// time, which charges blocked time to the stacks that blocked.
export function windowKind(runProfile) {
  return runProfile === 'cpu' ? 'cpu' : 'wall';
}

// windowProfileURL is the address of pprof's page for a window of a
// recording: see web/pprof.go.
export function windowProfileURL(recording, kind, w, view = '') {
  return `/pprof/${encodeURIComponent(recording)}/window/${kind}/${Math.floor(w.start)}/${Math.ceil(w.end)}/${view}`;
}

// stepPoints turns samples {t, v} of a metric into the points [x, v] of a
// step chart over the view: each value holds until the next sample, the
// one before the view starts it, and the last holds until end.
export function stepPoints(samples, view, x0, x1, end) {
  const out = [];
  if (!samples || samples.length === 0) return out;
  let i = 0;
  while (i + 1 < samples.length && samples[i + 1].t <= view.start) i++;
  const clampX = (t) => Math.max(x0, Math.min(x1, timeToX(t, view, x0, x1)));
  for (; i < samples.length; i++) {
    const s = samples[i];
    if (s.t > view.end) break;
    const x = clampX(s.t);
    if (out.length) out.push([x, out[out.length - 1][1]]);
    out.push([x, s.v]);
  }
  const last = samples[Math.min(i, samples.length) - 1];
  if (out.length && last) out.push([clampX(Math.max(end, last.t)), out[out.length - 1][1]]);
  return out;
}

// valueAt is the value of a metric at time t, or null before its first
// sample.
export function valueAt(samples, t) {
  let v = null;
  for (const s of samples || []) {
    if (s.t > t) break;
    v = s.v;
  }
  return v;
}

// kindOf maps a span state to a count kind, or '' for none.
export function kindOf(state) {
  switch (state) {
    case 'running': case 'runnable': case 'syscall': return state;
    case 'done': case 'none': return '';
    default: return 'blocked';
  }
}

// countAt counts the goroutines by kind at time t.
export function countAt(goroutines, t, now) {
  const c = {running: 0, runnable: 0, syscall: 0, blocked: 0};
  for (const g of goroutines || []) {
    const i = spanAt(g.spans, t, now);
    if (i < 0) continue;
    const k = kindOf(g.spans[i].state);
    if (k) c[k]++;
  }
  return c;
}

// stateCounts counts the goroutines by kind at the middle of each bucket
// of bucketPx pixels across the view, widening the buckets when there are
// so many goroutines that a frame would take too long. It returns the
// buckets {x0, x1, t, running, runnable, syscall, blocked} and the largest
// total.
export function stateCounts(goroutines, view, x0, x1, now, bucketPx = BUCKET_PX) {
  const gs = goroutines || [];
  let px = bucketPx;
  while (gs.length * ((x1 - x0) / px) > MAX_COUNT_WORK) px *= 2;
  const buckets = [];
  let max = 0;
  const last = Math.max(now, 0);
  for (let x = x0; x < x1; x += px) {
    const t = xToTime(x + px / 2, view, x0, x1);
    if (t < 0 || t > last) continue;
    const c = countAt(gs, t, now);
    const total = c.running + c.runnable + c.syscall + c.blocked;
    if (total === 0) continue;
    max = Math.max(max, total);
    buckets.push({x0: x, x1: Math.min(x1, x + px), t, ...c});
  }
  return {buckets, max};
}

function bytes(n) {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MB`;
  if (n >= 1 << 10) return `${Math.round(n / (1 << 10))} KB`;
  return `${n} B`;
}

function readColors() {
  const cs = getComputedStyle(document.documentElement);
  const v = (name) => cs.getPropertyValue(name).trim();
  return {
    panel: v('--panel'), line: v('--line'), muted: v('--muted'), accent: v('--accent'), cursor: v('--cursor'),
    laneAlt: v('--lane-alt'), mono: v('--mono'), sans: v('--sans'),
    gc: v('--rt-gc'), stw: v('--rt-stw'), heap: v('--rt-heap'), goal: v('--rt-goal'),
    count: {
      running: v('--state-running'), runnable: v('--state-runnable'), syscall: v('--state-syscall'),
      blocked: v('--rt-blocked'),
    },
  };
}

function withAlpha(hex, a) {
  const h = (hex || '').replace('#', '');
  if (h.length !== 6) return `rgba(128, 128, 128, ${a})`;
  return `rgba(${parseInt(h.slice(0, 2), 16)}, ${parseInt(h.slice(2, 4), 16)}, ${parseInt(h.slice(4, 6), 16)}, ${a})`;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}
