// The large-trace view: a trace of millions of events that the server
// indexes as it reads it (web/big.go). The page never holds the trace: it
// asks for the time window on screen at its width in pixels, for the lanes
// on screen, and the server answers with spans shorter than a pixel merged
// (PROTOCOL.md, "Large traces"). Lanes are virtual: a spacer gives the
// scrolling box the height of all of them, the canvas sticks to the top and
// draws only the lanes in view, and their names are fetched by range.
//
// Frames never wait for the network. Each frame draws the last window the
// server answered, scaled and shifted to the current view, and asks for the
// window the view needs if the last one does not cover it: a wider window
// than the screen (a view's width each side, a few lanes above and below),
// so that a pan draws real spans at once, with one request in flight at a
// time, and a newer need aborting an older request. Each answer is painted
// once into a bitmap of one pixel row per lane (renderWindow); a frame draws
// a lane with one scaled drawImage, so that its cost does not grow with the
// spans of the window.
//
// For measurement, window.concvizBig is:
//
//   firstFrameAt   performance.now() when the first frame with a span was
//                  drawn, or null
//   frames         the draw time of every frame, in ms (inside the rAF
//                  callback)
//   ready          a window has been answered
//   done           the server has indexed the whole trace
//   viewport()     {start, end, now, lanes, firstLane, px}: the view in ns
//                  and lane positions (lanes is how many are on screen),
//                  px the width of the time axis in CSS pixels
//   setView(s, e)  show [s, e] ns, as a zoom or pan would
//   scrollLanes(n) scroll by n lanes, as the wheel would
//   requests       the window requests sent: [{start, end, px, first, count}]
//                  (the oldest are dropped past 5,000)
//   drawn          the lanes of the last frame: [{pos, id, name, spans}],
//                  spans counting the window's spans on screen
//   renders        the time to paint each window answered into its bitmap,
//                  in ms (outside the frames)
//   warnings, error, stats   the index's status as last polled
//   filter         the lane filter: {match, known, total, all}: the text in
//                  force ("" for none), whether an answer for it has come,
//                  how many lanes match and how many there are
//   helpOpen       whether the list of keys is open
//
// With a filter on, the lanes are the matching ones only (GET lanes and
// window with match=, index.Find): positions, names and the window are
// those among the matches, and since new matches only come after the old
// ones while the trace is indexed, the refresh that shows the growing
// prefix also brings the new matches.

import {clampView, formatDuration, panView, ticks, timeToX, xToTime, zoomView} from './layout.js';
import {keysDialog} from './shortcuts.js';

// Geometry in CSS pixels.
const LABEL_W = 210; // the lane-name column
const AXIS_H = 28; // the time axis
const LANE_H = 22; // one lane
const BAR_H = 14; // a span bar inside its lane
const PAD_R = 12; // room after the last time
// The deepest zoom: 1 µs across the view.
const MIN_SPAN_NS = 1000;
// One +/- press zooms by this factor; a wheel notch by its 100th root per
// pixel of delta.
const ZOOM_STEP = 1.6;
// One arrow press pans by this share of the view.
const PAN_FRACTION = 0.2;
// A movement below this is a click, not a drag.
const DRAG_PX = 4;
// The server's bounds (index.MaxPixels, index.MaxLanes).
const MAX_PIXELS = 16384;
const MAX_LANES = 1000;
// The server's bound on lanes × pixels of one window (maxLanePixels).
const MAX_LANE_PIXELS = 1 << 21;
// A window request covers this many view widths on each side of the view,
// and this many lanes above and below it, so that pans draw real spans.
const OVERSCAN = 0.5;
const OVERSCAN_LANES = 12;
// A window drawn at a resolution this far from the view's (a factor) is
// asked for again at the view's.
const RES_SLACK = 1.5;
// Lane names are fetched in blocks of this many positions.
const NAME_BLOCK = 200;
// How often the status is polled while the index builds, and how often at
// most the window is refreshed as the indexed prefix grows.
// Until the first generation is indexed the status is polled five times as
// often, since the first frame waits for it.
const POLL_MS = 250;
const REFRESH_MS = 500;
// A failed window request is tried again after this long.
const RETRY_MS = 1000;
// The lane filter applies this long after the last key typed into it, so
// that typing a name asks the server once rather than once a letter.
const FILTER_MS = 120;
// Every key and gesture the view handles, as listed behind "?".
const SHORTCUTS = [
  [['←', '→'], 'pan by a fifth of the view'],
  [['+', '−'], 'zoom in / out (= and _ too)'],
  [['0', 'Home'], 'fit the whole trace, and follow it while it is indexed'],
  [['↑', '↓'], 'scroll the lanes by one'],
  [['PageUp', 'PageDown'], 'scroll the lanes by a screen'],
  [['End'], 'scroll to the last lane'],
  [['/'], 'find goroutines: part of a name, or an id (G123 or 123); Enter goes back to the timeline'],
  [['Esc'], 'clear the search; close this list'],
  [['?'], 'this list'],
  [['drag'], 'pan; dragging up and down scrolls the lanes'],
  [['Shift', 'drag'], 'zoom to the time selected'],
  [['Ctrl', 'wheel'], 'zoom in / out at the pointer (⌘ and the wheel on a Mac)'],
  [['Shift', 'wheel'], 'pan (so does a sideways wheel or swipe)'],
  [['wheel'], 'scroll the lanes'],
  [['hover'], 'a span\'s state, reason, duration and stack'],
];
// The states that are waits (as in timeline.js).
const BLOCKED = new Set([
  'blocked-send', 'blocked-recv', 'blocked-select', 'blocked-mutex', 'blocked-rwmutex',
  'blocked-waitgroup', 'blocked-cond', 'blocked-sync', 'sleep', 'blocked-io', 'stuck',
  'blocked-other',
]);
// The state names as the server numbers them (GET /api/states), used until
// a window brings the server's own list.
const STATE_NAMES = [
  'none', 'running', 'runnable', 'syscall', 'blocked-send', 'blocked-recv', 'blocked-select',
  'blocked-mutex', 'blocked-rwmutex', 'blocked-waitgroup', 'blocked-cond', 'blocked-sync', 'sleep',
  'blocked-io', 'stuck', 'blocked-other', 'done',
];

