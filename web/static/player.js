// The player: replay of a recorded run. Play and pause, scrub, step to the
// previous or next event, and a speed from 0.1x to 10x. Runs last from a few
// milliseconds to seconds, so real time is no useful unit: at 1x the cursor
// crosses the visible window in BASE_MS, whatever the zoom.

import {formatDuration} from './layout.js';

const BASE_MS = 10000; // time to cross the visible window at 1x
const SPEEDS = [0.1, 0.25, 0.5, 1, 2, 5, 10];
const SCRUB_STEPS = 1000; // resolution of the range input

// player renders its controls into el. onSeek(t) moves the cursor;
// onStep(dir) steps to the previous (-1) or next (+1) event; view() returns
// the visible window, which sets the playing rate.
export function player(el, {onSeek, onStep, view}) {
  // end is the duration of the recorded run; 0 while nothing is recorded.
  let end = 0;
  // time is the cursor time the controls show.
  let time = 0;
  // playing says whether the cursor is moving.
  let playing = false;
  // speed is the playback rate, one of SPEEDS.
  let speed = 1;
  // last is the timestamp of the previous animation frame while playing.
  let last = 0;

  const first = button('⇤', 'Back to the start (Home)', () => seek(0));
  const prev = button('◀︎|', 'Previous event (←)', () => onStep(-1));
  const play = button('▶︎', 'Play (space)', toggle);
  play.classList.add('primary');
  const next = button('|▶︎', 'Next event (→)', () => onStep(1));
  const scrub = document.createElement('input');
  scrub.type = 'range';
  scrub.min = '0';
  scrub.max = String(SCRUB_STEPS);
  scrub.value = '0';
  scrub.setAttribute('aria-label', 'Time');
  scrub.addEventListener('input', () => seek((Number(scrub.value) / SCRUB_STEPS) * end));
  const label = document.createElement('span');
  label.className = 'time';
  label.setAttribute('aria-hidden', 'true');
  const rate = document.createElement('select');
  rate.setAttribute('aria-label', 'Speed');
  rate.title = 'Speed ([ and ])';
  for (const s of SPEEDS) {
    const o = document.createElement('option');
    o.value = String(s);
    o.textContent = `${s}×`;
    rate.append(o);
  }
  rate.value = '1';
  rate.addEventListener('change', () => { speed = Number(rate.value); });
  el.append(first, prev, play, next, scrub, label, rate);
  enable(false);

  return {
    enable, setTime, toggle, pause, faster,
    get playing() { return playing; },
    get speed() { return speed; },
  };

  // enable turns the controls on once a run is recorded.
  function enable(on) {
    for (const c of [first, prev, play, next, scrub, rate]) c.disabled = !on;
    if (!on) pause();
  }

  // setTime updates the controls to the cursor time t in a run of length
  // runEnd.
  function setTime(t, runEnd) {
    time = t;
    end = runEnd;
    scrub.value = String(end > 0 ? Math.round((t / end) * SCRUB_STEPS) : 0);
    scrub.setAttribute('aria-valuetext', formatDuration(t));
    label.textContent = `${formatDuration(t)} / ${formatDuration(end)}`;
  }

  function toggle() {
    if (playing) {
      pause();
      return;
    }
    if (end <= 0 || first.disabled) return;
    if (time >= end) seek(0);
    playing = true;
    play.textContent = '❚❚';
    play.title = 'Pause (space)';
    last = performance.now();
    requestAnimationFrame(tick);
  }

  function pause() {
    playing = false;
    play.textContent = '▶︎';
    play.title = 'Play (space)';
  }

  // faster moves the speed one step up (+1) or down (-1).
  function faster(dir) {
    const i = Math.min(SPEEDS.length - 1, Math.max(0, SPEEDS.indexOf(speed) + dir));
    speed = SPEEDS[i];
    rate.value = String(speed);
  }

  function tick(ts) {
    if (!playing) return;
    const dt = ts - last;
    last = ts;
    const v = view();
    const t = Math.min(end, time + (dt / BASE_MS) * (v.end - v.start) * speed);
    seek(t);
    if (t >= end) {
      pause();
      return;
    }
    requestAnimationFrame(tick);
  }

  function seek(t) {
    onSeek(Math.max(0, Math.min(end, t)));
  }
}

function button(text, title, fn) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.title = title;
  b.setAttribute('aria-label', title);
  b.addEventListener('click', fn);
  return b;
}
