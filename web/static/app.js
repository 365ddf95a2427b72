// The entry point of the page: fetches the catalog, keeps the view in the
// URL, drives one websocket session with the server, builds the timeline
// from its updates and wires the views (picker, timeline, code, report,
// player) and the keyboard together.
//
// For tests and for the curious, window.concviz is a small read-only view of
// the page's state; every property is a fresh copy:
//
//   runState          "idle", "running", "ended" or "error"
//   endDrawn          whether the frame that shows the ended run is painted:
//                     lanes below describe the end only once it is true
//   scenario, variant the scenario id and the variant that ran (resolved)
//   cursor            the cursor time in ns, or null
//   view              {start, end}: the visible window in ns
//   lanes             [{id, name, y, h, barY, barH, spans:[{x0, x1, state}]}]:
//                     the lanes on screen as last drawn, in CSS pixels of the
//                     canvas (the canvas covers the visible part only)
//   colors            {state: "#rrggbb"}: the palette the canvas uses
//   highlightedLines  [{line, g}]: the code pane's "goroutine g is here" lines
//   focusedLines      the lines of the finding being shown
//   bugLines, fixLines the lines marked "// BUG" and "// FIX"
//   findings          [{kind, summary, time_ns}] of the last report
//   outcome           the last report's outcome, or ""
//   error             the last error text, or ""
//   updates           how many live updates the current run received
//   lastLatencyMs     the latest live latency: from an event in the child
//                     to the painted frame that shows it, in ms
//   latencies         every live latency of the current run, in ms
//   firstDrawMs       from asking for the run to painting its first live
//                     frame, in ms (null before)
//   endDrawMs         from asking for the run to painting its end, in ms
//   helpOpen          whether the shortcut list is open
//   mode              "scenario" (a puzzle run here), "recording" (a saved
//                     run or a trace reopened) or, in the side-by-side
//                     view (compare.js), "compare"
//   recording         the id of the recording on screen, or ""
//   history           [{id, scenario, variant, outcome}]: this tab's runs
//   stackFrames       the stack pane's frames, for a user's trace
//   pinned            the ids of the pinned goroutines
//   editor            {available, open, edited, errors:[{line, column,
//                     message}]}: the learner's editor (editor.js)

import {bigStart} from './big.js';
import {codeView} from './code.js';
import {compareView} from './compare.js';
import {editedSource, editor, saveEdit, sourceOf} from './editor.js';
import {exporter} from './export.js';
import {follow, followPair} from './follow.js';
import {arrangeLanes} from './lanes.js';
import {eventTimes, formatDuration, nextEvent, percentile, pkgFunc, spanAt, userLine} from './layout.js';
import {picker} from './picker.js';
import {player} from './player.js';
import {presentation} from './present.js';
import {reportView} from './report.js';
import {applyRuntimeDelta, emptyRuntime, runtimeOf, runtimeView} from './runtime.js';
import {fillKeys} from './shortcuts.js';
import {stackView} from './stack.js';
import {laneName, legend, timeline} from './timeline.js';

// The goroutine identity colours, in the order lanes get them (style.css
// --g-0 .. --g-6).
const LANE_COLORS = 7;
// How often, at most, the screen-reader summary speaks during a live run.
const LIVE_SUMMARY_MS = 1500;
// How long the cursor rests before the summary speaks its new position.
const CURSOR_SUMMARY_MS = 400;
// A live view this far behind the child says so.
const BEHIND_MS = 500;
// How often a live run checks how old its picture is, so that a stalled
// pipeline says so without waiting for the next update.
const LIVE_CHECK_MS = 100;
// The goroutine detail lists at most this many spans of its history.
const HISTORY_ROWS = 300;
// The keyboard shortcuts, as listed behind "?".
const SHORTCUTS = [
  [['r'], 'run the scenario again'],
  [['f'], 'switch between broken and fixed, and run'],
  [['Esc'], 'cancel the run, close this list'],
  [['Space'], 'play / pause'],
  [['←', '→'], 'previous / next event'],
  [['Home', 'End'], 'start / end of the run'],
  [['Shift', '←→'], 'pan'],
  [['+', '−'], 'zoom in / out'],
  [['0'], 'fit the whole run'],
  [['↑', '↓'], 'choose a goroutine'],
  [['j', 'k'], 'next / previous finding'],
  [['[', ']'], 'slower / faster'],
  [['h'], 'show / hide runtime goroutines (runs again)'],
  [['w'], 'profile the selected window (shift-drag) or the visible one, in pprof'],
  [['c'], 'compare broken and fixed side by side'],
  [['e'], 'edit the puzzle\'s code (local server); with the editor open, run your version beside the reference fix (Ctrl+Enter while typing)'],
  [['/'], 'filter the lanes (name, state:blocked, label:x, finding)'],
  [['p'], 'pin / unpin the chosen goroutine'],
  [['g'], 'group goroutines by start function'],
  [['o'], 'open a trace file (or drop one on the page)'],
  [['P'], 'presentation mode: n / b next / back step, N notes, q QR code'],
  [['d'], 'as a viewer: explore on your own / follow the presenter'],
  [['?'], 'this list'],
];

main();

