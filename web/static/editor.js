// The editor: on a local server the learner edits the puzzle's file in the
// code pane and runs their version, which the server compiles with the
// local Go toolchain and runs like any other variant. The variant functions
// keep their names, so a learner edits their bodies and runs the variant
// they chose. A shared server never offers this: the page asks /api/room
// and shows the Edit button only when the server is not shared.
//
// The text is a textarea over a highlighted copy of itself (the same
// colours and BUG / FIX lines as the code pane), so that the caret, the
// selection and undo are the browser's own. Compile errors are marked on
// their lines and listed under the text.

import {highlight} from './code.js';

// STORE_PREFIX keys, in sessionStorage, the edit of a run by its recording
// id, so that the side-by-side view shows the code that ran.
const STORE_PREFIX = 'concviz.edit.';
// DRAFT_PREFIX keys, in sessionStorage, the learner's text per scenario
// file, so that coming back from the side-by-side view (a new page) finds
// the edit where it was.
const DRAFT_PREFIX = 'concviz.draft.';
// MAX_SOURCE is the server's cap on an edit, in bytes (tracer.MaxSource).
const MAX_SOURCE = 64 << 10;

// editor builds the editor into pane, beside the code view el, and returns
// its methods. onRun(text) runs the edit; onClose() says the editor closed
// and the code view is back.
export function editor(pane, el, button, {onRun, onClose}) {
  // available says this server lets the page run edits.
  let available = false;
  // original is the scenario's source as the server sent it
  // ({file, source, ...}), or null.
  let original = null;
  // edits keeps the learner's text per scenario file while the tab lives
  // (drafts(), in sessionStorage).
  const edits = drafts();
  // errors are the compile errors of the last run of the edit, by line.
  let errors = [];
  // open says the editor is shown instead of the code view.
  let open = false;
  // frame is the pending repaint of the highlighted copy.
  let frame = 0;

  const box = document.createElement('div');
  box.className = 'editor';
  box.hidden = true;
  const bar = document.createElement('div');
  bar.className = 'editor-bar';
  const runBtn = btn('Run my version', 'Build and run your version, then see it beside the reference fix (e, or Ctrl+Enter while typing)', 'primary');
  runBtn.id = 'edit-run';
  const resetBtn = btn('Reset to original', 'Throw away your edit and start again from the puzzle\'s code');
  resetBtn.id = 'edit-reset';
  const closeBtn = btn('Close', 'Back to the code pane (your edit is kept)');
  closeBtn.id = 'edit-close';
  const note = document.createElement('span');
  note.className = 'hint';
  bar.append(runBtn, resetBtn, closeBtn, note);
  const body = document.createElement('div');
  body.className = 'editor-body';
  const gutter = document.createElement('div');
  gutter.className = 'editor-gutter';
  gutter.setAttribute('aria-hidden', 'true');
  const stack = document.createElement('div');
  stack.className = 'editor-stack';
  const hl = document.createElement('pre');
  hl.className = 'editor-hl';
  hl.setAttribute('aria-hidden', 'true');
  const text = document.createElement('textarea');
  text.id = 'edit-text';
  text.className = 'editor-text';
  text.spellcheck = false;
  text.wrap = 'off';
  text.setAttribute('autocapitalize', 'off');
  text.setAttribute('autocomplete', 'off');
  text.setAttribute('aria-label', 'Your version of the puzzle\'s Go file');
  stack.append(hl, text);
  body.append(gutter, stack);
  const list = document.createElement('ul');
  list.className = 'editor-errors';
  list.setAttribute('aria-live', 'polite');
  list.hidden = true;
  box.append(bar, body, list);
  el.after(box);

  button.hidden = true;
  button.addEventListener('click', () => (open ? close() : start()));
  runBtn.addEventListener('click', () => run());
  resetBtn.addEventListener('click', () => reset());
  closeBtn.addEventListener('click', () => close());
  text.addEventListener('input', () => {
    if (original) edits.set(original.file, text.value);
    errors = [];
    renderErrors();
    schedule();
  });
  text.addEventListener('scroll', () => {
    hl.style.transform = `translate(${-text.scrollLeft}px, ${-text.scrollTop}px)`;
    gutter.scrollTop = text.scrollTop;
  });
  text.addEventListener('keydown', (e) => {
    if (e.key === 'Tab' && !e.ctrlKey && !e.metaKey && !e.altKey && !e.shiftKey) {
      // Go is indented with tabs; the key must not leave the text.
      e.preventDefault();
      text.setRangeText('\t', text.selectionStart, text.selectionEnd, 'end');
      text.dispatchEvent(new Event('input'));
    } else if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      run();
    } else if (e.key === 'Escape') {
      // Escape leaves the text (the page's keys work again) but keeps
      // the editor open.
      e.preventDefault();
      e.stopPropagation();
      text.blur();
      pane.focus?.();
    }
  });

  return {
    setAvailable, setSource, start, close, run, showErrors,
    get available() { return available; },
    get open() { return open; },
    get text() { return currentText(); },
    get edited() { return original ? edits.has(original.file) && edits.get(original.file) !== original.source : false; },
    get errors() { return errors.map((e) => ({...e})); },
  };

  // setAvailable shows or hides the Edit button: on only on a local
  // server, with a puzzle's source on screen.
  function setAvailable(on) {
    available = !!on;
    button.hidden = !available || !original;
    if (!available && open) close();
  }

  // setSource is the scenario's source from the server, or null when the
  // pane shows something else (a user's trace, a reopened recording).
  function setSource(src) {
    const same = original && src && original.file === src.file && original.source === src.source;
    original = src;
    button.hidden = !available || !original;
    if (!original) {
      if (open) close();
      return;
    }
    if (!same) {
      errors = [];
      renderErrors();
    }
    if (open) load();
  }

  // start opens the editor on the learner's text, or the original. From a
  // key (fromKey), the text takes the focus only once the key is released,
  // so that the key's own character is not typed into it.
  function start(fromKey = false) {
    if (!available || !original) return;
    open = true;
    el.hidden = true;
    box.hidden = false;
    button.textContent = 'Stop editing';
    button.setAttribute('aria-pressed', 'true');
    load();
    if (fromKey) document.addEventListener('keyup', () => text.focus(), {once: true});
    else text.focus();
  }

  // close goes back to the code view; the edit is kept for later.
  function close() {
    if (!open) return;
    open = false;
    box.hidden = true;
    el.hidden = false;
    button.textContent = 'Edit';
    button.setAttribute('aria-pressed', 'false');
    onClose?.();
  }

  // reset throws the edit away.
  function reset() {
    if (!original) return;
    edits.delete(original.file);
    errors = [];
    renderErrors();
    load();
    text.focus();
  }

  // run hands the text to the page, which sends it to the server.
  function run() {
    if (!available || !original) return;
    if (!open) start();
    const src = currentText();
    if (new TextEncoder().encode(src).length > MAX_SOURCE) {
      note.textContent = `Your version is larger than ${MAX_SOURCE >> 10} KiB; the server will not build it.`;
      return;
    }
    note.textContent = 'Building and running your version…';
    onRun(src, original);
  }

  // showErrors marks the compiler's complaints ({line, column, message})
  // on their lines and lists them; an empty list clears them.
  function showErrors(list, text) {
    errors = (list || []).map((e) => ({line: e.line, column: e.column, message: e.message}));
    note.textContent = errors.length ? 'Your version does not build:' : text || '';
    renderErrors();
    paint();
    if (errors.length) goTo(errors[0]);
  }

  function currentText() {
    if (!original) return '';
    return edits.has(original.file) ? edits.get(original.file) : original.source;
  }

  function load() {
    text.value = currentText();
    paint();
  }

  function schedule() {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      paint();
    });
  }

  // paint redraws the highlighted copy and the line numbers from the
  // text. A file is a few hundred lines: all of it is redrawn.
  function paint() {
    const lines = text.value.split('\n');
    const bad = new Map();
    for (const e of errors) if (!bad.has(e.line)) bad.set(e.line, e.message);
    hl.textContent = '';
    gutter.textContent = '';
    const frag = document.createDocumentFragment();
    const nums = document.createDocumentFragment();
    lines.forEach((line, i) => {
      const n = i + 1;
      const row = document.createElement('div');
      row.className = 'ln';
      row.dataset.line = String(n);
      const m = /\/\/\s*(BUG|FIX)\b/.exec(line);
      if (m) row.classList.add(m[1] === 'BUG' ? 'bug' : 'fix');
      if (bad.has(n)) {
        row.classList.add('err');
        row.title = bad.get(n);
      }
      const code = document.createElement('span');
      code.className = 'src';
      highlight(code, line);
      // An empty line still takes its height.
      if (!line) code.append('\u200b');
      row.append(code);
      frag.append(row);
      const num = document.createElement('div');
      num.className = bad.has(n) ? 'num err' : 'num';
      num.textContent = String(n);
      nums.append(num);
    });
    hl.append(frag);
    gutter.append(nums);
  }

  function renderErrors() {
    list.textContent = '';
    list.hidden = errors.length === 0;
    for (const e of errors) {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'link';
      b.textContent = `line ${e.line}${e.column ? `:${e.column}` : ''}`;
      b.addEventListener('click', () => goTo(e));
      li.append(b, ` ${e.message}`);
      list.append(li);
    }
  }

  // goTo puts the caret at an error's line and column.
  function goTo(e) {
    const lines = text.value.split('\n');
    let at = 0;
    for (let i = 0; i < e.line - 1 && i < lines.length; i++) at += lines[i].length + 1;
    at += Math.max(0, (e.column || 1) - 1);
    text.focus();
    text.setSelectionRange(at, at);
    const lh = parseFloat(getComputedStyle(text).lineHeight) || 18;
    text.scrollTop = Math.max(0, (e.line - 3) * lh);
  }
}

