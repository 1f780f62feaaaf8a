// The fleet page: counts by status, a sortable and filterable camera table, recent events, live over SSE.
'use strict';
(function () {
  const { el, badge, ago } = window.vigil;
  const cams = new Map();
  let counts = null;
  const params = new URLSearchParams(location.search);
  const state = { key: 'serial', dir: 1, q: params.get('q') || '', status: params.get('status') || '', support: params.get('support') || '', adv: params.get('advisories') === '1' };
  const $ = (id) => document.getElementById(id);
  $('q').value = state.q; $('f-status').value = state.status; $('f-support').value = state.support; $('f-adv').checked = state.adv;

  // 5,000 cameras stay responsive (issue 15, item 6): the rows come as slim table rows (/api/fleet/table, in
  // pages), only one page of the sorted, filtered list is in the DOM, and a live update replaces only the rows
  // that changed, once per animation frame.
  const PAGE_SIZE = 100;
  const held = new Map(); // serial → { row, tr }: the rows in the DOM, and the data each was built from
  let pageNo = 0;
  let prunedCount = 0;
  let pruneDays = null;

  function field(c, key) {
    switch (key) {
      case 'track': return c.trackName || '';
      case 'support': return c.support || 'unknown';
      case 'hardening': return penalty(c);
      case 'posture': return POSTURE_RANK[c.posture] ?? POSTURE_RANK.unknown;
      case 'advisories': return c.advisories ? c.advisories.length : 0;
      case 'integrity': return c.integrity || 'unknown';
      case 'osVersion': return (c.osVersion || '').split('.').map((p) => p.padStart(6, '0')).join('.');
      default: return c[key] === null || c[key] === undefined ? '' : c[key];
    }
  }
  // The hardening measure: the evaluation's penalty (sum of severity weights, no floor), so ten findings rank below
  // five; unknown services sort last. A fleet without hardeningPenalty yet weighs the report's finding counts.
  const WEIGHT = { high: 25, medium: 10, low: 4 };
  const POSTURE_RANK = { 'at-risk': 0, attention: 1, unknown: 2, good: 3 };
  function penalty(c) {
    if (typeof c.hardeningPenalty === 'number') return c.hardeningPenalty;
    if (c.hardeningScore === null || c.hardeningScore === undefined) return Infinity;
    const n = c.findingCounts;
    return n ? n.high * WEIGHT.high + n.medium * WEIGHT.medium + n.low * WEIGHT.low : 100 - c.hardeningScore;
  }
  function hardeningText(c) {
    if (c.hardeningPenalty === null) return '—'; // services unknown
    const n = c.findingCounts;
    if (!n) return c.hardeningScore === null || c.hardeningScore === undefined ? '—' : c.hardeningScore + '/100';
    const parts = ['high', 'medium', 'low'].filter((s) => n[s] > 0).map((s) => n[s] + ' ' + s);
    return parts.length ? parts.join(' · ') : 'clean';
  }
  function matches(c) {
    if (state.status && c.status !== state.status) return false;
    if (state.support && (c.support || 'unknown') !== state.support) return false;
    if (state.adv && !(c.advisories && c.advisories.length)) return false;
    if (state.q) {
      const hay = [c.serial, c.model, c.fullName, c.osVersion, c.trackName].join(' ').toLowerCase();
      if (!hay.includes(state.q.toLowerCase())) return false;
    }
    return true;
  }
  function syncUrl() {
    const p = new URLSearchParams();
    if (state.q) p.set('q', state.q);
    if (state.status) p.set('status', state.status);
    if (state.support) p.set('support', state.support);
    if (state.adv) p.set('advisories', '1');
    history.replaceState(null, '', p.toString() ? '?' + p : location.pathname);
  }
  function renderRow(c) {
    const adv = c.advisories || [];
    return el('tr', { 'data-serial': c.serial, 'data-status': c.status, 'data-support': c.support || 'unknown' },
      el('td', {}, el('a', { href: '/camera/' + encodeURIComponent(c.serial) }, c.serial)),
      el('td', { title: c.fullName || '' }, c.model || '—'),
      el('td', {}, c.osVersion || '—', c.latestOnTrack ? el('span', { class: 'muted', title: 'newer on its track: ' + c.latestOnTrack }, ' ↑') : null),
      el('td', {}, c.trackName || '—'),
      el('td', { title: c.supportReason || '' }, badge(c.support || 'unknown')),
      el('td', {}, badge(c.status), c.retiredAt ? el('span', { class: 'badge s-retired', title: 'retired ' + c.retiredAt + (c.retiredReason ? ': ' + c.retiredReason : '') }, 'retired') : null),
      el('td', { 'data-posture': c.posture || 'unknown', title: (c.postureReasons || []).join('; ') }, badge(c.posture || 'unknown')),
      el('td', { class: 'num', 'data-penalty': String(penalty(c)) }, hardeningText(c)),
      el('td', { class: 'num', title: adv.join(', ') }, adv.length),
      el('td', { title: (c.integrityNotes || []).join('; ') }, badge(c.integrity || 'unknown')),
      el('td', { title: c.lastReportAt || '' }, ago(c.lastReportAt)));
  }
  function renderCounts() {
    if (!counts) return;
    const box = $('counts');
    box.replaceChildren();
    const card = (label, value, filter, cls) => {
      const pressed = filter && state[filter[0]] === filter[1];
      const b = el('button', { class: 'count ' + (cls || ''), type: 'button', 'data-count': label, 'aria-pressed': pressed ? 'true' : 'false' }, el('b', {}, value), el('span', {}, label));
      b.onclick = () => {
        if (filter) { state[filter[0]] = pressed ? '' : filter[1]; $('f-' + filter[0]).value = state[filter[0]]; }
        else { state.status = ''; state.support = ''; $('f-status').value = ''; $('f-support').value = ''; }
        pageNo = 0;
        render();
      };
      return b;
    };
    box.append(card('cameras', counts.total, null));
    for (const s of ['online', 'missing', 'offline', 'lost']) box.append(card(s, counts.status[s], ['status', s], s === 'online' ? 'sep' : ''));
    box.append(card('supported', counts.support.supported, ['support', 'supported'], 'sep'));
    box.append(card('ending soon', counts.support['ending-soon'], ['support', 'ending-soon']));
    box.append(card('outdated', counts.support.outdated, ['support', 'outdated']));
    box.append(card('end of life', counts.support['end-of-life'], ['support', 'end-of-life']));
    box.append(card('with advisories', counts.withAdvisories, null, 'sep'));
    box.append(card('integrity changed', counts.integrity.changed, null));
  }
  /** The filtered list in the chosen order (each sort key computed once, not per comparison). */
  function listed() {
    const keyed = [];
    for (const c of cams.values()) if (matches(c)) keyed.push([field(c, state.key), c]);
    keyed.sort(([x, a], [y, b]) => (x < y ? -1 : x > y ? 1 : a.serial < b.serial ? -1 : 1) * state.dir);
    return keyed.map((k) => k[1]);
  }
  /** Puts the current page's rows in the table: only new or changed ones are made, the rest stay (or move). */
  function renderTable() {
    const rows = listed();
    const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    pageNo = Math.min(pageNo, pages - 1);
    const slice = rows.slice(pageNo * PAGE_SIZE, (pageNo + 1) * PAGE_SIZE);
    const tbody = document.querySelector('#cameras tbody');
    const want = new Set(slice.map((c) => c.serial));
    for (const [serial, h] of held) {
      if (!want.has(serial) || h.row !== cams.get(serial)) { h.tr.remove(); held.delete(serial); }
    }
    let at = tbody.firstChild;
    for (const c of slice) {
      let h = held.get(c.serial);
      if (!h) { h = { row: c, tr: renderRow(c) }; held.set(c.serial, h); }
      if (h.tr === at) at = at.nextSibling;
      else tbody.insertBefore(h.tr, at);
    }
    $('empty').hidden = rows.length > 0;
    const hidden = prunedCount ? ' · ' + prunedCount + ' not heard from in ' + pruneDays + ' days not listed' : '';
    $('shown').textContent = rows.length + ' of ' + cams.size + ' shown' + hidden;
    $('pager').hidden = pages === 1;
    $('page-of').textContent = (slice.length ? pageNo * PAGE_SIZE + 1 : 0) + '–' + (pageNo * PAGE_SIZE + slice.length) + ' of ' + rows.length;
    $('prev').disabled = pageNo === 0;
    $('next').disabled = pageNo >= pages - 1;
    for (const th of document.querySelectorAll('th[data-key]')) {
      th.classList.toggle('sorted-asc', th.dataset.key === state.key && state.dir === 1);
      th.classList.toggle('sorted-desc', th.dataset.key === state.key && state.dir === -1);
    }
  }
  function render() {
    syncUrl();
    renderCounts();
    renderTable();
  }
  /** The "x min ago" texts, in place (the rows stay). */
  function renderAges() {
    for (const h of held.values()) h.tr.lastChild.textContent = ago(h.row.lastReportAt);
  }
  const refilter = () => { pageNo = 0; render(); };
  for (const th of document.querySelectorAll('th[data-key]')) {
    th.onclick = () => { state.dir = state.key === th.dataset.key ? -state.dir : 1; state.key = th.dataset.key; refilter(); };
  }
  $('q').oninput = () => { state.q = $('q').value; refilter(); };
  $('f-status').onchange = () => { state.status = $('f-status').value; refilter(); };
  $('f-support').onchange = () => { state.support = $('f-support').value; refilter(); };
  $('f-adv').onchange = () => { state.adv = $('f-adv').checked; refilter(); };
  $('prev').onclick = () => { pageNo = Math.max(0, pageNo - 1); render(); };
  $('next').onclick = () => { pageNo++; render(); };

  // Recent events across the fleet, newest first. Summaries and kinds come from devices: text nodes only,
  // a severity outside the schema's shows as unknown, and only a well-formed serial becomes a link.
  const MAX_EVENTS = 50;
  const SEVERITIES = ['low', 'medium', 'high'];
  const SERIAL = /^[A-Za-z0-9_-]{1,64}$/;
  const events = new Map();
  const str = (v, max) => (typeof v === 'string' ? v.slice(0, max) : '');
  function addEvent(e) {
    if (!e || typeof e !== 'object' || typeof e.serial !== 'string' || typeof e.eventId !== 'string') return;
    const key = e.serial + ' ' + e.eventId;
    if (!events.has(key)) events.set(key, e);
  }
  function renderEvent(e) {
    const sev = SEVERITIES.includes(e.severity) ? e.severity : 'unknown';
    const serial = str(e.serial, 64);
    const when = typeof e.receivedMs === 'number' ? new Date(e.receivedMs).toISOString() : null;
    return el('li', { class: 'event', 'data-serial': serial, 'data-kind': str(e.kind, 64), 'data-severity': sev },
      el('span', { class: 'badge sev-' + sev }, sev),
      ' ',
      SERIAL.test(serial) ? el('a', { href: '/camera/' + encodeURIComponent(serial) }, serial) : el('span', {}, serial || '?'),
      ' ',
      el('span', { class: 'kind' }, str(e.kind, 64)),
      ' ',
      el('span', { class: 'summary' }, str(e.summary, 300)),
      ' ',
      el('span', { class: 'muted', title: when || '' }, ago(when)));
  }
  function renderEvents() {
    const list = [...events.values()].sort((a, b) => (b.receivedMs || 0) - (a.receivedMs || 0)).slice(0, MAX_EVENTS);
    events.clear();
    for (const e of list) events.set(e.serial + ' ' + e.eventId, e);
    $('event-list').replaceChildren(...list.map(renderEvent));
    $('no-events').hidden = list.length > 0;
  }

  // Live updates are applied once per animation frame, each part only when something of it changed.
  const dirty = { table: false, counts: false, events: false, clock: false };
  let pending = false;
  function later(part) {
    dirty[part] = true;
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      if (dirty.counts) renderCounts();
      if (dirty.table) renderTable();
      if (dirty.clock) renderAges();
      if (dirty.events || dirty.clock) renderEvents();
      dirty.table = dirty.counts = dirty.events = dirty.clock = false;
    });
  }
  // Subscribed before the rows are read, so no change falls in between; a camera updated live meanwhile keeps
  // its live row.
  const liveSeen = new Set();
  vigil.live((name, data) => {
    if (name === 'camera') { cams.set(data.serial, data); liveSeen.add(data.serial); later('table'); }
    else if (name === 'pruned') {
      for (const serial of data.serials || []) if (cams.delete(serial)) prunedCount++;
      later('table');
    } else if (name === 'event') { addEvent(data); later('events'); }
    else { counts = data; later('counts'); }
  }, ['camera', 'counts', 'event', 'pruned']);
  function loadRows(cursor) {
    return fetch('/api/fleet/table?limit=5000' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '')).then((r) => r.json()).then((data) => {
      counts = data.counts;
      prunedCount = data.pruned || 0;
      pruneDays = data.pruneAfterDays;
      const cols = data.columns; // each row is an array of these
      for (const values of data.cameras) {
        const c = {};
        for (let i = 0; i < cols.length; i++) c[cols[i]] = values[i];
        if (!liveSeen.has(c.serial)) cams.set(c.serial, c);
      }
      render();
      return data.next ? loadRows(data.next) : null;
    });
  }
  loadRows(null).then(() => fetch('/api/events/recent?limit=' + MAX_EVENTS)).then((r) => r.json()).then((data) => {
    for (const e of data.events || []) addEvent(e);
    later('events');
  });
  setInterval(() => later('clock'), 30000); // keeps "x min ago" honest
})();