async function main() {
  // A large trace that the server indexes (big.js) owns the whole page.
  if (await bigStart()) return;
  // Two recordings in the address, or in what `viz open a b` asks for, open
  // side by side: that view owns the whole page.
  let openIDs = new URLSearchParams(location.search).get('open')?.split(',').filter(Boolean) || [];
  if (!location.search) {
    try {
      const start = await getJSON('/api/start');
      if (start.open && start.open.length) {
        openIDs = start.open;
        history.replaceState(null, '', `?open=${openIDs.map(encodeURIComponent).join(',')}`);
      }
    } catch {
      // An older server or a failed request: the page starts empty.
    }
  }
  if (openIDs.length >= 2) {
    const list = await getJSON('/api/scenarios').catch(() => []);
    compareView(openIDs.slice(0, 2), list);
    followPair(openIDs.slice(0, 2)); // room
    return;
  }

  // catalog is the scenario list from the server, in display order.
  let catalog = [];
  // states are the goroutine state names in the model's order, for the
  // legend.
  let states = [];
  // scenario is the catalog entry on screen, or null.
  let scenario = null;
  // source is the scenario's source from the server, sourceLines its lines.
  let source = null;
  let sourceLines = [];
  // variant is the variant to run next ("broken", "fixed", "fixed-...").
  let variant = 'broken';
  // ranVariant is the variant of the run on screen, as the server named it.
  let ranVariant = '';
  // runState is "idle", "running", "ended" or "error".
  let runState = 'idle';
  // runID is the server's number for our current run; other runs' messages
  // are late and ignored.
  let runID = 0;
  // unstarted counts the runs asked for whose "started" has not come; the
  // "started" that brings it to zero is the one of our latest request.
  let unstarted = 0;
  // model is the run's timeline as the view knows it: updates patch it and
  // the end replaces it.
  let model = emptyModel();
  // report is the diagnosis of the run on screen, or null.
  let report = null;
  // cursor is the time the code pane and the summary describe, or null.
  let cursor = null;
  // selected is the goroutine whose detail is shown, 0 for none.
  let selected = 0;
  // activeFinding is the index of the finding being shown, or -1.
  let activeFinding = -1;
  // showHidden includes the harness's and the runtime's goroutines.
  let showHidden = false;
  // colorOf gives each goroutine of the run a stable identity colour.
  let colorOf = new Map();
  // laneColors are the identity colours read from the stylesheet.
  const laneColors = readLaneColors();
  // latencies are the live latencies of the current run, in ms.
  let latencies = [];
  // updates counts the live updates of the current run.
  let updates = 0;
  // lastWall is the child's wall clock (ns) of the newest event the view
  // has, lastArrival when its update arrived (Date.now), 0 before the
  // first: liveStatus compares them with the clock.
  let lastWall = 0;
  let lastArrival = 0;
  // endDrawn says that the frame showing the end of the run was drawn.
  let endDrawn = false;
  // runAsked is when the run was asked for (performance.now); firstDrawMs
  // and endDrawMs are how long after it the first live frame and the end
  // frame were painted, or null.
  let runAsked = 0;
  let firstDrawMs = null;
  let endDrawMs = null;
  // lastError is the text of the last error.
  let lastError = '';
  // pending is the URL's time and zoom, applied when the run it names ends.
  let pending = null;
  // events are the times the player steps between.
  let events = [];
  // summaryTimer and lastSummary pace the screen-reader summary.
  let summaryTimer = 0;
  let lastSummary = 0;
  // urlTimer paces history.replaceState while the cursor moves.
  let urlTimer = 0;
  // recording is the recording on screen ({id, scenario, variant, ...}),
  // or null; reopened says it was opened rather than run here.
  let recording = null;
  let reopened = false;
  // userTrace says the run on screen is a trace a user brought: no puzzle
  // source, so the code pane shows the selected goroutine's stack.
  let userTrace = false;
  // compareWith is the recording to compare with once the run in progress
  // ends (the "compare" button ran the other variant for it).
  let compareWith = null;
  // editRun is the learner's edit that the run in progress runs
  // ({file, text}), or null; showingEdit says the code pane shows an edit.
  let editRun = null;
  let showingEdit = false;
  // query, group and pinned arrange the lanes (lanes.js); lanes are the
  // goroutines as last arranged.
  let query = '';
  let group = false;
  let pinned = [];
  let lanes = [];

  const $ = (id) => document.getElementById(id);
  const statusEl = $('run-status');
  const runButton = $('run-button');
  const cancelButton = $('cancel-button');
  const variantSwitch = $('variant-switch');
  const help = $('help');
  const live = $('live-summary');
  const detail = $('goroutine-detail');
  const emptyEl = $('timeline-empty');
  const legendEl = $('legend');
  const hiddenBox = $('show-hidden');

  const tl = timeline($('timeline-canvas'), {
    scroll: $('timeline-scroll'),
    tooltip: $('tooltip'),
    onCursor: (t) => setCursor(t),
    onSelect: (id) => selectGoroutine(id),
    onView: () => {
      saveURL(false);
      rtv.schedule();
    },
    onWindow: (w) => rtv.profileWindow(w),
    sourceLine: (file, line) => {
      // A user's trace has the lines the stack pane has read.
      if (userTrace) return stack.cachedLine(file, line);
      if (!source || !scenario || baseOf(file) !== scenario.file) return '';
      return sourceLines[line - 1] || '';
    },
  });
  const code = codeView($('code'), $('code-title'));
  code.setSource(null);
  // ed edits the puzzle's file and runs the learner's version, on a local
  // server only (editor.js; the room below says whether it is shared).
  const ed = editor($('code').closest('.code-pane'), $('code'), $('edit-button'), {
    onRun: (text, src) => runEdited(text, src),
  });
  // rtv draws the runtime lanes and opens profiles of the run and of
  // windows of it; profileKind picks the profile the next run records.
  const rtv = runtimeView($('runtime'), {timeline: tl});
  const profileKind = $('profile-kind');
  const stack = stackView($('code'), $('code-title'), {
    source: (file) => getJSON(`/api/recordings/${encodeURIComponent(recording.id)}/source?file=${encodeURIComponent(file)}`)
      .then((s) => s.source.split('\n')),
  });
  const compareButton = $('compare-button');
  const saveLink = $('save-link');
  const filterEl = $('lane-filter');
  const groupBox = $('group-lanes');
  const fileInput = $('file-input');
  const rep = reportView($('report'), {onFinding: (i) => showFinding(i)});
  const play = player($('player'), {
    onSeek: (t) => {
      setCursor(t);
      tl.reveal(cursor);
    },
    onStep: (dir) => step(dir),
    view: () => tl.view,
  });
  const ws = session(onMessage, onClose);
  // The room (follow.js), presentation mode (present.js) and the exports
  // (export.js) hook into the page here and in the lines marked "room".
  const room = follow({
    send: (m) => ws.send(m), snapshot: sharedView, apply: applyShared, adopt: adoptRun,
    bar: document.querySelector('header.bar'),
  });
  const show = presentation({
    room, catalog: () => catalog, open: (id, v) => open(id, v, true), compare: () => compare(),
    report: () => report, stage: document.querySelector('.stage'),
  });
  const exp = exporter({
    canvas: $('timeline-canvas'), drawTo: (c) => tl.drawTo(c),
    size: () => ({width: tl.geometry.width, height: tl.geometry.height}), run: exportRun,
  });
  room.info.then((i) => ed.setAvailable(!!i && !i.shared && i.role !== 'viewer'));
  $('export-png').addEventListener('click', () => exp.png());
  $('export-svg').addEventListener('click', () => exp.svg());
  $('export-html').addEventListener('click', () => exp.html().catch((err) => { lastError = `export: ${err.message}`; }));

  exposeState();
  fillHelp();
  wire();
  setInterval(liveStatus, LIVE_CHECK_MS);

  try {
    [catalog, states] = await Promise.all([getJSON('/api/scenarios'), getJSON('/api/states')]);
  } catch (err) {
    fail(`cannot load the scenarios: ${err.message}`);
    return;
  }
  const pick = picker($('picker'), catalog, (id) => open(id, 'broken', true));
  openFromURL(true);
  window.addEventListener('popstate', () => openFromURL(false));
  renderHistory();

  // ---- wiring ----

  function wire() {
    runButton.addEventListener('click', () => run());
    cancelButton.addEventListener('click', () => cancel());
    $('help-button').addEventListener('click', () => toggleHelp());
    hiddenBox.addEventListener('change', () => setHidden(hiddenBox.checked));
    document.addEventListener('keydown', key);
    compareButton.addEventListener('click', () => compare());
    $('open-button').addEventListener('click', () => fileInput.click());
    fileInput.addEventListener('change', () => upload([...fileInput.files]));
    $('history-button').addEventListener('click', () => toggleHistory());
    filterEl.addEventListener('input', () => {
      query = filterEl.value;
      refresh();
    });
    groupBox.addEventListener('change', () => setGroup(groupBox.checked));
    // A file dropped anywhere on the page opens; two open side by side.
    document.addEventListener('dragover', (e) => {
      if (![...(e.dataTransfer?.types || [])].includes('Files')) return;
      e.preventDefault();
      document.body.classList.add('dropping');
    });
    document.addEventListener('dragleave', (e) => {
      if (e.relatedTarget == null) document.body.classList.remove('dropping');
    });
    document.addEventListener('drop', (e) => {
      document.body.classList.remove('dropping');
      if (!e.dataTransfer?.files?.length) return;
      e.preventDefault();
      upload([...e.dataTransfer.files]);
    });
  }

  function key(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const tag = e.target.tagName;
    const typing = tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA';
    if (help.open) return; // the dialog handles its own keys (Escape closes it)
    if (typing && e.key === 'Escape' && e.target === filterEl) {
      filterEl.value = '';
      query = '';
      filterEl.blur();
      refresh();
      e.preventDefault();
      return;
    }
    if (typing && e.key !== 'Escape') return;
    if (room.key(e) || show.key(e)) { // room
      e.preventDefault();
      return;
    }
    const onButton = tag === 'BUTTON' || tag === 'SUMMARY' || tag === 'A';
    const onScroller = e.target.id === 'code' || e.target.id === 'picker' || e.target.closest?.('#report');
    let handled = true;
    switch (e.key) {
      case '?': toggleHelp(); break;
      case 'r': run(); break;
      case 'f': toggleVariant(); break;
      case 'Escape':
        if (runState === 'running') cancel();
        else if (selected) selectGoroutine(0);
        else handled = false;
        break;
      case ' ':
        if (onButton) handled = false;
        else play.toggle();
        break;
      case 'ArrowLeft':
      case 'ArrowRight': {
        const dir = e.key === 'ArrowLeft' ? -1 : 1;
        if (e.shiftKey) tl.panStep(dir);
        else step(dir);
        break;
      }
      case 'ArrowUp':
      case 'ArrowDown':
        if (onScroller) handled = false;
        else tl.selectNext(e.key === 'ArrowUp' ? -1 : 1);
        break;
      case 'Home': if (onScroller) handled = false; else setCursor(0); break;
      case 'End': if (onScroller) handled = false; else setCursor(runEnd()); break;
      case '+': case '=': tl.zoomStep(1); break;
      case '-': case '_': tl.zoomStep(-1); break;
      case '0': tl.fit(); break;
      case 'j': showFinding(nextFinding(1)); break;
      case 'k': showFinding(nextFinding(-1)); break;
      case '[': play.faster(-1); break;
      case ']': play.faster(1); break;
      case 'h': setHidden(!showHidden); break;
      case 'w': rtv.profileWindow(rtv.selection || tl.view); break;
      case 'c': compare(); break;
      case 'e':
        if (!ed.available) handled = false;
        else if (ed.open) ed.run();
        else ed.start(true);
        break;
      case '/': filterEl.focus(); break;
      case 'p': if (selected) togglePin(selected); break;
      case 'g': setGroup(!group); break;
      case 'o': fileInput.click(); break;
      default: handled = false;
    }
    if (handled) e.preventDefault();
  }

  // ---- the run ----

  // open shows scenario id and runs variant v at once; push records it as
  // a new history entry. The run starts before the source has arrived, so
  // that the first lanes come as early as they can.
  async function open(id, v, push) {
    const s = catalog.find((c) => c.id === id);
    if (!s) {
      fail(`unknown scenario "${id}"`);
      return;
    }
    const changed = !scenario || scenario.id !== s.id;
    scenario = s;
    runButton.disabled = false;
    variant = v || 'broken';
    renderVariants();
    if (push) saveURL(true);
    if (changed) {
      pick.select(s.id);
      document.title = `${s.title} · concviz`;
      $('scenario-title').textContent = s.title;
      $('scenario-statement').textContent = s.statement;
      profileKind.value = s.profile || 'none';
      source = null;
      sourceLines = [];
      code.setSource(null);
    }
    run();
    if (!changed) return;
    try {
      const src = await getJSON(`/api/scenarios/${encodeURIComponent(s.id)}/source`);
      if (scenario !== s) return;
      source = src;
      sourceLines = src.source.split('\n');
      if (!showingEdit) code.setSource(src);
      ed.setSource(src);
      showPositions();
      if (activeFinding >= 0) showFinding(activeFinding, false);
    } catch (err) {
      // The run goes on without its code pane.
      lastError = `cannot load the source of ${s.id}: ${err.message}`;
      code.setSource(null, lastError);
    }
  }

  function openFromURL(initial) {
    const q = new URLSearchParams(location.search);
    const rec = q.get('open');
    if (rec) {
      openRecording(rec.split(',')[0]);
      return;
    }
    const id = q.get('scenario');
    if (!id) {
      if (initial) setStatus('idle', 'Pick a scenario');
      return;
    }
    pending = pendingFromURL();
    open(id, q.get('variant') || 'broken', false);
  }

  // run runs the variant; fromRoom (a viewer's page) only shows the
  // presenter's run, whose messages the room sends.
  function run(fromRoom = false, edit = null) {
    if (!scenario || (!fromRoom && !room.mayRun())) return;
    editRun = edit;
    if (userTrace || reopened || showingEdit || edit) {
      // Back from a reopened recording to running the puzzle here, or
      // from the learner's edit to the catalog's code, or the other way.
      userTrace = false;
      reopened = false;
      $('code-hint').hidden = false;
      const shown = edit && source ? sourceOf(source.file, edit.text) : source;
      showingEdit = !!edit;
      code.setSource(shown && edit ? {...shown, file: `${shown.file} (your version)`} : shown);
      sourceLines = shown ? shown.source.split('\n') : [];
      ed.setSource(source);
    }
    recording = null;
    renderRecording();
    resetRun();
    runState = 'running';
    unstarted++;
    setStatus('running', edit ? `Building and running your version of ${scenario.id} (${variant})…` : `Running ${scenario.id} (${variant})…`);
    rep.running(scenario, variant);
    cancelButton.hidden = false;
    emptyEl.textContent = 'Starting…';
    emptyEl.hidden = false;
    runAsked = performance.now();
    if (fromRoom) return;
    ws.send({type: 'run', scenario: scenario.id, variant, hidden: showHidden, profile: profileKind.value, source: edit ? edit.text : undefined});
  }

  // runEdited runs the learner's version of the puzzle's file (editor.js)
  // in the variant chosen; when it ends, the reference fix runs and the two
  // open side by side (afterEdit).
  function runEdited(text, src) {
    if (!scenario || !source || src.file !== source.file) return;
    compareWith = null;
    run(false, {file: src.file, text});
  }

  // afterEdit keeps the edit of the run that ended, for the side-by-side
  // view's code pane, and runs the reference fix to compare with.
  function afterEdit(msg) {
    saveEdit(msg.recording.id, editRun.file, editRun.text);
    const fix = scenario.default_fixed || 'fixed';
    compareWith = msg.recording;
    variant = fix;
    ranVariant = '';
    renderVariants();
    run();
    setStatus('running', `Your version: ${msg.report ? msg.report.outcome : 'ended'}. Running the reference fix (${fix}) to show them side by side…`);
  }

  // editFailed shows why the learner's edit did not build: the compiler's
  // complaints on their lines in the editor.
  function editFailed(msg) {
    editRun = null;
    runState = 'ended';
    cancelButton.hidden = true;
    lastError = msg.error || 'your version does not build';
    const errs = msg.compile.errors || [];
    ed.start();
    ed.showErrors(errs, errs.length ? '' : msg.compile.output);
    rep.placeholder(errs.length
      ? `Your version does not build: ${errs.length === 1 ? 'one error' : `${errs.length} errors`}, marked on their lines in the editor.`
      : `Your version does not build: ${msg.compile.output || msg.error}`);
    setStatus('ended', 'Your version does not build');
  }

  function cancel() {
    if (runState !== 'running') return;
    ws.send({type: 'cancel'});
    setStatus('running', 'Cancelling…');
  }

  // setHidden shows or hides the harness's and the runtime's goroutines.
  // The server leaves them out of a run unless asked, so this runs again.
  function setHidden(on) {
    showHidden = on;
    hiddenBox.checked = on;
    run();
  }

  function toggleVariant() {
    if (!scenario) return;
    variant = isBroken(variant) ? scenario.default_fixed || 'fixed' : 'broken';
    renderVariants();
    saveURL(true);
    run();
  }

  function resetRun() {
    pinned = [];
    model = emptyModel();
    report = null;
    rtv.setRun(null);
    runID = 0;
    cursor = null;
    selected = 0;
    activeFinding = -1;
    colorOf = new Map();
    latencies = [];
    updates = 0;
    lastWall = 0;
    lastArrival = 0;
    endDrawn = false;
    firstDrawMs = null;
    endDrawMs = null;
    lastError = '';
    events = [];
    ranVariant = '';
    detail.hidden = true;
    play.enable(false);
    code.setFocus([]);
    code.setPositions([]);
    tl.select(0);
    tl.setFinding(-1);
    tl.setCursor(null);
    tl.fit();
    refresh();
  }

  function onMessage(msg) {
    if (room.intercept(msg)) return; // room
    switch (msg.type) {
      case 'started':
        if (unstarted === 0 || --unstarted > 0) return;
        runID = msg.run;
        ranVariant = msg.variant || variant;
        renderVariants();
        break;
      case 'status':
        if (msg.run === runID && runState === 'running' && msg.text) setStatus('running', msg.text);
        break;
      case 'update':
        if (msg.run !== runID || runState !== 'running' || !msg.update) return;
        applyUpdate(msg.update);
        break;
      case 'end':
        if (msg.run !== runID || runState !== 'running') return;
        if (msg.compile) editFailed(msg);
        else if (msg.report || msg.timeline) finish(msg);
        else fail(msg.error || 'the run ended without a result');
        break;
      case 'error':
        // An error is not part of a run: it answers a request, most often
        // a run that could not start.
        if (unstarted > 0) unstarted--;
        if (runState === 'running' && runID === 0) fail(msg.error || 'unknown error');
        else lastError = msg.error || '';
        break;
    }
  }

  function onClose() {
    if (runState === 'running') fail('the connection to the server was lost; press r to run again');
  }

  // applyUpdate patches the model with one generation's delta.
  function applyUpdate(u) {
    updates++;
    for (let i = 0; i < (u.stacks || []).length; i++) model.stacks[u.stack_base + i] = u.stacks[i];
    for (const d of u.goroutines || []) {
      let g = model.byID.get(d.id);
      if (!g) {
        g = {id: d.id, name: d.name, parent: d.parent, created: d.created, hidden: !!d.hidden, spans: []};
        model.byID.set(d.id, g);
        model.goroutines.push(g);
      }
      g.name = d.name || g.name;
      g.parent = d.parent;
      g.created = d.created;
      g.hidden = !!d.hidden;
      g.spans.splice(d.from_span, g.spans.length - d.from_span, ...(d.spans || []));
    }
    model.links.push(...(u.links || []));
    model.logs.push(...(u.logs || []));
    applyRuntimeDelta(model.runtime, u.runtime);
    model.now = Math.max(model.now, u.now || 0);
    model.generations = u.generation;
    cursor = model.now;
    refresh();
    const wall = u.wall_ns;
    if (wall > 0) {
      lastWall = wall;
      lastArrival = Date.now();
    }
    tl.whenDrawn(() => {
      if (firstDrawMs == null && runState === 'running') firstDrawMs = performance.now() - runAsked;
      if (wall > 0 && runState === 'running') {
        latencies.push((Date.now() * 1e6 - wall) / 1e6);
        liveStatus();
      }
    });
    speak(false);
  }

  // liveStatus says how current the live picture is, on each drawn update
  // and every LIVE_CHECK_MS between them. When its newest event is over
  // BEHIND_MS old, the page says "behind the program" if that update
  // itself came late (the pipeline is behind), and "waiting for the
  // program" if it came in time and nothing followed; plain "Running" is
  // only ever shown of a current picture.
  function liveStatus() {
    if (runState !== 'running' || !scenario || lastWall <= 0) return;
    const now = Date.now();
    const lag = now - lastWall / 1e6;
    let note = '';
    if (lag > BEHIND_MS) {
      note = lastArrival - lastWall / 1e6 > BEHIND_MS
        ? ` — behind the program by ${formatDuration(lag * 1e6)}`
        : ` — waiting for the program: nothing new for ${formatDuration((now - lastArrival) * 1e6)}`;
    }
    setStatus('running', `Running ${scenario.id} (${ranVariant})… ${formatDuration(model.now)}${note}`);
  }

  // finish shows the end of a run: the full timeline replaces what the
  // updates built.
  function finish(msg) {
    if (msg.timeline) model = fromTimeline(msg.timeline);
    report = msg.report || null;
    rtv.setRun({recording: msg.recording && msg.recording.id, profile: msg.profile});
    runState = 'ended';
    if (msg.recording) {
      recording = msg.recording;
      remember(recording);
      renderRecording();
      if (msg.edited && editRun) {
        afterEdit(msg);
        return;
      }
      if (compareWith) {
        const other = compareWith;
        compareWith = null;
        openPair(other, recording);
        return;
      }
    }
    cancelButton.hidden = true;
    if (msg.error) lastError = msg.error;
    const notes = [];
    if (msg.timeline) {
      notes.push(...(msg.timeline.warnings || []));
      if (msg.timeline.truncated) notes.push('The trace ended in the middle of a generation: what came after the last complete one is lost.');
    }
    if (userTrace && !report) {
      showTraceSummary(notes);
      setStatus('ended', `${recording?.name || 'trace'} · ${formatDuration(runEnd())}`);
    } else if (userTrace) {
      // A recording concviz made of the user's own code (viz test): its
      // report, with no puzzle to explain it.
      rep.show(report, null, notes);
      setStatus('ended', `${recording?.name || 'trace'}: ${report.outcome} · ${formatDuration(runEnd())}`);
    } else if (report) {
      // The run's profile, when it recorded one, is linked from the report.
      const prof = msg.profile && msg.recording ? {base: `/pprof/${encodeURIComponent(msg.recording.id)}/`, kind: msg.profile} : null;
      rep.show(report, scenario, notes, prof);
      const note = msg.cancelled ? ' (cancelled)' : '';
      setStatus('ended', `${report.outcome}${note} · ${formatDuration(runEnd())}`);
    } else if (reopened) {
      // A raw trace of a puzzle: concviz recorded it, but the file carries
      // no report.
      showTraceSummary(notes);
      setStatus('ended', `${recording?.name || 'trace'} · ${formatDuration(runEnd())}`);
    } else {
      rep.placeholder(msg.error ? `Error: ${msg.error}` : 'The run ended without a report.');
      setStatus('ended', msg.cancelled ? 'Cancelled' : 'Ended');
    }
    events = eventTimes(model.goroutines.filter((g) => showHidden || !g.hidden), model.links, findings());
    play.enable(true);
    if (pending && pending.zoom) tl.setView(pending.zoom);
    else showActivity();
    // The cursor goes where the URL says or, by default, to the first
    // finding, which is shown: its moment on the timeline, its lines in the
    // code. Without findings it rests at the end, where a leak would be.
    const t = pending && pending.t != null && Number.isFinite(pending.t) ? pending.t : null;
    pending = null;
    refresh();
    if (t != null) setCursor(t);
    else if (findings().length) showFinding(0, false);
    else setCursor(runEnd());
    tl.whenDrawn(() => {
      endDrawn = runState === 'ended';
      endDrawMs = performance.now() - runAsked;
    });
    speak(true);
  }

  // openRecording shows a recording the server keeps: a run saved earlier,
  // a file opened with `viz open`, or one dropped on the page. A concviz
  // run shows its puzzle's source; a user's trace the stack pane.
  async function openRecording(id) {
    let v;
    try {
      v = await getJSON(`/api/recordings/${encodeURIComponent(id)}${showHidden ? '?hidden=1' : ''}`);
    } catch (err) {
      fail(`cannot open recording ${id}: ${err.message}`);
      return;
    }
    const s = catalog.find((c) => c.id === v.meta.scenario) || null;
    resetRun();
    recording = v.recording;
    reopened = true;
    // Any window of a kept recording can be profiled from its trace.
    rtv.setRun({recording: v.recording.id, profile: ''});
    userTrace = !s;
    scenario = s;
    variant = v.meta.variant || 'broken';
    ranVariant = v.meta.variant || '';
    runButton.disabled = !s;
    renderVariants();
    pending = pendingFromURL();
    if (s) {
      pick.select(s.id);
      document.title = `${s.title} (recorded) · concviz`;
      $('scenario-title').textContent = `${s.title}, recorded`;
      const when = `${v.meta.go_version ? 'recorded' : 'opened'} ${new Date(v.recording.recorded).toLocaleString()}`;
      $('scenario-statement').textContent = `${[v.meta.variant, when, v.meta.go_version].filter(Boolean).join(' · ')}. Press r to run it again here.`;
      try {
        source = await getJSON(`/api/scenarios/${encodeURIComponent(s.id)}/source`);
        sourceLines = source.source.split('\n');
        // A run of the learner's edit shows the code that ran.
        const mine = editedSource(id);
        showingEdit = !!mine;
        code.setSource(mine ? {...mine, file: `${mine.file} (your version)`} : source);
        if (mine) sourceLines = mine.source.split('\n');
      } catch (err) {
        code.setSource(null, `cannot load the source: ${err.message}`);
      }
    } else {
      pick.select('');
      const name = v.recording.name || `trace ${id.slice(0, 8)}`;
      document.title = `${name} · concviz`;
      $('scenario-title').textContent = name;
      $('scenario-statement').textContent = `A Go execution trace: ${v.timeline.goroutines.length} goroutines over ${formatDuration(v.timeline.duration_ns)}. Filter the lanes, click one to see its stack.`;
      source = null;
      sourceLines = [];
      stack.clear();
    }
    $('code-hint').hidden = userTrace;
    ed.setSource(userTrace ? null : source);
    renderRecording();
    runState = 'running';
    finish({timeline: v.timeline, report: v.report || null});
  }

  // compare opens the run on screen beside the other variant of its
  // puzzle, broken above fixed. The other variant's latest run in this tab
  // is used, or the other variant runs now and the pair opens when it ends.
  function compare() {
    if (!scenario || !recording || runState !== 'ended') return;
    const mine = recording;
    const broken = isBroken(mine.variant);
    const want = broken ? (scenario.default_fixed || 'fixed') : 'broken';
    const other = loadHistory().find((h) => h.scenario === scenario.id && h.id !== mine.id &&
      (broken ? !isBroken(h.variant) : isBroken(h.variant)));
    if (other) {
      openPair(mine, other);
      return;
    }
    compareWith = mine;
    variant = want;
    ranVariant = '';
    renderVariants();
    run();
    setStatus('running', `Running ${scenario.id} (${want}) to compare…`);
  }

  // openPair opens two recordings side by side, the broken one on top.
  function openPair(a, b) {
    const [top, bottom] = !isBroken(a.variant) && isBroken(b.variant) ? [b, a] : [a, b];
    // room: viewers follow to the pair before this page leaves.
    room.setExtra('pair', [top.id, bottom.id]);
    room.sendNow(() => location.assign(`/?open=${encodeURIComponent(top.id)},${encodeURIComponent(bottom.id)}`));
  }

  // upload sends dropped or chosen files to the server, which keeps them as
  // recordings; one opens alone, two side by side. A large trace that the
  // server indexes instead opens alone in the large-trace view.
  async function upload(files) {
    fileInput.value = '';
    if (!files.length) return;
    const ids = [];
    for (const f of files.slice(0, 2)) {
      setStatus('running', `Opening ${f.name}…`);
      let r;
      try {
        r = await fetch(`/api/recordings?name=${encodeURIComponent(f.name)}`, {method: 'POST', body: f});
      } catch (err) {
        fail(`cannot upload ${f.name}: ${err.message}`);
        return;
      }
      const body = await r.json().catch(() => ({error: `${r.status} ${r.statusText}`}));
      if (!r.ok) {
        fail(body.error || `cannot open ${f.name}`);
        return;
      }
      if (body.big) {
        // A large plain trace is indexed, not kept as a recording: the
        // large-trace view shows it while the server reads it.
        location.assign(`/?big=${encodeURIComponent(body.big.id)}`);
        return;
      }
      remember(body.recording);
      ids.push(body.recording.id);
    }
    location.assign(`/?open=${ids.map(encodeURIComponent).join(',')}`);
  }

  // showTraceSummary fills the diagnosis pane for a user's trace: concviz
  // did not run it, so there is no verdict, only what the trace shows.
  function showTraceSummary(notes) {
    const box = $('report');
    box.textContent = '';
    const gs = model.goroutines.filter((g) => showHidden || !g.hidden);
    const stuck = gs.filter((g) => {
      const last = g.spans[g.spans.length - 1];
      return last && last.end < 0 && last.state !== 'running' && last.state !== 'runnable' && last.state !== 'done';
    });
    const p = (cls, text) => {
      const e = document.createElement('p');
      e.className = cls;
      e.textContent = text;
      box.append(e);
      return e;
    };
    p('placeholder', scenario
      ? `A raw trace of ${scenario.id} (${ranVariant || variant}): the file holds no report, so there is no diagnosis, only what the trace shows (press r to run it again here). ${gs.length} goroutines over ${formatDuration(model.duration)}.`
      : `A trace you brought: concviz did not run it, so there is no diagnosis, only what the trace shows. ${gs.length} goroutines over ${formatDuration(model.duration)}.`);
    if (stuck.length) {
      p('why', `${stuck.length} goroutine${stuck.length === 1 ? ' was' : 's were'} still waiting when the trace ended: ${stuck.slice(0, 6).map((g) => `G${g.id} ${laneName(g)} (${g.spans[g.spans.length - 1].state})`).join(', ')}${stuck.length > 6 ? ', …' : ''}. Type state:blocked in the filter to see them.`);
    }
    for (const w of notes) p('warning', `⚠ ${w}`);
  }

  // remember adds a recording to this tab's history, newest first.
  function remember(r) {
    const list = loadHistory().filter((h) => h.id !== r.id);
    list.unshift({id: r.id, scenario: r.scenario || '', variant: r.variant || '', outcome: r.outcome || '', name: r.name || '', recorded: r.recorded});
    try {
      sessionStorage.setItem(HISTORY_KEY, JSON.stringify(list.slice(0, HISTORY_MAX)));
    } catch {
      // A full or disabled storage only costs the history.
    }
    renderHistory();
  }

  // renderRecording shows the save link and the compare button for the
  // recording on screen.
  function renderRecording() {
    saveLink.hidden = !recording;
    if (recording) saveLink.href = `/api/recordings/${encodeURIComponent(recording.id)}/file`;
    compareButton.disabled = !recording || !scenario;
  }

  // renderHistory fills the history list: this tab's runs, then the
  // recordings the server keeps from earlier (saved, the data directory
  // says, for days), each with a box to pick two to compare, a link to
  // reopen it and one to save it as a file.
  function renderHistory(saved = []) {
    const box = $('history-list');
    box.textContent = '';
    const mine = loadHistory();
    $('history-button').textContent = `History (${mine.length})`;
    const ids = new Set(mine.map((h) => h.id));
    const earlier = saved.filter((h) => !ids.has(h.id));
    const all = mine.concat(earlier);
    if (!all.length) {
      const p = document.createElement('p');
      p.className = 'hint';
      p.textContent = 'Runs of this tab appear here. Every run is kept: reopen it, save it as one file, or pick two to compare.';
      box.append(p);
      return;
    }
    const section = (title, list) => {
      if (!list.length) return;
      const h = document.createElement('h3');
      h.textContent = title;
      box.append(h);
      const ul = document.createElement('ul');
      for (const r of list) ul.append(historyRow(r));
      box.append(ul);
    };
    section('This tab', mine);
    section('Kept from earlier', earlier);
    const go = document.createElement('button');
    go.type = 'button';
    go.className = 'primary';
    go.textContent = 'Compare the two picked';
    go.addEventListener('click', () => {
      const picked = [...box.querySelectorAll('input:checked')].map((b) => all.find((h) => h.id === b.value));
      if (picked.length === 2) openPair(picked[0], picked[1]);
      else go.textContent = 'Pick exactly two';
    });
    box.append(go);
  }

  // historyRow is one recording of the history list.
  function historyRow(h) {
    const li = document.createElement('li');
    const pickBox = document.createElement('input');
    pickBox.type = 'checkbox';
    pickBox.value = h.id;
    pickBox.setAttribute('aria-label', `Pick ${h.scenario || h.name} ${h.variant || ''} to compare`);
    const a = document.createElement('a');
    a.href = `/?open=${encodeURIComponent(h.id)}`;
    a.textContent = h.scenario ? `${h.scenario} ${h.variant}` : h.name || h.id;
    const out = document.createElement('span');
    out.className = 'badge';
    out.dataset.bad = h.outcome ? String(h.outcome !== 'ok') : 'none';
    out.textContent = h.outcome || 'trace';
    const when = document.createElement('span');
    when.className = 'when';
    const d = h.recorded ? new Date(h.recorded) : null;
    when.textContent = !d ? '' : d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
    const save = document.createElement('a');
    save.href = `/api/recordings/${encodeURIComponent(h.id)}/file`;
    save.textContent = 'save';
    save.title = 'Download as one .concviz file';
    li.append(pickBox, a, out, when, save);
    return li;
  }

  async function toggleHistory() {
    const d = $('history');
    if (d.open) {
      d.close();
      return;
    }
    renderHistory();
    d.showModal();
    try {
      renderHistory(await getJSON('/api/recordings'));
    } catch {
      // The tab's own runs are listed already.
    }
  }

  function setGroup(on) {
    group = on;
    groupBox.checked = on;
    refresh();
  }

  // togglePin pins goroutine id to the top of the lanes, or unpins it.
  function togglePin(id) {
    if (id < 0) return;
    pinned = pinned.includes(id) ? pinned.filter((x) => x !== id) : [...pinned, id];
    refresh();
  }

  function fail(text) {
    lastError = text;
    runState = runState === 'running' || runState === 'idle' ? 'error' : runState;
    cancelButton.hidden = true;
    setStatus('error', text);
    rep.placeholder(`Error: ${text}`);
    emptyEl.textContent = text;
    emptyEl.hidden = model.goroutines.length > 0;
  }

  // ---- the view ----

  // refresh hands the model to the timeline and the code pane.
  function refresh() {
    lanes = arrangeLanes(visibleGoroutines(), {
      query, group, pinned, findings: findings(), logs: model.logs, cursor, now: model.now,
    });
    for (const g of model.goroutines) g.pinned = pinned.includes(g.id);
    const drawn = lanes.map((g) => ({g, color: colorFor(g.id)}));
    emptyEl.hidden = drawn.length > 0 || runState === 'idle' && !scenario;
    if (drawn.length === 0 && runState === 'ended') {
      emptyEl.textContent = query ? `No goroutine matches "${query}".` : 'No goroutines of the scenario were recorded.';
      emptyEl.hidden = false;
    }
    tl.setData({
      lanes: drawn,
      links: model.links,
      logs: model.logs,
      stacks: model.stacks,
      findings: findings(),
      now: model.now,
      duration: model.duration,
      live: runState === 'running',
    });
    tl.setCursor(cursor);
    showPositions();
    play.setTime(cursor ?? 0, runEnd());
    rtv.setData({
      runtime: model.runtime, goroutines: visibleGoroutines(), now: model.now, duration: model.duration,
      live: runState === 'running', cursor,
    });
    legend(legendEl, states, tl.colors, drawn, model.links.length > 0, findings().length > 0);
    if (selected) renderDetail();
  }

  function setCursor(t) {
    // Times are whole nanoseconds, as in the model and the URL.
    cursor = t == null ? null : Math.round(t);
    t = cursor;
    // "state:" filters ask what goroutines do at the cursor.
    if (query.includes('state:')) refresh();
    tl.setCursor(t);
    rtv.setData({cursor: t});
    showPositions();
    play.setTime(t, runEnd());
    saveURL(false);
    speak(false);
  }

  // showPositions highlights, in the code pane, the line each goroutine is
  // at: the frame of its current span's stack that is in the scenario's file.
  function showPositions() {
    if (userTrace) {
      const g = model.byID.get(selected);
      if (g && cursor != null) stack.show(g, cursor, model.now, model.stacks);
      else stack.clear();
      return;
    }
    if (!scenario || cursor == null) {
      code.setPositions([]);
      return;
    }
    const list = [];
    for (const g of lanes) {
      if (g.group) continue;
      const i = spanAt(g.spans, cursor, model.now);
      if (i < 0) continue;
      const s = g.spans[i];
      if (s.state === 'done' || s.state === 'none') continue;
      const line = lineOf(g, i);
      if (line) list.push({line, id: g.id, color: colorFor(g.id), label: `G${g.id}`});
    }
    code.setPositions(list);
  }

  // showActivity zooms to where the run happens. A deadlock closes in
  // microseconds and the watchdog that sees it takes far longer, so fitting
  // the whole run would squeeze every event against the left edge; the
  // window ends a little after the last event instead ("0" shows it all).
  function showActivity() {
    const end = runEnd();
    // The scenario's own goroutines say where the run happens; the
    // runtime's, when shown, live from the first event to the last.
    const own = eventTimes(model.goroutines.filter((g) => !g.hidden), [], findings());
    if (own.length === 0) {
      tl.fit();
      return;
    }
    const first = own[0];
    const last = own[own.length - 1];
    const busy = Math.max(last - first, 10000);
    if (busy >= end * 0.5) {
      tl.fit();
      return;
    }
    tl.setView({start: Math.max(0, first - busy * 0.15), end: Math.min(end, last + busy * 0.6)});
  }

  function step(dir) {
    if (runState !== 'ended' || events.length === 0) return;
    setCursor(nextEvent(events, cursor ?? 0, dir));
    tl.reveal(cursor);
  }

  // showFinding shows finding i: its moment, its lines and its entry in the
  // diagnosis, which scrolls into view only when the user asked (reveal).
  function showFinding(i, reveal = true) {
    const fs = findings();
    if (i < 0 || i >= fs.length) return;
    activeFinding = i;
    room.changed(); // room
    const f = fs[i];
    tl.setFinding(i);
    rep.setActive(i, reveal);
    if (userTrace) {
      // No puzzle source to mark: the stack pane shows where the
      // finding's first goroutine is at that moment.
      // A leak is told from the end of its test, when the goroutine may
      // not have reached its wait yet: the cursor goes on to the wait.
      const g = (f.goroutines || []).find((r) => model.byID.has(r.id));
      let at = f.time_ns;
      if (g) {
        selectGoroutine(g.id);
        const spans = model.byID.get(g.id).spans;
        const last = spans[spans.length - 1];
        if (f.kind === 'leak' && last && last.start > at) at = last.start;
      }
      setCursor(at);
    } else {
      setCursor(f.time_ns);
      const lines = (f.locations || [])
        .concat((f.goroutines || []).map((g) => g.location))
        .filter((l) => l && baseOf(l.file) === scenario.file)
        .map((l) => l.line);
      code.setFocus([...new Set(lines)]);
    }
    const v = tl.view;
    if (f.time_ns < v.start || f.time_ns > v.end) tl.fit();
  }

  function nextFinding(dir) {
    const n = findings().length;
    if (n === 0) return -1;
    if (activeFinding < 0) return dir > 0 ? 0 : n - 1;
    return (activeFinding + dir + n) % n;
  }

  function selectGoroutine(id) {
    selected = id;
    room.changed(); // room
    tl.select(id);
    if (userTrace) showPositions();
    if (!id) {
      detail.hidden = true;
      return;
    }
    renderDetail();
  }

  // renderDetail shows the selected goroutine's creation site and history.
  function renderDetail() {
    if (selected < 0) {
      renderGroupDetail();
      return;
    }
    const g = model.byID.get(selected);
    if (!g) {
      detail.hidden = true;
      return;
    }
    detail.textContent = '';
    const h = document.createElement('h3');
    const chip = document.createElement('span');
    chip.className = 'swatch';
    chip.style.background = colorFor(g.id);
    h.append(chip, `${laneName(g)} · G${g.id}`);
    const close = document.createElement('button');
    close.type = 'button';
    close.className = 'close';
    close.textContent = '×';
    close.setAttribute('aria-label', 'Close the goroutine detail (Escape)');
    close.addEventListener('click', () => selectGoroutine(0));
    const pin = document.createElement('button');
    pin.type = 'button';
    pin.className = 'pin';
    pin.textContent = pinned.includes(g.id) ? 'Unpin' : 'Pin';
    pin.title = 'Keep this lane at the top, whatever the filter (p)';
    pin.setAttribute('aria-pressed', String(pinned.includes(g.id)));
    pin.addEventListener('click', () => togglePin(g.id));
    h.append(pin, close);
    detail.append(h);
    const made = model.stacks[g.created];
    const site = made && made.frames && made.frames.length ? made.frames[made.user >= 0 ? made.user : 0] : null;
    const p = document.createElement('p');
    p.className = 'made';
    const by = g.parent ? ` by G${g.parent}` : '';
    p.textContent = site
      ? `Created${by} at ${pkgFunc(site.func)} (${baseOf(site.file)}:${site.line})`
      : `Created${by}; the trace has no creation site.`;
    detail.append(p);
    // The history: one row per span; a row's button moves the cursor there.
    const table = document.createElement('table');
    table.setAttribute('aria-label', 'History');
    const head = table.createTHead().insertRow();
    for (const h of ['at', 'state', 'for', 'line']) {
      const th = document.createElement('th');
      th.textContent = h;
      head.append(th);
    }
    const body = table.createTBody();
    const now = runState === 'running' ? model.now : runEnd();
    g.spans.slice(0, HISTORY_ROWS).forEach((s, i) => {
      const row = body.insertRow();
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = formatDuration(s.start);
      b.title = 'Move the cursor here';
      b.addEventListener('click', () => setCursor(s.start));
      row.insertCell().append(b);
      row.insertCell().textContent = `${s.state}${s.reason ? ` (${s.reason})` : ''}`;
      row.insertCell().textContent = s.state === 'done' ? '' : formatDuration((s.end < 0 ? now : s.end) - s.start);
      const line = scenario ? lineOf(g, i) : 0;
      row.insertCell().textContent = line ? String(line) : '';
    });
    detail.append(table);
    if (g.spans.length > HISTORY_ROWS) {
      const more = document.createElement('p');
      more.className = 'made';
      more.textContent = `… and ${g.spans.length - HISTORY_ROWS} more spans`;
      detail.append(more);
    }
    detail.hidden = false;
  }

  // renderGroupDetail lists the members of the selected group lane; each
  // opens its own history.
  function renderGroupDetail() {
    const lane = lanes.find((l) => l.id === selected);
    if (!lane || !lane.group) {
      detail.hidden = true;
      return;
    }
    detail.textContent = '';
    const h = document.createElement('h3');
    h.textContent = `${laneName(lane)} · ${lane.group.length} goroutines`;
    detail.append(h);
    const p = document.createElement('p');
    p.className = 'made';
    p.textContent = 'The lane shows what most of them do at each moment. Pick one to see it alone:';
    detail.append(p);
    const list = document.createElement('div');
    list.className = 'members';
    for (const id of lane.group.slice(0, HISTORY_ROWS)) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = `G${id}`;
      b.addEventListener('click', () => {
        togglePin(id);
        selectGoroutine(id);
      });
      list.append(b);
    }
    detail.append(list);
    detail.hidden = false;
  }

  function renderVariants() {
    variantSwitch.textContent = '';
    if (!scenario) return;
    const fixedName = scenario.default_fixed || 'fixed';
    const shown = ranVariant || variant;
    for (const v of scenario.variants) {
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.variant = v.name;
      const on = v.name === shown || (shown === 'fixed' && v.name === fixedName);
      b.setAttribute('aria-pressed', String(on));
      b.textContent = v.name === 'broken' ? 'Broken' : v.name === 'fixed' ? 'Fixed'
        : v.name.startsWith('fixed-') ? `Fixed (${v.name.slice('fixed-'.length)})` : v.name;
      b.title = `Run the ${v.name} variant (expects ${v.expect}); f switches`;
      b.addEventListener('click', () => {
        variant = v.name;
        ranVariant = '';
        renderVariants();
        saveURL(true);
        run();
      });
      variantSwitch.append(b);
    }
  }

  function setStatus(state, text) {
    statusEl.dataset.state = state;
    statusEl.textContent = text;
  }

  // speak updates the screen-reader summary: at once when forced, else
  // paced so that a live run or a moving cursor does not flood it.
  function speak(force) {
    clearTimeout(summaryTimer);
    const wait = force ? 0 : runState === 'running'
      ? Math.max(0, LIVE_SUMMARY_MS - (performance.now() - lastSummary)) : CURSOR_SUMMARY_MS;
    summaryTimer = setTimeout(() => {
      lastSummary = performance.now();
      live.textContent = summary();
    }, wait);
  }

  function summary() {
    if (!scenario) return '';
    const parts = [];
    const head = runState === 'ended' && report
      ? `${scenario.id} ${report.variant}: ${report.outcome}.`
      : `${scenario.id}: ${runState}.`;
    parts.push(head);
    if (cursor != null) {
      const gs = [];
      for (const g of visibleGoroutines()) {
        const i = spanAt(g.spans, cursor, model.now);
        if (i < 0) continue;
        const s = g.spans[i];
        const line = lineOf(g, i);
        gs.push(`G${g.id} ${laneName(g)} ${s.state}${s.reason ? ` on ${s.reason}` : ''}${line ? ` at line ${line}` : ''}`);
      }
      parts.push(`At ${formatDuration(cursor)}: ${gs.length ? gs.join('; ') : 'no goroutines'}.`);
    }
    return parts.join(' ');
  }

  function toggleHelp() {
    if (help.open) help.close();
    else help.showModal();
  }

  function fillHelp() {
    fillKeys($('help-keys'), SHORTCUTS);
  }

  // saveURL keeps the view in the address: scenario and variant as a new
  // history entry (push), time and zoom by replacing the current one.
  function saveURL(push) {
    room.changed(); // room
    const q = new URLSearchParams();
    if (reopened && recording) {
      q.set('open', recording.id);
    } else if (scenario) {
      q.set('scenario', scenario.id);
      q.set('variant', variant);
    } else {
      return;
    }
    if (!push && runState === 'ended') {
      if (cursor != null) q.set('t', String(Math.round(cursor)));
      const v = tl.view;
      if (v.start > 0 || v.end < runEnd()) q.set('zoom', `${Math.round(v.start)}-${Math.round(v.end)}`);
    }
    const url = `${location.pathname}?${q}`;
    clearTimeout(urlTimer);
    if (push) {
      if (url !== location.pathname + location.search) history.pushState(null, '', url);
      return;
    }
    urlTimer = setTimeout(() => history.replaceState(null, '', url), 150);
  }

  // ---- the room and the exports ----

  // sharedView is the view state that the presenter's page shares.
  function sharedView() {
    return {
      scenario: scenario ? scenario.id : '', variant: ranVariant || variant, run_state: runState,
      cursor, view: tl.view, selected, finding: activeFinding, playing: play.playing,
    };
  }

  // applyShared shows the presenter's view state on a viewer's page. A run
  // still going follows its own updates; cursor, zoom, finding and
  // selection apply once both pages show the run ended.
  function applyShared(v) {
    if (v.pair && v.pair.length === 2) {
      location.assign(`/?open=${v.pair.map(encodeURIComponent).join(',')}`);
      return;
    }
    if (v.scenario && (!scenario || scenario.id !== v.scenario)) open(v.scenario, v.variant, false);
    if (runState !== 'ended' || v.run_state !== 'ended') return;
    if (v.finding >= 0 && v.finding !== activeFinding) showFinding(v.finding, false);
    if (v.view) tl.setView(v.view);
    if (v.cursor !== cursor) setCursor(v.cursor);
    if ((v.selected || 0) !== selected) selectGoroutine(v.selected || 0);
  }

  // adoptRun begins showing the presenter's run, whose "started" came.
  function adoptRun(msg) {
    if (!scenario || scenario.id !== msg.scenario) open(msg.scenario, msg.variant, false);
    variant = msg.variant || variant;
    run(true);
  }

  // exportRun is what an HTML export replays: the ended run on screen.
  function exportRun() {
    if (runState !== 'ended') return null;
    return {
      scenario: scenario ? scenario.id : '', variant: ranVariant || variant,
      title: scenario ? scenario.title : recording?.name || '', statement: scenario ? scenario.statement : '',
      file: scenario ? scenario.file : '', source: source ? source.source : '', report,
      timeline: {
        duration_ns: model.duration, links: model.links, stacks: model.stacks, logs: model.logs,
        goroutines: model.goroutines.map((g) => ({id: g.id, name: g.name, parent: g.parent, created: g.created, hidden: g.hidden, spans: g.spans})),
      },
    };
  }

  // ---- helpers ----

  // visibleGoroutines lists the lanes in the order the goroutines appeared,
  // so that a parent comes before what it made and the first movers of a
  // run are at the top (ids alone do not say it: the runtime reuses them).
  function visibleGoroutines() {
    const first = (g) => (g.spans.length ? g.spans[0].start : Infinity);
    return model.goroutines.filter((g) => showHidden || !g.hidden)
      .sort((a, b) => first(a) - first(b) || a.id - b.id);
  }

  // lineOf returns the line of the scenario's file that goroutine g is at
  // in its span i: where the span began or, for a span that began without
  // a stack in the file (a goroutine just scheduled), where it ended, which
  // is the code it was running.
  function lineOf(g, i) {
    const here = userLine(model.stacks[g.spans[i].stack], scenario.file);
    if (here || i + 1 >= g.spans.length) return here;
    return userLine(model.stacks[g.spans[i + 1].stack], scenario.file);
  }

  function colorFor(id) {
    if (!colorOf.has(id)) colorOf.set(id, laneColors[colorOf.size % LANE_COLORS]);
    return colorOf.get(id);
  }

  function findings() {
    return report && report.findings ? report.findings : [];
  }

  function runEnd() {
    return Math.max(model.duration, model.now);
  }

  function exposeState() {
    const state = {
      get runState() { return runState; },
      get endDrawn() { return endDrawn; },
      get scenario() { return scenario ? scenario.id : ''; },
      get variant() { return ranVariant || variant; },
      get cursor() { return cursor; },
      get view() { return tl.view; },
      get lanes() {
        const byID = model.byID;
        return tl.geometry.lanes.map((l) => ({
          id: l.id, name: byID.get(l.id)?.name || '', y: l.y, h: l.h, barY: l.barY, barH: l.barH,
          spans: l.rects.map((r) => ({x0: r.x0, x1: r.x1, state: r.state})),
        }));
      },
      get colors() { return tl.colors; },
      get highlightedLines() { return code.highlighted; },
      get focusedLines() { return code.focused; },
      get bugLines() { return markedLines('bug'); },
      get fixLines() { return markedLines('fix'); },
      get findings() { return findings().map((f) => ({kind: f.kind, summary: f.summary, time_ns: f.time_ns})); },
      get outcome() { return report ? report.outcome : ''; },
      get error() { return lastError; },
      get updates() { return updates; },
      get lastLatencyMs() { return latencies.length ? latencies[latencies.length - 1] : null; },
      get latencies() { return [...latencies]; },
      get firstDrawMs() { return firstDrawMs; },
      get endDrawMs() { return endDrawMs; },
      get latencyP50() { return percentile(latencies, 50); },
      get latencyP95() { return percentile(latencies, 95); },
      get helpOpen() { return help.open; },
      get room() { return {role: room.role, shared: room.shared, following: room.following, viewers: room.viewers, poll: room.poll}; },
      get present() { return {on: show.on, step: show.step, index: show.index, tally: show.tally}; },
      get mode() { return reopened ? 'recording' : 'scenario'; },
      get recording() { return recording ? recording.id : ''; },
      get history() { return loadHistory().map((h) => ({id: h.id, scenario: h.scenario, variant: h.variant, outcome: h.outcome})); },
      get stackFrames() { return userTrace ? stack.frames : []; },
      get pinned() { return [...pinned]; },
      get editor() { return {available: ed.available, open: ed.open, edited: ed.edited, errors: ed.errors}; },
    };
    Object.defineProperty(window, 'concviz', {value: Object.freeze(state), writable: false});
  }

  function markedLines(kind) {
    return [...document.querySelectorAll(`#code .ln.${kind}`)].map((r) => Number(r.dataset.line));
  }
}

