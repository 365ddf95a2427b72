// The diagnosis pane: the outcome of a run in plain words, the scenario's
// explanation of it, and each finding as a button that jumps the timeline
// to where it happens and the code pane to its lines.

// The outcomes that mean something went wrong.
const BAD = new Set(['crash', 'panic', 'deadlock', 'race', 'leak', 'wrong', 'timeout']);

// Headlines per outcome, as a learner would say it.
const HEADLINES = {
  crash: 'The program crashed',
  panic: 'The program panicked',
  deadlock: 'Deadlock: every goroutine is waiting',
  race: 'Data race',
  leak: 'Goroutine leak',
  wrong: 'Wrong result',
  timeout: 'Timed out',
  ok: 'OK: it works',
};

// reportView renders into el; onFinding(i) is called when finding i is
// chosen.
export function reportView(el, {onFinding}) {
  // buttons are the finding buttons, by index.
  let buttons = [];

  placeholder('Pick a puzzle on the left: its broken variant runs at once. Watch the lanes turn ' +
    'blocked, read here why, then press f to run the fix. Press ? for every key.');

  return {placeholder, running, show, setActive};

  function placeholder(text) {
    el.textContent = '';
    buttons = [];
    el.append(node('p', 'placeholder', text));
  }

  function running(scenario, variant) {
    placeholder(`Running ${scenario.id} (${variant})…`);
  }

  // show renders report for scenario (the catalog entry); notes are the
  // timeline's own warnings (a truncated trace); profile, when the run
  // recorded one, is {base, kind}: where pprof's pages for it are.
  function show(report, scenario, notes = [], profile = null) {
    el.textContent = '';
    buttons = [];
    const bad = BAD.has(report.outcome);
    const head = node('div', 'outcome');
    head.dataset.bad = String(bad);
    head.dataset.outcome = report.outcome;
    head.append(node('strong', '', HEADLINES[report.outcome] || report.outcome));
    if (report.expected) {
      const same = report.expected === report.outcome;
      head.append(node('span', 'expect', same
        ? `${report.variant}: as expected`
        : `${report.variant}: expected ${report.expected}`));
    }
    el.append(head);

    const findings = report.findings || [];
    if (findings.length) {
      const ul = node('ul', 'findings');
      ul.setAttribute('aria-label', 'Findings');
      findings.forEach((f, i) => {
        const li = document.createElement('li');
        const b = document.createElement('button');
        b.type = 'button';
        b.setAttribute('aria-pressed', 'false');
        b.title = 'Show on the timeline and in the code (j / k)';
        b.append(node('span', 'kind', f.kind), document.createElement('br'), f.summary);
        for (const g of f.goroutines || []) {
          const loc = g.location && g.location.line ? ` at ${base(g.location.file)}:${g.location.line}` : '';
          const what = g.reason ? `${g.state} (${g.reason})` : g.state;
          b.append(node('span', 'who', `G${g.id} ${g.name}: ${what}${loc}`));
        }
        b.addEventListener('click', () => onFinding(i));
        li.append(b);
        ul.append(li);
        buttons.push(b);
      });
      el.append(ul);
    } else if (!bad) {
      el.append(node('p', 'placeholder', 'No findings: every goroutine finished and nothing was reported.'));
    }

    const why = report.variant === 'broken' || bad ? scenario?.failure : scenario?.fix;
    if (why) el.append(node('p', 'why', why));

    const facts = [`${report.goroutines} goroutine${report.goroutines === 1 ? '' : 's'}`];
    if (report.duration_ns) facts.push(`ran ${fmtMs(report.duration_ns)}`);
    if (report.exit_code) facts.push(`exit code ${report.exit_code}`);
    el.append(node('p', 'placeholder', facts.join(' · ')));
    if (profile) el.append(profileLinks(profile));

    for (const w of new Set([...(report.warnings || []), ...notes])) el.append(node('p', 'warning', `⚠ ${w}`));
    details('Race detector report', report.race);
    details('Crash output', report.crash);
    details('Program output', report.output);
  }

  // setActive marks finding i as the one shown (-1 for none) and, with
  // reveal, scrolls it into view.
  function setActive(i, reveal) {
    buttons.forEach((b, j) => b.setAttribute('aria-pressed', String(i === j)));
    if (reveal && buttons[i]) buttons[i].scrollIntoView({block: 'nearest'});
  }

  function details(summary, text) {
    if (!text) return;
    const d = document.createElement('details');
    d.append(node('summary', '', summary), node('pre', '', text));
    el.append(d);
  }
}

// profileLinks is the report's line that leads to pprof's views of the
// run's profile, each in a new tab, and to the profile's download.
function profileLinks({base, kind}) {
  const p = node('p', 'profile-links', `${kind === 'wall' ? 'Wall-clock' : 'CPU'} profile of the run: `);
  const views = [['flamegraph', 'flame graph'], ['top', 'top'], ['source', 'source'], ['graph', 'graph']];
  views.forEach(([view, name], i) => {
    const a = node('a', '', name);
    a.href = base + view;
    a.target = '_blank';
    a.rel = 'noopener';
    p.append(i ? ' · ' : '', a);
  });
  const dl = node('a', '', 'download .pb.gz');
  dl.href = `${base}download`;
  p.append(' · ', dl);
  return p;
}

function node(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

function base(file) {
  return (file || '').split('/').pop();
}

function fmtMs(ns) {
  const ms = ns / 1e6;
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms >= 10 ? ms.toFixed(0) : ms.toFixed(1)} ms`;
}
