// The side-by-side view: two recorded runs, one above the other, on one
// clock. Both runs' times start at their first event, so one cursor time is
// the same moment after each start; play, pause, step, scrub and zoom move
// both. Each run keeps its own lanes and its own code pane; a strip at the
// top compares them: outcome, goroutines, wall time, time blocked per
// reason and, for two variants of one puzzle, the diff of their code.
//
// It sets window.concviz to its own read-only state:
//
//   mode        "compare"
//   endDrawn    whether both runs are drawn
//   cursor      the shared cursor time in ns
//   view        {start, end}: the shared visible window
//   runs        [{id, scenario, variant, outcome, cursor, view, cursorX,
//                 lanes: [{id, name}], highlightedLines, focusedLines,
//                 stackFrames, pinned}]
//   strip       [{label, a, b}]: the comparison rows as shown
//   diff        [{op, text, mark}]: the source diff, or []
//   error       the last error text, or ""

import {codeView} from './code.js';
import {editedSource} from './editor.js';
import {arrangeLanes} from './lanes.js';
import {eventTimes, formatDuration, nextEvent, spanAt, timeToX, userLine} from './layout.js';
import {player} from './player.js';
import {stackView} from './stack.js';
import {timeline} from './timeline.js';

// LANE_COLORS is the number of goroutine identity colours (--g-0..--g-6).
const LANE_COLORS = 7;
// BLOCK_ROWS is how many wait reasons the strip lists at most.
const BLOCK_ROWS = 5;
// NO_REPORT is the strip's outcome of a raw trace, which carries no
// diagnosis.
const NO_REPORT = 'raw trace, no report';
// KEYS is the one-line list of the view's keys.
const KEYS = 'Space play · ← → step · + − zoom · 0 fit · Home End · [ ] speed · / filter · p pin the chosen lane · s swap';
// CURSOR_SUMMARY_MS is how long the cursor rests before the summary for
// screen readers speaks.
const CURSOR_SUMMARY_MS = 400;
// GROUP_OVER is the goroutine count past which the view starts grouped.
const GROUP_OVER = 100;