// session is the page's one websocket: it connects on first use, queues
// messages until the socket is open, and reconnects on the next send after
// a loss.
function session(onMessage, onClose) {
  // sock is the current websocket, or null.
  let sock = null;
  // queue holds messages sent before the socket opened.
  let queue = [];

  return {send};

  function send(msg) {
    if (sock && sock.readyState === WebSocket.OPEN) {
      sock.send(JSON.stringify(msg));
      return;
    }
    queue.push(msg);
    if (!sock || sock.readyState > WebSocket.OPEN) connect();
  }

  function connect() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    sock = new WebSocket(`${proto}//${location.host}/ws`);
    sock.addEventListener('open', () => {
      const q = queue;
      queue = [];
      for (const m of q) sock.send(JSON.stringify(m));
    });
    sock.addEventListener('message', (e) => {
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      onMessage(msg);
    });
    sock.addEventListener('close', () => {
      sock = null;
      onClose();
    });
  }
}

// HISTORY_KEY is where this tab keeps its history of runs (sessionStorage,
// so that it survives the trips to the side-by-side view and back).
const HISTORY_KEY = 'concviz.history';
// HISTORY_MAX bounds the history.
const HISTORY_MAX = 50;

function loadHistory() {
  try {
    const list = JSON.parse(sessionStorage.getItem(HISTORY_KEY) || '[]');
    return Array.isArray(list) ? list : [];
  } catch {
    return [];
  }
}

