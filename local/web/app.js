// The recoverseg dashboard: reads the API's own routes (the same the CLI calls) and follows the
// local server's live stream. Every value from the API reaches the DOM as a text node or an
// attribute value, never as markup: a host name, a datadir or a failure reason is text.

const $ = (id) => document.getElementById(id);

/**
 * What identifies a row across live updates (an event's seq, a segment's dbid, a host): set as
 * `el(tag, { [KEY]: 'seq:12' })`, kept on the element, never written to the DOM.
 */
const KEY = Symbol('key');

/** An element with attributes and children; strings and numbers become text nodes. */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  if (attributes[KEY] !== undefined) node[KEY] = attributes[KEY];
  for (const [name, value] of Object.entries(attributes))
    if (value !== undefined && value !== null && value !== false)
      node.setAttribute(name, value === true ? '' : String(value));
  for (const child of children.flat())
    if (child !== undefined && child !== null && child !== false)
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

const clear = (node, ...children) => node.replaceChildren(...children.flat());

/**
 * Makes `parent`'s children look like `children` (freshly built, detached) while keeping the
 * elements already there: a child with a KEY is matched to the child with the same key (or, from
 * `pool`, one that lived under another parent), an unkeyed one to the unkeyed child at its place;
 * a match is patched in place, the rest is added, and only children not wanted any more are
 * removed. A row a user is about to click stays the same element across any number of live
 * updates, and so does its focus; nothing already in place moves.
 */
function update(parent, children, pool) {
  const keyed = new Map();
  const unkeyed = [];
  for (const child of parent.childNodes)
    if (child[KEY] === undefined) unkeyed.push(child);
    else keyed.set(child[KEY], child);
  let next = 0;
  const wanted = children.flat().map((source) => {
    if (!(source instanceof Node)) source = document.createTextNode(String(source));
    const key = source[KEY];
    let target;
    if (key === undefined) target = unkeyed[next++];
    else {
      target = keyed.get(key) ?? pool?.get(key);
      keyed.delete(key);
      pool?.delete(key);
    }
    if (!target || target.nodeName !== source.nodeName) return source;
    patch(target, source, pool);
    return target;
  });
  const keep = new Set(wanted);
  for (const child of [...parent.childNodes]) if (!keep.has(child)) child.remove();
  wanted.forEach((node, i) => {
    const there = parent.childNodes[i] ?? null;
    if (there !== node) parent.insertBefore(node, there);
  });
}

/** Gives `target` the text, attributes and children of `source`, an element built the same way. */
function patch(target, source, pool) {
  if (!(target instanceof Element)) {
    if (target.data !== source.data) target.data = source.data;
    return;
  }
  for (const { name } of [...target.attributes])
    if (!source.hasAttribute(name)) target.removeAttribute(name);
  for (const { name, value } of source.attributes)
    if (name !== 'style' && target.getAttribute(name) !== value) target.setAttribute(name, value);
  // Through the CSSOM, as the source was styled: the page's policy allows no style attribute.
  if (target.style.cssText !== source.style.cssText) target.style.cssText = source.style.cssText;
  update(target, [...source.childNodes], pool);
}

