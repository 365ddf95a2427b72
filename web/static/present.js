// Presentation mode: the page as a teacher projects it. Full screen, large
// type, a high-contrast theme, driven from the keyboard, and a flow per
// scenario of the session (an ordered list from `viz serve --session`, or
// the whole catalog):
//
//   the puzzle -> "what will happen?" (the room votes) -> run the broken
//   variant -> why it fails -> the fix -> run the fix -> side by side
//
// Speaker notes come from the room's answer, which the server gives to the
// presenter only; viewers see the same steps without them.

// The flow of one scenario.
const STEPS = [
  {id: 'statement', title: 'The puzzle'},
  {id: 'vote', title: 'What will happen?'},
  {id: 'broken', title: 'Run it'},
  {id: 'failure', title: 'Why'},
  {id: 'fix', title: 'The fix'},
  {id: 'fixed', title: 'Run the fix'},
  {id: 'compare', title: 'Side by side'},
];
// STORE_KEY keeps the mode's place in the tab's session storage.
const STORE_KEY = 'concviz-present';
// The answers of the vote: the outcomes a run can end in.
const OUTCOMES = ['deadlock', 'race', 'leak', 'panic', 'crash', 'wrong', 'ok'];

// presentation wires the mode into the page. Hooks:
//   room          the page's room (follow.js)
//   catalog()     the scenario list
//   open(id, v)   shows scenario id and runs variant v
//   compare()     shows the last two runs side by side
//   report()      the report of the run on screen, or null
//   stage         the element the flow's panel goes into, first
export function presentation({room, catalog, open, compare, report, stage}) {
  // on says presentation mode is on.
  let on = false;
  // session is the list to step through: {title, scenarios: [{id, notes}]}.
  let session = null;
  // index is the scenario of the session on screen, step its step.
  let index = 0;
  let step = 0;
  // tally is the latest count of the open poll's votes.
  let tally = null;
  // notesOpen shows the speaker notes; qrOpen the large QR code.
  let notesOpen = true;
  let qrOpen = false;
  // pollID names the poll of this scenario, once opened; pollOpen says
  // the room still takes votes in it.
  let pollID = '';
  let pollOpen = false;

  const panel = document.createElement('section');
  panel.id = 'present-stage';
  panel.className = 'present-stage';
  panel.hidden = true;
  panel.setAttribute('aria-live', 'polite');
  stage.prepend(panel);
  const notes = document.createElement('aside');
  notes.id = 'present-notes';
  notes.className = 'present-notes';
  notes.hidden = true;
  notes.setAttribute('aria-label', 'Speaker notes');
  document.body.append(notes);
  const qr = document.createElement('div');
  qr.id = 'present-qr';
  qr.className = 'present-qr';
  qr.hidden = true;
  document.body.append(qr);

  room.info.then((i) => {
    session = (i && i.session) || null;
    // The side-by-side step leaves the page; coming back resumes the
    // flow where it was (full screen needs a key press: P twice).
    const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || 'null');
    if (saved && saved.on && room.role !== 'viewer') {
      index = saved.index;
      step = saved.step;
      on = true;
      document.documentElement.classList.add('present');
      window.dispatchEvent(new Event('concviz-restyle'));
      render();
      share();
    }
  });
  room.onTally((t) => {
    tally = t;
    render();
  });
  // A viewer shows the presenter's step.
  room.onView((v) => {
    const p = v.present;
    if (!p || !p.on) {
      if (on) setOn(false, false);
      return;
    }
    if (!on) setOn(true, false);
    index = p.index;
    step = p.step;
    render(p.id);
  });

  return {
    key,
    get on() { return on; },
    get step() { return STEPS[step].id; },
    get index() { return index; },
    get tally() { return tally; },
  };

  // key handles the mode's keys and reports whether it did: P toggles the
  // mode; n and b (or Page Down and Page Up) step through the flow; N
  // shows or hides the notes; q the QR code.
  function key(e) {
    if (room.role === 'viewer') return false;
    if (e.key === 'P') {
      setOn(!on, true);
      return true;
    }
    if (!on) return false;
    switch (e.key) {
      case 'n': case 'PageDown': go(1); return true;
      case 'b': case 'PageUp': go(-1); return true;
      case 'N': notesOpen = !notesOpen; render(); return true;
      case 'q': qrOpen = !qrOpen; render(); return true;
    }
    return false;
  }

  function setOn(v, fullscreen) {
    on = v;
    document.documentElement.classList.toggle('present', on);
    if (fullscreen && on && document.fullscreenEnabled && !document.fullscreenElement) {
      document.documentElement.requestFullscreen().catch(() => {});
    }
    if (fullscreen && !on && document.fullscreenElement) document.exitFullscreen().catch(() => {});
    // The timeline reads its colours from the stylesheet, which changed.
    window.dispatchEvent(new Event('concviz-restyle'));
    if (on && room.role !== 'viewer') enter(step);
    render();
    share();
  }

  function list() {
    if (session && session.scenarios && session.scenarios.length) return session.scenarios;
    return catalog().map((s) => ({id: s.id, notes: ''}));
  }

  function current() {
    const e = list()[index];
    return e ? {entry: e, sc: catalog().find((s) => s.id === e.id)} : {entry: null, sc: null};
  }

  // go moves one step forward or back, into the next or previous scenario
  // at the ends of the flow.
  function go(dir) {
    let s = step + dir;
    let i = index;
    if (s >= STEPS.length) {
      if (i + 1 >= list().length) return;
      i++;
      s = 0;
    } else if (s < 0) {
      if (i === 0) return;
      i--;
      s = STEPS.length - 1;
    }
    if (i !== index) {
      pollID = '';
      tally = null;
    }
    index = i;
    enter(s);
    render();
    share();
  }

  // enter does what a step does on arrival: open the vote, run a
  // variant, put two runs side by side.
  function enter(s) {
    step = s;
    const {sc} = current();
    if (!sc) return;
    const id = STEPS[s].id;
    if (id === 'vote' && room.shared && !pollID) {
      pollID = `${sc.id}-${Date.now().toString(36)}`;
      tally = null;
      pollOpen = true;
      room.openPoll({id: pollID, question: `${sc.title}: what will happen?`, options: OUTCOMES});
    }
    if (id !== 'vote' && id !== 'statement' && pollOpen) {
      // Voting ends when the run starts (the tally stays on screen).
      pollOpen = false;
      room.closePoll();
    }
    if (id === 'broken') open(sc.id, 'broken');
    if (id === 'fixed') open(sc.id, sc.default_fixed || 'fixed');
    if (id === 'compare') compare();
  }

  function share() {
    const state = {on, index, step, id: current().entry?.id || ''};
    sessionStorage.setItem(STORE_KEY, JSON.stringify(state));
    room.setExtra('present', state);
  }

  // render draws the panel: the step's words, the tally, the notes. A
  // viewer passes the scenario id, since its session is not known.
  function render(viewerID) {
    panel.hidden = !on;
    if (!on) document.documentElement.classList.remove('present-cover');
    notes.hidden = !on || !notesOpen || room.role === 'viewer';
    qr.hidden = !on || !qrOpen || !room.shared || room.role === 'viewer';
    if (!on) return;
    const sc = viewerID ? catalog().find((s) => s.id === viewerID) : current().sc;
    const entry = viewerID ? null : current().entry;
    const st = STEPS[step];
    panel.dataset.step = st.id;
    panel.classList.toggle('big', st.id === 'statement' || st.id === 'vote' || st.id === 'failure' || st.id === 'fix');
    // Before the run, the last run and its code would give the answer
    // away: the puzzle covers the page.
    document.documentElement.classList.toggle('present-cover', st.id === 'statement' || st.id === 'vote');
    panel.textContent = '';
    const head = document.createElement('p');
    head.className = 'present-step';
    const total = viewerID ? '' : ` of ${list().length}`;
    head.textContent = `${index + 1}${total} · ${st.title} · step ${step + 1} of ${STEPS.length}`;
    const h = document.createElement('h1');
    h.textContent = sc ? sc.title : 'No scenario';
    panel.append(head, h);
    if (!sc) return;
    const text = document.createElement('p');
    text.className = 'present-text';
    switch (st.id) {
      case 'statement':
      case 'vote':
        text.textContent = sc.statement;
        break;
      case 'broken':
      case 'fixed': {
        const r = report();
        const v = sc.variants.find((x) => (st.id === 'broken' ? x.name === 'broken' : x.name !== 'broken'));
        text.textContent = r && r.scenario === sc.id
          ? `${r.variant}: ${r.outcome}${v ? ` (expected ${v.expect})` : ''}`
          : `Running the ${st.id} variant…`;
        break;
      }
      case 'failure':
        text.textContent = sc.failure;
        break;
      case 'fix':
        text.textContent = sc.fix;
        break;
      case 'compare':
        text.textContent = 'The broken run and the fixed one, side by side.';
        break;
    }
    panel.append(text);
    if (tally && (st.id === 'vote' || st.id === 'broken')) panel.append(tallyView(tally, sc));
    if (st.id === 'vote' && !room.shared && room.role !== 'viewer') {
      const p = document.createElement('p');
      p.className = 'hint';
      p.textContent = `Ask for a show of hands: ${OUTCOMES.join(', ')}. (viz serve --share lets the room vote from their laptops.)`;
      panel.append(p);
    }
    if (room.shared && room.role !== 'viewer' && st.id === 'statement') panel.append(qrImage('present-qr-small'));
    notes.textContent = '';
    const nh = document.createElement('h2');
    nh.textContent = 'Notes (only you see these · N hides them)';
    const np = document.createElement('p');
    np.textContent = (entry && entry.notes) || 'No notes for this scenario. Write them in a session file (viz serve --session FILE).';
    notes.append(nh, np);
    qr.textContent = '';
    if (!qr.hidden) qr.append(qrImage('present-qr-big'));
  }

  function tallyView(t, sc) {
    const box = document.createElement('div');
    box.className = 'tally';
    box.setAttribute('aria-label', 'Votes');
    const expect = sc.variants.find((v) => v.name === 'broken')?.expect;
    const showAnswer = STEPS[step].id === 'broken' && report() && report().scenario === sc.id;
    const most = Math.max(1, ...Object.values(t.counts || {}));
    for (const o of OUTCOMES) {
      const n = (t.counts || {})[o] || 0;
      const row = document.createElement('div');
      row.className = 'tally-row';
      if (showAnswer && o === expect) row.classList.add('answer');
      const label = document.createElement('span');
      label.textContent = o;
      const bar = document.createElement('span');
      bar.className = 'tally-bar';
      bar.style.width = `${(n / most) * 100}%`;
      const count = document.createElement('span');
      count.className = 'tally-count';
      count.dataset.choice = o;
      count.textContent = String(n);
      row.append(label, bar, count);
      box.append(row);
    }
    const p = document.createElement('p');
    p.className = 'hint';
    p.textContent = `${t.voters} of ${t.viewers} voted`;
    box.append(p);
    return box;
  }

  function qrImage(cls) {
    const fig = document.createElement('figure');
    fig.className = cls;
    const img = document.createElement('img');
    img.src = '/api/room/qr.svg';
    img.alt = 'QR code of the viewer link';
    const cap = document.createElement('figcaption');
    cap.textContent = 'Scan to follow on your laptop';
    room.info.then((i) => {
      if (i && i.viewer_url) cap.textContent = i.viewer_url;
    });
    fig.append(img, cap);
    return fig;
  }
}