// bigStart opens the large-trace view when the address names one (?big=ID)
// or, with no address at all, when the server indexes a trace of its
// command line (an upload is opened by the tab that sent it, through its
// address); it returns whether it took the page.
export async function bigStart() {
  const q = new URLSearchParams(location.search);
  let id = q.get('big');
  if (!id && !location.search) {
    try {
      const res = await fetch('/api/big');
      const list = (res.ok ? await res.json() : []).filter((b) => !b.uploaded);
      if (list.length) {
        id = list[0].id;
        history.replaceState(null, '', `?big=${encodeURIComponent(id)}`);
      }
    } catch {
      // An older server: no large traces.
    }
  }
  if (!id) return false;
  bigView(id);
  return true;
}

// bigView replaces the page's body with the view of indexed trace id.
export function bigView(id) {
  const api = `/api/big/${encodeURIComponent(id)}`;
  // info is the trace's status as last polled (BigInfo).
  let info = null;
  // total is the number of lanes so far.
  let total = 0;
  // match is the lane filter in force ("" for none), matchTotal the number
  // of lanes that match it so far, and matchKnown says that an answer for
  // it has come; filterGen counts the filter's changes, so that a late
  // answer for an older one is dropped; filterTimer delays a change.
  let match = '';
  let matchTotal = 0;
  let matchKnown = false;
  let filterGen = 0;
  let filterTimer = 0;
  // view is the time window on screen, in ns; follow keeps it fitted to
  // the indexed prefix until the user moves it.
  let view = {start: 0, end: 1e6};
  let follow = true;
  // now is the end of the indexed prefix.
  let now = 0;
  // win is the last window answered, decoded (see decode), or null.
  let win = null;
  // inflight is the window request under way: {q, ctl}; lastRefresh is
  // when the window was last asked for because the prefix grew.
  let inflight = null;
  let lastRefresh = 0;
  // failedAt is when the last window request failed, or 0; gone says
  // that the server no longer holds the trace.
  let failedAt = 0;
  let gone = false;
  // names caches lane names by position; nameBlocks the blocks asked for.
  const names = new Map();
  const nameBlocks = new Set();
  // stacks caches the stack table's entries asked for (promises).
  const stacks = new Map();
  // colors is the palette, read from the stylesheet.
  let colors = readColors();
  // frame is the pending requestAnimationFrame id.
  let frame = 0;
  // drag is the pointer gesture under way, or null; hover the pointer.
  let drag = null;
  let hover = null;
  // tipFor is the span the tooltip describes ({l, i}), or null.
  let tipFor = null;
  // pollTimer paces the status polls.
  let pollTimer = 0;
  // exposed is window.concvizBig's state.
  const exposed = {firstFrameAt: null, frames: [], renders: [], ready: false, done: false, requests: [], drawn: []};

  document.body.textContent = '';
  document.body.classList.add('bigv-page');
  const bar = el('header', 'bar');
  const brand = el('a', 'brand');
  // The puzzles: an address with a query, so that the page does not open
  // this trace again.
  brand.href = '/?puzzles';
  brand.append(el('span', 'logo'), 'concviz');
  brand.querySelector('.logo').setAttribute('aria-hidden', 'true');
  const title = el('h1', 'cmp-title', 'Opening…');
  const status = el('span', 'status', 'Indexing…');
  status.setAttribute('role', 'status');
  status.dataset.state = 'running';
  const progress = document.createElement('progress');
  progress.className = 'bigv-progress';
  progress.max = 1;
  progress.value = 0;
  progress.setAttribute('aria-label', 'Indexing progress');
  const keys = el('span', 'bigv-keys', 'drag or ← → pan · Ctrl+wheel or + − zoom · Shift+drag zoom to · 0 fit · wheel ↑ ↓ lanes · / find · ? all keys');
  const finder = document.createElement('input');
  finder.type = 'search';
  finder.className = 'lane-filter bigv-find';
  finder.placeholder = 'Find goroutines (/): name, G123';
  finder.setAttribute('aria-label', 'Find goroutines by name or id');
  finder.spellcheck = false;
  const helpButton = el('button', 'ghost', '?');
  helpButton.type = 'button';
  helpButton.title = 'Keyboard shortcuts (?)';
  helpButton.setAttribute('aria-haspopup', 'dialog');
  bar.append(brand, title, status, progress, finder, helpButton);
  const help = keysDialog('Keyboard shortcuts', SHORTCUTS, [
    'The view draws the window on screen at its resolution: spans shorter than a pixel are merged, '
    + 'in the colour of the state that covered most of their time, or striped when none covered half.',
  ]);
  help.classList.add('bigv-help');
  const warn = el('div', 'bigv-warn');
  warn.setAttribute('role', 'alert');
  warn.hidden = true;
  const wrap = el('div', 'bigv-wrap');
  const scroll = el('div', 'bigv-scroll');
  const canvas = document.createElement('canvas');
  canvas.className = 'bigv-canvas';
  canvas.tabIndex = 0;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', 'Goroutine timeline of a large trace. Left and right pan, plus and minus zoom, up and down scroll the lanes, 0 fits, slash finds goroutines, question mark lists every key.');
  const spacer = el('div', 'bigv-spacer');
  scroll.append(canvas, spacer);
  const tooltip = el('div', 'tooltip');
  tooltip.hidden = true;
  tooltip.setAttribute('role', 'tooltip');
  wrap.append(scroll, tooltip);
  const foot = el('div', 'bigv-foot');
  const legendEl = el('div', 'bigv-legend');
  foot.append(legendEl, keys);
  document.body.append(bar, warn, wrap, foot, help);
  const ctx = canvas.getContext('2d');

  new ResizeObserver(() => schedule()).observe(scroll);
  scroll.addEventListener('scroll', () => { hideTip(); schedule(); }, {passive: true});
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    colors = readColors();
    if (win) renderWindow(win).then(schedule);
    drawLegend();
    schedule();
  });
  canvas.addEventListener('pointerdown', pointerDown);
  canvas.addEventListener('pointermove', pointerMove);
  canvas.addEventListener('pointerup', pointerUp);
  canvas.addEventListener('pointercancel', () => { drag = null; schedule(); });
  canvas.addEventListener('pointerleave', () => { hover = null; hideTip(); });
  scroll.addEventListener('wheel', wheel, {passive: false});
  document.addEventListener('keydown', key);
  finder.addEventListener('input', () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => setMatch(finder.value), FILTER_MS);
  });
  finder.addEventListener('keydown', finderKey);
  helpButton.addEventListener('click', () => toggleHelp());

  window.concvizBig = {
    get firstFrameAt() { return exposed.firstFrameAt; },
    get frames() { return exposed.frames; },
    get ready() { return exposed.ready; },
    get done() { return exposed.done; },
    get requests() { return exposed.requests; },
    get drawn() { return exposed.drawn; },
    get renders() { return exposed.renders; },
    get warnings() { return info?.stats.warnings || []; },
    get error() { return info?.error || ''; },
    get stats() { return info ? {...info.stats} : null; },
    get filter() { return {match, known: matchKnown, total: match ? matchTotal : total, all: total}; },
    get helpOpen() { return help.open; },
    viewport() {
      const g = geometry();
      return {start: view.start, end: view.end, now, lanes: g.rows, firstLane: g.firstLane, px: Math.round(g.x1 - g.x0)};
    },
    setView(start, end) { setView({start, end}); },
    scrollLanes(n) { scroll.scrollTop += n * LANE_H; schedule(); },
  };

  drawLegend();
  poll();

  // ---- status ----

  // poll reads the status, moves the progress indicator, fits the view to
  // the growing prefix while it follows, and polls again until the index
  // is done.
  async function poll() {
    clearTimeout(pollTimer);
    try {
      const res = await fetch(api, {cache: 'no-store'});
      const body = await res.json();
      if (res.status === 404) {
        // An address kept from another server, or an upload the server
        // has let go of: it will not come back, and the answer says why.
        title.textContent = 'No such trace';
        status.textContent = body.error;
        status.dataset.state = 'error';
        progress.hidden = true;
        return;
      }
      if (!res.ok) throw new Error(body.error || res.statusText);
      setInfo(body);
    } catch (err) {
      status.textContent = `cannot read the trace's status: ${err.message}`;
      status.dataset.state = 'error';
    }
    if (!info || !info.stats.done) pollTimer = setTimeout(poll, info?.ready ? POLL_MS : POLL_MS / 5);
  }

  function setInfo(b) {
    info = b;
    const st = b.stats;
    title.textContent = b.name;
    document.title = `${b.name} · concviz`;
    total = Math.max(total, b.lanes);
    now = Math.max(now, st.now_ns);
    const size = st.size || b.size;
    progress.value = size ? Math.min(1, st.bytes / size) : 0;
    progress.hidden = st.done;
    showStatus();
    const notes = [...(st.warnings || [])];
    if (b.error) notes.unshift(b.error);
    warn.hidden = notes.length === 0;
    warn.textContent = notes.join(' ');
    exposed.done = st.done;
    if (follow) view = fitted();
    schedule();
  }

  // showStatus writes the status line from the status last polled and the
  // lane filter.
  function showStatus() {
    if (!info) return;
    const st = info.stats;
    const size = st.size || info.size;
    if (info.error) {
      status.textContent = info.error;
      status.dataset.state = 'error';
    } else if (st.done) {
      status.textContent = `${fmtCount(st.events)} events · ${goroutinesText()} · ${formatDuration(now)}`;
      status.dataset.state = 'ended';
    } else {
      const pct = size ? ` ${Math.floor(100 * st.bytes / size)}%` : '';
      status.textContent = `Indexing${pct} · ${fmtMB(st.bytes)} of ${fmtMB(size)} · ${fmtCount(st.events)} events · ${goroutinesText()}`;
      status.dataset.state = 'running';
    }
  }

  // goroutinesText counts the lanes, and with a filter on those that match.
  function goroutinesText() {
    const all = `${total.toLocaleString('en')} goroutine${total === 1 ? '' : 's'}`;
    if (!match) return all;
    if (!matchKnown) return `finding “${match}” among ${all}`;
    return `${matchTotal.toLocaleString('en')} of ${all} ${matchTotal === 1 ? 'matches' : 'match'} “${match}”`;
  }

  // shown is the number of lanes the view scrolls: every lane, or the
  // matching ones.
  function shown() {
    return match ? matchTotal : total;
  }

  // setMatch puts a lane filter in force (text "" for none): the view
  // starts again from the first lane, with no window and no names until the
  // server answers for the new lanes, and the frames meanwhile say so.
  function setMatch(text) {
    clearTimeout(filterTimer);
    const m = text.trim();
    if (m === match) return;
    match = m;
    matchTotal = 0;
    matchKnown = false;
    filterGen++;
    if (inflight) inflight.ctl.abort();
    inflight = null;
    win = null;
    names.clear();
    nameBlocks.clear();
    scroll.scrollTop = 0;
    hideTip();
    showStatus();
    schedule();
  }

  // matched records an answer's count of lanes, for filter m: all of them,
  // or with a filter those that match (and all, the count of every lane,
  // when the answer has it).
  function matched(m, count, all) {
    if (m) {
      matchTotal = Math.max(matchKnown ? matchTotal : 0, count);
      matchKnown = true;
      if (all != null) total = Math.max(total, all);
    } else {
      total = Math.max(total, count);
    }
    showStatus();
  }

  // ---- view ----

  function fitted() {
    return {start: 0, end: Math.max(now, MIN_SPAN_NS)};
  }

  function setView(v) {
    follow = false;
    view = clampView(v, Math.max(now, MIN_SPAN_NS), MIN_SPAN_NS);
    hideTip();
    schedule();
  }

  function fit() {
    follow = true;
    view = fitted();
    schedule();
  }

  function zoomBy(factor, anchor) {
    if (anchor == null) anchor = (view.start + view.end) / 2;
    follow = false;
    view = zoomView(view, factor, anchor, Math.max(now, MIN_SPAN_NS), MIN_SPAN_NS);
    hideTip();
    schedule();
  }

  function panBy(dt) {
    follow = false;
    view = panView(view, dt, Math.max(now, MIN_SPAN_NS), MIN_SPAN_NS);
    hideTip();
    schedule();
  }

  // geometry is the layout of the current frame: the plot's x range, the
  // lanes on screen and the first of them.
  function geometry() {
    const w = scroll.clientWidth;
    const h = scroll.clientHeight;
    const rows = Math.max(1, Math.ceil((h - AXIS_H) / LANE_H));
    const firstLane = Math.max(0, Math.floor(scroll.scrollTop / LANE_H));
    return {w, h, x0: LABEL_W, x1: Math.max(LABEL_W + 10, w - PAD_R), rows, firstLane, offset: scroll.scrollTop - firstLane * LANE_H};
  }

  // ---- windows ----

  // need is the window request the view wants now.
  function need(g) {
    const width = view.end - view.start;
    const start = Math.max(0, Math.floor(view.start - OVERSCAN * width));
    const end = Math.max(start + 1, Math.ceil(view.end + OVERSCAN * width));
    const px = Math.max(1, Math.min(MAX_PIXELS, Math.round((g.x1 - g.x0) * (end - start) / width)));
    const first = Math.max(0, g.firstLane - OVERSCAN_LANES);
    const count = Math.max(1, Math.min(MAX_LANES, g.rows + 2 * OVERSCAN_LANES));
    return {start, end, px: Math.min(px, Math.floor(MAX_LANE_PIXELS / count)), first, count, match};
  }

  // covers says that an answer to q serves the view: it spans the view's
  // time and lanes at about the view's resolution.
  function covers(q, g) {
    if (!q) return false;
    const res = (q.end - q.start) / q.px;
    const want = (view.end - view.start) / Math.max(1, g.x1 - g.x0);
    const lastLane = Math.min(g.firstLane + g.rows, Math.max(shown(), 1));
    return q.match === match && q.start <= Math.max(0, view.start) && q.end >= Math.min(view.end, Math.max(now, view.end)) &&
      q.first <= g.firstLane && q.first + q.count >= lastLane &&
      res <= want * RES_SLACK && res >= want / RES_SLACK;
  }

  // maybeFetch asks for the window the view needs unless the last answer
  // or the request in flight serves it. While the index grows, the window
  // is asked for again every REFRESH_MS so that the new prefix shows.
  function maybeFetch(g) {
    const growing = info && !info.stats.done;
    const stale = win && !win.done && (info?.stats.done || (growing && performance.now() - lastRefresh > REFRESH_MS && now > win.now));
    if (gone || (inflight && covers(inflight.q, g))) return;
    if (!stale && win && covers(win.q, g)) return;
    if (!info || (!info.ready && !info.stats.done)) return;
    // After a failed request, wait a little rather than ask every frame.
    if (performance.now() - failedAt < RETRY_MS) {
      setTimeout(schedule, RETRY_MS);
      return;
    }
    fetchWindow(need(g));
  }

  async function fetchWindow(q) {
    if (inflight) inflight.ctl.abort();
    const ctl = new AbortController();
    const mine = {q, ctl};
    inflight = mine;
    lastRefresh = performance.now();
    exposed.requests.push({...q});
    if (exposed.requests.length > 5000) exposed.requests.splice(0, 2500);
    try {
      const filter = q.match ? `&match=${encodeURIComponent(q.match)}` : '';
      const res = await fetch(`${api}/window?start=${q.start}&end=${q.end}&px=${q.px}&first=${q.first}&count=${q.count}${filter}`, {signal: ctl.signal, cache: 'no-store'});
      const body = await res.json();
      if (res.status === 404) {
        // The trace is gone (an upload evicted for newer ones): the
        // status says so, and no window is asked for again.
        gone = true;
        poll();
        return;
      }
      if (!res.ok) throw new Error(body.error || res.statusText);
      if (inflight !== mine) return;
      const w = decode(body, q);
      await renderWindow(w);
      if (inflight !== mine) return;
      win = w;
      matched(q.match, body.total);
      now = Math.max(now, body.now_ns);
      if (follow) view = fitted();
      exposed.ready = true;
      if (body.done) exposed.done = true;
      // The status line said a window failed: it says the index's again.
      if (failedAt) {
        failedAt = 0;
        setInfo(info);
      }
    } catch (err) {
      if (err.name === 'AbortError') return;
      failedAt = performance.now();
      status.textContent = `cannot read the window: ${err.message}`;
      status.dataset.state = 'error';
    } finally {
      if (inflight === mine) inflight = null;
    }
    schedule();
  }

  // decode turns the compact answer into typed arrays per lane.
  function decode(b, q) {
    const lanes = b.lanes.map((l) => {
      const n = l.gap.length;
      const start = new Float64Array(n);
      const end = new Float64Array(n);
      let t = l.t0;
      for (let i = 0; i < n; i++) {
        start[i] = t + l.gap[i];
        t = end[i] = start[i] + l.dur[i];
      }
      return {id: l.id, start, end, state: Uint8Array.from(l.state), merged: Int32Array.from(l.merged),
        stack: Int32Array.from(l.stack), reason: Uint16Array.from(l.reason)};
    });
    return {q, first: b.first, lanes, reasons: b.reasons, states: b.states || STATE_NAMES,
      now: b.now_ns, done: b.done, res: b.resolution_ns};
  }

  // laneName returns the name of the lane at pos, asking for its block of
  // names when it is not known yet.
  function laneName(pos) {
    const n = names.get(pos);
    if (n) return n;
    const block = Math.floor(pos / NAME_BLOCK) * NAME_BLOCK;
    if (!nameBlocks.has(block)) {
      nameBlocks.add(block);
      // The names of another filter than the one in force are dropped.
      const gen = filterGen;
      const m = match;
      const filter = m ? `&match=${encodeURIComponent(m)}` : '';
      fetch(`${api}/lanes?first=${block}&count=${NAME_BLOCK}${filter}`, {cache: 'no-store'})
        .then((r) => r.json())
        .then((b) => {
          if (gen !== filterGen) return;
          b.lanes.forEach((l, i) => names.set(block + i, l));
          matched(m, b.total, b.all);
          // A block still filling (the index grows) is asked for again.
          if (b.lanes.length < NAME_BLOCK) nameBlocks.delete(block);
          schedule();
        })
        .catch(() => { if (gen === filterGen) nameBlocks.delete(block); });
    }
    return null;
  }

  // ---- drawing ----

  function schedule() {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  function draw() {
    frame = 0;
    const t0 = performance.now();
    const g = geometry();
    const dpr = window.devicePixelRatio || 1;
    spacer.style.height = `${Math.max(0, AXIS_H + shown() * LANE_H + LANE_H - g.h)}px`;
    canvas.style.height = `${g.h}px`;
    if (canvas.width !== Math.round(g.w * dpr) || canvas.height !== Math.round(g.h * dpr)) {
      canvas.width = Math.round(g.w * dpr);
      canvas.height = Math.round(g.h * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = colors.panel;
    ctx.fillRect(0, 0, g.w, g.h);
    const spans = drawLanes(g);
    if (!win || (match && matchKnown && matchTotal === 0)) drawWaiting(g);
    drawLabels(g);
    drawAxis(g);
    drawSelection(g);
    maybeFetch(g);
    if (hover) showTip(hover.x, hover.y);
    // The whole callback counts, the request it may start and the tooltip
    // included.
    const end = performance.now();
    exposed.frames.push(end - t0);
    if (spans > 0 && exposed.firstFrameAt == null) exposed.firstFrameAt = end;
  }

  // renderWindow paints a window into its bitmap once, when it arrives:
  // one row of pixels per lane and one column per pixel of the window, in
  // the colours of the spans (merged ones a little lighter, mixed ones
  // striped with the grey of no single state). A frame then draws each lane
  // with one drawImage, scaled and shifted to the view, however many spans
  // it holds: a frame costs the same at 20 spans a lane as at 2,000.
  async function renderWindow(w) {
    const t0 = performance.now();
    const res = w.res > 0 ? w.res : Math.max(1, (w.q.end - w.q.start) / w.q.px);
    const width = Math.max(1, Math.min(MAX_PIXELS + 2, Math.ceil((w.q.end - w.q.start) / res)));
    const height = Math.max(1, w.lanes.length);
    const img = new ImageData(width, height);
    const px = new Uint32Array(img.data.buffer);
    const pal = palette(w.states);
    w.lanes.forEach((l, row) => {
      const base = row * width;
      for (let i = 0; i < l.start.length; i++) {
        const st = l.state[i];
        if (pal.skip[st]) continue;
        const a = Math.max(0, Math.floor((l.start[i] - w.q.start) / res));
        const b = Math.min(width, Math.max(a + 1, Math.ceil((l.end[i] - w.q.start) / res)));
        if (a >= b) continue;
        const m = l.merged[i];
        if (m < 0) {
          for (let k = a; k < b; k++) px[base + k] = (k & 2) ? pal.grey : pal.plain[st];
        } else {
          px.fill(m > 0 ? pal.merged[st] : pal.plain[st], base + a, base + b);
        }
      }
    });
    w.bitmapRes = res;
    // An ImageBitmap is ready to draw: the first frame that shows the
    // window does not pay for uploading its pixels.
    w.bitmap = await createImageBitmap(img);
    exposed.renders.push(performance.now() - t0);
  }

  // palette is the colours of the states as pixels (ABGR, as a Uint32Array
  // over RGBA bytes reads them on every machine a browser runs on).
  function palette(states) {
    const pix = (hex, alpha) => {
      const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex) || [0, '88', '88', '88'];
      const bg = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(colors.panel) || [0, 'ff', 'ff', 'ff'];
      const ch = (k) => Math.round(alpha * parseInt(m[k], 16) + (1 - alpha) * parseInt(bg[k], 16));
      return ((255 << 24) | (ch(3) << 16) | (ch(2) << 8) | ch(1)) >>> 0;
    };
    const color = (s) => colors.state[s] || colors.state['blocked-other'];
    return {
      skip: states.map((s) => s === 'done' || s === 'none'),
      plain: Uint32Array.from(states, (s) => pix(color(s), 1)),
      // A merged span stands for many spans of which its state covered
      // most of the time: a little lighter, as timeline.js draws them.
      merged: Uint32Array.from(states, (s) => pix(color(s), 0.7)),
      grey: pix(colors.state['blocked-other'], 0.7),
    };
  }

  // drawLanes draws the lanes on screen from the last window's bitmap,
  // writes the reasons of waits wide enough to carry them, and returns how
  // many spans of the window the frame shows.
  function drawLanes(g) {
    const {x0, x1} = g;
    const scale = (x1 - x0) / Math.max(1, view.end - view.start);
    const drawn = [];
    // labels are flat [x0, x1, y, reason, state] runs of the reasons to write.
    const labels = [];
    let count = 0;
    const skip = win ? win.states.map((s) => s === 'done' || s === 'none') : [];
    ctx.save();
    ctx.beginPath();
    ctx.rect(x0, AXIS_H, x1 - x0, g.h - AXIS_H);
    ctx.clip();
    ctx.imageSmoothingEnabled = false;
    for (let r = 0; r < g.rows + 1; r++) {
      const pos = g.firstLane + r;
      if (pos >= shown()) break;
      const y = AXIS_H + r * LANE_H - g.offset;
      if (r % 2 === 1) {
        ctx.fillStyle = colors.laneAlt;
        ctx.fillRect(x0, y, x1 - x0, LANE_H);
      }
      const k = win ? pos - win.first : -1;
      const l = win && k >= 0 && k < win.lanes.length ? win.lanes[k] : null;
      const row = {pos, id: l ? l.id : 0, name: names.get(pos)?.name || '', spans: 0};
      drawn.push(row);
      if (!l) continue;
      const by = y + (LANE_H - BAR_H) / 2;
      // The window's pixels of the view, scaled to the view's width.
      const sx = (view.start - win.q.start) / win.bitmapRes;
      const sw = (view.end - view.start) / win.bitmapRes;
      ctx.drawImage(win.bitmap, sx, k, sw, 1, x0, by, x1 - x0, BAR_H);
      // The spans in view, for the count and the reasons.
      const n = l.start.length;
      let lo = 0;
      let hi = n;
      while (lo < hi) {
        const m = (lo + hi) >> 1;
        if (l.end[m] <= view.start) lo = m + 1;
        else hi = m;
      }
      for (let i = lo; i < n && l.start[i] < view.end; i++) {
        const st = l.state[i];
        if (skip[st]) continue;
        row.spans++;
        if (l.merged[i] !== 0 || !l.reason[i]) continue;
        const a = Math.max(x0, x0 + (l.start[i] - view.start) * scale);
        const b = Math.min(x1, x0 + (l.end[i] - view.start) * scale);
        // A wait wide enough for its reason carries it, as in timeline.js.
        if (b - a > 60 && BLOCKED.has(win.states[st])) labels.push(a, b, by, l.reason[i], st);
      }
      count += row.spans;
    }
    ctx.restore();
    exposed.drawn = drawn;
    ctx.font = `600 10.5px ${colors.sans}`;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'left';
    for (let k = 0; k < labels.length; k += 5) {
      const [a, b, y, r, st] = labels.slice(k, k + 5);
      const text = win.reasons[r];
      const tw = ctx.measureText(text).width;
      if (b - a < tw + 12) continue;
      ctx.fillStyle = textOn(colors.state[win.states[st]] || '#888888');
      ctx.fillText(text, Math.max(a + 6, (a + b - tw) / 2), y + BAR_H / 2 + 0.5);
    }
    return count;
  }

  function drawLabels(g) {
    ctx.fillStyle = colors.panel;
    ctx.fillRect(0, AXIS_H, LABEL_W - 8, g.h - AXIS_H);
    ctx.textBaseline = 'middle';
    for (let r = 0; r < g.rows + 1; r++) {
      const pos = g.firstLane + r;
      if (pos >= shown()) break;
      const y = AXIS_H + r * LANE_H - g.offset;
      if (r % 2 === 1) {
        ctx.fillStyle = colors.laneAlt;
        ctx.fillRect(0, y, LABEL_W - 8, LANE_H);
      }
      const lane = laneName(pos);
      const wl = win && pos >= win.first && pos < win.first + win.lanes.length ? win.lanes[pos - win.first] : null;
      const id = lane ? lane.id : wl ? wl.id : null;
      const tag = id != null ? `G${id}` : '';
      ctx.font = `11px ${colors.mono}`;
      ctx.textAlign = 'right';
      ctx.fillStyle = colors.muted;
      ctx.fillText(tag, LABEL_W - 14, y + LANE_H / 2);
      const tw = ctx.measureText(tag).width;
      ctx.textAlign = 'left';
      ctx.font = `500 12px ${colors.sans}`;
      ctx.fillStyle = lane ? colors.text : colors.muted;
      const name = lane ? (lane.name || `goroutine ${lane.id}`) : '…';
      ctx.fillText(ellipsize(ctx, name, LABEL_W - 22 - tw - 10), 10, y + LANE_H / 2);
    }
    ctx.strokeStyle = colors.line;
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(LABEL_W - 8.5, AXIS_H);
    ctx.lineTo(LABEL_W - 8.5, g.h);
    ctx.stroke();
  }

  function drawAxis(g) {
    ctx.fillStyle = colors.panel;
    ctx.fillRect(0, 0, g.w, AXIS_H);
    ctx.strokeStyle = colors.line;
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(0, AXIS_H - 0.5);
    ctx.lineTo(g.w, AXIS_H - 0.5);
    ctx.stroke();
    const {step, ticks: ts} = ticks(view, Math.max(2, Math.floor((g.x1 - g.x0) / 110)));
    ctx.font = `11px ${colors.mono}`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillStyle = colors.muted;
    ctx.strokeStyle = colors.grid;
    ctx.beginPath();
    for (const t of ts) {
      const x = Math.round(timeToX(t, view, g.x0, g.x1)) + 0.5;
      ctx.fillText(tickLabel(t, step), x, AXIS_H / 2);
      ctx.moveTo(x, AXIS_H);
      ctx.lineTo(x, g.h);
    }
    ctx.stroke();
    // The end of the indexed prefix, while the index grows.
    if (info && !info.stats.done && now >= view.start && now <= view.end) {
      const x = Math.round(timeToX(now, view, g.x0, g.x1)) + 0.5;
      ctx.strokeStyle = colors.accent;
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo(x, AXIS_H);
      ctx.lineTo(x, g.h);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    ctx.textAlign = 'left';
    ctx.font = `600 11px ${colors.sans}`;
    // With a filter on, the lane column says how many lanes match.
    const head = match && matchKnown ? `GOROUTINES · ${matchTotal.toLocaleString('en')} OF ${total.toLocaleString('en')}` : 'GOROUTINE';
    ctx.fillStyle = colors.panel;
    ctx.fillRect(0, 0, LABEL_W - 8, AXIS_H - 1);
    ctx.fillStyle = match ? colors.accent : colors.muted;
    ctx.fillText(head, 10, AXIS_H / 2);
  }

  // drawWaiting says, until a window is answered, what the view waits for.
  function drawWaiting(g) {
    let text = 'Reading the trace…';
    if (info?.error) text = info.error;
    else if (info && !info.ready) text = `Indexing the first generation of the trace… (${fmtMB(info.stats.bytes)} read)`;
    else if (match && !matchKnown) text = `Finding the goroutines that match “${match}”…`;
    else if (match && matchTotal === 0) {
      text = `No goroutine matches “${match}”${info?.stats.done ? '' : ' yet'}: Esc shows them all.`;
    }
    ctx.font = `13px ${colors.sans}`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillStyle = colors.muted;
    ctx.fillText(text, (g.x0 + g.x1) / 2, AXIS_H + Math.min(120, (g.h - AXIS_H) / 2));
    ctx.textAlign = 'left';
  }

  function drawSelection(g) {
    if (!drag || !drag.select || !drag.moved) return;
    const a = Math.max(g.x0, Math.min(drag.x, drag.x2));
    const b = Math.min(g.x1, Math.max(drag.x, drag.x2));
    ctx.fillStyle = withAlpha(colors.accent, 0.15);
    ctx.fillRect(a, AXIS_H, b - a, g.h - AXIS_H);
    ctx.strokeStyle = colors.accent;
    ctx.strokeRect(a + 0.5, AXIS_H + 0.5, b - a - 1, g.h - AXIS_H - 1);
  }

  function drawLegend() {
    legendEl.textContent = '';
    for (const s of STATE_NAMES) {
      if (s === 'none' || s === 'done') continue;
      const item = el('span', 'bigv-legend-item');
      const sw = el('span', 'swatch');
      sw.style.background = colors.state[s];
      item.append(sw, s);
      legendEl.append(item);
    }
    const m = el('span', 'bigv-legend-item');
    const sw = el('span', 'swatch bigv-mixed');
    m.append(sw, 'mixed: many short spans, no state covers half');
    legendEl.append(m);
  }

  // ---- input ----

  function pointerDown(e) {
    const r = canvas.getBoundingClientRect();
    const x = e.clientX - r.left;
    if (x < LABEL_W || e.button !== 0) return;
    canvas.setPointerCapture(e.pointerId);
    drag = {x, y: e.clientY, x2: x, view: {...view}, top: scroll.scrollTop, select: e.shiftKey, moved: false};
    hover = null;
    hideTip();
  }

  function pointerMove(e) {
    const r = canvas.getBoundingClientRect();
    const x = e.clientX - r.left;
    const y = e.clientY - r.top;
    if (!drag) {
      hover = {x, y};
      showTip(x, y);
      return;
    }
    if (!drag.moved && Math.abs(x - drag.x) < DRAG_PX && Math.abs(e.clientY - drag.y) < DRAG_PX) return;
    drag.moved = true;
    hideTip();
    if (drag.select) {
      drag.x2 = x;
      schedule();
      return;
    }
    const g = geometry();
    const dt = ((drag.x - x) / (g.x1 - g.x0)) * (drag.view.end - drag.view.start);
    follow = false;
    view = clampView({start: drag.view.start + dt, end: drag.view.end + dt}, Math.max(now, MIN_SPAN_NS), MIN_SPAN_NS);
    scroll.scrollTop = drag.top - (e.clientY - drag.y);
    schedule();
  }

  function pointerUp() {
    const d = drag;
    drag = null;
    if (d && d.select && d.moved) {
      const g = geometry();
      const a = xToTime(Math.min(d.x, d.x2), view, g.x0, g.x1);
      const b = xToTime(Math.max(d.x, d.x2), view, g.x0, g.x1);
      if (b - a > 0) setView({start: a, end: b});
    }
    schedule();
  }

  function wheel(e) {
    const g = geometry();
    const r = canvas.getBoundingClientRect();
    const x = e.clientX - r.left;
    if (e.ctrlKey || e.metaKey) {
      e.preventDefault();
      const anchor = xToTime(Math.max(g.x0, Math.min(g.x1, x)), view, g.x0, g.x1);
      zoomBy(Math.pow(ZOOM_STEP, e.deltaY / 100), anchor);
    } else if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
      e.preventDefault();
      const d = e.shiftKey && !e.deltaX ? e.deltaY : e.deltaX;
      panBy((d / (g.x1 - g.x0)) * (view.end - view.start));
    }
    // A plain vertical wheel scrolls the lanes natively.
  }

  function key(e) {
    if (e.target instanceof HTMLInputElement || e.altKey || e.ctrlKey || e.metaKey) return;
    // The list of keys handles its own (Escape closes it).
    if (help.open) return;
    const w = view.end - view.start;
    switch (e.key) {
      case '?': toggleHelp(); break;
      case '/':
        finder.focus();
        finder.select();
        break;
      case 'Escape':
        if (!match && !finder.value) return;
        finder.value = '';
        setMatch('');
        break;
      case '+': case '=': zoomBy(1 / ZOOM_STEP); break;
      case '-': case '_': zoomBy(ZOOM_STEP); break;
      case '0': case 'Home': fit(); break;
      case 'ArrowLeft': panBy(-w * PAN_FRACTION); break;
      case 'ArrowRight': panBy(w * PAN_FRACTION); break;
      case 'ArrowUp': scroll.scrollTop -= LANE_H; break;
      case 'ArrowDown': scroll.scrollTop += LANE_H; break;
      case 'PageUp': scroll.scrollTop -= scroll.clientHeight - AXIS_H - LANE_H; break;
      case 'PageDown': scroll.scrollTop += scroll.clientHeight - AXIS_H - LANE_H; break;
      case 'End': scroll.scrollTop = scroll.scrollHeight; break;
      default: return;
    }
    e.preventDefault();
  }

  // finderKey handles the search box's own keys: Escape clears the filter
  // and Enter keeps it, both going back to the timeline's keys.
  function finderKey(e) {
    if (e.key === 'Escape') {
      finder.value = '';
      setMatch('');
    } else if (e.key === 'Enter') {
      setMatch(finder.value);
    } else {
      return;
    }
    e.preventDefault();
    canvas.focus();
  }

  function toggleHelp() {
    if (help.open) help.close();
    else help.showModal();
  }

  // ---- tooltip ----

  function hideTip() {
    tooltip.hidden = true;
    tipFor = null;
  }

  // spanAtPoint returns the span under (x, y) of the last window, with
  // its lane, or null.
  function spanAtPoint(x, y) {
    const g = geometry();
    if (!win || x < g.x0 || x > g.x1 || y < AXIS_H) return null;
    const pos = g.firstLane + Math.floor((y - AXIS_H + g.offset) / LANE_H);
    const l = win.lanes[pos - win.first];
    if (!l || pos < win.first) return null;
    // Half a pixel either side, so that a merged sliver can be hit.
    const t = xToTime(x, view, g.x0, g.x1);
    const slop = (view.end - view.start) / (g.x1 - g.x0);
    let lo = 0;
    let hi = l.start.length;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (l.end[m] <= t - slop) lo = m + 1;
      else hi = m;
    }
    if (lo >= l.start.length || l.start[lo] > t + slop) return null;
    // Before its first span and after its end a goroutine is not drawn.
    const state = win.states[l.state[lo]];
    if (state === 'done' || state === 'none') return null;
    return {pos, l, i: lo};
  }

  function showTip(x, y) {
    const hit = spanAtPoint(x, y);
    if (!hit) {
      hideTip();
      return;
    }
    const {pos, l, i} = hit;
    // The same span as the last frame's tooltip: only move it.
    if (tipFor && tipFor.l === l && tipFor.i === i) {
      place(x, y);
      return;
    }
    tipFor = {l, i};
    const state = win.states[l.state[i]];
    const lane = names.get(pos);
    tooltip.textContent = '';
    const head = el('div', 'tt-head');
    const sw = el('span', 'swatch');
    sw.style.background = colors.state[state] || colors.state['blocked-other'];
    head.append(sw, `G${l.id}${lane?.name ? ' ' + lane.name : ''}`);
    tooltip.append(head);
    const m = l.merged[i];
    const reason = win.reasons[l.reason[i]];
    let what = state;
    if (reason && BLOCKED.has(state)) what += ` (${reason})`;
    if (m > 0) what = `${m.toLocaleString('en')} spans merged, mostly ${state}`;
    if (m < 0) what = `${(-m).toLocaleString('en')} spans merged, mixed: ${state} the most, under half the time`;
    tooltip.append(el('div', 'tt-row', what));
    tooltip.append(el('div', 'tt-row', `${formatDuration(l.end[i] - l.start[i])} from ${formatDuration(l.start[i])}`));
    const stk = l.stack[i];
    if (stk >= 0) {
      const pre = document.createElement('pre');
      pre.textContent = '…';
      tooltip.append(pre);
      stackOf(stk).then((s) => {
        if (!pre.isConnected) return;
        pre.textContent = s ? s.frames.slice(0, 8).map((f) => `${f.func}\n    ${baseName(f.file)}:${f.line}`).join('\n') : '(no stack)';
        place(x, y);
      });
    }
    tooltip.hidden = false;
    place(x, y);
  }

  function place(x, y) {
    const wr = wrap.getBoundingClientRect();
    const tw = tooltip.offsetWidth;
    const th = tooltip.offsetHeight;
    tooltip.style.left = `${Math.max(4, Math.min(x + 14, wr.width - tw - 4))}px`;
    tooltip.style.top = `${Math.max(4, Math.min(y + 14, wr.height - th - 4))}px`;
  }

  function stackOf(i) {
    if (!stacks.has(i)) {
      stacks.set(i, fetch(`${api}/stacks/${i}`).then((r) => (r.ok ? r.json() : null)).catch(() => null));
    }
    return stacks.get(i);
  }
}

