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

  function field(c, key) {
    const e = c.evaluation || {};
    switch (key) {
      case 'track': return e.trackName || '';
      case 'support': return e.support || 'unknown';
      case 'hardening': return penalty(c);
      case 'posture': return POSTURE_RANK[e.posture] ?? POSTURE_RANK.unknown;
      case 'advisories': return e.advisories ? e.advisories.length : 0;
      case 'integrity': return e.integrity || 'unknown';
      case 'osVersion': return (c.osVersion || '').split('.').map((p) => p.padStart(6, '0')).join('.');
      default: return c[key] === null || c[key] === undefined ? '' : c[key];
    }
  }
  // The hardening measure: the evaluation's penalty (sum of severity weights, no floor), so ten findings rank below
  // five; unknown services sort last. A fleet without hardeningPenalty yet weighs the report's finding counts.
  const WEIGHT = { high: 25, medium: 10, low: 4 };
  const POSTURE_RANK = { 'at-risk': 0, attention: 1, unknown: 2, good: 3 };
  function penalty(c) {
    const e = c.evaluation || {};
    if (typeof e.hardeningPenalty === 'number') return e.hardeningPenalty;
    if (e.hardeningScore === null || e.hardeningScore === undefined) return Infinity;
    const n = e.findingCounts;
    return n ? n.high * WEIGHT.high + n.medium * WEIGHT.medium + n.low * WEIGHT.low : 100 - e.hardeningScore;
  }
  function hardeningText(e) {
    if (e.hardeningPenalty === null) return '—'; // services unknown
    const n = e.findingCounts;
    if (!n) return e.hardeningScore === null || e.hardeningScore === undefined ? '—' : e.hardeningScore + '/100';
    const parts = ['high', 'medium', 'low'].filter((s) => n[s] > 0).map((s) => n[s] + ' ' + s);
    return parts.length ? parts.join(' · ') : 'clean';
  }
  function matches(c) {
    const e = c.evaluation || {};
    if (state.status && c.status !== state.status) return false;
    if (state.support && (e.support || 'unknown') !== state.support) return false;
    if (state.adv && !(e.advisories && e.advisories.length)) return false;
    if (state.q) {
      const hay = [c.serial, c.model, c.fullName, c.osVersion, e.trackName].join(' ').toLowerCase();
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
    const e = c.evaluation || {};
    const adv = e.advisories || [];
    const tr = el('tr', { 'data-serial': c.serial, 'data-status': c.status, 'data-support': e.support || 'unknown' },
      el('td', {}, el('a', { href: '/camera/' + encodeURIComponent(c.serial) }, c.serial)),
      el('td', { title: c.fullName || '' }, c.model || '—'),
      el('td', {}, c.osVersion || '—', e.upgradeAvailable && e.latestOnTrack ? el('span', { class: 'muted', title: 'newer on its track: ' + e.latestOnTrack }, ' ↑') : null),
      el('td', {}, e.trackName || '—'),
      el('td', { title: e.supportReason || '' }, badge(e.support || 'unknown')),
      el('td', {}, badge(c.status), c.retiredAt ? el('span', { class: 'badge s-retired', title: 'retired ' + c.retiredAt + (c.retiredReason ? ': ' + c.retiredReason : '') }, 'retired') : null),
      el('td', { 'data-posture': e.posture || 'unknown', title: (e.postureReasons || []).join('; ') }, badge(e.posture || 'unknown')),
      el('td', { class: 'num', 'data-penalty': String(penalty(c)) }, hardeningText(e)),
      el('td', { class: 'num', title: adv.map((a) => a.id).join(', ') }, adv.length),
      el('td', { title: (e.integrityNotes || []).join('; ') }, badge(e.integrity || 'unknown')),
      el('td', { title: c.lastReportAt || '' }, ago(c.lastReportAt)));
    return tr;
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
  function render() {
    syncUrl();
    renderCounts();
    const rows = [...cams.values()].filter(matches).sort((a, b) => {
      const x = field(a, state.key), y = field(b, state.key);
      return (x < y ? -1 : x > y ? 1 : a.serial < b.serial ? -1 : 1) * state.dir;
    });
    document.querySelector('#cameras tbody').replaceChildren(...rows.map(renderRow));
    $('empty').hidden = rows.length > 0;
    $('shown').textContent = rows.length + ' of ' + cams.size + ' shown';
    for (const th of document.querySelectorAll('th[data-key]')) {
      th.classList.toggle('sorted-asc', th.dataset.key === state.key && state.dir === 1);
      th.classList.toggle('sorted-desc', th.dataset.key === state.key && state.dir === -1);
    }
  }
  for (const th of document.querySelectorAll('th[data-key]')) {
    th.onclick = () => { state.dir = state.key === th.dataset.key ? -state.dir : 1; state.key = th.dataset.key; render(); };
  }
  $('q').oninput = () => { state.q = $('q').value; render(); };
  $('f-status').onchange = () => { state.status = $('f-status').value; render(); };
  $('f-support').onchange = () => { state.support = $('f-support').value; render(); };
  $('f-adv').onchange = () => { state.adv = $('f-adv').checked; render(); };

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

  let pending = false;
  function later() { if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; render(); renderEvents(); }); } }
  fetch('/api/fleet').then((r) => r.json()).then((data) => {
    counts = data.counts;
    for (const c of data.cameras) cams.set(c.serial, c);
    render();
    vigil.live((name, data) => {
      if (name === 'camera') cams.set(data.serial, data);
      else if (name === 'event') addEvent(data);
      else counts = data;
      later();
    }, ['camera', 'counts', 'event']);
    // After subscribing, so an event that arrives in between is in one list or the other (dedup by id).
    return fetch('/api/events/recent?limit=' + MAX_EVENTS).then((r) => r.json()).then((data) => {
      for (const e of data.events || []) addEvent(e);
      later();
    });
  });
  setInterval(later, 30000); // keeps "x min ago" honest
})();