// saveEdit remembers the text that a recorded run ran, for the views that
// show the run's code later in this tab.
export function saveEdit(recordingID, file, source) {
  try {
    sessionStorage.setItem(STORE_PREFIX + recordingID, JSON.stringify({file, source}));
  } catch {
    // A full or disabled storage only costs the later views the edit.
  }
}

// editedSource returns {file, source, bug_lines, fix_lines} of the edit a
// recorded run ran, in the shape of the server's source answer, or null
// when the run was of the catalog's code.
export function editedSource(recordingID) {
  let v = null;
  try {
    v = JSON.parse(sessionStorage.getItem(STORE_PREFIX + recordingID) || 'null');
  } catch {
    return null;
  }
  if (!v || typeof v.source !== 'string') return null;
  return sourceOf(v.file, v.source);
}

// sourceOf gives an edited text the shape of the server's source answer:
// its BUG and FIX lines are found the way the catalog marks them, by the
// comment at the end of the line.
export function sourceOf(file, source) {
  const bug = [];
  const fix = [];
  source.split('\n').forEach((line, i) => {
    const m = /\/\/\s*(BUG|FIX)\b/.exec(line);
    if (m) (m[1] === 'BUG' ? bug : fix).push(i + 1);
  });
  return {file, source, bug_lines: bug, fix_lines: fix, edited: true};
}

// drafts is a Map of the learner's texts by file, kept in sessionStorage.
function drafts() {
  const m = new Map();
  const store = (file) => {
    try {
      if (m.has(file)) sessionStorage.setItem(DRAFT_PREFIX + file, m.get(file));
      else sessionStorage.removeItem(DRAFT_PREFIX + file);
    } catch {
      // Without storage the draft lives as long as the page.
    }
  };
  const load = (file) => {
    if (m.has(file)) return;
    try {
      const v = sessionStorage.getItem(DRAFT_PREFIX + file);
      if (v != null) m.set(file, v);
    } catch {
      // As above.
    }
  };
  return {
    has: (file) => (load(file), m.has(file)),
    get: (file) => (load(file), m.get(file)),
    set: (file, v) => (m.set(file, v), store(file)),
    delete: (file) => (m.delete(file), store(file)),
  };
}

function btn(label, title, cls) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.title = title;
  if (cls) b.className = cls;
  return b;
}