class ApiError extends Error {
  name = 'ApiError';
  constructor(status, body) {
    super(body?.error ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { error: text };
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return { status: response.status, body: parsed };
}

const clusterPath = (id) => `/clusters/${encodeURIComponent(id)}`;

// ---------------------------------------------------------------------------------------------
// State

const EVENT_WINDOW = 500;

const view = {
  clusterId: undefined,
  /** The event log's head as the live stream last said. */
  headSeq: 0,
  events: [],
  status: undefined,
  live: { rows: [], seq: 0 },
  /** A seq picked on the timeline: the grid shows the configuration as of it. */
  travelSeq: undefined,
  /** The slider is being moved: live updates leave its value alone. */
  sliding: false,
  /** The timeline was last scrolled to its bottom: live updates keep it there. */
  sticking: true,
  progress: null,
  /** The watcher's last look, as the live stream last said (null: none, or no stream). */
  look: null,
  routes: undefined,
  source: undefined,
  poller: undefined,
  refreshing: false,
  again: false,
};

// ---------------------------------------------------------------------------------------------
// Segments: gp_segment_configuration as a grid, one column per host

/** What gpstate -e reports a segment under; `ok` when it reports nothing. */
function conditionsOf(row, recovering) {
  const conditions = [];
  if (row.status === 'd') conditions.push(recovering.has(row.dbid) ? 'recovering' : 'down');
  else if (row.mode === 'n' && row.content >= 0) conditions.push('unsync');
  if (row.role !== row.preferred_role) conditions.push('switched');
  return conditions;
}

const ROLE = { p: 'primary', m: 'mirror' };
const STATUS = { u: 'up', d: 'down' };
const MODE = { s: 'synchronized', n: 'not in sync' };

function describe(row, conditions) {
  if (row.content < 0) return row.role === 'p' ? 'coordinator' : 'standby coordinator';
  if (conditions.includes('recovering')) return 'recovering';
  if (conditions.includes('down')) return 'down';
  if (row.role === 'p' && row.preferred_role === 'm') return 'acting as primary';
  if (row.role === 'm' && row.preferred_role === 'p') return 'acting as mirror';
  if (conditions.includes('unsync')) return 'not in sync';
  return row.role === 'p' ? 'primary' : 'mirror';
}

function field(col, label, value, title) {
  return el(
    'span',
    { class: `f f-${col}`, 'data-col': col, title },
    label ? `${label} ` : '',
    el('b', {}, value),
  );
}

function cell(row, recovering) {
  const conditions = conditionsOf(row, recovering);
  const classes = [
    'seg',
    row.content < 0 ? 'coord' : '',
    ...(conditions.length ? conditions : ['ok']),
  ];
  return el(
    'li',
    {
      [KEY]: `dbid:${row.dbid}`,
      class: classes.filter(Boolean).join(' '),
      'data-dbid': row.dbid,
      'data-state': conditions.join(' ') || 'ok',
    },
    el(
      'div',
      { class: 'seg-head' },
      field('dbid', 'dbid', row.dbid),
      field('content', 'content', row.content),
    ),
    el('div', { class: 'seg-state' }, describe(row, conditions)),
    el(
      'div',
      { class: 'seg-flags' },
      field('role', 'role', row.role, ROLE[row.role]),
      field('preferred_role', 'pref', row.preferred_role, `preferred ${ROLE[row.preferred_role]}`),
      field('status', 'status', row.status, STATUS[row.status]),
      field('mode', 'mode', row.mode, MODE[row.mode]),
    ),
    el(
      'div',
      { class: 'seg-where' },
      field('address', '', row.address, 'address'),
      ':',
      field('port', '', row.port, 'port'),
    ),
    el('div', { class: 'seg-dir' }, field('datadir', '', row.datadir, 'datadir')),
  );
}

/** Coordinator hosts first, then the segment hosts by name; inside a host, content then dbid. */
function hostsOf(rows) {
  const hosts = new Map();
  for (const row of rows) {
    const list = hosts.get(row.hostname) ?? [];
    list.push(row);
    hosts.set(row.hostname, list);
  }
  const rank = (list) => (list.some((r) => r.content < 0) ? 0 : 1);
  return [...hosts.entries()]
    .map(([host, list]) => [host, list.sort((a, b) => a.content - b.content || a.dbid - b.dbid)])
    .sort(([a, x], [b, y]) => rank(x) - rank(y) || a.localeCompare(b));
}

/** gpstate -e's sections, counted the way it lists them. */
function sectionsOf(rows, recovering) {
  const pairs = new Map();
  for (const row of rows)
    if (row.content >= 0) pairs.set(row.content, [...(pairs.get(row.content) ?? []), row]);
  let switched = 0;
  let unsync = 0;
  for (const members of pairs.values()) {
    const primary = members.find((r) => r.role === 'p');
    const mirror = members.find((r) => r.role === 'm');
    if (!primary || !mirror) continue;
    if (primary.preferred_role !== 'p') switched++;
    if (mirror.status === 'u' && primary.mode !== 's') unsync++;
  }
  const downed = rows.filter((r) => r.content >= 0 && r.status === 'd');
  return [
    ['switched', 'Primary and mirror roles switched', switched],
    ['unsync', 'Unsynchronized segment pairs', unsync],
    ['down', 'Downed segments', downed.length],
    ['recovering', 'Segments in recovery', downed.filter((r) => recovering.has(r.dbid)).length],
  ];
}

function recoveringDbids() {
  const recovery = view.status?.recovery;
  if (!recovery || view.travelSeq !== undefined) return new Set();
  const recovered = new Set(recovery.recovered ?? []);
  return new Set((recovery.started ?? []).filter((dbid) => !recovered.has(dbid)));
}

function renderGrid(rows, seq) {
  const recovering = recoveringDbids();
  const grid = $('grid');
  grid.dataset.seq = String(seq);
  grid.dataset.mode = view.travelSeq === undefined ? 'live' : 'history';
  // A segment moved to another host keeps its cell.
  const cells = new Map([...grid.querySelectorAll('.seg')].map((node) => [node[KEY], node]));
  update(
    grid,
    hostsOf(rows).map(([host, list]) =>
      el(
        'section',
        { [KEY]: `host:${host}`, class: 'host', 'data-host': host },
        el(
          'h3',
          { class: 'host-name' },
          el('span', { 'data-col': 'hostname' }, host),
          el('small', {}, `${list.length} segment${list.length === 1 ? '' : 's'}`),
        ),
        el(
          'ul',
          { class: 'segs' },
          list.map((row) => cell(row, recovering)),
        ),
      ),
    ),
    cells,
  );
  const sections = sectionsOf(rows, recovering);
  const healthy = sections.every(([, , n]) => n === 0);
  update($('summary'), [
    healthy
      ? el('li', { [KEY]: 'ok', class: 'ok' }, 'All segments are running normally')
      : sections
          .filter(([, , n]) => n > 0)
          .map(([kind, label, n]) =>
            el(
              'li',
              { [KEY]: kind, class: kind, 'data-section': kind, title: `${label}: ${n}` },
              el('span', { class: 'label' }, `${label}: `),
              el('b', {}, n),
            ),
          ),
  ]);
  const asOf = $('as-of');
  asOf.dataset.seq = String(seq);
  asOf.textContent =
    view.travelSeq === undefined
      ? `live, seq ${seq}`
      : `as of seq ${seq}${eventAt(seq) ? ` (${clock(eventAt(seq))})` : ''}`;
  asOf.className = view.travelSeq === undefined ? 'as-of live' : 'as-of history';
  $('back-live').hidden = view.travelSeq === undefined;
}

// ---------------------------------------------------------------------------------------------
// Event log: a timeline; picking an event shows the configuration as of its seq

const clock = (iso) => (iso ? iso.replace('T', ' ').replace(/Z$/, ' UTC') : '');
const eventAt = (seq) => view.events.find((e) => e.seq === seq)?.at;

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** One line per event, in Greenplum's words. Unknown types show their data as JSON. */
function summarize(event) {
  const d = event.data ?? {};
  switch (event.type) {
    case 'ClusterRegistered':
      return `part ${d.part} of ${d.parts}: ${plural(d.segments?.length ?? 0, 'segment')}`;
    case 'SegmentMarkedDown':
      return `FTS marked dbid ${d.dbid} down`;
    case 'MirrorPromoted':
      return `content ${d.content}: dbid ${d.promotedDbid} promoted to acting primary, dbid ${d.demotedDbid} demoted`;
    case 'DoubleFaultDetected':
      return `content ${d.content}: no live copy (primary dbid ${d.primaryDbid}, mirror dbid ${d.mirrorDbid})`;
    case 'DoubleFaultCleared':
      return `content ${d.content}: acting primary dbid ${d.primaryDbid} answers again`;
    case 'RecoveryRequested':
      return `incident ${d.incidentId} by ${d.trigger?.source}${d.trigger?.detail ? `: ${d.trigger.detail}` : ''} (type ${d.options?.type}${d.options?.dryRun ? ', dry run' : ''}${d.options?.rebalance === false ? ', no rebalance' : ''})`;
    case 'RecoveryPlanned':
      return `incident ${d.incidentId}${d.parts ? ` (plan part ${d.part} of ${d.parts})` : ''}: ${(d.items ?? []).map((i) => `dbid ${i.dbid} ${i.type} from dbid ${i.sourceDbid}${i.target ? ` to ${i.target.hostname}` : ''}`).join(', ') || 'nothing to recover'}`;
    case 'SegmentRecoveryStarted':
      return `gprecoverseg started on dbid ${d.dbid} (${d.type})`;
    case 'SegmentRecovered':
      return `dbid ${d.dbid} up${d.relocatedTo ? ` on ${d.relocatedTo.hostname}:${d.relocatedTo.port}:${d.relocatedTo.datadir}` : ''}`;
    case 'SegmentRelocated':
      return `dbid ${d.dbid} moved to ${d.to?.hostname}:${d.to?.port}:${d.to?.datadir}, still down`;
    case 'SegmentRecoveryFailed':
      return `dbid ${d.dbid}: ${d.type} recovery failed: ${d.reason}`;
    case 'PairSynchronized':
      return `content ${d.content}: mirror synchronized and streaming`;
    case 'RecoveryCompleted':
      return `incident ${d.incidentId}: ${d.outcome}`;
    case 'RecoveryFailed':
      return `incident ${d.incidentId} failed in ${d.phase}: ${d.reason}`;
    default:
      return JSON.stringify(d);
  }
}

const SEVERITY = {
  SegmentMarkedDown: 'bad',
  DoubleFaultDetected: 'bad',
  SegmentRecoveryFailed: 'bad',
  RecoveryFailed: 'bad',
  MirrorPromoted: 'warn',
  SegmentRecovered: 'good',
  PairSynchronized: 'good',
  RecoveryCompleted: 'good',
};

const atBottom = (list) => list.scrollHeight - list.scrollTop - list.clientHeight < 4;

/**
 * The timeline, updated in place: new events are added at the end, a row already shown stays the
 * same element. Live, it follows the newest event while the reader keeps it scrolled to the
 * bottom, but never under the pointer: while it is over the timeline (a row about to be clicked)
 * nothing slides, and the following resumes once it leaves. `follow` (back to live) scrolls
 * down whatever the reader did.
 */
function renderTimeline(follow = false) {
  const list = $('events');
  const selected = view.travelSeq ?? view.live.seq;
  if (follow) view.sticking = true;
  update(
    list,
    view.events.map((event) =>
      el(
        'li',
        {
          [KEY]: `seq:${event.seq}`,
          class: `event ${SEVERITY[event.type] ?? ''}${event.seq === selected ? ' selected' : ''}`,
          'data-seq': event.seq,
          tabindex: 0,
          title: `seq ${event.seq}: show the configuration as of this event`,
        },
        el('span', { class: 'seq' }, event.seq),
        el('time', { datetime: event.at }, event.at?.slice(11, 23) ?? ''),
        el('span', { class: 'type' }, event.type),
        el('span', { class: 'what' }, summarize(event)),
      ),
    ),
  );
  const first = view.events[0]?.seq ?? 1;
  const slider = $('seq-slider');
  slider.min = String(first);
  slider.max = String(Math.max(first, view.headSeq));
  // Not under the hand of someone moving it.
  if (!view.sliding) {
    slider.value = String(selected || first);
    $('seq-value').textContent = String(selected || '');
  }
  $('timeline-note').textContent =
    first > 1
      ? `latest ${view.events.length} of ${view.headSeq} events`
      : plural(view.events.length, 'event');
  if (view.travelSeq === undefined && view.sticking && !list.matches(':hover'))
    list.scrollTop = list.scrollHeight;
}

async function travelTo(seq) {
  if (!view.clusterId) return;
  if (seq >= view.headSeq) return backToLive();
  view.travelSeq = seq;
  const { body } = await api('GET', `${clusterPath(view.clusterId)}/configuration?seq=${seq}`);
  if (view.travelSeq !== seq) return;
  renderGrid(body.rows, body.seq);
  renderTimeline();
}

function backToLive() {
  view.travelSeq = undefined;
  renderGrid(view.live.rows, view.live.seq);
  renderTimeline(true);
}

// ---------------------------------------------------------------------------------------------
// Incident: phase, progress bars, times to promoted / redundant again / rebalanced

/** The events of the newest incident: from its RecoveryRequested on. */
function incidentEvents() {
  const start = view.events.findLastIndex((e) => e.type === 'RecoveryRequested');
  return start < 0 ? [] : view.events.slice(start);
}

/** After these the cluster was whole, or a run had answered what was on record. */
const CLOSES_A_FAILURE = new Set([
  'ClusterRegistered',
  'ClusterSeenWhole',
  'RecoveryCompleted',
  'RecoveryFailed',
  'RecoveryCancelled',
]);

/**
 * Whether FTS had failed over before the newest incident was requested, since the cluster was
 * last whole: the watcher records what a look saw, then starts the run. As incidentTimings
 * says, the cluster was promoted by the request.
 */
function promotedBeforeRequest() {
  const start = view.events.findLastIndex((e) => e.type === 'RecoveryRequested');
  for (let i = start - 1; i >= 0 && !CLOSES_A_FAILURE.has(view.events[i].type); i--)
    if (view.events[i].type === 'MirrorPromoted') return true;
  return false;
}

/**
 * When each phase ended, as recoverseg's incidentTimings computes it: promoted (the last FTS
 * promotion before the first segment came back), redundant again (the last pair in sync before
 * gprecoverseg -r), rebalanced (the last pair in sync after it).
 */
function timingsOf(events) {
  const firstRecovered = events.findIndex((e) => e.type === 'SegmentRecovered');
  const rebalanceStart =
    firstRecovered < 0
      ? -1
      : events.findIndex((e, i) => i > firstRecovered && e.type === 'MirrorPromoted');
  const before = rebalanceStart < 0 ? events : events.slice(0, rebalanceStart);
  const after = rebalanceStart < 0 ? [] : events.slice(rebalanceStart);
  const begins = firstRecovered < 0 ? before : before.slice(0, firstRecovered);
  const last = (list, type) => list.findLast((e) => e.type === type)?.at;
  return {
    requestedAt: events[0]?.at,
    promotedAt:
      last(begins, 'MirrorPromoted') ?? (promotedBeforeRequest() ? events[0]?.at : undefined),
    synchronizedAt: last(before, 'PairSynchronized'),
    rebalancedAt: last(after, 'PairSynchronized'),
    rebalancing: rebalanceStart >= 0,
  };
}

function phaseOf(events, progress) {
  const last = events.at(-1);
  if (!last) return 'no incident on record';
  if (last.type === 'RecoveryCompleted') return `completed: ${last.data.outcome}`;
  if (last.type === 'RecoveryFailed') return `failed in ${last.data.phase}`;
  const timings = timingsOf(events);
  if (timings.rebalancedAt) return 'rebalanced';
  if (timings.rebalancing || progress?.operation?.kind === 'rebalance')
    return 'rebalancing (gprecoverseg -r)';
  const planned = plannedItems(events);
  const up = new Set(events.filter((e) => e.type === 'SegmentRecovered').map((e) => e.data.dbid));
  const synced = new Set(
    events.filter((e) => e.type === 'PairSynchronized').map((e) => e.data.content),
  );
  if (planned.length > 0 && planned.every((i) => up.has(i.dbid)))
    return planned.every((i) => synced.has(i.content))
      ? 'redundant again'
      : 'waiting for the mirrors to catch up';
  if (events.some((e) => e.type === 'SegmentRecoveryStarted')) return 'recovering (gprecoverseg)';
  if (events.some((e) => e.type === 'RecoveryPlanned')) return 'planned';
  if (timings.promotedAt) return 'promoted';
  return 'detecting';
}

/** The items of the plan whose first part is events[start]: its other parts follow it. */
function planItems(events, start) {
  const items = [];
  for (let i = start; i < events.length && events[i].type === 'RecoveryPlanned'; i++) {
    if (i > start && (events[i].data.part ?? 1) === 1) break;
    items.push(...events[i].data.items);
  }
  return items;
}

function plannedItems(events) {
  const start = events.findLastIndex(
    (e) => e.type === 'RecoveryPlanned' && (e.data.part ?? 1) === 1,
  );
  return start < 0 ? [] : planItems(events, start);
}

function duration(from, to) {
  if (!from || !to) return undefined;
  const ms = Date.parse(to) - Date.parse(from);
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

function bar(label, fraction, text, state, attributes = {}) {
  const pct =
    fraction === undefined ? undefined : Math.max(0, Math.min(100, Math.round(fraction * 100)));
  const fill = el('span', { class: 'bar-fill' });
  // Through the CSSOM: the page's policy allows no style attribute.
  if (pct !== undefined) fill.style.width = `${pct}%`;
  return el(
    'li',
    { class: `bar ${state}`, ...attributes },
    el('span', { class: 'bar-label' }, label),
    el(
      'span',
      {
        class: `bar-track${pct === undefined ? ' indeterminate' : ''}`,
        role: 'progressbar',
        'aria-valuemin': 0,
        'aria-valuemax': 100,
        'aria-valuenow': pct,
      },
      fill,
    ),
    el('span', { class: 'bar-text' }, text),
  );
}

const kb = (n) =>
  n >= 1024 * 1024
    ? `${(n / 1024 / 1024).toFixed(1)} GB`
    : n >= 1024
      ? `${(n / 1024).toFixed(1)} MB`
      : `${n} kB`;
const bytes = (n) => kb(Math.round(n / 1024));

function renderIncident() {
  const events = incidentEvents();
  const progress = view.progress?.incidentId === events[0]?.data.incidentId ? view.progress : null;
  const request = events[0];
  const timings = timingsOf(events);
  const last = view.status?.lastIncident;
  const done = last && last.incidentId === request?.data.incidentId ? last : undefined;
  const phase = phaseOf(events, progress);
  const facts = [
    ['incident', request?.data.incidentId ?? '—'],
    ['phase', phase],
    ['requested', request ? `${clock(request.at)} by ${request.data.trigger?.source}` : '—'],
    [
      'time to promoted',
      duration(timings.requestedAt, done?.timings?.promotedAt ?? timings.promotedAt) ?? '—',
    ],
    [
      'time to redundant again',
      duration(timings.requestedAt, done?.timings?.synchronizedAt ?? timings.synchronizedAt) ?? '—',
    ],
    [
      'time to rebalanced',
      duration(timings.requestedAt, done?.timings?.rebalancedAt ?? timings.rebalancedAt) ?? '—',
    ],
  ];
  if (done?.reason) facts.push(['reason', done.reason]);
  update(
    $('incident-facts'),
    facts.map(([term, value]) =>
      el(
        'div',
        { [KEY]: term, 'data-fact': term },
        el('dt', {}, term),
        el('dd', { id: term === 'phase' ? 'phase' : undefined }, value),
      ),
    ),
  );

  const items = plannedItems(events);
  const recovered = new Set(
    events.filter((e) => e.type === 'SegmentRecovered').map((e) => e.data.dbid),
  );
  const started = new Set(
    events.filter((e) => e.type === 'SegmentRecoveryStarted').map((e) => e.data.dbid),
  );
  const failed = new Map(
    events.filter((e) => e.type === 'SegmentRecoveryFailed').map((e) => [e.data.dbid, e.data]),
  );
  const copies = new Map((progress?.copies ?? []).map((c) => [c.dbid, c]));
  const copyBars = items.map((item) => {
    const label = `dbid ${item.dbid} (content ${item.content}) ${item.type}`;
    const attrs = { [KEY]: `dbid:${item.dbid}`, 'data-dbid': item.dbid };
    const copy = copies.get(item.dbid);
    if (recovered.has(item.dbid)) return bar(label, 1, 'up', 'done', attrs);
    if (failed.has(item.dbid))
      return bar(label, 1, `failed: ${failed.get(item.dbid).reason}`, 'failed', attrs);
    if (copy)
      return bar(
        label,
        copy.percent / 100,
        `${copy.percent}%  ${kb(copy.completedKb)} of ${kb(copy.totalKb)}`,
        'running',
        attrs,
      );
    if (started.has(item.dbid)) return bar(label, undefined, 'copying', 'running', attrs);
    return bar(label, 0, 'planned', 'waiting', attrs);
  });
  if (timings.rebalancing || progress?.operation?.kind === 'rebalance') {
    const op = progress?.operation?.kind === 'rebalance' ? progress.operation : undefined;
    const finished = Boolean(timings.rebalancedAt) || (op && op.next !== 'wait');
    copyBars.push(
      bar(
        'gprecoverseg -r (rebalance)',
        finished ? 1 : op ? op.percent / 100 : undefined,
        finished ? 'roles back to preferred' : op ? `${op.percent}%` : 'running',
        finished ? 'done' : 'running',
        { [KEY]: 'rebalance', 'data-rebalance': '' },
      ),
    );
  }
  update($('copy-bars'), [
    copyBars.length ? copyBars : el('li', { class: 'muted' }, 'nothing being recovered'),
  ]);

  const synced = new Set(
    events.filter((e) => e.type === 'PairSynchronized').map((e) => e.data.content),
  );
  const catchUp = new Map((progress?.catchUp ?? []).map((c) => [c.content, c]));
  const contents = [...new Set(items.map((i) => i.content))].sort((a, b) => a - b);
  update($('sync-bars'), [
    contents.length === 0
      ? el('li', { class: 'muted' }, 'no pair to catch up')
      : contents.map((content) => {
          const label = `content ${content}`;
          const attrs = { [KEY]: `content:${content}`, 'data-content': content };
          const pair = catchUp.get(content);
          if (synced.has(content) && !(pair?.walRemainingBytes > 0))
            return bar(label, 1, 'synchronized, streaming', 'done', attrs);
          if (pair && pair.walRemainingBytes !== null && pair.mostBehindBytes > 0)
            return bar(
              label,
              1 - pair.walRemainingBytes / pair.mostBehindBytes,
              `${bytes(pair.walRemainingBytes)} WAL to go (${pair.walSender ?? 'no walsender'})`,
              'running',
              attrs,
            );
          if (items.some((i) => i.content === content && recovered.has(i.dbid)))
            return bar(label, undefined, 'catching up', 'running', attrs);
          return bar(label, 0, 'waits for its mirror', 'waiting', attrs);
        }),
  ]);
}

// ---------------------------------------------------------------------------------------------
// Actions: recoveries through POST /recoveries, operator actions where the API offers them

function result(kind, title, ...body) {
  clear(
    $('action-result'),
    el('div', { class: `result-${kind}`, 'data-result': kind }, el('h3', {}, title), ...body),
  );
}

function showError(what, error) {
  const body = error instanceof ApiError ? error.body : { error: String(error?.message ?? error) };
  result(
    'error',
    `${what}: ${error instanceof ApiError ? `HTTP ${error.status}` : 'failed'}`,
    el('p', {}, body?.error ?? ''),
    body?.path ? el('p', { class: 'muted' }, `field: ${body.path}`) : null,
  );
}

function recoveryRequest(dryRun) {
  const form = $('recover-form');
  const value = (name) => form.elements[name].value.trim();
  const request = {
    type: value('type'),
    rebalance: form.elements.rebalance.checked,
    dryRun,
    waits: { pollSeconds: Number(value('pollSeconds') || 5) },
  };
  if (value('incidentId')) request.incidentId = value('incidentId');
  if (value('failedHost') || value('newHost'))
    request.targetHosts = { [value('failedHost')]: value('newHost') };
  return request;
}

function planTable(items) {
  return el(
    'table',
    { class: 'plan' },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        ['dbid', 'content', 'source dbid', 'type', 'target'].map((h) => el('th', {}, h)),
      ),
    ),
    el(
      'tbody',
      {},
      items.map((i) =>
        el(
          'tr',
          {},
          el('td', {}, i.dbid),
          el('td', {}, i.content),
          el('td', {}, i.sourceDbid),
          el('td', {}, i.type),
          el(
            'td',
            {},
            i.target ? `${i.target.hostname}:${i.target.port}:${i.target.datadir}` : 'in place',
          ),
        ),
      ),
    ),
  );
}

/** Waits (a bounded while) for the incident's plan or outcome to appear in the log. */
async function awaitPlan(clusterId, incidentId) {
  for (let i = 0; i < 120 && view.clusterId === clusterId; i++) {
    const events = view.events.slice(
      view.events.findLastIndex(
        (e) => e.type === 'RecoveryRequested' && e.data.incidentId === incidentId,
      ),
    );
    const start = events.findIndex(
      (e) => e.type === 'RecoveryPlanned' && e.data.incidentId === incidentId,
    );
    const failed = events.find(
      (e) => e.type === 'RecoveryFailed' && e.data.incidentId === incidentId,
    );
    if (start >= 0 || failed)
      return { planned: start >= 0 ? planItems(events, start) : undefined, failed };
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return {};
}

async function startRecovery(dryRun) {
  const clusterId = view.clusterId;
  if (!clusterId) return;
  const what = dryRun ? 'Dry run' : 'Start recovery';
  result('pending', `${what}: sending…`);
  try {
    const { status, body } = await api(
      'POST',
      `${clusterPath(clusterId)}/recoveries`,
      recoveryRequest(dryRun),
    );
    const started = el(
      'p',
      {},
      `HTTP ${status}: incident ${body.incidentId}, execution ${body.executionName}${body.alreadyStarted ? ' (already started: the same incident runs once)' : ''}`,
    );
    if (!dryRun) return result('ok', `${what}: started`, started);
    result('pending', `${what}: planning…`, started);
    const { planned, failed } = await awaitPlan(clusterId, body.incidentId);
    if (failed)
      return result(
        'error',
        `${what}: failed in ${failed.data.phase}`,
        started,
        el('p', {}, failed.data.reason),
      );
    if (!planned) return result('pending', `${what}: no plan on record yet`, started);
    result(
      'ok',
      `${what}: the plan (nothing runs)`,
      started,
      planned.length ? planTable(planned) : el('p', {}, 'nothing to recover: every segment is up'),
    );
  } catch (error) {
    showError(what, error);
  }
}

/** POST routes of a cluster whose last path segment approves or cancels something. */
function operatorRoutes(routes) {
  return routes.filter(
    (r) =>
      r.method === 'POST' &&
      r.path.startsWith('/clusters/{clusterId}/') &&
      /approv|cancel/i.test(r.path.split('/').at(-1)),
  );
}

function renderOperatorActions() {
  const box = $('operator-actions');
  const note = $('operator-note');
  if (view.routes === undefined) {
    clear(box);
    note.textContent = 'approve and cancel: this server does not list its routes';
    return;
  }
  const routes = operatorRoutes(view.routes);
  note.textContent = routes.length
    ? ''
    : 'approve a rebalance, cancel a recovery: this API has no such route yet';
  const incidentId = view.status?.recovery?.incidentId;
  update(
    box,
    routes.map((route) => {
      const needsIncident = route.path.includes('{incidentId}');
      // One approval route: a coordinator activation waiting for one, else the rebalance.
      const label = /cancel/i.test(route.path)
        ? 'Cancel recovery'
        : view.status?.coordinator?.failover?.awaitingApproval
          ? 'Approve standby activation'
          : 'Approve rebalance';
      return el(
        'button',
        {
          [KEY]: route.path,
          type: 'button',
          'data-route': route.path,
          disabled: needsIncident && !incidentId,
          title: `POST ${route.path}`,
        },
        label,
      );
    }),
  );
}

async function operatorAction(path) {
  const clusterId = view.clusterId;
  const incidentId = view.status?.recovery?.incidentId;
  const url = path
    .replace('{clusterId}', encodeURIComponent(clusterId))
    .replace('{incidentId}', encodeURIComponent(incidentId ?? ''));
  const label = `POST ${url}`;
  try {
    const { status, body } = await api(
      'POST',
      url,
      /cancel/i.test(path) ? { reason: 'cancelled from the recoverseg dashboard' } : {},
    );
    result('ok', `${label}: HTTP ${status}`, el('pre', {}, JSON.stringify(body, null, 2)));
  } catch (error) {
    showError(label, error);
  }
}

// ---------------------------------------------------------------------------------------------
// Loading and following one cluster

async function loadEvents(clusterId, headSeq) {
  let after = view.events.at(-1)?.seq ?? Math.max(0, headSeq - EVENT_WINDOW);
  while (after < headSeq) {
    const { body } = await api('GET', `${clusterPath(clusterId)}/events?after=${after}&limit=1000`);
    if (view.clusterId !== clusterId) return;
    view.events.push(...body.events);
    if (body.events.length === 0) break;
    after = body.events.at(-1).seq;
  }
  if (view.events.length > EVENT_WINDOW) view.events.splice(0, view.events.length - EVENT_WINDOW);
}

/** Reads the cluster's status, new events and configuration, then draws; one refresh at a time. */
async function refresh() {
  if (view.refreshing) {
    view.again = true;
    return;
  }
  const clusterId = view.clusterId;
  if (!clusterId) return;
  view.refreshing = true;
  try {
    const { body: status } = await api('GET', `${clusterPath(clusterId)}/status`);
    if (view.clusterId !== clusterId) return;
    view.status = status;
    view.headSeq = Math.max(view.headSeq, status.seq);
    await loadEvents(clusterId, view.headSeq);
    let config = (await api('GET', `${clusterPath(clusterId)}/configuration`)).body;
    // The configuration is the projection, a moment behind the log: read as of the head instead.
    if (config.seq < view.headSeq)
      config = (await api('GET', `${clusterPath(clusterId)}/configuration?seq=${view.headSeq}`))
        .body;
    if (view.clusterId !== clusterId) return;
    view.live = { rows: config.rows, seq: config.seq };
    if (view.travelSeq === undefined) renderGrid(config.rows, config.seq);
    renderTimeline();
    renderIncident();
    // The seq the incident's facts were read at (the status, a projection, can lag the log).
    $('incident').dataset.seq = String(status.seq);
    renderOperatorActions();
    $('gpstate-e').textContent = ['$ gpstate -e', ...status.gpstateErrors].join('\n');
    $('gpstate-m').textContent = ['$ gpstate -m', ...status.gpstateMirrors].join('\n');
    $('head').textContent = `event log at seq ${view.headSeq}`;
    renderWatch();
    renderCoordinator();
    performance.mark('recoverseg:rendered', { detail: { clusterId, seq: config.seq } });
    notice();
    // Status is read from the projection too: look again until it has caught up with the log.
    if (status.seq < view.headSeq) setTimeout(refresh, 150);
  } catch (error) {
    notice(`${clusterId}: ${error.message}`);
  } finally {
    view.refreshing = false;
    if (view.again) {
      view.again = false;
      void refresh();
    }
  }
}

/**
 * The watcher's last look (serve --watch-seconds) and when the cluster was last whole: a look
 * that finds nothing new writes nothing, so the live stream carries it, not the log.
 */
function renderWatch() {
  const watch = view.status?.watch;
  const look = view.look ?? watch?.lastLook ?? null;
  const whole =
    look?.whole || watch?.wholeOnRecord
      ? 'whole'
      : watch?.wholeUntil
        ? `last whole ${clock(watch.wholeUntil)}`
        : 'not seen whole yet';
  const looked = !look
    ? 'not watched'
    : `last look ${clock(look.at)}${look.error ? ` failed: ${look.error}` : look.started ? `, started ${look.started}` : ''}`;
  $('watch').dataset.state = !look
    ? 'none'
    : look.error
      ? 'failed'
      : look.whole
        ? 'whole'
        : 'broken';
  $('watch').textContent = `${looked} · ${whole}`;
}

/** The coordinator as the log has it: its standby's last sight, a loss, a failover under way. */
function renderCoordinator() {
  const c = view.status?.coordinator;
  const rows = view.live?.rows ?? [];
  const coordinator = rows.find((r) => r.content === -1 && r.role === 'p');
  const standby = rows.find((r) => r.content === -1 && r.role === 'm');
  const f = c?.failover;
  let state = 'none';
  let text = coordinator ? `coordinator dbid ${coordinator.dbid}` : '';
  if (f?.awaitingApproval && !f.approved) {
    state = 'awaiting';
    text = `coordinator dbid ${f.coordinatorDbid} lost · activation of standby dbid ${f.standbyDbid} awaits approval: ${f.awaitingApproval.risk}`;
  } else if (f) {
    state = 'lost';
    text = `coordinator dbid ${f.coordinatorDbid} lost · failover ${f.incidentId}: ${f.activated ? 'standby activated' : f.fenced ? `fenced (${f.fenced.how}), activating` : 'fencing'}`;
  } else if (c?.unreachable) {
    state = 'lost';
    text = `coordinator dbid ${c.unreachable.coordinatorDbid} lost since ${clock(c.unreachable.since)}`;
  } else if (standby) {
    const seen = c?.standby?.standbyDbid === standby.dbid ? c.standby : undefined;
    text += seen
      ? ` · standby dbid ${standby.dbid} ${seen.replication.state}${seen.replication.syncState ? `/${seen.replication.syncState}` : ''} at ${clock(seen.at)}`
      : ` · standby dbid ${standby.dbid} not observed yet`;
  } else if (coordinator) text += ' · no standby';
  $('coordinator').dataset.state = state;
  $('coordinator').textContent = text;
}

function notice(text) {
  $('notice').hidden = !text;
  $('notice').textContent = text ?? '';
}

function connection(state, text) {
  $('connection').dataset.state = state;
  $('connection').textContent = text;
}

const POLL_MS = 2000;

/** The live stream of `recoverseg serve`; where there is none, short polling of the routes. */
function follow(clusterId) {
  view.source?.close();
  clearInterval(view.poller);
  if (typeof EventSource === 'undefined') return poll();
  const source = new EventSource(`/_dashboard/live/${encodeURIComponent(clusterId)}`);
  view.source = source;
  source.addEventListener('update', (message) => {
    const update = JSON.parse(message.data);
    if (update.clusterId !== view.clusterId) return;
    connection('live', 'live');
    view.progress = update.progress;
    view.look = update.look;
    renderWatch();
    if (update.seq !== view.headSeq || !view.status) {
      view.headSeq = Math.max(view.headSeq, update.seq);
      void refresh();
    } else renderIncident();
  });
  source.addEventListener('failure', (message) =>
    connection('error', JSON.parse(message.data).error),
  );
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      connection('polling', `polling every ${POLL_MS / 1000} s`);
      poll();
    } else connection('error', 'reconnecting');
  };
}