// compareView replaces the page's body with two runs side by side. ids are
// two recording ids; catalog is the scenario list.
export async function compareView(ids, catalog) {
  // runs are the two panes: {id, rec, model, scenario, source, tl, code,
  // stack, selected, events, colorOf}.
  const runs = [];
  // cursor is the shared cursor time.
  let cursor = 0;
  // syncing is set while one timeline's zoom is copied to the other.
  let syncing = false;
  // strip and diff are what the comparison strip shows, for tests.
  let strip = [];
  let diff = [];
  // query, group and pinned filter and arrange both runs' lanes.
  let query = '';
  let group = false;
  // endDrawn says both runs are on screen.
  let endDrawn = false;
  // lastError is the last error text.
  let lastError = '';
  // events are the step targets of both runs together.
  let events = [];
  // chosen is the run whose lane was chosen last: "p" pins in it.
  let chosen = null;

  const laneColors = readLaneColors();
  document.body.textContent = '';
  document.body.classList.add('comparing');
  const bar = el('header', 'bar');
  const brand = el('a', 'brand');
  brand.href = '/';
  brand.append(el('span', 'logo'), 'concviz');
  brand.querySelector('.logo').setAttribute('aria-hidden', 'true');
  const title = el('h1', 'cmp-title', 'Side by side');
  const status = el('span', 'status', 'Loading…');
  status.setAttribute('role', 'status');
  const swap = button('Swap', 'Swap the two runs (s)', () => {
    location.search = `?open=${encodeURIComponent(ids[1])},${encodeURIComponent(ids[0])}`;
  });
  // back leads to the puzzle of the pair, to run it again.
  const back = el('a', 'button-link', 'Back to the puzzle');
  back.hidden = true;
  bar.append(brand, title, status, el('span', 'spacer'), back, swap);
  // live speaks, for screen readers, what each run does at the cursor.
  const live = el('div', 'visually-hidden');
  live.setAttribute('aria-live', 'polite');
  live.setAttribute('aria-atomic', 'true');
  let liveTimer = 0;
  const main = el('main', 'compare');
  const stripEl = el('section', 'strip');
  stripEl.setAttribute('aria-label', 'What differs');
  const controls = el('div', 'cmp-controls');
  const playerEl = el('div', 'player');
  playerEl.setAttribute('role', 'group');
  playerEl.setAttribute('aria-label', 'Player of both runs');
  const filter = document.createElement('input');
  filter.type = 'search';
  filter.className = 'lane-filter';
  filter.placeholder = 'Filter lanes: name, state:blocked, label:x, finding';
  filter.setAttribute('aria-label', 'Filter the goroutines of both runs');
  const groupBox = toggle('group by function', (on) => { group = on; refreshAll(); });
  controls.append(playerEl, filter, groupBox);
  const keys = el('p', 'cmp-keys', KEYS);
  main.append(stripEl, controls, keys);
  document.body.append(bar, main, live);

  const play = player(playerEl, {
    onSeek: (t) => setCursor(t, true),
    onStep: (dir) => step(dir),
    view: () => runs[0]?.tl.view || {start: 0, end: 1},
  });
  filter.addEventListener('input', () => { query = filter.value; refreshAll(); });
  document.addEventListener('keydown', key);
  expose();

  let views;
  try {
    views = await Promise.all(ids.map((id) => getJSON(`/api/recordings/${encodeURIComponent(id)}`)));
  } catch (err) {
    lastError = err.message;
    status.dataset.state = 'error';
    status.textContent = `Cannot open the runs: ${err.message}`;
    return;
  }
  views.forEach((v, i) => runs.push(pane(v, i)));
  // A thousand lanes of one function say less than one lane that says what
  // most of them do: big runs start grouped.
  if (runs.some((r) => r.model.goroutines.length > GROUP_OVER)) {
    group = true;
    groupBox.querySelector('input').checked = true;
  }
  const dur = Math.max(...runs.map((r) => r.model.duration));
  for (const r of runs) refresh(r, dur);
  events = [...new Set(runs.flatMap((r) => r.events))].sort((a, b) => a - b);
  title.textContent = runs.map(label).join('  vs  ');
  const puzzle = runs.find((r) => r.scenario)?.scenario;
  if (puzzle) {
    back.href = `/?scenario=${encodeURIComponent(puzzle.id)}&variant=broken`;
    back.hidden = false;
  }
  document.title = `${title.textContent} · concviz`;
  status.dataset.state = 'ended';
  status.textContent = 'One clock: 0 is where each run\'s first goroutine starts';
  play.enable(true);
  showActivity();
  const f = runs[0].report?.findings?.[0];
  setCursor(f ? f.time_ns : 0, false);
  renderStrip();
  await Promise.all(runs.map(loadSource));
  await loadDiff();
  const left = runs.length;
  let drawn = 0;
  for (const r of runs) {
    r.tl.whenDrawn(() => {
      if (++drawn === left) endDrawn = true;
    });
  }

  // ---- panes ----

  // pane builds one run's section: head, timeline and code pane.
  function pane(v, i) {
    const r = {
      id: ids[i], rec: v, report: v.report || null, model: fromTimeline(v.timeline),
      scenario: catalog.find((c) => c.id === v.meta.scenario) || null, source: null, sourceLines: [],
      selected: 0, pinned: [], colorOf: new Map(), lanes: [], events: [], offset: 0,
    };
    // A puzzle's run starts when its first goroutine does: before that the
    // child was only starting up, for longer in one run than another. Both
    // runs are shifted so that their puzzles start at 0 together. A user's
    // trace starts where the trace does.
    if (r.scenario) {
      const starts = r.model.goroutines.filter((g) => g.spans.length).map((g) => g.spans[0].start);
      if (starts.length) r.offset = Math.min(...starts);
      shift(r, r.offset);
    }
    const sec = el('section', 'cmp-run');
    sec.dataset.run = String(i);
    sec.setAttribute('aria-label', `Run ${i + 1}: ${label(r)}`);
    const head = el('div', 'cmp-head');
    const name = el('h2', '', label(r));
    const outcome = el('span', 'badge', r.report ? r.report.outcome : 'trace');
    outcome.dataset.bad = r.report ? String(r.report.outcome !== 'ok') : 'none';
    const save = el('a', 'save', 'Save');
    save.href = `/api/recordings/${encodeURIComponent(r.id)}/file`;
    save.title = 'Download this run as one .concviz file (the trace inside opens in go tool trace)';
    const solo = el('a', 'save', 'Open alone');
    solo.href = `/?open=${encodeURIComponent(r.id)}`;
    head.append(name, outcome, el('span', 'spacer'), solo, save);
    const body = el('div', 'cmp-body');
    const wrap = el('div', 'timeline-wrap');
    const scroll = el('div', 'timeline-scroll');
    const canvas = document.createElement('canvas');
    canvas.className = 'timeline-canvas';
    canvas.tabIndex = 0;
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', `Timeline of ${label(r)}`);
    const spacer = el('div', 'timeline-spacer');
    scroll.append(canvas, spacer);
    const tip = el('div', 'tooltip');
    tip.hidden = true;
    wrap.append(scroll, tip);
    const codePane = el('section', 'code-pane');
    const codeHead = el('div', 'pane-head');
    const codeTitle = el('h2', 'code-title', 'Source');
    codeHead.append(codeTitle);
    const codeEl = el('div', 'code');
    codeEl.tabIndex = 0;
    codePane.append(codeHead, codeEl);
    body.append(wrap, codePane);
    sec.append(head, body);
    main.append(sec);

    r.tl = timeline(canvas, {
      scroll, tooltip: tip,
      onCursor: (t) => setCursor(t, false),
      onSelect: (id) => {
        r.selected = id;
        chosen = r;
        r.tl.select(id);
        showPositions(r);
      },
      onView: (view) => syncView(r, view),
      sourceLine: (file, line) => (r.scenario && baseOf(file) === r.scenario.file ? r.sourceLines[line - 1] || '' : ''),
    });
    if (r.scenario) {
      r.code = codeView(codeEl, codeTitle);
      r.code.setSource(null, 'Loading the source…');
    } else {
      r.stack = stackView(codeEl, codeTitle, {
        source: (file) => getJSON(`/api/recordings/${encodeURIComponent(r.id)}/source?file=${encodeURIComponent(file)}`)
          .then((s) => s.source.split('\n')),
      });
      r.stack.clear();
    }
    r.events = eventTimes(r.model.goroutines, r.model.links, r.report?.findings || []);
    return r;
  }

  async function loadSource(r) {
    if (!r.scenario) return;
    try {
      // A run of the learner's edit (editor.js) shows the code that ran.
      const src = editedSource(r.id) || await getJSON(`/api/scenarios/${encodeURIComponent(r.scenario.id)}/source`);
      r.source = src;
      r.sourceLines = src.source.split('\n');
      r.code.setSource(src);
      // The lines of the run's first finding stay outlined, as in the
      // single view.
      const f = r.report?.findings?.[0];
      if (f) {
        const lines = (f.locations || []).concat((f.goroutines || []).map((g) => g.location))
          .filter((l) => l && baseOf(l.file) === r.scenario.file).map((l) => l.line);
        r.code.setFocus([...new Set(lines)]);
      }
      showPositions(r);
    } catch (err) {
      r.code.setSource(null, `Cannot load the source: ${err.message}`);
    }
  }

  // refresh hands run r's arranged lanes to its timeline; dur is the
  // shared clock's length, so that both timelines clamp alike.
  function refresh(r, dur) {
    r.dur = dur ?? r.dur;
    for (const g of r.model.goroutines) g.pinned = r.pinned.includes(g.id);
    r.lanes = arrangeLanes(r.model.goroutines, {
      query, group, pinned: r.pinned, findings: r.report?.findings || [], logs: r.model.logs, cursor, now: r.model.now,
    });
    r.tl.setData({
      lanes: r.lanes.map((g) => ({g, color: colorFor(r, g.id)})),
      links: r.model.links, logs: r.model.logs, stacks: r.model.stacks, findings: r.report?.findings || [],
      now: r.model.now, duration: r.dur, live: false,
    });
    r.tl.setCursor(cursor);
  }

  function refreshAll() {
    for (const r of runs) refresh(r);
    showAllPositions();
  }

  // ---- the shared clock ----

  function setCursor(t, reveal) {
    cursor = Math.max(0, Math.round(t));
    for (const r of runs) r.tl.setCursor(cursor);
    if (reveal && runs[0]) runs[0].tl.reveal(cursor);
    play.setTime(cursor, Math.max(...runs.map((r) => r.dur || 0), 0));
    if (query.includes('state:')) refreshAll();
    else showAllPositions();
    clearTimeout(liveTimer);
    liveTimer = setTimeout(speak, CURSOR_SUMMARY_MS);
  }

  // speak says how many goroutines of each run are in each state at the
  // cursor: the side-by-side picture in words.
  function speak() {
    const parts = runs.map((r) => {
      const counts = new Map();
      for (const g of r.model.goroutines) {
        const i = spanAt(g.spans, cursor, r.model.now);
        if (i < 0) continue;
        const st = g.spans[i].state;
        counts.set(st, (counts.get(st) || 0) + 1);
      }
      const what = [...counts].map(([k, n]) => `${n} ${k}`).join(', ') || 'no goroutines';
      return `${label(r)}: ${what}`;
    });
    live.textContent = `At ${formatDuration(cursor)}. ${parts.join('. ')}.`;
  }

  function step(dir) {
    if (!events.length) return;
    setCursor(nextEvent(events, cursor, dir), true);
  }

  // syncView copies a zoom or pan of one run to the other.
  function syncView(from, view) {
    if (syncing) return;
    syncing = true;
    for (const r of runs) if (r !== from) r.tl.setView(view);
    syncing = false;
  }

  // showActivity zooms both runs to where either of them does something.
  function showActivity() {
    const own = runs.flatMap((r) => eventTimes(r.model.goroutines, [], r.report?.findings || []));
    if (!own.length) return;
    own.sort((a, b) => a - b);
    const dur = runs[0].dur;
    const first = own[0];
    const last = own[own.length - 1];
    const busy = Math.max(last - first, 10000);
    if (busy >= dur * 0.5) runs[0].tl.fit();
    else runs[0].tl.setView({start: Math.max(0, first - busy * 0.15), end: Math.min(dur, last + busy * 0.6)});
    if (runs[0].tl.view) syncView(runs[0], runs[0].tl.view);
  }

  function showAllPositions() {
    for (const r of runs) showPositions(r);
  }

  // showPositions updates run r's code pane: the line each goroutine is at
  // in the puzzle's source or, for a user's trace, the selected
  // goroutine's stack.
  function showPositions(r) {
    if (r.stack) {
      const g = r.model.byID.get(r.selected);
      if (g) r.stack.show(g, cursor, r.model.now, r.model.stacks);
      else r.stack.clear();
      return;
    }
    if (!r.source) return;
    const list = [];
    for (const g of r.lanes) {
      if (g.group) continue;
      const i = spanAt(g.spans, cursor, r.model.now);
      if (i < 0) continue;
      const s = g.spans[i];
      if (s.state === 'done' || s.state === 'none') continue;
      let line = userLine(r.model.stacks[s.stack], r.scenario.file);
      if (!line && i + 1 < g.spans.length) line = userLine(r.model.stacks[g.spans[i + 1].stack], r.scenario.file);
      if (line) list.push({line, id: g.id, color: colorFor(r, g.id), label: `G${g.id}`});
    }
    r.code.setPositions(list);
  }

  // ---- the strip ----

  function renderStrip() {
    const [a, b] = runs;
    const block = runs.map(blockedTime);
    const reasons = [...new Set([...block[0].keys(), ...block[1].keys()])]
      .sort((x, y) => Math.max(block[1].get(y) || 0, block[0].get(y) || 0) - Math.max(block[1].get(x) || 0, block[0].get(x) || 0))
      .slice(0, BLOCK_ROWS);
    strip = [
      {label: 'outcome', a: a.report?.outcome || NO_REPORT, b: b.report?.outcome || NO_REPORT},
      {label: 'goroutines', a: String(count(a)), b: String(count(b))},
      {label: 'wall time', a: formatDuration(a.report?.duration_ns ?? a.model.duration), b: formatDuration(b.report?.duration_ns ?? b.model.duration)},
      ...reasons.map((k) => ({label: k.startsWith('blocked-') ? `time blocked (${k.slice(8)})` : `time ${k}`, a: formatDuration(block[0].get(k) || 0), b: formatDuration(block[1].get(k) || 0)})),
    ];
    stripEl.textContent = '';
    const table = el('table', 'cmp-table');
    const head = table.createTHead().insertRow();
    const same = a.rec.meta.scenario && a.rec.meta.scenario === b.rec.meta.scenario;
    for (const h of ['', same ? a.rec.meta.variant : label(a), same ? b.rec.meta.variant : label(b)]) head.append(el('th', '', h));
    const tb = table.createTBody();
    for (const row of strip) {
      const tr = tb.insertRow();
      tr.append(el('th', '', row.label));
      for (const v of [row.a, row.b]) {
        const td = tr.insertCell();
        td.textContent = v;
        if (row.a !== row.b) td.classList.add('differs');
        if (row.label === 'outcome' && v !== NO_REPORT) td.dataset.outcome = v;
      }
    }
    const diffEl = el('div', 'cmp-diff');
    diffEl.append(el('p', 'hint', 'Loading the code of both…'));
    stripEl.append(table, diffEl);
  }

  async function loadDiff() {
    const [a, b] = runs;
    const box = stripEl.querySelector('.cmp-diff');
    box.textContent = '';
    if (!a.scenario || a.scenario !== b.scenario) {
      box.append(el('p', 'hint', a.scenario && b.scenario
        ? 'Two different puzzles: no code diff.'
        : 'A trace you brought has no puzzle source: no code diff. Click a lane to see its stack.'));
      return;
    }
    if (a.rec.meta.variant === b.rec.meta.variant) {
      box.append(el('p', 'hint', `Both runs are ${a.rec.meta.variant}: the same code, run twice.`));
      return;
    }
    try {
      const d = await getJSON(`/api/scenarios/${encodeURIComponent(a.scenario.id)}/diff?a=${encodeURIComponent(a.rec.meta.variant)}&b=${encodeURIComponent(b.rec.meta.variant)}`);
      diff = d.lines.map((l) => ({op: l.op, text: l.text, mark: l.mark || ''}));
      // Each code pane opens at its own variant's function.
      a.code?.reveal(d.a.start + 1);
      b.code?.reveal(d.b.start + 1);
      a.home = d.a.start;
      b.home = d.b.start;
      const h = el('div', 'diff-head', `${d.file}: ${d.a.func} → ${d.b.func}`);
      const pre = el('pre', 'diff');
      pre.setAttribute('aria-label', `What ${d.b.variant} changes in ${d.a.variant}`);
      for (const l of d.lines) {
        const row = el('span', `dl op-${l.op === '-' ? 'del' : l.op === '+' ? 'add' : 'same'}${l.mark ? ` ${l.mark}` : ''}`);
        row.append(el('span', 'sign', l.op), el('span', 'num', l.op === '+' ? '' : String(l.a)), el('span', 'num', l.op === '-' ? '' : String(l.b)), `${l.text}\n`);
        if (l.mark) row.append(el('span', 'visually-hidden', l.mark === 'bug' ? ' (the bug)' : ' (the fix)'));
        pre.append(row);
      }
      box.append(h, pre);
    } catch (err) {
      box.append(el('p', 'hint', `No code diff: ${err.message}`));
    }
  }

  // ---- keys ----

  function key(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const tag = e.target.tagName;
    if ((tag === 'INPUT' || tag === 'SELECT') && e.key !== 'Escape') return;
    let handled = true;
    switch (e.key) {
      case ' ':
        if (tag === 'BUTTON' || tag === 'A') handled = false;
        else play.toggle();
        break;
      case 'ArrowLeft': case 'ArrowRight': {
        const dir = e.key === 'ArrowLeft' ? -1 : 1;
        if (e.shiftKey) runs[0]?.tl.panStep(dir);
        else step(dir);
        break;
      }
      case 'Home': setCursor(0, true); break;
      case 'End': setCursor(Math.max(...runs.map((r) => r.dur)), true); break;
      case '+': case '=': runs[0]?.tl.zoomStep(1); break;
      case '-': case '_': runs[0]?.tl.zoomStep(-1); break;
      case '0': runs[0]?.tl.fit(); break;
      case '[': play.faster(-1); break;
      case ']': play.faster(1); break;
      case 's': swap.click(); break;
      case 'p':
        if (chosen && chosen.selected > 0) {
          const id = chosen.selected;
          chosen.pinned = chosen.pinned.includes(id) ? chosen.pinned.filter((x) => x !== id) : [...chosen.pinned, id];
          refresh(chosen);
        }
        break;
      case '/': filter.focus(); break;
      case 'Escape':
        if (e.target === filter) {
          filter.value = '';
          query = '';
          refreshAll();
          filter.blur();
        } else handled = false;
        break;
      default: handled = false;
    }
    if (handled) e.preventDefault();
  }

  // ---- helpers ----

  function colorFor(r, id) {
    if (!r.colorOf.has(id)) r.colorOf.set(id, laneColors[r.colorOf.size % LANE_COLORS]);
    return r.colorOf.get(id);
  }

  function expose() {
    const state = {
      mode: 'compare',
      get endDrawn() { return endDrawn; },
      get cursor() { return cursor; },
      get view() { return runs[0] ? runs[0].tl.view : null; },
      get runs() {
        return runs.map((r) => {
          const g = r.tl.geometry;
          return {
            id: r.id, scenario: r.rec.meta.scenario || '', variant: r.rec.meta.variant || '',
            outcome: r.report ? r.report.outcome : '', cursor, view: r.tl.view,
            cursorX: g.x0 != null ? timeToX(cursor, r.tl.view, g.x0, g.x1) : null,
            lanes: g.lanes.map((l) => ({id: l.id, name: (r.lanes.find((x) => x.id === l.id) || {}).name || ''})),
            highlightedLines: r.code ? r.code.highlighted : [],
            focusedLines: r.code ? r.code.focused : [],
            stackFrames: r.stack ? r.stack.frames : [],
            pinned: [...r.pinned],
          };
        });
      },
      get strip() { return strip.map((s) => ({...s})); },
      get diff() { return diff.map((d) => ({...d})); },
      get error() { return lastError; },
    };
    Object.defineProperty(window, 'concviz', {value: Object.freeze(state), writable: false});
  }
}

