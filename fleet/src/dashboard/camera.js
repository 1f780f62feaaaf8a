// One camera: posture, actions, evaluation, the evidence (camera-evidence.js), integrity, health, charts over
// time, connection history, events; live over SSE.
'use strict';
(function () {
  const { el, badge, ago } = window.vigil;
  const root = document.getElementById('camera');
  const serial = root.dataset.serial;

  function chart(title, points, fmt) {
    const W = 320, H = 120, L = 34, B = 18, T = 8, R = 6;
    const box = el('div', { class: 'card chart' }, el('h2', {}, title));
    if (points.length === 0) { box.append(el('p', { class: 'muted' }, 'no data yet')); return box; }
    const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
    const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(0, ...ys), y1 = Math.max(1, ...ys);
    const sx = (x) => L + (x1 === x0 ? (W - L - R) / 2 : ((x - x0) / (x1 - x0)) * (W - L - R));
    const sy = (y) => H - B - ((y - y0) / (y1 - y0)) * (H - B - T);
    const d = points.map((p, i) => (i ? 'L' : 'M') + sx(p[0]).toFixed(1) + ' ' + sy(p[1]).toFixed(1)).join(' ');
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', title);
    const add = (tag, attrs, text) => { const e = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); if (text !== undefined) e.textContent = text; svg.append(e); return e; };
    add('line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B });
    add('line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B });
    add('path', { class: 'area', d: d + ` L${sx(x1).toFixed(1)} ${H - B} L${sx(x0).toFixed(1)} ${H - B} Z` });
    add('path', { class: 'line', d });
    if (points.length === 1) add('circle', { cx: sx(x0), cy: sy(ys[0]), r: 3, fill: '#2456a6' });
    add('text', { x: L - 4, y: sy(y1) + 4, 'text-anchor': 'end' }, fmt(y1));
    add('text', { x: L - 4, y: sy(y0), 'text-anchor': 'end' }, fmt(y0));
    const t = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    add('text', { x: L, y: H - 4 }, t(x0));
    add('text', { x: W - R, y: H - 4, 'text-anchor': 'end' }, t(x1));
    box.append(svg, el('p', { class: 'muted' }, 'latest ' + fmt(ys[ys.length - 1]) + ' · ' + points.length + ' reports'));
    return box;
  }
  // Operator actions (report-now, rebaseline, retire) and this camera's audit entries; operators only.
  let lastResult = null;
  function operatorCard(c, session, audit) {
    if (session.role !== 'operator') return null;
    const result = el('p', { id: 'op-result', class: lastResult && !lastResult.ok ? 'warning' : 'muted', role: 'status' }, lastResult ? lastResult.text : '');
    const act = (label, what, path, ask) => {
      const b = el('button', { type: 'button', 'data-action': what }, label);
      b.addEventListener('click', async () => {
        const body = {};
        if (ask) {
          const answer = ask();
          if (answer === null) return;
          if (typeof answer === 'string' && answer) body.reason = answer;
        }
        b.disabled = true;
        const r = await vigil.post(path, body);
        lastResult = { ok: r.ok, text: r.ok ? label + ': ' + (r.data.commandId ? 'sent as ' + r.data.commandId : 'done') : label + ' failed: ' + (r.data.error || 'HTTP ' + r.status) };
        load();
      });
      return b;
    };
    const base = '/api/cameras/' + encodeURIComponent(c.serial);
    const buttons = el('p', { class: 'op-buttons' },
      act('Report now', 'report-now', base + '/command/report-now'), ' ',
      act('Rebaseline', 'rebaseline', base + '/command/rebaseline', () => confirm('Rebaseline ' + c.serial + '? Every file that differs now becomes the new baseline.') || null), ' ',
      c.retiredAt ? act('Put back in service', 'unretire', base + '/unretire') : act('Retire', 'retire', base + '/retire', () => prompt('Retire ' + c.serial + ': why?', '')));
    const rows = (audit || []).map((a) => el('li', {}, a.at + ' · ' + (a.user || 'local') + ' · ' + a.action + ' · ' + a.result + (a.commandId ? ' · ' + a.commandId : '')));
    return el('section', { id: 'operator', class: 'card' }, el('h2', {}, 'Operator actions'), buttons, result,
      el('h3', {}, 'Audit'), rows.length ? el('ul', { id: 'audit', class: 'plain' }, ...rows) : el('p', { id: 'audit', class: 'muted' }, 'nothing yet'));
  }
  function render(c, h, session, audit) {
    const e = c.evaluation || {};
    const r = c.report;
    const ev = vigil.evidence;
    const dl = ev.dl;
    document.title = c.serial + ' · Vigil';
    const out = [];
    out.push(el('p', {}, el('a', { href: '/' }, '← worklist'), ' · ', el('a', { href: '/cameras' }, 'all cameras')));
    out.push(el('h1', {}, c.serial + ' ', el('span', { class: 'muted' }, c.fullName || c.model || ''), ' ', el('span', { id: 'status', 'data-status': c.status }, badge(c.status))));
    if (c.retiredAt) out.push(el('p', { id: 'retired', class: 'warning' }, 'Retired ' + c.retiredAt + (c.retiredReason ? ': ' + c.retiredReason : '') + '. It is left out of the counts, the worklist and the alerts; a report from it raises an alert.'));
    out.push(ev.posture(c.evaluation));
    const op = operatorCard(c, session, audit);
    if (op) out.push(op);
    const grid = el('div', { class: 'grid' });
    grid.append(ev.actions(c.actions));
    grid.append(el('section', { class: 'card' }, el('h2', {}, 'AXIS OS'), dl([
      ['Version', c.osVersion],
      ['Track', e.trackName],
      ['Support', el('span', {}, badge(e.support), ' ', e.supportReason || '')],
      ['End of support', e.endOfSupport ? e.endOfSupport + (e.endEstimated ? ' (estimated)' : '') : null],
      ['Newest on track', e.latestOnTrack ? e.latestOnTrack + (e.support === 'outdated' ? ' — update required' : e.upgradeAvailable ? ' — upgrade available' : ' — up to date') : null],
      ['Move to', e.target ? [e.target.version, e.target.trackName].filter(Boolean).join(' on ') : null],
    ])));
    grid.append(ev.firmware(r), ev.platform(r), ev.findings(e, r), ev.services(r), ev.advisories(e));
    grid.append(el('section', { id: 'integrity', class: 'card' }, el('h2', {}, 'Integrity'), dl([
      ['Files vs baseline', badge(e.integrity)],
      ['Notes', (e.integrityNotes || []).join('; ')],
      ['Baseline', r && r.integrity.baseline ? r.integrity.baseline.files + ' files, ' + r.integrity.baseline.createdAt : null],
      ['Changed files', r && r.integrity.changes.length ? el('ul', { class: 'plain evidence' }, ...r.integrity.changes.slice(0, 20).map((f) => el('li', {}, el('code', {}, f.change + ' ' + f.path)))) : null],
      ['Apps', r ? r.integrity.apps.map((a) => a.name + (a.signatureStatus ? ' (' + a.signatureStatus + ')' : '')).join(', ') : null],
    ])));
    grid.append(el('section', { class: 'card' }, el('h2', {}, 'Connection'), dl([
      ['Status', badge(c.status)],
      ['Session', c.session],
      ['Last report', c.lastReportAt ? ago(c.lastReportAt) + ' (seq ' + c.lastSeq + ')' : null],
      ['Interval', c.intervalSec ? c.intervalSec + ' s' : null],
      ['Reports', c.reports + ' · ' + c.duplicates + ' duplicate · ' + c.gaps + ' gaps · ' + c.outOfOrder + ' out of order'],
      ['Agent', r ? r.health.agentVersion + ' on ' + r.health.host + ', queue ' + r.health.queueDepth + ', dropped ' + r.health.dropped : null],
      ['Last exit', r && r.health.lastExit ? r.health.lastExit : null],
    ])));
    out.push(grid);
    const reps = h.reports;
    const pts = (f) => reps.filter((x) => f(x) !== null).map((x) => [x.receivedMs, f(x)]);
    out.push(el('h2', {}, 'Over time'));
    out.push(el('div', { class: 'charts' },
      chart('Hardening score', pts((x) => x.hardeningScore), (v) => String(Math.round(v))),
      chart('Findings', pts((x) => x.findings), (v) => String(Math.round(v))),
      chart('Outbox queue depth', pts((x) => x.queueDepth), (v) => String(Math.round(v))),
      chart('Agent heap (KiB)', pts((x) => Math.round(x.heapUsedBytes / 1024)), (v) => String(Math.round(v)))));
    out.push(el('h2', {}, 'Connection history'));
    out.push(h.states.length ? el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'Received'), el('th', {}, 'State'), el('th', {}, 'Reason'), el('th', {}, 'Session'), el('th', {}, ''))),
      el('tbody', {}, ...h.states.map((s) => el('tr', {}, el('td', {}, new Date(s.receivedMs).toLocaleString()), el('td', {}, badge(s.state === 'offline' && s.reason === 'lost' ? 'lost' : s.state)), el('td', {}, s.reason || ''), el('td', {}, s.session), el('td', { class: 'muted' }, s.stale ? 'stale: ignored' : ''))))) : el('p', { class: 'muted' }, 'no state messages yet'));
    if (h.gaps.length) out.push(el('h2', {}, 'Sequence gaps'), el('ul', { class: 'plain' }, ...h.gaps.map((g) => el('li', {}, 'seq ' + g.fromSeq + (g.toSeq > g.fromSeq ? '–' + g.toSeq : '') + ' missing, noticed ' + new Date(g.detectedMs).toLocaleString()))));
    if (h.events.length) out.push(ev.events(h.events));
    root.replaceChildren(...out);
  }
  async function load() {
    const [c, h] = await Promise.all([fetch('/api/cameras/' + encodeURIComponent(serial)), fetch('/api/cameras/' + encodeURIComponent(serial) + '/history')]);
    if (c.status === 404) { root.replaceChildren(el('p', {}, 'No camera ' + serial + ' is known. ', el('a', { href: '/' }, 'Back to the fleet'))); return; }
    const session = await vigil.session();
    let audit = null;
    if (session.role === 'operator') {
      const a = await fetch('/api/audit?limit=10&serial=' + encodeURIComponent(serial));
      if (a.ok) audit = (await a.json()).audit;
    }
    render(await c.json(), await h.json(), session, audit);
  }
  let pending = false;
  // An event (a rebaseline, say) changes no camera field: it reloads the page's history too.
  load().then(() => vigil.live((name, data) => {
    if ((name === 'camera' || name === 'event') && data.serial === serial && !pending) { pending = true; setTimeout(() => { pending = false; load(); }, 100); }
  }, ['camera', 'counts', 'event']));
})();
