// Finding your goroutines: which lanes the timeline shows and in what order.
// A filter query picks goroutines by function, state, label or finding;
// pinned goroutines come first; goroutines with the same start function can
// be collapsed into one group lane. Pure functions over the model, so that
// the single view and the side-by-side view arrange lanes the same way.

import {spanAt} from './layout.js';

// GROUP_CELLS bounds the work of a group lane's summary (member spans times
// boundaries); past it the lane shows its first member's spans.
const GROUP_CELLS = 400000;

// parseQuery turns the filter text into terms. A term is "state:blocked",
// "label:text", "is:finding" (or "finding"), "fn:name", "G12", or a bare
// word, which matches the function name; every term must match.
export function parseQuery(text) {
  const terms = [];
  for (const raw of (text || '').trim().split(/\s+/)) {
    if (!raw) continue;
    const w = raw.toLowerCase();
    const m = /^(state|label|fn|is):(.*)$/.exec(w);
    if (m) terms.push({kind: m[1] === 'is' ? m[2] : m[1], value: m[2]});
    else if (w === 'finding' || w === 'findings') terms.push({kind: 'finding', value: ''});
    else if (/^g\d+$/.test(w)) terms.push({kind: 'id', value: w.slice(1)});
    else terms.push({kind: 'fn', value: w});
  }
  return terms;
}

// matches reports whether goroutine g satisfies every term. ctx holds
// cursor (the time whose state "state:" tests, or null for any span), now,
// findingIDs (a Set of goroutine ids named by findings) and logsOf (a Map
// from goroutine id to its log entries).
export function matches(g, terms, ctx) {
  for (const t of terms) {
    switch (t.kind) {
      case 'fn':
        if (!g.name.toLowerCase().includes(t.value)) return false;
        break;
      case 'id':
        if (String(g.id) !== t.value) return false;
        break;
      case 'state': {
        const has = (s) => s.state.startsWith(t.value) || (s.reason || '').toLowerCase().includes(t.value);
        if (ctx.cursor != null) {
          const i = spanAt(g.spans, ctx.cursor, ctx.now);
          if (i < 0 || !has(g.spans[i])) return false;
        } else if (!g.spans.some(has)) {
          return false;
        }
        break;
      }
      case 'label': {
        const logs = ctx.logsOf.get(g.id) || [];
        if (!logs.some((e) => `${e.category} ${e.message}`.toLowerCase().includes(t.value))) return false;
        break;
      }
      case 'finding':
        if (!ctx.findingIDs.has(g.id)) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

// arrangeLanes returns the goroutines to draw, in order: the pinned ones
// first (always shown), then those that match the query, with same-named
// goroutines collapsed into one group lane when group is set. A group lane
// is a goroutine-like object {id, name, group: [ids], tag, spans}, whose id
// is negative and whose spans say, at each moment, what most of its members
// were doing.
export function arrangeLanes(goroutines, {query = '', group = false, pinned = [], findings = [], logs = [], cursor = null, now = 0}) {
  const terms = parseQuery(query);
  const findingIDs = new Set();
  for (const f of findings) for (const r of f.goroutines || []) findingIDs.add(r.id);
  const logsOf = new Map();
  for (const e of logs) {
    if (!logsOf.has(e.g)) logsOf.set(e.g, []);
    logsOf.get(e.g).push(e);
  }
  const ctx = {cursor, now, findingIDs, logsOf};
  const pinSet = new Set(pinned);
  const byID = new Map(goroutines.map((g) => [g.id, g]));
  const head = pinned.map((id) => byID.get(id)).filter(Boolean);
  const rest = goroutines.filter((g) => !pinSet.has(g.id) && matches(g, terms, ctx));
  if (!group) return head.concat(rest);
  const byName = new Map();
  for (const g of rest) {
    if (!byName.has(g.name)) byName.set(g.name, []);
    byName.get(g.name).push(g);
  }
  const out = [...head];
  const done = new Set();
  for (const g of rest) {
    if (done.has(g.name)) continue;
    done.add(g.name);
    const members = byName.get(g.name);
    if (members.length === 1) out.push(g);
    else out.push(groupLane(members, now));
  }
  return out;
}

// groupLane summarises members, goroutines with one start function, as one
// lane: between consecutive span boundaries of any member, the state most
// of the live members are in.
export function groupLane(members, now) {
  const first = members[0];
  const lane = {
    id: -first.id, name: first.name, parent: first.parent, created: first.created, hidden: first.hidden,
    group: members.map((g) => g.id), tag: `×${members.length}`, spans: first.spans,
  };
  const cuts = new Set();
  let cells = 0;
  for (const g of members) {
    for (const s of g.spans) {
      cuts.add(s.start);
      if (s.end >= 0) cuts.add(s.end);
    }
    cells += g.spans.length;
  }
  const times = [...cuts].sort((a, b) => a - b);
  if (times.length * members.length > GROUP_CELLS || cells === 0) return lane;
  const spans = [];
  for (let i = 0; i < times.length; i++) {
    const t = times[i];
    const counts = new Map();
    let stack = -1;
    for (const g of members) {
      const j = spanAt(g.spans, t, now);
      if (j < 0) continue;
      const s = g.spans[j];
      const k = s.state === 'done' ? 'done' : s.state;
      counts.set(k, (counts.get(k) || 0) + 1);
      if (stack < 0 && s.state !== 'done') stack = s.stack;
    }
    if (counts.size === 0) continue;
    let best = '';
    let n = -1;
    for (const [k, c] of counts) {
      // Any live state beats "done": the lane is live while one member is.
      const score = k === 'done' ? 0 : c + 1;
      if (score > n) {
        best = k;
        n = score;
      }
    }
    const end = i + 1 < times.length ? times[i + 1] : -1;
    const prev = spans[spans.length - 1];
    if (prev && prev.state === best && prev.end === t) {
      prev.end = end;
      continue;
    }
    spans.push({start: t, end, state: best, stack});
  }
  lane.spans = spans;
  return lane;
}