// shift moves every time of run r earlier by off, in its model and its
// report's findings (copied, so that nothing else sees the change).
function shift(r, off) {
  if (!off) return;
  const m = r.model;
  const at = (t) => Math.max(0, t - off);
  for (const g of m.goroutines) {
    g.spans = g.spans.map((s) => ({...s, start: at(s.start), end: s.end < 0 ? s.end : at(s.end)}));
  }
  m.links = m.links.map((l) => ({...l, time: at(l.time)}));
  m.logs = m.logs.map((e) => ({...e, time: at(e.time)}));
  m.duration = at(m.duration);
  m.now = at(m.now);
  if (r.report) {
    r.report = {...r.report, findings: (r.report.findings || []).map((f) => ({...f, time_ns: at(f.time_ns)}))};
  }
}

// label names a run for a person: "race-counter broken" or the file name.
function label(r) {
  const m = r.rec.meta;
  if (m.scenario) return `${m.scenario} ${m.variant}${editedSource(r.id) ? ' (your version)' : ''}`;
  return m.name || `trace ${r.id.slice(0, 6)}`;
}

// count is the number of the run's goroutines that the lanes show.
function count(r) {
  return r.report ? r.report.goroutines : r.model.goroutines.length;
}

// blockedTime sums, per wait state, the time r's goroutines spent in it.
function blockedTime(r) {
  const out = new Map();
  for (const g of r.model.goroutines) {
    for (const s of g.spans) {
      if (!s.state.startsWith('blocked') && s.state !== 'sleep' && s.state !== 'stuck') continue;
      const end = s.end < 0 ? r.model.now : s.end;
      out.set(s.state, (out.get(s.state) || 0) + Math.max(0, end - s.start));
    }
  }
  return out;
}

