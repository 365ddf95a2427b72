// The timeline view: one lane per goroutine on a canvas, spans coloured by
// state, arrows for wake-ups and go statements, findings drawn where they
// happen, and a time cursor. A canvas, not DOM nodes, because a run can hold
// thousands of spans and the view is redrawn on every trace generation.
//
// The canvas is only as tall as the visible part of the timeline: it sticks
// to the top of its scrolling box, a spacer gives the box the height of all
// the lanes, and each draw shifts the lanes by the scroll offset. A canvas of
// a thousand lanes at 2x would pass the browser's size limit; this one never
// does, and the time axis stays in view as the lanes scroll under it.

import {
  arrowPath, baseName, clampView, formatDuration, laneAt, layoutLanes, panView, shortFunc,
  pkgFunc, spanAt, spanEnd, ticks, timeToX, visibleSpans, xToTime, zoomView,
} from './layout.js';

// Geometry in CSS pixels.
const LABEL_W = 232; // the lane-name column
const AXIS_H = 28; // the time axis at the top
const LANE_MIN = 30; // a lane, when many must fit
const LANE_MAX = 44; // a lane, when few leave room to be generous
const MIN_LANES_H = 4 * LANE_MAX; // the timeline keeps room for this much, so it does not jump as lanes appear
const BAR_SHARE = 0.62; // a span bar's share of its lane's height
const PAD_R = 18; // room after the last time
const FOOT_H = 12; // room under the last lane
const DRAG_PX = 4; // movement below this is a click, not a drag
const MIN_SPAN_NS = 1000; // the deepest zoom: 1 µs across the view
const ZOOM_STEP = 1.6; // one +/- key press
const PAN_FRACTION = 0.2; // one shift+arrow press, as a share of the view
const MAX_LINKS = 150; // arrows drawn at most; see drawLinks

// The states whose spans are waits; their bars carry the block reason.
const BLOCKED = new Set([
  'blocked-send', 'blocked-recv', 'blocked-select', 'blocked-mutex', 'blocked-rwmutex',
  'blocked-waitgroup', 'blocked-cond', 'blocked-sync', 'sleep', 'blocked-io', 'stuck',
  'blocked-other',
]);

