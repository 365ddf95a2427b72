// The code pane: the scenario's source with line numbers, its "// BUG" and
// "// FIX" lines marked, and, at the cursor time, the line each goroutine
// is at highlighted in that goroutine's colour. Seeing the timeline and the
// line side by side is what turns a picture of blocked lanes into a reason.

// The Go keywords and predeclared names the highlighter colours.
const KEYWORDS = new Set([
  'break', 'case', 'chan', 'const', 'continue', 'default', 'defer', 'else', 'fallthrough', 'for',
  'func', 'go', 'goto', 'if', 'import', 'interface', 'map', 'package', 'range', 'return', 'select',
  'struct', 'switch', 'type', 'var', 'nil', 'true', 'false', 'make', 'new', 'len', 'cap', 'close',
  'append', 'panic', 'recover', 'error', 'string', 'int', 'bool', 'any',
]);

// One token of a line: comment, string, rune, number or word.
const TOKEN = /(\/\/.*$)|("(?:[^"\\]|\\.)*"|`[^`]*`|'(?:[^'\\]|\\.)*')|(\b\d+(?:\.\d+)?\b)|([A-Za-z_]\w*)/g;

// The goroutine tags a line shows at most; more are counted ("+996").
const MAX_TAGS = 4;

// codeView renders sources into el and returns the methods that the app
// calls as the cursor moves. The marked lines are the server's (bug_lines,
// fix_lines), the ones the tracer's tests check diagnoses against; the page
// only colours the marker words.
export function codeView(el, titleEl) {
  // rows holds the line elements, index 0 is line 1.
  let rows = [];
  // marked maps a line number to "bug" or "fix".
  let marked = new Map();
  // positions is the current "goroutine is here" list: [{line, id, color}].
  let positions = [];
  // focusLines are the lines of the finding being shown.
  let focusLines = [];

  return {
    setSource, setPositions, setFocus, reveal,
    get highlighted() { return positions.map((p) => ({line: p.line, g: p.id})); },
    get focused() { return [...focusLines]; },
  };

  // setSource shows a new file; src is {file, source, bug_lines, fix_lines}.
  // Without one, the pane says why: note, or that the source will come.
  function setSource(src, note) {
    el.textContent = '';
    rows = [];
    positions = [];
    focusLines = [];
    marked = new Map();
    if (!src) {
      titleEl.textContent = 'Source';
      const p = document.createElement('p');
      p.className = 'empty';
      p.textContent = note || 'The puzzle\'s Go source appears here, with the line each goroutine is at.';
      el.append(p);
      return;
    }
    titleEl.textContent = src.file;
    for (const n of src.bug_lines || []) marked.set(n, 'bug');
    for (const n of src.fix_lines || []) marked.set(n, 'fix');
    const frag = document.createDocumentFragment();
    const lines = src.source.replace(/\n$/, '').split('\n');
    lines.forEach((text, i) => {
      const n = i + 1;
      const row = document.createElement('div');
      row.className = 'ln';
      row.dataset.line = String(n);
      const kind = marked.get(n);
      if (kind) row.classList.add(kind);
      const num = document.createElement('span');
      num.className = 'num';
      num.textContent = String(n);
      num.setAttribute('aria-hidden', 'true');
      const code = document.createElement('span');
      code.className = 'src';
      highlight(code, text);
      row.append(num, code);
      if (kind) {
        const sr = document.createElement('span');
        sr.className = 'visually-hidden';
        sr.textContent = kind === 'bug' ? ' (the bug)' : ' (the fix)';
        row.append(sr);
      }
      rows.push(row);
      frag.append(row);
    });
    el.append(frag);
    // Open at the bug, before any goroutine is placed.
    const bugs = [...marked].filter(([, k]) => k === 'bug').map(([n]) => n);
    if (bugs.length) reveal(Math.min(...bugs));
  }

  // setPositions highlights, for each goroutine, the line it is at:
  // list is [{line, id, color, label}]. Lines outside the file are ignored.
  function setPositions(list) {
    const next = list.filter((p) => p.line >= 1 && p.line <= rows.length);
    const key = (ps) => ps.map((p) => `${p.id}:${p.line}`).join(',');
    if (key(next) === key(positions)) return;
    for (const p of positions) {
      const row = rows[p.line - 1];
      row.classList.remove('at');
      row.style.background = '';
      row.style.borderLeftColor = '';
      const here = row.querySelector('.here');
      if (here) here.remove();
    }
    positions = next;
    const byLine = new Map();
    for (const p of positions) {
      if (!byLine.has(p.line)) byLine.set(p.line, []);
      byLine.get(p.line).push(p);
    }
    for (const [line, ps] of byLine) {
      const row = rows[line - 1];
      row.classList.add('at');
      row.style.borderLeftColor = ps[0].color;
      row.style.background = tint(ps[0].color, 0.22);
      const here = document.createElement('span');
      here.className = 'here';
      for (const p of ps.slice(0, MAX_TAGS)) {
        const b = document.createElement('b');
        b.style.background = p.color;
        b.textContent = p.label;
        here.append(b);
      }
      if (ps.length > MAX_TAGS) {
        const more = document.createElement('b');
        more.className = 'more';
        more.textContent = `+${ps.length - MAX_TAGS}`;
        here.append(more);
      }
      row.querySelector('.src').append(here);
    }
    const first = positions.length ? Math.min(...positions.map((p) => p.line)) : 0;
    if (first) reveal(first);
  }

  // setFocus outlines the lines of a finding and scrolls to them.
  function setFocus(lines) {
    for (const n of focusLines) rows[n - 1]?.classList.remove('focus');
    focusLines = lines.filter((n) => n >= 1 && n <= rows.length);
    for (const n of focusLines) rows[n - 1].classList.add('focus');
    if (focusLines.length) reveal(Math.min(...focusLines));
  }

  // reveal scrolls the pane, and only the pane, so that line is in view.
  function reveal(line) {
    const row = rows[line - 1];
    if (!row) return;
    const top = row.offsetTop;
    if (top < el.scrollTop + 20 || top > el.scrollTop + el.clientHeight - 60) {
      el.scrollTop = Math.max(0, top - el.clientHeight / 3);
    }
  }
}

