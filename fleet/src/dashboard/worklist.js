// The worklist (the first view): the fleet's actions ranked by risk, with counts, filters kept in the URL query
// (the same query the API, the CSV and a shared link read), the data's dates, and recent alerts where the fleet
// has them. Everything from a device is set as text (vigil.el).
'use strict';
(function () {
  const { el, ago } = window.vigil;
  const $ = (id) => document.getElementById(id);
  const URGENCIES = ['critical', 'high', 'medium', 'low'];
  const params = new URLSearchParams(location.search);
  const state = { q: params.get('q') || '', urgency: params.get('urgency') || '', kind: params.get('kind') || '' };
  $('wq').value = state.q; $('f-urgency').value = state.urgency; $('f-kind').value = state.kind;
  let fleet = null; // the unfiltered answer: counts over the whole fleet

  function query(extra) {
    const p = new URLSearchParams();
    if (state.urgency) p.set('urgency', state.urgency);
    if (state.kind) p.set('kind', state.kind);
    if (state.q) p.set('q', state.q);
    for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
    return p.toString();
  }
  function syncUrl() {
    const q = query();
    history.replaceState(null, '', q ? '?' + q : location.pathname);
    $('csv').href = '/api/actions.csv' + (q ? '?' + q : '');
  }

  function renderCounts() {
    if (!fleet) return;
    const c = fleet.counts;
    const box = $('wl-counts');
    const card = (label, value, filter, cls) => {
      const pressed = filter ? state[filter[0]] === filter[1] : label === 'actions' && !state.urgency && !state.kind;
      const b = el('button', { class: 'count ' + (cls || ''), type: 'button', 'data-count': label, 'aria-pressed': pressed ? 'true' : 'false' }, el('b', {}, value), el('span', {}, label));
      b.onclick = () => {
        if (filter) state[filter[0]] = pressed ? '' : filter[1];
        else { state.urgency = ''; state.kind = ''; }
        $('f-urgency').value = state.urgency; $('f-kind').value = state.kind;
        load();
      };
      return b;
    };
    const cards = [card('actions', c.total, null), card('cameras', c.cameras, null)];
    URGENCIES.forEach((u, i) => cards.push(card(u, c.byUrgency[u] || 0, ['urgency', u], 'u-' + u + (i === 0 ? ' sep' : ''))));
    Object.keys(c.byKind).forEach((k, i) => { if (c.byKind[k]) cards.push(card(k, c.byKind[k], ['kind', k], i === 0 ? 'sep' : '')); });
    box.replaceChildren(...cards);
  }

  function renderData(a) {
    const d = a.data, age = a.dataAgeDays;
    const days = (n) => (n === null || n === undefined ? 'age unknown' : n + ' days old');
    $('data-dates').textContent = 'Data: lifecycle ' + d.lifecycle + ' (' + days(age.lifecycle) + ') · advisories ' + d.advisories + ' (' + days(age.advisories) + ') · action rules ' + d.actions + ' · computed ' + new Date(a.generatedAt).toLocaleString();
    const stale = $('data-stale');
    stale.hidden = !a.dataStale;
    stale.textContent = a.dataStale ? 'The lifecycle or advisories data is older than 90 days: support dates and advisories may be out of date. Update fleet/data/ (or the --data folder).' : '';
  }

  function target(t) {
    if (!t) return '—';
    return [t.version, t.trackName || t.trackId].filter(Boolean).join(' on ') || '—';
  }
  function renderRow(a) {
    const why = a.why || [];
    return el('tr', { 'data-id': a.id, 'data-serial': a.serial, 'data-urgency': a.urgency, 'data-kind': a.kind },
      el('td', {}, el('span', { class: 'badge u-' + a.urgency }, a.urgency)),
      el('td', {}, el('a', { href: '/camera/' + encodeURIComponent(a.serial) }, a.serial), el('br'), el('span', { class: 'muted' }, (a.model || '?') + ' · ' + (a.osVersion || '?'))),
      el('td', { class: 'wrap title' }, el('b', {}, a.title), el('br'), el('span', { class: 'muted' }, a.kind)),
      el('td', { class: 'wrap target' }, target(a.target)),
      el('td', { class: 'wrap why', title: why.join('\n') }, why.slice(0, 2).join('; '), why.length > 2 ? el('span', { class: 'muted' }, ' (+' + (why.length - 2) + ' more)') : null),
      el('td', { class: 'wrap fixes' }, (a.fixes || []).join(', ') || '—'),
      el('td', {}, a.control || '—'));
  }

  function renderItems(a) {
    $('worklist').querySelector('tbody').replaceChildren(...a.items.map(renderRow));
    $('wl-empty').hidden = a.items.length > 0;
    $('wl-shown').textContent = a.matched.total + ' of ' + a.counts.total + ' actions' + (a.truncated ? ' (first ' + a.items.length + ' shown)' : '') + ' · ' + a.matched.cameras + ' cameras';
  }

  let seq = 0;
  async function load() {
    syncUrl();
    const mine = ++seq;
    const r = await fetch('/api/actions?' + query({ limit: '1000' }));
    const a = await r.json();
    if (mine !== seq) return; // a newer filter answered first
    if (!r.ok) { $('data-dates').textContent = a.error || 'the worklist failed'; return; }
    fleet = a;
    renderData(a);
    renderCounts();
    renderItems(a);
  }

  let typing = null;
  $('wq').oninput = () => { state.q = $('wq').value.trim(); clearTimeout(typing); typing = setTimeout(load, 200); };
  $('f-urgency').onchange = () => { state.urgency = $('f-urgency').value; load(); };
  $('f-kind').onchange = () => { state.kind = $('f-kind').value; load(); };

  // Recent alerts, where the fleet raises them (GET /api/alerts); a fleet without them answers 404 and the
  // section stays hidden.
  const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'];
  function renderAlert(x) {
    const sev = SEVERITIES.includes(x.severity) ? x.severity : 'unknown';
    const serial = typeof x.serial === 'string' ? x.serial.slice(0, 64) : '';
    return el('li', { class: 'event', 'data-serial': serial, 'data-kind': String(x.kind || '').slice(0, 64) },
      el('span', { class: 'badge sev-' + sev }, sev), ' ',
      /^[A-Za-z0-9_-]{1,64}$/.test(serial) ? el('a', { href: '/camera/' + encodeURIComponent(serial) }, serial) : el('span', {}, serial || '?'), ' ',
      el('span', { class: 'kind' }, String(x.kind || '').slice(0, 64)), ' ',
      el('span', { class: 'summary' }, String(x.summary || '').slice(0, 300)), ' ',
      el('span', { class: 'muted', title: x.raisedAt || '' }, ago(x.raisedAt)));
  }
  async function loadAlerts() {
    const r = await fetch('/api/alerts?limit=20').catch(() => null);
    if (!r || !r.ok) return;
    const list = ((await r.json()).alerts || []).slice(0, 20);
    $('alerts').hidden = false;
    $('alert-list').replaceChildren(...list.map(renderAlert));
    $('no-alerts').hidden = list.length > 0;
  }

  load().then(loadAlerts);
  // Actions follow the cameras' reports: refresh at most every 5 s while reports come in (each answer is the
  // whole fleet's worklist, computed anew).
  let pending = null;
  vigil.live(() => { pending ??= setTimeout(() => { pending = null; load(); loadAlerts(); }, 5000); });
})();