// timeline draws into canvas and reports the user's actions through the
// callbacks: onCursor(t) when a click moves the cursor, onSelect(id) when a
// lane is chosen, onView(view) when zoom or pan changes. sourceLine(file,
// line) returns the text of a line the page knows, for the tooltip.
export function timeline(canvas, {scroll, tooltip, onCursor, onSelect, onView, sourceLine, onWindow}) {
  // data is what the view draws: {lanes:[{g, color}], links, logs, stacks,
  // findings, now, duration, live}; set by setData.
  let data = {lanes: [], links: [], logs: [], stacks: [], findings: [], now: 0, duration: 0, live: false};
  // view is the time window on screen.
  let view = {start: 0, end: 1e6};
  // follow keeps the view fitted to the whole run until the user zooms or pans.
  let follow = true;
  // cursor is the time of the cursor line, or null.
  let cursor = null;
  // selected is the id of the chosen goroutine, or 0.
  let selected = 0;
  // activeFinding is the index of the finding being shown, or -1.
  let activeFinding = -1;
  // geometry is what the last draw put where, for hit tests and for tests:
  // {lanes:[{id, y, h, barY, barH, rects}], width, height}.
  let geometry = {lanes: [], width: 0, height: 0};
  // colors caches the palette read from the stylesheet's custom properties.
  let colors = readColors();
  // drag is the pointer gesture in progress, or null.
  let drag = null;
  // hover is the last pointer position over the canvas, for the tooltip.
  let hover = null;
  // frame is the pending requestAnimationFrame id, so draws coalesce.
  let frame = 0;
  // afterDraw holds callbacks to run once the next frame is drawn.
  let afterDraw = [];
  // laneH and barH are the lane and bar heights of the last layout.
  let laneH = LANE_MIN;
  let barH = Math.round(LANE_MIN * BAR_SHARE);

  // ctx is the canvas's context, or for the length of drawTo another one.
  let ctx = canvas.getContext('2d');

  const spacer = scroll.querySelector('.timeline-spacer');

  new ResizeObserver(() => schedule()).observe(scroll);
  scroll.addEventListener('scroll', () => schedule(), {passive: true});
  // Presentation mode switches the page's theme without the system's.
  window.addEventListener('concviz-restyle', () => {
    colors = readColors();
    schedule();
  });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    colors = readColors();
    schedule();
  });
  canvas.addEventListener('pointerdown', pointerDown);
  canvas.addEventListener('pointermove', pointerMove);
  canvas.addEventListener('pointerup', pointerUp);
  canvas.addEventListener('pointercancel', () => { drag = null; canvas.classList.remove('dragging'); });
  canvas.addEventListener('pointerleave', () => { hover = null; tooltip.hidden = true; });
  canvas.addEventListener('wheel', wheel, {passive: false});

  return {
    setData, setCursor, setView, fit, reveal, zoomStep, panStep, select, selectNext, setFinding,
    schedule, whenDrawn, drawTo,
    get view() { return {...view}; },
    get geometry() { return geometry; },
    get colors() { return {...colors.state}; },
    get selected() { return selected; },
  };

  // setData replaces what the view draws; a live run keeps the view fitted.
  function setData(d) {
    data = d;
    if (follow) fitView();
    schedule();
  }

  function setCursor(t) {
    cursor = t;
    schedule();
  }

  // setView shows the window v and stops following the run.
  function setView(v) {
    view = clampView(v, total(), MIN_SPAN_NS);
    follow = false;
    schedule();
    onView(view);
  }

  // fit shows the whole run and follows it again while it grows.
  function fit() {
    follow = true;
    fitView();
    schedule();
    onView(view);
  }

  // reveal pans the view, keeping its zoom, so that time t is on screen.
  function reveal(t) {
    if (t >= view.start && t <= view.end) return;
    const w = view.end - view.start;
    const start = t < view.start ? t - w * 0.1 : t - w * 0.9;
    setView({start, end: start + w});
  }

  // zoomStep zooms in (dir > 0) or out one step around the cursor, or
  // around the middle of the view when the cursor is off screen.
  function zoomStep(dir) {
    const mid = (view.start + view.end) / 2;
    const a = cursor != null && cursor >= view.start && cursor <= view.end ? cursor : mid;
    setView(zoomView(view, dir > 0 ? 1 / ZOOM_STEP : ZOOM_STEP, a, total(), MIN_SPAN_NS));
  }

  // panStep moves the view a step later (dir > 0) or earlier.
  function panStep(dir) {
    setView(panView(view, dir * PAN_FRACTION * (view.end - view.start), total(), MIN_SPAN_NS));
  }

  // select marks the goroutine id and scrolls its lane into view.
  function select(id) {
    selected = id;
    const i = data.lanes.findIndex((l) => l.g.id === id);
    if (i >= 0) {
      const top = i * laneH;
      const room = scroll.clientHeight - AXIS_H - FOOT_H;
      if (top < scroll.scrollTop) scroll.scrollTop = top;
      else if (top + laneH > scroll.scrollTop + room) scroll.scrollTop = top + laneH - room;
    }
    schedule();
  }

  // selectNext moves the selection one lane up (-1) or down (+1).
  function selectNext(dir) {
    const ids = data.lanes.map((l) => l.g.id);
    if (ids.length === 0) return;
    let i = ids.indexOf(selected);
    i = i < 0 ? (dir > 0 ? 0 : ids.length - 1) : Math.min(ids.length - 1, Math.max(0, i + dir));
    onSelect(ids[i]);
  }

  function setFinding(i) {
    activeFinding = i;
    schedule();
  }

  // whenDrawn runs fn after the next frame has been drawn.
  function whenDrawn(fn) {
    afterDraw.push(fn);
    schedule();
  }

  // drawTo draws the view as it is on screen into another 2D context (an
  // export's), with the same code as the canvas.
  function drawTo(other) {
    const own = ctx;
    ctx = other;
    try {
      draw();
    } finally {
      ctx = own;
    }
    schedule();
  }

  function schedule() {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      draw();
      const fns = afterDraw;
      afterDraw = [];
      for (const fn of fns) fn();
    });
  }

  // ---- render ----

  function draw() {
    const width = Math.max(300, scroll.clientWidth);
    const n = Math.max(1, data.lanes.length);
    laneH = n <= 4 ? LANE_MAX : n <= 10 ? 36 : LANE_MIN;
    barH = Math.round(laneH * BAR_SHARE);
    const laneIDs = data.lanes.map((l) => l.g.id);
    // The timeline is as tall as its lanes (the flex layout shrinks it and
    // the lanes scroll when there are many), leaving the rest to the
    // diagnosis.
    const contentH = AXIS_H + laneIDs.length * laneH + FOOT_H;
    const want = `${AXIS_H + Math.max(MIN_LANES_H, laneIDs.length * laneH) + FOOT_H + 2}px`;
    if (scroll.parentElement.style.height !== want) scroll.parentElement.style.height = want;
    const height = Math.max(1, scroll.clientHeight);
    const spacerH = `${Math.max(0, contentH - height)}px`;
    if (spacer.style.height !== spacerH) spacer.style.height = spacerH;
    const {lanes: all, height: lanesH} = layoutLanes(laneIDs, AXIS_H - scroll.scrollTop, laneH, barH);
    // Only the lanes on screen are drawn; each keeps its index n in
    // data.lanes (for its stripe and its goroutine).
    all.forEach((l, i) => { l.n = i; });
    const lanes = all.filter((l) => l.y + l.h > AXIS_H && l.y < height);
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(height * dpr);
      canvas.style.height = `${height}px`;
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.fillStyle = colors.panel;
    ctx.fillRect(0, 0, width, height);

    const x0 = LABEL_W;
    const x1 = width - PAD_R;
    const now = data.live ? data.now : Math.max(data.now, data.duration);
    const bottom = Math.min(height, AXIS_H - scroll.scrollTop + lanesH);

    ctx.save();
    ctx.beginPath();
    ctx.rect(0, AXIS_H, width, height - AXIS_H);
    ctx.clip();
    drawLaneBackgrounds(lanes, width);
    drawGrid(x0, x1, bottom);
    const geomLanes = [];
    ctx.save();
    ctx.beginPath();
    ctx.rect(x0, AXIS_H, x1 - x0, height - AXIS_H);
    ctx.clip();
    for (const l of lanes) geomLanes.push(drawSpans(l, data.lanes[l.n], x0, x1, now));
    drawLinks(all, x0, x1);
    drawLogs(lanes, x0, x1);
    drawFindings(lanes, x0, x1, bottom);
    if (drag && drag.select && drag.window) drawWindow(drag.window, x0, x1, bottom);
    if (data.live && now > 0) drawNow(timeToX(now, view, x0, x1), bottom);
    ctx.restore();
    drawLabels(lanes, bottom);
    ctx.restore();
    drawAxis(x0, x1, cursor == null ? null : timeToX(cursor, view, x0, x1));
    if (cursor != null) drawCursor(timeToX(cursor, view, x0, x1), x0, x1, bottom);

    geometry = {lanes: geomLanes, width, height, x0, x1, axisH: AXIS_H};
    if (hover) showTooltip(hover.x, hover.y);
  }

  function drawLaneBackgrounds(lanes, width) {
    for (const l of lanes) {
      if (l.id === selected) {
        ctx.fillStyle = withAlpha(colors.accent, 0.12);
        ctx.fillRect(0, l.y, width, l.h);
      } else if (l.n % 2 === 1) {
        ctx.fillStyle = colors.laneAlt;
        ctx.fillRect(0, l.y, width, l.h);
      }
    }
  }

  // drawGrid draws the tick lines across the lanes.
  function drawGrid(x0, x1, bottom) {
    const {ticks: ts} = ticks(view, tickTarget(x0, x1));
    ctx.strokeStyle = colors.grid;
    ctx.lineWidth = 1;
    for (const t of ts) {
      const x = Math.round(timeToX(t, view, x0, x1)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, AXIS_H);
      ctx.lineTo(x, bottom);
      ctx.stroke();
    }
  }

  // drawAxis draws the tick labels; labels near cursorX give way to the
  // cursor's flag.
  function drawAxis(x0, x1, cursorX) {
    ctx.fillStyle = colors.panel;
    ctx.fillRect(0, 0, x1 + PAD_R, AXIS_H);
    ctx.strokeStyle = colors.line;
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(0, AXIS_H - 0.5);
    ctx.lineTo(x1 + PAD_R, AXIS_H - 0.5);
    ctx.stroke();
    const {ticks: ts} = ticks(view, tickTarget(x0, x1));
    // The cursor's flag (and a finding's badge beside it) covers the axis
    // from about 45 px left of the cursor to 125 px right of it.
    const clear = (x) => cursorX == null || x < cursorX - 75 || x > cursorX + 155;
    ctx.font = `11px ${colors.mono}`;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'center';
    for (const t of ts) {
      const x = Math.round(timeToX(t, view, x0, x1)) + 0.5;
      ctx.fillStyle = colors.muted;
      if (clear(x)) ctx.fillText(formatDuration(t), x, AXIS_H / 2);
    }
    ctx.textAlign = 'left';
    ctx.font = `600 11px ${colors.sans}`;
    ctx.fillStyle = colors.muted;
    ctx.fillText('GOROUTINE', 14, AXIS_H / 2);
  }

  // drawSpans draws one lane's spans and returns its geometry.
  function drawSpans(l, lane, x0, x1, now) {
    const spans = lane.g.spans;
    const rects = visibleSpans(spans, view, x0, x1, now, 1);
    const out = [];
    ctx.font = `600 10.5px ${colors.sans}`;
    ctx.textBaseline = 'middle';
    for (const r of rects) {
      const s = spans[r.index];
      if (s.state === 'done' || s.state === 'none') continue;
      const color = colors.state[s.state] || colors.state['blocked-other'];
      ctx.fillStyle = color;
      // The runtime's and the harness's lanes, when shown, stay in the
      // background of the scenario's.
      ctx.globalAlpha = (r.merged ? 0.7 : 1) * (lane.g.hidden ? 0.5 : 1);
      ctx.fillRect(r.x0, l.barY, Math.max(1, r.x1 - r.x0), l.barH);
      ctx.globalAlpha = 1;
      if (out.length < 500) out.push({x0: r.x0, x1: r.x1, state: s.state, index: r.index, merged: r.merged});
      if (!r.merged && BLOCKED.has(s.state) && s.reason) {
        const w = r.x1 - r.x0;
        const text = s.reason;
        const tw = ctx.measureText(text).width;
        if (w > tw + 12) {
          // Centred in the span, where the markers at its edges (a wake-up,
          // a finding at the moment it blocked) leave it readable.
          ctx.fillStyle = textOn(color);
          ctx.fillText(text, Math.max(r.x0 + 6, (r.x0 + r.x1 - tw) / 2), l.barY + l.barH / 2 + 0.5);
        }
      }
    }
    // The lane ends where the goroutine exited: a thin line after a done
    // span says so without drawing a bar.
    const last = spans[spans.length - 1];
    if (last && last.state === 'done') {
      const x = timeToX(last.start, view, x0, x1);
      if (x >= x0 && x <= x1) {
        ctx.fillStyle = colors.muted;
        ctx.fillRect(x, l.barY + 2, 2, l.barH - 4);
      }
    }
    return {id: l.id, y: l.y, h: l.h, barY: l.barY, barH: l.barH, rects: out};
  }

  // drawLabels draws the lane names over the label column, down to bottom.
  function drawLabels(lanes, bottom) {
    ctx.fillStyle = colors.panel;
    ctx.fillRect(0, AXIS_H, LABEL_W - 8, bottom - AXIS_H);
    for (const l of lanes) {
      const {g, color} = data.lanes[l.n];
      if (l.id === selected) {
        ctx.fillStyle = withAlpha(colors.accent, 0.12);
        ctx.fillRect(0, l.y, LABEL_W - 8, l.h);
      } else if (l.n % 2 === 1) {
        ctx.fillStyle = colors.laneAlt;
        ctx.fillRect(0, l.y, LABEL_W - 8, l.h);
      }
      const cy = l.y + l.h / 2;
      ctx.fillStyle = color;
      roundRect(12, cy - 5, 10, 10, 3);
      ctx.fill();
      // A group lane is tagged with its size, a goroutine with its id.
      const id = g.tag || `G${g.id}`;
      ctx.font = `11px ${colors.mono}`;
      const idW = ctx.measureText(id).width;
      ctx.textBaseline = 'middle';
      ctx.textAlign = 'right';
      ctx.fillStyle = colors.muted;
      ctx.fillText(id, LABEL_W - 14, cy);
      ctx.textAlign = 'left';
      ctx.font = `${l.id === selected ? 700 : 500} 12.5px ${colors.sans}`;
      ctx.fillStyle = g.hidden ? colors.muted : colors.text;
      ctx.fillText(ellipsize(laneName(g), LABEL_W - 14 - idW - 6 - 30), 30, cy);
    }
    ctx.strokeStyle = colors.line;
    ctx.beginPath();
    ctx.moveTo(LABEL_W - 8.5, AXIS_H);
    ctx.lineTo(LABEL_W - 8.5, bottom);
    ctx.stroke();
  }

  // drawLinks draws the arrows of the links in view. Past MAX_LINKS (a
  // thousand goroutines made by one loop) the picture is only ink, so then
  // only the arrows of the chosen goroutine and of the findings are drawn.
  function drawLinks(lanes, x0, x1) {
    const yOf = new Map(lanes.map((l) => [l.id, l.barY + l.barH / 2]));
    const inView = data.links.filter((link) => {
      if (!yOf.has(link.to)) return false;
      const x = timeToX(link.time, view, x0, x1);
      return x >= x0 - 40 && x <= x1 + 40;
    });
    let links = inView;
    if (inView.length > MAX_LINKS) {
      const keep = new Set([selected]);
      for (const f of data.findings) for (const g of f.goroutines || []) keep.add(g.id);
      links = inView.filter((link) => keep.has(link.from) || keep.has(link.to)).slice(0, MAX_LINKS);
    }
    for (const link of links) {
      const ya = yOf.get(link.from);
      const yb = yOf.get(link.to);
      const x = timeToX(link.time, view, x0, x1);
      const create = link.kind === 'create';
      ctx.strokeStyle = create ? colors.arrowCreate : colors.arrowWake;
      ctx.fillStyle = ctx.strokeStyle;
      ctx.lineWidth = create ? 1.25 : 1.5;
      ctx.setLineDash(create ? [4, 3] : []);
      if (ya == null) {
        // The other end is hidden (runtime or harness): a short stub.
        drawArrow(x, yb - laneH / 2 + 2, x, yb - barH / 2);
      } else if (ya !== yb) {
        drawArrow(x, ya, x, ya < yb ? yb - barH / 2 : yb + barH / 2);
      }
      ctx.setLineDash([]);
    }
  }

  // drawLogs marks the values a scenario logged (trace.Log) as small
  // triangles over the bar of the goroutine that logged them; the tooltip
  // reads them out.
  function drawLogs(lanes, x0, x1) {
    const byID = new Map(lanes.map((l) => [l.id, l]));
    ctx.fillStyle = colors.text;
    for (const log of data.logs || []) {
      const l = byID.get(log.g);
      if (!l) continue;
      const x = timeToX(log.time, view, x0, x1);
      if (x < x0 || x > x1) continue;
      ctx.beginPath();
      ctx.moveTo(x - 3.5, l.barY - 5);
      ctx.lineTo(x + 3.5, l.barY - 5);
      ctx.lineTo(x, l.barY);
      ctx.closePath();
      ctx.fill();
    }
  }

  function drawArrow(xa, ya, xb, yb) {
    const p = arrowPath(xa, ya, xb, yb);
    ctx.beginPath();
    ctx.moveTo(p.x0, p.y0);
    ctx.quadraticCurveTo(p.cx, p.cy, p.x1, p.y1);
    ctx.stroke();
    const ang = Math.atan2(p.y1 - p.cy, p.x1 - p.cx);
    ctx.beginPath();
    ctx.moveTo(p.x1, p.y1);
    ctx.lineTo(p.x1 - 7 * Math.cos(ang - 0.45), p.y1 - 7 * Math.sin(ang - 0.45));
    ctx.lineTo(p.x1 - 7 * Math.cos(ang + 0.45), p.y1 - 7 * Math.sin(ang + 0.45));
    ctx.closePath();
    ctx.fill();
  }

  function drawFindings(lanes, x0, x1, bottom) {
    const yOf = new Map(lanes.map((l) => [l.id, l.barY + l.barH / 2]));
    data.findings.forEach((f, i) => {
      const x = Math.min(x1 - 1, Math.max(x0 + 1, timeToX(f.time_ns, view, x0, x1)));
      const active = i === activeFinding;
      ctx.strokeStyle = colors.danger;
      ctx.lineWidth = active ? 2.5 : 1.5;
      ctx.setLineDash(active ? [] : [5, 4]);
      ctx.beginPath();
      ctx.moveTo(x, AXIS_H);
      ctx.lineTo(x, bottom);
      ctx.stroke();
      ctx.setLineDash([]);
      for (const ref of f.goroutines || []) {
        const y = yOf.get(ref.id);
        if (y == null) continue;
        ctx.beginPath();
        ctx.arc(x, y, active ? 8 : 6.5, 0, 2 * Math.PI);
        ctx.fillStyle = colors.panel;
        ctx.fill();
        ctx.lineWidth = 2.5;
        ctx.stroke();
        ctx.beginPath();
        ctx.arc(x, y, 2.5, 0, 2 * Math.PI);
        ctx.fillStyle = colors.danger;
        ctx.fill();
      }
    });
  }

  // drawWindow shades the window being selected with a shift-drag.
  function drawWindow(w, x0, x1, bottom) {
    const a = Math.max(x0, timeToX(w.start, view, x0, x1));
    const b = Math.min(x1, timeToX(w.end, view, x0, x1));
    ctx.fillStyle = withAlpha(colors.accent, 0.14);
    ctx.fillRect(a, AXIS_H, b - a, bottom - AXIS_H);
    ctx.strokeStyle = colors.accent;
    ctx.lineWidth = 1;
    ctx.strokeRect(a + 0.5, AXIS_H + 0.5, b - a - 1, bottom - AXIS_H - 1);
  }

  function drawNow(x, bottom) {
    ctx.strokeStyle = withAlpha(colors.accent, 0.6);
    ctx.lineWidth = 1;
    ctx.setLineDash([2, 3]);
    ctx.beginPath();
    ctx.moveTo(x + 0.5, AXIS_H);
    ctx.lineTo(x + 0.5, bottom);
    ctx.stroke();
    ctx.setLineDash([]);
  }

  function drawCursor(x, x0, x1, bottom) {
    if (x < x0 - 1 || x > x1 + 1) return;
    ctx.strokeStyle = colors.cursor;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.moveTo(x, AXIS_H - 6);
    ctx.lineTo(x, bottom);
    ctx.stroke();
    // A flag with the time, on the axis.
    const label = formatDuration(cursor);
    ctx.font = `600 11px ${colors.mono}`;
    const w = ctx.measureText(label).width + 12;
    const bx = Math.min(x1 + PAD_R - w - 2, Math.max(x0 - 6, x - w / 2));
    ctx.fillStyle = colors.cursor;
    roundRect(bx, 4, w, AXIS_H - 10, 4);
    ctx.fill();
    ctx.fillStyle = colors.panel;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText(label, bx + w / 2, 4 + (AXIS_H - 10) / 2 + 0.5);
    ctx.textAlign = 'left';
    // Findings under the cursor get their name on the axis too.
    for (const f of data.findings) {
      const fx = timeToX(f.time_ns, view, x0, x1);
      if (Math.abs(fx - x) < 2) {
        const t = f.kind.toUpperCase();
        const tw = ctx.measureText(t).width + 12;
        const tx = bx + w + 6 + tw < x1 + PAD_R ? bx + w + 6 : bx - tw - 6;
        ctx.fillStyle = colors.danger;
        roundRect(tx, 4, tw, AXIS_H - 10, 4);
        ctx.fill();
        ctx.fillStyle = '#fff';
        ctx.textAlign = 'center';
        ctx.fillText(t, tx + tw / 2, 4 + (AXIS_H - 10) / 2 + 0.5);
        ctx.textAlign = 'left';
        break;
      }
    }
  }

  // ---- interaction ----

  function pointerDown(e) {
    canvas.focus({preventScroll: true, focusVisible: false});
    // A shift-drag selects a window of time (onWindow) instead of panning.
    drag = {x: e.offsetX, y: e.offsetY, view: {...view}, moved: false, id: e.pointerId, select: e.shiftKey && !!onWindow};
    canvas.setPointerCapture(e.pointerId);
  }

  function pointerMove(e) {
    const x = e.offsetX;
    const y = e.offsetY;
    if (drag) {
      if (!drag.moved && Math.abs(x - drag.x) < DRAG_PX) return;
      if (!drag.moved) {
        drag.moved = true;
        canvas.classList.add('dragging');
        tooltip.hidden = true;
      }
      const {x0, x1} = bounds();
      if (drag.select) {
        const a = xToTime(Math.max(x0, Math.min(x1, drag.x)), view, x0, x1);
        const b = xToTime(Math.max(x0, Math.min(x1, x)), view, x0, x1);
        drag.window = {start: Math.max(0, Math.min(a, b)), end: Math.max(a, b)};
        schedule();
        return;
      }
      const dt = ((drag.x - x) / (x1 - x0)) * (drag.view.end - drag.view.start);
      setView(panView(drag.view, dt, total(), MIN_SPAN_NS));
      return;
    }
    hover = {x, y};
    showTooltip(x, y);
  }

  function pointerUp(e) {
    const d = drag;
    drag = null;
    canvas.classList.remove('dragging');
    if (d && d.select && d.window) {
      schedule();
      onWindow(d.window);
      return;
    }
    if (!d || d.moved) return;
    const x = e.offsetX;
    const y = e.offsetY;
    const i = laneAt(geometry.lanes, y);
    if (i >= 0) onSelect(geometry.lanes[i].id);
    const {x0, x1} = bounds();
    if (x >= x0 && x <= x1 && y >= 0) onCursor(Math.max(0, Math.min(total(), xToTime(x, view, x0, x1))));
  }

  function wheel(e) {
    const {x0, x1} = bounds();
    const overflow = scroll.scrollHeight > scroll.clientHeight + 1;
    const horizontal = e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY);
    if (horizontal) {
      e.preventDefault();
      const d = e.shiftKey && e.deltaX === 0 ? e.deltaY : e.deltaX;
      setView(panView(view, (d / (x1 - x0)) * (view.end - view.start), total(), MIN_SPAN_NS));
      return;
    }
    if (overflow && !(e.ctrlKey || e.metaKey)) return; // let the lanes scroll
    e.preventDefault();
    const anchor = xToTime(Math.max(x0, Math.min(x1, e.offsetX)), view, x0, x1);
    setView(zoomView(view, Math.exp(e.deltaY * 0.0015), anchor, total(), MIN_SPAN_NS));
  }

  function showTooltip(x, y) {
    const i = laneAt(geometry.lanes, y);
    const {x0, x1} = bounds();
    if (i < 0 || x < x0 || x > x1 || !data.lanes[i]) {
      tooltip.hidden = true;
      return;
    }
    const g = data.lanes[i].g;
    const now = data.live ? data.now : Math.max(data.now, data.duration);
    const t = xToTime(x, view, x0, x1);
    const si = spanAt(g.spans, t, now);
    tooltip.textContent = '';
    const head = el('div', 'tt-head');
    head.append(`${laneName(g)} · G${g.id}`);
    tooltip.append(head);
    const near = (data.logs || []).filter((lg) => lg.g === g.id && Math.abs(timeToX(lg.time, view, x0, x1) - x) <= 4);
    for (const lg of near.slice(0, 4)) {
      tooltip.append(el('div', 'tt-log', `${formatDuration(lg.time)} ${lg.category ? `${lg.category}: ` : ''}${lg.message}`));
    }
    if (si < 0) {
      tooltip.append(el('div', 'tt-row', g.spans.length && t < g.spans[0].start ? 'not created yet' : 'exited'));
    } else {
      const s = g.spans[si];
      const row = el('div', '');
      const sw = el('span', 'swatch');
      sw.style.background = colors.state[s.state] || colors.muted;
      row.append(sw, ` ${s.state}${s.reason ? ` — ${s.reason}` : ''}`);
      tooltip.append(row);
      const end = spanEnd(s, now);
      const open = s.end < 0;
      tooltip.append(el('div', 'tt-row',
        `${formatDuration(end - s.start)}${open ? ' so far' : ''} (from ${formatDuration(s.start)}${open ? '' : ` to ${formatDuration(end)}`})`));
      const stack = data.stacks[s.stack];
      if (stack && stack.frames && stack.frames.length) {
        const top = stack.frames[stack.user >= 0 ? stack.user : 0];
        tooltip.append(el('div', 'tt-row', `${pkgFunc(top.func)} (${baseName(top.file)}:${top.line})`));
        const text = top.source || sourceLine(top.file, top.line);
        if (text) tooltip.append(el('pre', 'tt-src', `${top.line}  ${text.trim()}`));
        const frames = stack.frames.slice(0, 8).map((f) => `${pkgFunc(f.func)}\n    ${baseName(f.file)}:${f.line}`);
        if (stack.frames.length > 8) frames.push(`… ${stack.frames.length - 8} more`);
        tooltip.append(el('pre', '', frames.join('\n')));
      }
    }
    tooltip.hidden = false;
    const w = tooltip.offsetWidth;
    const h = tooltip.offsetHeight;
    // The tooltip lives beside the scrolling box, so canvas coordinates are
    // its coordinates; it may hang below the timeline, over the player, but
    // not off the bottom of the window.
    const left = x + 16 + w > scroll.clientWidth ? x - w - 12 : x + 16;
    const spaceBelow = window.innerHeight - canvas.getBoundingClientRect().top - y - 20;
    const top = h > spaceBelow && y - h - 10 > 0 ? y - h - 10 : y + 14;
    tooltip.style.left = `${Math.max(4, left)}px`;
    tooltip.style.top = `${Math.max(4, top)}px`;
  }

  // ---- helpers ----

  // tickTarget is how many ticks fit the width: one per 90 px.
  function tickTarget(x0, x1) {
    return Math.max(2, Math.floor((x1 - x0) / 90));
  }

  function total() {
    return Math.max(data.duration, data.now, MIN_SPAN_NS);
  }

  function fitView() {
    const end = data.live ? Math.max(total() * 1.04, 1e6) : total();
    view = {start: 0, end};
  }

  function bounds() {
    const width = Math.max(300, scroll.clientWidth);
    return {x0: LABEL_W, x1: width - PAD_R};
  }

  function roundRect(x, y, w, h, r) {
    ctx.beginPath();
    ctx.roundRect(x, y, w, h, r);
  }

  function ellipsize(text, max) {
    if (ctx.measureText(text).width <= max) return text;
    let lo = 0;
    let hi = text.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ctx.measureText(`…${text.slice(text.length - mid)}`).width <= max) lo = mid;
      else hi = mid - 1;
    }
    return `…${text.slice(text.length - lo)}`;
  }
}