// highlight fills code with the tokens of one line of Go. The editor
// (editor.js) colours its text with it too.
export function highlight(code, text) {
  let last = 0;
  for (const m of text.matchAll(TOKEN)) {
    if (m.index > last) code.append(text.slice(last, m.index));
    const [tok, com, str, num, word] = m;
    if (com) {
      appendComment(code, com);
    } else if (str) {
      code.append(span('tok-str', str));
    } else if (num) {
      code.append(span('tok-num', num));
    } else if (word && KEYWORDS.has(word)) {
      code.append(span('tok-kw', word));
    } else {
      code.append(tok);
    }
    last = m.index + tok.length;
  }
  if (last < text.length) code.append(text.slice(last));
}

// appendComment colours a comment, with its BUG or FIX marker stronger.
function appendComment(code, com) {
  const m = /^(\/\/\s*)(BUG|FIX)\b(.*)$/.exec(com);
  const c = span('tok-com', m ? m[1] : com);
  if (m) c.append(span('tok-marker', m[2]), m[3]);
  code.append(c);
}

function span(cls, text) {
  const s = document.createElement('span');
  s.className = cls;
  s.textContent = text;
  return s;
}

function tint(hex, a) {
  const h = hex.replace('#', '');
  const r = parseInt(h.slice(0, 2), 16);
  const g = parseInt(h.slice(2, 4), 16);
  const b = parseInt(h.slice(4, 6), 16);
  return `rgba(${r}, ${g}, ${b}, ${a})`;
}
