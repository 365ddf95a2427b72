// Exports of the view, for slides and for rooms without a network: a PNG
// and an SVG of the timeline as it is on screen, and one self-contained
// HTML file that replays the run with no server. All three come from the
// timeline's own drawing code: the PNG is its canvas, the SVG is the same
// draw calls recorded by an SVG context (svgContext below), and the HTML
// file carries the UI's own modules, bundled into one inline script.
//
// The HTML file has inline script and style, which the server's content
// security policy forbids on its pages; it is made in the browser and
// saved as a download, to be opened from disk, where no policy applies and
// nothing is fetched.

// The modules the replay page runs, with their imports, bundled in order.
const REPLAY_ENTRY = './timeline.js';
const REPLAY_EXTRA = ['./player.js', './layout.js'];

// exporter returns the export actions. Hooks:
//   canvas        the timeline's canvas
//   drawTo(ctx)   draws the timeline into another 2D context (timeline.js)
//   size()        the timeline's {width, height} in CSS pixels
//   run()         what to replay: {scenario, variant, report, timeline,
//                 source} or null when nothing has ended
export function exporter({canvas, drawTo, size, run}) {
  return {png, svg, html, svgText, htmlText};

  function baseName() {
    const r = run();
    return r ? `concviz-${r.scenario || 'trace'}-${r.variant || 'run'}` : 'concviz';
  }

  // png saves the canvas as it is drawn, at the screen's resolution.
  function png() {
    canvas.toBlob((b) => b && save(b, `${baseName()}.png`), 'image/png');
  }

  function svg() {
    save(new Blob([svgText()], {type: 'image/svg+xml'}), `${baseName()}.svg`);
  }

  // svgText draws the view into an SVG context and returns the document.
  function svgText() {
    const {width, height} = size();
    const c = svgContext(width, height);
    drawTo(c);
    return c.toString();
  }

  async function html() {
    const text = await htmlText();
    save(new Blob([text], {type: 'text/html'}), `${baseName()}.html`);
  }

  // htmlText builds the replay page: the stylesheet, the bundled modules
  // and the run's data, all inline.
  async function htmlText() {
    const r = run();
    if (!r) throw new Error('there is no ended run to export');
    const [css, js] = await Promise.all([fetchText('./style.css'), bundle([REPLAY_ENTRY, ...REPLAY_EXTRA])]);
    const data = JSON.stringify(r).replace(/</g, '\\u003c');
    const title = escapeHTML(`${r.title || r.scenario || 'trace'} (${r.variant || 'run'}) · concviz replay`);
    return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${title}</title>
<style>
${css}
body.replay { display: block; }
.replay-main { padding: 12px 18px; display: flex; flex-direction: column; gap: 10px; }
.replay-main .timeline-wrap { min-height: 220px; }
.replay-findings li { margin: 4px 0; }
</style>
</head>
<body class="replay">
<header class="bar"><div class="brand"><span class="logo" aria-hidden="true"></span>concviz replay</div>
<span id="run-status" class="status" data-state="ended"></span></header>
<main class="replay-main">
  <div class="scenario-head"><h1 id="scenario-title"></h1><p id="scenario-statement"></p></div>
  <div class="timeline-wrap">
    <div id="timeline-scroll" class="timeline-scroll">
      <canvas id="timeline-canvas" class="timeline-canvas" tabindex="0" role="img" aria-label="Goroutine timeline"></canvas>
      <div id="timeline-spacer" class="timeline-spacer" aria-hidden="true"></div>
    </div>
    <div id="tooltip" class="tooltip" role="tooltip" hidden></div>
  </div>
  <div id="player" class="player" role="group" aria-label="Player"></div>
  <section aria-label="Diagnosis"><h2>Diagnosis</h2><ul id="findings" class="replay-findings"></ul></section>
</main>
<script type="application/json" id="concviz-run">${data}</script>
<script type="module">
${js}
${replayMain.toString()}
replayMain(JSON.parse(document.getElementById('concviz-run').textContent), {timeline, player, eventTimes, nextEvent, formatDuration});
</script>
</body>
</html>
`;
  }
}

// replayMain is the exported page's entry point. It runs in that page, from
// its source text, so it uses nothing but its arguments and the DOM.
function replayMain(r, {timeline, player, eventTimes, nextEvent, formatDuration}) {
  const $ = (id) => document.getElementById(id);
  const t = r.timeline;
  const end = t.duration_ns || 0;
  const cs = getComputedStyle(document.documentElement);
  const gcolor = (i) => cs.getPropertyValue(`--g-${i % 7}`).trim();
  const first = (g) => ((g.spans || []).length ? g.spans[0].start : Infinity);
  const gs = (t.goroutines || []).filter((g) => !g.hidden).sort((a, b) => first(a) - first(b) || a.id - b.id);
  const findings = (r.report && r.report.findings) || [];
  const lines = (r.source || '').split('\n');
  let cursor = null;
  const tl = timeline($('timeline-canvas'), {
    scroll: $('timeline-scroll'),
    tooltip: $('tooltip'),
    onCursor: (x) => seek(x),
    onSelect: (id) => tl.select(id),
    onView: () => {},
    onWindow: () => {},
    sourceLine: (file, line) => (r.file && file.endsWith(`/${r.file}`) ? lines[line - 1] || '' : ''),
  });
  tl.setData({
    lanes: gs.map((g, i) => ({g: {...g, spans: g.spans || []}, color: gcolor(i)})),
    links: t.links || [], logs: t.logs || [], stacks: t.stacks || [], findings,
    now: end, duration: end, live: false,
  });
  const events = eventTimes(gs, t.links || [], findings);
  const play = player($('player'), {
    onSeek: (x) => seek(x),
    onStep: (dir) => seek(nextEvent(events, cursor ?? 0, dir)),
    view: () => tl.view,
  });
  play.enable(true);
  $('scenario-title').textContent = r.title || r.scenario || 'Trace';
  $('scenario-statement').textContent = r.statement || '';
  $('run-status').textContent = r.report ? `${r.variant}: ${r.report.outcome} · ${formatDuration(end)}` : formatDuration(end);
  for (const f of findings) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = formatDuration(f.time_ns);
    b.addEventListener('click', () => seek(f.time_ns));
    li.append(b, ` ${f.kind}: ${f.summary}`);
    $('findings').append(li);
  }
  seek(findings.length ? findings[0].time_ns : end);
  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const keys = {
      ' ': () => play.toggle(),
      ArrowLeft: () => seek(nextEvent(events, cursor ?? 0, -1)),
      ArrowRight: () => seek(nextEvent(events, cursor ?? 0, 1)),
      Home: () => seek(0),
      End: () => seek(end),
      '+': () => tl.zoomStep(1),
      '=': () => tl.zoomStep(1),
      '-': () => tl.zoomStep(-1),
      0: () => tl.fit(),
    };
    const fn = keys[e.key];
    if (fn) {
      e.preventDefault();
      fn();
    }
  });
  window.concvizReplay = {get cursor() { return cursor; }, get lanes() { return tl.geometry.lanes.length; }};

  function seek(x) {
    cursor = Math.max(0, Math.min(end, Math.round(x)));
    tl.setCursor(cursor);
    play.setTime(cursor, end);
  }
}

// bundle turns ES modules into one script: each module becomes a function
// scope whose exports are an object, and each import a destructuring of
// that object, in dependency order. The exports of the entry modules are
// left as top-level names. It handles the module syntax the UI uses
// (import {a, b} from './x.js'; export function / const / let / class).
export async function bundle(entries) {
  const sources = new Map();
  const order = [];
  async function load(path) {
    if (sources.has(path)) return;
    sources.set(path, null);
    const text = await fetchText(path);
    const deps = [...text.matchAll(/^import\s*\{[^}]*\}\s*from\s*'([^']+)';?/gm)].map((m) => m[1]);
    for (const d of deps) await load(d);
    sources.set(path, text);
    order.push(path);
  }
  for (const e of entries) await load(e);
  const names = (p) => `__m_${p.replace(/[^a-z0-9]/gi, '_')}`;
  const out = [];
  for (const p of order) {
    let text = sources.get(p);
    const exported = [...text.matchAll(/^export\s+(?:async\s+)?(?:function\*?|const|let|class)\s+([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]);
    text = text.replace(/^import\s*\{([^}]*)\}\s*from\s*'([^']+)';?/gm,
      (_, list, dep) => `const {${list.replace(/\s+/g, ' ').trim()}} = ${names(dep)};`);
    text = text.replace(/^export\s+/gm, '');
    out.push(`const ${names(p)} = (() => {\n${text}\nreturn {${exported.join(', ')}};\n})();`);
  }
  const top = new Set();
  for (const e of entries) {
    const text = sources.get(e);
    for (const m of text.matchAll(/^export\s+(?:async\s+)?(?:function\*?|const|let|class)\s+([A-Za-z_$][\w$]*)/gm)) {
      if (!top.has(m[1])) {
        top.add(m[1]);
        out.push(`const ${m[1]} = ${names(e)}.${m[1]};`);
      }
    }
  }
  return out.join('\n');
}

async function fetchText(path) {
  const r = await fetch(new URL(path, import.meta.url));
  if (!r.ok) throw new Error(`${path}: ${r.status} ${r.statusText}`);
  return r.text();
}

function save(blob, name) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

function escapeHTML(s) {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// svgContext records the calls of a canvas 2D context that the timeline
// makes and writes them as SVG: rectangles, paths, text, clipping with
// save and restore. Text is measured by a real canvas, so that the labels
// are cut and placed as on screen.
export function svgContext(width, height) {
  const measure = document.createElement('canvas').getContext('2d');
  const out = [];
  // path is the current path as SVG path data.
  let path = '';
  // stack holds the saved states; depth counts open clip groups per state.
  const stack = [];
  let clipID = 0;
  let opened = 0;
  const st = {
    fillStyle: '#000', strokeStyle: '#000', lineWidth: 1, font: '10px sans-serif', textAlign: 'start',
    textBaseline: 'alphabetic', globalAlpha: 1, dash: [],
  };
  const n = (v) => (Math.round(v * 100) / 100).toString();
  const alpha = () => (st.globalAlpha < 1 ? ` opacity="${n(st.globalAlpha)}"` : '');

  const ctx = {
    get fillStyle() { return st.fillStyle; }, set fillStyle(v) { st.fillStyle = String(v); },
    get strokeStyle() { return st.strokeStyle; }, set strokeStyle(v) { st.strokeStyle = String(v); },
    get lineWidth() { return st.lineWidth; }, set lineWidth(v) { st.lineWidth = v; },
    get font() { return st.font; }, set font(v) { st.font = v; },
    get textAlign() { return st.textAlign; }, set textAlign(v) { st.textAlign = v; },
    get textBaseline() { return st.textBaseline; }, set textBaseline(v) { st.textBaseline = v; },
    get globalAlpha() { return st.globalAlpha; }, set globalAlpha(v) { st.globalAlpha = v; },
    setTransform() {},
    clearRect() {},
    setLineDash(d) { st.dash = [...d]; },
    fillRect(x, y, w, h) {
      out.push(`<rect x="${n(x)}" y="${n(y)}" width="${n(w)}" height="${n(h)}" fill="${st.fillStyle}"${alpha()}/>`);
    },
    strokeRect(x, y, w, h) {
      out.push(`<rect x="${n(x)}" y="${n(y)}" width="${n(w)}" height="${n(h)}" fill="none" stroke="${st.strokeStyle}" stroke-width="${n(st.lineWidth)}"${alpha()}/>`);
    },
    beginPath() { path = ''; },
    closePath() { path += 'Z'; },
    moveTo(x, y) { path += `M${n(x)} ${n(y)}`; },
    lineTo(x, y) { path += `L${n(x)} ${n(y)}`; },
    quadraticCurveTo(cx, cy, x, y) { path += `Q${n(cx)} ${n(cy)} ${n(x)} ${n(y)}`; },
    bezierCurveTo(a, b, c, d, x, y) { path += `C${n(a)} ${n(b)} ${n(c)} ${n(d)} ${n(x)} ${n(y)}`; },
    rect(x, y, w, h) { path += `M${n(x)} ${n(y)}h${n(w)}v${n(h)}h${n(-w)}Z`; },
    roundRect(x, y, w, h, r = 0) {
      const rr = Math.min(Array.isArray(r) ? r[0] || 0 : r, w / 2, h / 2);
      path += `M${n(x + rr)} ${n(y)}h${n(w - 2 * rr)}a${n(rr)} ${n(rr)} 0 0 1 ${n(rr)} ${n(rr)}v${n(h - 2 * rr)}` +
        `a${n(rr)} ${n(rr)} 0 0 1 ${n(-rr)} ${n(rr)}h${n(-(w - 2 * rr))}a${n(rr)} ${n(rr)} 0 0 1 ${n(-rr)} ${n(-rr)}` +
        `v${n(-(h - 2 * rr))}a${n(rr)} ${n(rr)} 0 0 1 ${n(rr)} ${n(-rr)}Z`;
    },
    arc(x, y, r, a0, a1) {
      if (Math.abs(a1 - a0) >= 2 * Math.PI - 1e-6) {
        path += `M${n(x + r)} ${n(y)}a${n(r)} ${n(r)} 0 1 0 ${n(-2 * r)} 0a${n(r)} ${n(r)} 0 1 0 ${n(2 * r)} 0`;
        return;
      }
      const sx = x + r * Math.cos(a0);
      const sy = y + r * Math.sin(a0);
      const ex = x + r * Math.cos(a1);
      const ey = y + r * Math.sin(a1);
      const large = (a1 - a0) % (2 * Math.PI) > Math.PI ? 1 : 0;
      path += `${path ? 'L' : 'M'}${n(sx)} ${n(sy)}A${n(r)} ${n(r)} 0 ${large} 1 ${n(ex)} ${n(ey)}`;
    },
    fill() {
      if (path) out.push(`<path d="${path}" fill="${st.fillStyle}"${alpha()}/>`);
    },
    stroke() {
      if (!path) return;
      const dash = st.dash.length ? ` stroke-dasharray="${st.dash.join(' ')}"` : '';
      out.push(`<path d="${path}" fill="none" stroke="${st.strokeStyle}" stroke-width="${n(st.lineWidth)}"${dash}${alpha()}/>`);
    },
    clip() {
      clipID++;
      out.push(`<clipPath id="c${clipID}"><path d="${path}"/></clipPath><g clip-path="url(#c${clipID})">`);
      opened++;
    },
    save() {
      stack.push({...st, dash: [...st.dash], opened});
      opened = 0;
    },
    restore() {
      while (opened > 0) {
        out.push('</g>');
        opened--;
      }
      const s = stack.pop();
      if (!s) return;
      opened = s.opened;
      delete s.opened;
      Object.assign(st, s);
    },
    measureText(text) {
      measure.font = st.font;
      return measure.measureText(text);
    },
    fillText(text, x, y) {
      const anchor = {center: 'middle', right: 'end', end: 'end'}[st.textAlign] || 'start';
      const base = {middle: 'central', top: 'hanging', hanging: 'hanging', bottom: 'text-after-edge'}[st.textBaseline] || 'alphabetic';
      const esc = String(text).replace(/[&<>]/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;'}[c]));
      out.push(`<text x="${n(x)}" y="${n(y)}" fill="${st.fillStyle}" text-anchor="${anchor}" dominant-baseline="${base}" style="font: ${st.font.replace(/"/g, "'")}"${alpha()}>${esc}</text>`);
    },
    toString() {
      while (opened > 0) {
        out.push('</g>');
        opened--;
      }
      while (stack.length) ctx.restore();
      return `<svg xmlns="http://www.w3.org/2000/svg" width="${n(width)}" height="${n(height)}" viewBox="0 0 ${n(width)} ${n(height)}">\n${out.join('\n')}\n</svg>\n`;
    },
  };
  return ctx;
}