function poll() {
  clearInterval(view.poller);
  view.poller = setInterval(refresh, POLL_MS);
  void refresh();
}

function select(clusterId) {
  if (clusterId === view.clusterId) return;
  Object.assign(view, {
    clusterId,
    headSeq: 0,
    events: [],
    status: undefined,
    live: { rows: [], seq: 0 },
    travelSeq: undefined,
    sticking: true,
    progress: null,
    look: null,
  });
  history.replaceState(null, '', `#cluster=${encodeURIComponent(clusterId)}`);
  $('cluster').value = clusterId;
  clear($('grid'));
  clear($('events'));
  clear($('action-result'));
  follow(clusterId);
  // Draw now rather than after the stream's first message.
  void refresh();
}

async function loadClusters() {
  try {
    const { body } = await api('GET', '/clusters');
    const picker = $('cluster');
    const ids = body.clusters.map((c) => c.clusterId);
    const label = (c) =>
      `${c.clusterId}${c.recovery ? ` — recovering (${c.recovery.incidentId})` : c.lastIncident?.status === 'failed' ? ' — last recovery failed' : ''}`;
    // In place: a list someone has open keeps its options.
    update(
      picker,
      body.clusters.map((c) => el('option', { [KEY]: c.clusterId, value: c.clusterId }, label(c))),
    );
    const wanted = new URLSearchParams(location.hash.slice(1)).get('cluster');
    const chosen = ids.includes(view.clusterId)
      ? view.clusterId
      : ids.includes(wanted)
        ? wanted
        : ids[0];
    if (chosen) {
      picker.value = chosen;
      select(chosen);
    } else
      notice('No cluster registered yet: npx recoverseg register scenarios/seed-host-failure.json');
  } catch (error) {
    notice(`GET /clusters: ${error.message}`);
  }
}