// legend lists, in the model's state order, the states that the lanes
// show, then the kinds of arrow and the finding marker when there are any:
// a legend of everything would bury the three colours a run uses.
export function legend(el, states, stateColors, lanes, hasLinks, hasFindings) {
  const present = new Set();
  for (const {g} of lanes) for (const s of g.spans) present.add(s.state);
  const key = [...present].sort().join() + hasLinks + hasFindings;
  if (el.dataset.key === key) return;
  el.dataset.key = key;
  el.textContent = '';
  const order = states.length ? states : Object.keys(stateColors);
  for (const name of order) {
    if (!present.has(name) || name === 'none' || name === 'done') continue;
    const item = document.createElement('span');
    const sw = document.createElement('i');
    sw.style.background = stateColors[name];
    item.append(sw, name);
    item.dataset.state = name;
    el.append(item);
  }
  const extra = (cls, text) => {
    const item = document.createElement('span');
    const sw = document.createElement('i');
    sw.className = cls;
    item.append(sw, text);
    el.append(item);
  };
  if (present.has('done')) extra('lg-done', 'exited');
  if (hasLinks) {
    extra('lg-arrow', 'woke');
    extra('lg-arrow create', 'created');
  }
  if (hasFindings) extra('lg-finding', 'finding');
}

// laneName is the label of a goroutine's lane: its start function without
// the import path.
export function laneName(g) {
  return (g.pinned ? '◆ ' : '') + shortFunc(g.name);
}