export function fromTimeline(t) {
  const m = {goroutines: [], byID: new Map(), links: t.links || [], stacks: t.stacks || [], logs: t.logs || [], now: 0, duration: 0};
  for (const g of t.goroutines || []) {
    const copy = {id: g.id, name: g.name, parent: g.parent, created: g.created, hidden: !!g.hidden, spans: g.spans || []};
    m.goroutines.push(copy);
    m.byID.set(g.id, copy);
  }
  m.duration = t.duration_ns || 0;
  m.now = m.duration;
  // Lanes in the order the goroutines appeared, as in the single view.
  const first = (g) => (g.spans.length ? g.spans[0].start : Infinity);
  m.goroutines.sort((a, b) => first(a) - first(b) || a.id - b.id);
  return m;
}

async function getJSON(url) {
  const r = await fetch(url);
  if (!r.ok) {
    let text = `${r.status} ${r.statusText}`;
    try {
      text = (await r.json()).error || text;
    } catch {
      // The status says enough.
    }
    throw new Error(text);
  }
  return r.json();
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

function button(text, title, fn) {
  const b = el('button', '', text);
  b.type = 'button';
  b.title = title;
  b.addEventListener('click', fn);
  return b;
}

function toggle(text, fn) {
  const l = el('label', 'toggle');
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.addEventListener('change', () => fn(box.checked));
  l.append(box, ` ${text}`);
  return l;
}

function baseOf(file) {
  return (file || '').split('/').pop();
}

function readLaneColors() {
  const cs = getComputedStyle(document.documentElement);
  const out = [];
  for (let i = 0; i < LANE_COLORS; i++) out.push(cs.getPropertyValue(`--g-${i}`).trim());
  return out;
}