async function loadRoutes() {
  try {
    view.routes = (await api('GET', '/_dashboard/routes')).body.routes;
  } catch {
    view.routes = undefined;
  }
  renderOperatorActions();
}

function wire() {
  $('cluster').addEventListener('change', (e) => select(e.target.value));
  $('back-live').addEventListener('click', backToLive);
  $('seq-slider').addEventListener('input', (e) => {
    view.sliding = true;
    $('seq-value').textContent = e.target.value;
  });
  $('seq-slider').addEventListener('change', (e) => {
    view.sliding = false;
    void travelTo(Number(e.target.value));
  });
  for (const done of ['pointerup', 'blur'])
    $('seq-slider').addEventListener(done, () => (view.sliding = false));
  const pick = (e) => {
    const item = e.target.closest('[data-seq]');
    if (item) void travelTo(Number(item.dataset.seq));
  };
  $('events').addEventListener('click', pick);
  // The reader's scrolling (and the page's own, to the bottom) says whether to follow.
  $('events').addEventListener('scroll', (e) => (view.sticking = atBottom(e.target)));
  $('events').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') pick(e);
  });
  $('dry-run').addEventListener('click', () => void startRecovery(true));
  $('start').addEventListener('click', () => void startRecovery(false));
  $('operator-actions').addEventListener('click', (e) => {
    const button = e.target.closest('[data-route]');
    if (button) void operatorAction(button.dataset.route);
  });
}

wire();
// A stream left open by a page that is gone still holds one of the browser's six connections
// to this server; a seventh request would wait for it.
addEventListener('pagehide', () => view.source?.close());
await Promise.all([loadRoutes(), loadClusters()]);
setInterval(loadClusters, 5000);