// pendingFromURL reads the time and zoom the address asks for.
function pendingFromURL() {
  const q = new URLSearchParams(location.search);
  const t = q.get('t');
  return {t: t != null ? Number(t) : null, zoom: parseZoom(q.get('zoom'))};
}

function emptyModel() {
  return {
    goroutines: [], byID: new Map(), links: [], stacks: [], logs: [], now: 0, duration: 0, generations: 0,
    runtime: emptyRuntime(),
  };
}

// fromTimeline turns the server's final Timeline into the model.
function fromTimeline(t) {
  const m = emptyModel();
  for (const g of t.goroutines || []) {
    const copy = {id: g.id, name: g.name, parent: g.parent, created: g.created, hidden: !!g.hidden, spans: g.spans || []};
    m.goroutines.push(copy);
    m.byID.set(g.id, copy);
  }
  m.links = t.links || [];
  m.stacks = t.stacks || [];
  m.logs = t.logs || [];
  m.duration = t.duration_ns || 0;
  m.now = m.duration;
  m.generations = t.generations || 0;
  m.runtime = runtimeOf(t);
  return m;
}

async function getJSON(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${r.statusText}`);
  return r.json();
}

function parseZoom(s) {
  if (!s) return null;
  const m = /^(\d+)-(\d+)$/.exec(s);
  if (!m) return null;
  const start = Number(m[1]);
  const end = Number(m[2]);
  return end > start ? {start, end} : null;
}

function isBroken(v) {
  return !v || v === 'broken';
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
