// The stack pane: for a trace a user brought there is no puzzle source to
// show, so the code pane shows the stack of the selected goroutine at the
// cursor, frame by frame, with the source lines of the frames whose files
// exist on this machine (the server serves only files the trace names).

import {baseName, pkgFunc, spanAt} from './layout.js';

// CONTEXT is how many lines around the innermost user frame are shown.
const CONTEXT = 3;

// stackView renders into el (titleEl is the pane's heading). source(file)
// resolves to the file's lines, or null when the file cannot be read.
export function stackView(el, titleEl, {source}) {
  // cache maps a file to the promise of its lines; loaded maps it to the
  // lines once they came (null when the file cannot be read).
  const cache = new Map();
  const loaded = new Map();
  // shown is the key of what is on screen, so that a cursor that moves
  // within one span does not rebuild the pane.
  let shown = '';
  // frames are the frames on screen, for tests: [{func, file, line, text}].
  let frames = [];

  return {
    show, clear, cachedLine,
    get frames() { return frames.map((f) => ({...f})); },
  };

  // clear shows the hint instead of a stack.
  function clear(text) {
    const key = `hint:${text}`;
    if (key === shown) return;
    shown = key;
    frames = [];
    titleEl.textContent = 'Stack';
    el.textContent = '';
    const p = document.createElement('p');
    p.className = 'empty';
    p.textContent = text || 'Click a goroutine: its stack at the cursor appears here, with the source lines this machine has.';
    el.append(p);
  }

  // show renders goroutine g's stack at time t: the stack where its span at
  // t began or, for a span without one, where it ended. stacks is the
  // timeline's stack table.
  function show(g, t, now, stacks) {
    const i = spanAt(g.spans, t, now);
    if (i < 0) {
      clear(`G${g.id} does not exist at the cursor.`);
      return;
    }
    const span = g.spans[i];
    // A span that began without a stack (a goroutine scheduled again) is
    // still where its previous span left it; failing that, where it goes
    // next; failing that, where it was made.
    const has = (k) => k >= 0 && k < g.spans.length && stacks[g.spans[k].stack]?.frames?.length;
    let st = null;
    let where = '';
    if (has(i)) [st, where] = [stacks[span.stack], 'Where it entered this state:'];
    else if (has(i - 1)) [st, where] = [stacks[g.spans[i - 1].stack], `Where it was when it last stopped (${g.spans[i - 1].state}):`];
    else if (has(i + 1)) [st, where] = [stacks[g.spans[i + 1].stack], 'Where it was when this state ended:'];
    else if (stacks[g.created]?.frames?.length) [st, where] = [stacks[g.created], 'Where it was created (the go statement):'];
    const key = `${g.id}:${i}:${st ? JSON.stringify(st.frames.slice(0, 3)) : ''}`;
    if (key === shown) return;
    shown = key;
    titleEl.textContent = `G${g.id} · ${pkgFunc(g.name)}`;
    el.textContent = '';
    const head = document.createElement('p');
    head.className = 'stack-state';
    head.textContent = `${span.state}${span.reason ? ` (${span.reason})` : ''}`;
    el.append(head);
    if (!st || !st.frames?.length) {
      frames = [];
      const p = document.createElement('p');
      p.className = 'empty';
      p.textContent = 'The trace recorded no stack for this span.';
      el.append(p);
      return;
    }
    const note = document.createElement('p');
    note.className = 'hint';
    note.textContent = where;
    el.append(note);
    const user = st.user >= 0 ? st.user : 0;
    const list = document.createElement('ol');
    list.className = 'frames';
    frames = st.frames.map((f) => ({func: f.func, file: f.file, line: f.line, text: ''}));
    st.frames.forEach((f, n) => {
      const li = document.createElement('li');
      if (n === user) li.classList.add('user');
      if (n < user) li.classList.add('runtime');
      const fn = document.createElement('div');
      fn.className = 'fn';
      fn.textContent = pkgFunc(f.func);
      const loc = document.createElement('div');
      loc.className = 'loc';
      loc.textContent = `${baseName(f.file)}:${f.line}`;
      loc.title = f.file;
      li.append(fn, loc);
      list.append(li);
      const want = key;
      lines(f.file).then((ls) => {
        if (shown !== want || !ls) return;
        const text = ls[f.line - 1];
        if (text == null) return;
        frames[n].text = text.trim();
        const from = n === user ? Math.max(1, f.line - CONTEXT) : f.line;
        const to = n === user ? Math.min(ls.length, f.line + CONTEXT) : f.line;
        const pre = document.createElement('pre');
        pre.className = 'snippet';
        for (let k = from; k <= to; k++) {
          const row = document.createElement('span');
          row.className = k === f.line ? 'ln at' : 'ln';
          row.textContent = `${String(k).padStart(5)}  ${ls[k - 1]}\n`;
          pre.append(row);
        }
        li.append(pre);
      });
    });
    el.append(list);
  }

  function lines(file) {
    if (!cache.has(file)) {
      cache.set(file, source(file).catch(() => null).then((ls) => {
        loaded.set(file, ls);
        return ls;
      }));
    }
    return cache.get(file);
  }

  // cachedLine returns the text of a line of a file already read, or ""
  // (the tooltip cannot wait for a request).
  function cachedLine(file, line) {
    const ls = loaded.get(file);
    return ls ? (ls[line - 1] || '').trim() : '';
  }
}
