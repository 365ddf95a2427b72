// Following: the page's side of a shared room (web/room.go). The presenter's
// page sends its view state whenever it changes; a viewer's page receives
// the presenter's runs on its own websocket and applies the view state, so
// that it shows what the projector shows. A viewer can detach (d) to
// explore the run on their own, and rejoin (d again), which asks the room
// for its current state. Viewers vote in the presenter's polls.
//
// On a server that is not shared the page is its own presenter with no
// room: nothing is sent and nothing changes.

// How often, at most, the presenter's view is sent while it changes (the
// cursor of a playing run moves on every frame).
const VIEW_MS = 40;
// The run messages that belong to the presenter's run on a viewer's page.
const RUN_KINDS = new Set(['started', 'status', 'update', 'end']);

// follow wires the room into the page. Hooks:
//   send(msg)        sends a message on the page's websocket
//   snapshot()       the view state to share: {scenario, variant, cursor,
//                    view, selected, finding, playing, run_state}
//   apply(state)     shows a view state received from the presenter
//   adopt(msg)       begins showing the presenter's run (its "started")
//   bar              the header element where the room's badge goes
export function follow({send, snapshot, apply, adopt, bar}) {
  // role is "presenter", "viewer" or "" until the server has said.
  let role = '';
  // shared says the server was started with --share.
  let shared = false;
  // detached says a viewer explores on their own.
  let detached = false;
  // lastView is the latest view state from the presenter, kept while
  // detached.
  let lastView = null;
  // extras are parts of the view state owned by other views (the
  // presentation's step), by name.
  const extras = {};
  // listeners get each view state a viewer receives, and each poll.
  const viewListeners = [];
  const pollListeners = [];
  const tallyListeners = [];
  // viewers is how many follow, as the room last said.
  let viewers = 0;
  // timer paces the presenter's view messages.
  let timer = 0;
  let lastSent = 0;
  // poll is the open poll a viewer sees, and choice their vote.
  let poll = null;
  let choice = '';

  // badge says who the page is in the room; the presenter's opens the
  // viewer link and its QR code.
  const badge = document.createElement('button');
  badge.type = 'button';
  badge.id = 'room-badge';
  badge.className = 'room-badge';
  badge.hidden = true;
  badge.setAttribute('aria-live', 'polite');
  bar.insertBefore(badge, bar.querySelector('#help-button'));
  const linkBox = document.createElement('dialog');
  linkBox.id = 'room-link';
  linkBox.className = 'room-link';
  document.body.append(linkBox);
  badge.addEventListener('click', () => {
    if (role === 'viewer') setDetached(!detached);
    else showLink();
  });
  const voteBox = document.createElement('section');
  voteBox.id = 'vote-box';
  voteBox.className = 'vote-box';
  voteBox.hidden = true;
  voteBox.setAttribute('aria-label', 'Vote');
  document.body.append(voteBox);

  const info = fetch('/api/room').then((r) => (r.ok ? r.json() : null)).catch(() => null).then((i) => {
    if (!i) return null;
    role = i.role;
    shared = i.shared;
    viewers = i.viewers;
    document.body.classList.toggle('role-viewer', role === 'viewer');
    render();
    // The page opens its websocket on first use. A presenter opens it at
    // once, to hear of viewers and votes; a viewer to start following.
    if (role === 'presenter' && shared) changed();
    if (role === 'viewer') send({type: 'sync'});
    return i;
  });

  return {
    info,
    intercept,
    changed,
    key,
    setExtra,
    sendNow,
    onView: (fn) => viewListeners.push(fn),
    onPoll: (fn) => pollListeners.push(fn),
    onTally: (fn) => tallyListeners.push(fn),
    openPoll,
    closePoll,
    mayRun: () => role !== 'viewer',
    get role() { return role; },
    get shared() { return shared; },
    get following() { return role === 'viewer' && !detached; },
    get detached() { return detached; },
    get viewers() { return viewers; },
    get poll() { return poll ? {...poll, choice} : null; },
  };

  // intercept sees every message of the websocket first and reports
  // whether it consumed it. A viewer's run messages are the presenter's:
  // a "started" makes the page adopt the run; while detached they are
  // left alone, since rejoining asks for the state again.
  function intercept(msg) {
    switch (msg.type) {
      case 'room':
        if (msg.room) {
          viewers = msg.room.viewers;
          render();
        }
        return true;
      case 'view':
        if (role !== 'viewer') return true;
        lastView = msg.view || null;
        if (!detached && lastView) showView(lastView);
        return true;
      case 'poll':
        poll = msg.poll || null;
        choice = '';
        renderVote();
        for (const fn of pollListeners) fn(poll);
        return true;
      case 'tally':
        for (const fn of tallyListeners) fn(msg.tally || null);
        return true;
    }
    if (role === 'viewer' && RUN_KINDS.has(msg.type)) {
      if (detached) return true;
      if (msg.type === 'started') adopt(msg);
    }
    return false;
  }

  function showView(v) {
    apply(v);
    for (const fn of viewListeners) fn(v);
  }

  // changed tells the room that the presenter's view changed; the view is
  // sent at most every VIEW_MS, the last change always.
  function changed() {
    if (role !== 'presenter' || !shared || timer) return;
    const wait = Math.max(0, VIEW_MS - (performance.now() - lastSent));
    timer = setTimeout(() => {
      timer = 0;
      lastSent = performance.now();
      send({type: 'view', view: {...snapshot(), ...extras}});
    }, wait);
  }

  function setExtra(name, value) {
    extras[name] = value;
    changed();
  }

  // sendNow sends the view at once, before the page leaves (a presenter
  // going to the side-by-side page), and calls then when it is sent.
  function sendNow(then) {
    if (role !== 'presenter' || !shared) {
      then();
      return;
    }
    clearTimeout(timer);
    timer = 0;
    send({type: 'view', view: {...snapshot(), ...extras}});
    // The socket takes the message at once; a moment lets it leave
    // before the page does.
    setTimeout(then, 150);
  }

  // key handles the room's keys and reports whether it did.
  function key(e) {
    if (e.key === 'd' && role === 'viewer') {
      setDetached(!detached);
      return true;
    }
    // A viewer's keys that would run, open or compare do nothing (the
    // server would refuse them anyway).
    if (role === 'viewer' && 'rfhoc'.includes(e.key)) return true;
    if (role === 'viewer' && poll && /^[1-9]$/.test(e.key)) {
      const o = poll.options[Number(e.key) - 1];
      if (o) vote(o);
      return true;
    }
    return false;
  }

  function setDetached(on) {
    detached = on;
    if (!detached) send({type: 'sync'});
    render();
  }

  function openPoll(p) {
    send({type: 'poll', poll: p});
  }

  function closePoll() {
    send({type: 'poll'});
  }

  function vote(o) {
    if (!poll) return;
    choice = o;
    send({type: 'vote', poll: {id: poll.id}, choice: o});
    renderVote();
  }

  // showLink shows the viewers' link and its QR code, for the room to scan.
  async function showLink() {
    const i = await info;
    linkBox.textContent = '';
    const h = document.createElement('h2');
    h.textContent = 'Follow on your laptop';
    const img = document.createElement('img');
    img.src = '/api/room/qr.svg';
    img.alt = 'QR code of the viewer link';
    const p = document.createElement('p');
    p.className = 'room-url';
    p.textContent = (i && i.viewer_url) || '';
    const f = document.createElement('form');
    f.method = 'dialog';
    const b = document.createElement('button');
    b.className = 'primary';
    b.textContent = 'Close';
    f.append(b);
    linkBox.append(h, img, p, f);
    linkBox.showModal();
  }

  function render() {
    if (!shared) {
      badge.hidden = true;
      return;
    }
    badge.hidden = false;
    badge.dataset.state = role === 'viewer' ? (detached ? 'detached' : 'following') : 'presenting';
    if (role === 'viewer') {
      badge.textContent = detached ? 'Exploring on your own · d to follow' : 'Following the presenter · d to explore';
    } else {
      badge.textContent = `Presenting to ${viewers} ${viewers === 1 ? 'viewer' : 'viewers'}`;
      badge.title = 'Show the viewer link and its QR code';
    }
  }

  function renderVote() {
    voteBox.textContent = '';
    if (!poll || role !== 'viewer') {
      voteBox.hidden = true;
      return;
    }
    const h = document.createElement('h2');
    h.textContent = poll.question || 'What will happen?';
    voteBox.append(h);
    poll.options.forEach((o, i) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.choice = o;
      b.setAttribute('aria-pressed', String(o === choice));
      b.textContent = `${i + 1} · ${o}`;
      b.addEventListener('click', () => vote(o));
      voteBox.append(b);
    });
    const p = document.createElement('p');
    p.className = 'hint';
    p.textContent = choice ? `You voted ${choice}. You can change your mind until the presenter runs it.` : 'Press a number or click.';
    voteBox.append(p);
    voteBox.hidden = false;
  }
}

// followPair keeps a viewer's side-by-side page (compare.js, which has no
// room of its own) following: when the presenter leaves the pair ids, the
// page goes back to the main view, which follows from there.
export async function followPair(ids) {
  const info = await fetch('/api/room').then((r) => (r.ok ? r.json() : null)).catch(() => null);
  if (!info || info.role !== 'viewer') return;
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const sock = new WebSocket(`${proto}//${location.host}/ws`);
  sock.addEventListener('open', () => sock.send(JSON.stringify({type: 'sync'})));
  sock.addEventListener('message', (e) => {
    let m;
    try {
      m = JSON.parse(e.data);
    } catch {
      return;
    }
    // The presenter's page sends its view as it loads, so a view without
    // this pair means the presenter has moved on.
    if (m.type === 'view' && m.view && (m.view.pair || []).join(',') !== ids.join(',')) location.assign('/');
  });
}