function readColors() {
  const cs = getComputedStyle(document.documentElement);
  const v = (name) => cs.getPropertyValue(name).trim();
  const state = {};
  for (const name of [
    'none', 'running', 'runnable', 'syscall', 'blocked-send', 'blocked-recv', 'blocked-select',
    'blocked-mutex', 'blocked-rwmutex', 'blocked-waitgroup', 'blocked-cond', 'blocked-sync', 'sleep',
    'blocked-io', 'stuck', 'blocked-other', 'done',
  ]) {
    state[name] = v(`--state-${name}`);
  }
  return {
    state,
    panel: v('--panel'), text: v('--text'), muted: v('--muted'), line: v('--line'), grid: v('--grid'),
    accent: v('--accent'), danger: v('--danger'), cursor: v('--cursor'), laneAlt: v('--lane-alt'),
    arrowWake: v('--arrow-wake'), arrowCreate: v('--arrow-create'), mono: v('--mono'), sans: v('--sans'),
  };
}

// textOn picks black or white text for a background colour "#rrggbb".
function textOn(hex) {
  const [r, g, b] = rgb(hex);
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? '#111' : '#fff';
}

function withAlpha(hex, a) {
  const [r, g, b] = rgb(hex);
  return `rgba(${r}, ${g}, ${b}, ${a})`;
}

function rgb(hex) {
  const h = hex.replace('#', '');
  if (h.length !== 6) return [128, 128, 128];
  return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)];
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