// readColors reads the palette from the stylesheet's custom properties,
// the same ones timeline.js draws with, so both themes apply.
function readColors() {
  const cs = getComputedStyle(document.documentElement);
  const v = (name) => cs.getPropertyValue(name).trim();
  const state = {};
  for (const name of STATE_NAMES) state[name] = v(`--state-${name}`);
  return {
    state, panel: v('--panel'), text: v('--text'), muted: v('--muted'), line: v('--line'),
    grid: v('--grid'), accent: v('--accent'), laneAlt: v('--lane-alt'), mono: v('--mono'), sans: v('--sans'),
  };
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

function baseName(file) {
  const i = file.lastIndexOf('/');
  return i < 0 ? file : file.slice(i + 1);
}

function fmtMB(n) {
  return `${(n / 1e6).toFixed(n >= 1e8 ? 0 : 1)} MB`;
}

function fmtCount(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

// tickLabel writes tick time t of a step: deep into a long trace the ticks
// are microseconds apart at hundreds of seconds, so the label carries as
// many decimals as the step needs ("697.02 ms", "697.04 ms").
function tickLabel(t, step) {
  if (t === 0) return '0';
  const units = [[1e9, 's'], [1e6, 'ms'], [1e3, 'µs'], [1, 'ns']];
  const [ns, name] = units.find(([n]) => Math.abs(t) >= n) || units[3];
  const digits = Math.max(0, Math.min(9, Math.ceil(Math.log10(ns / step) - 1e-9)));
  return `${(t / ns).toFixed(digits)} ${name}`;
}

// textOn returns a text colour readable on the colour hex.
function textOn(hex) {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) return '#000000';
  const [r, g, b] = [m[1], m[2], m[3]].map((x) => parseInt(x, 16) / 255);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.55 ? '#1b1f27' : '#ffffff';
}

// withAlpha turns "#rrggbb" into an rgba() of that colour.
function withAlpha(hex, a) {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) return hex;
  return `rgba(${parseInt(m[1], 16)}, ${parseInt(m[2], 16)}, ${parseInt(m[3], 16)}, ${a})`;
}

// ellipsize cuts text to fit width px in the context's current font. Lane
// names repeat from frame to frame, so the cut is remembered.
const cuts = new Map();
function ellipsize(ctx, text, width) {
  const key = `${ctx.font}|${width}|${text}`;
  let out = cuts.get(key);
  if (out != null) return out;
  out = text;
  if (ctx.measureText(text).width > width) {
    let lo = 0;
    let hi = text.length;
    while (lo < hi) {
      const m = (lo + hi + 1) >> 1;
      if (ctx.measureText(text.slice(0, m) + '…').width <= width) lo = m;
      else hi = m - 1;
    }
    out = text.slice(0, lo) + '…';
  }
  if (cuts.size > 5000) cuts.clear();
  cuts.set(key, out);
  return out;
}
