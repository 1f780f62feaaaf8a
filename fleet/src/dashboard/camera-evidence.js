// The evidence on a camera's page: posture, the camera's actions, services (configured vs listening), findings
// with their evidence, firmware state, platform facts, advisories with CVSS, events. camera.js lays them out. All device
// text goes in as text nodes (vigil.el), never as HTML.
'use strict';
(function () {
  const { el, badge } = window.vigil;
  const SEVERITIES = ['high', 'medium', 'low'];
  const none = (text) => el('p', { class: 'muted' }, text);
  const yesNo = (v, good) => (v === null || v === undefined ? el('span', { class: 'muted' }, 'unknown') : el('span', { class: v === good ? 's-ok' : 's-lost' }, v ? 'yes' : 'no'));

  /** "2 high · 1 medium" from the evaluation's findingCounts (or the report's findings); "none" when clean. */
  function severityCounts(e, findings) {
    let counts = e && e.findingCounts;
    if (!counts) {
      counts = { high: 0, medium: 0, low: 0 };
      for (const f of findings || []) if (f.severity in counts) counts[f.severity]++;
    }
    const parts = SEVERITIES.filter((s) => counts[s] > 0).map((s) => counts[s] + ' ' + s);
    return parts.length ? parts.join(' · ') : 'no findings';
  }

  function posture(e) {
    const p = (e && e.posture) || 'unknown';
    const reasons = (e && e.postureReasons) || [];
    return el('section', { id: 'posture', class: 'posture p-' + p, 'data-posture': p },
      el('span', { class: 'posture-label' }, 'Posture'), ' ', el('b', { class: 'posture-value' }, p),
      reasons.length ? el('ul', { class: 'plain' }, ...reasons.map((r) => el('li', {}, r))) : null);
  }

  function target(t) {
    return t ? [t.version, t.trackName || t.trackId].filter(Boolean).join(' on ') : null;
  }
  function actions(list) {
    const box = el('section', { id: 'actions', class: 'card wide' }, el('h2', {}, 'What to do (' + (list ? list.length : 0) + ')'));
    if (!list) { box.append(none('the fleet computes no actions yet')); return box; }
    if (!list.length) { box.append(none('nothing to do')); return box; }
    // The urgent ones open; the rest folded to their title, so the evidence below stays in reach.
    box.append(el('ol', { class: 'actions' }, ...list.map((a) => el('li', { 'data-action': a.id, 'data-urgency': a.urgency, 'data-kind': a.kind },
      el('details', { open: a.urgency === 'critical' || a.urgency === 'high' },
        el('summary', {}, el('span', { class: 'badge u-' + a.urgency }, a.urgency), ' ', el('b', {}, a.title),
          target(a.target) ? el('span', { class: 'muted' }, ' → ' + target(a.target)) : null,
          a.control ? el('span', { class: 'muted' }, ' (control ' + a.control + ')') : null),
        a.why && a.why.length ? el('ul', { class: 'plain why' }, ...a.why.map((w) => el('li', {}, w))) : null,
        a.fixes && a.fixes.length ? el('p', { class: 'muted' }, 'Fixes ' + a.fixes.join(', ')) : null,
        a.steps && a.steps.length ? el('ol', { class: 'steps' }, ...a.steps.map((s) => el('li', {}, s))) : null)))));
    return box;
  }

  // Clients, not servers: an NTP client need not hold port 123 open, and a DHCP client binds 68/546 with no parameter.
  const CLIENTS = ['ntp', 'dhcp'];
  /** Why a service's row is marked: what the parameters say disagrees with what listens. */
  function mismatch(s) {
    if (CLIENTS.includes(s.name)) return null;
    const listening = (s.listening || []).length > 0;
    if (listening && s.configured === 'off') return 'listening although configured off';
    if (listening && s.configured === 'unknown') return 'listening, no parameter controls it';
    if (!listening && s.configured === 'on') return 'configured on but not listening';
    return null;
  }
  function services(r) {
    const box = el('section', { id: 'services', class: 'card wide' }, el('h2', {}, 'Services'));
    const entries = r && r.services ? r.services.entries : [];
    if (!entries.length) { box.append(none('no services reported')); return box; }
    const rows = entries.map((s) => {
      const m = mismatch(s);
      return el('tr', { 'data-service': s.name, 'data-configured': s.configured, class: m ? 'mismatch' : null, 'data-mismatch': m ? 'true' : 'false' },
        el('td', {}, s.name),
        el('td', {}, el('span', { class: 'cfg-' + s.configured }, s.configured)),
        el('td', { class: 'wrap' }, (s.listening || []).map((l) => l.proto + ' ' + (l.address.includes(':') ? '[' + l.address + ']' : l.address) + ':' + l.port).join(', ') || '—'),
        el('td', {}, m ? el('span', { class: 's-lost' }, '⚠ ' + m) : ''));
    });
    box.append(el('table', { class: 'services' }, el('thead', {}, el('tr', {}, el('th', {}, 'Service'), el('th', {}, 'Configured'), el('th', {}, 'Listening'), el('th', {}, 'Mismatch'))), el('tbody', {}, ...rows)));
    if (r.services.totalListening > entries.reduce((n, s) => n + (s.listening || []).length, 0)) box.append(none(r.services.totalListening + ' sockets listen in all; the report kept fewer'));
    return box;
  }

  function findings(e, r) {
    const list = r && r.services ? r.services.findings : [];
    const penalty = e && e.hardeningPenalty !== undefined && e.hardeningPenalty !== null ? ' (penalty ' + e.hardeningPenalty + ')' : '';
    const box = el('section', { id: 'findings', class: 'card wide' }, el('h2', {}, 'Hardening: ', el('span', { id: 'hardening' }, severityCounts(e, list)), el('span', { class: 'muted' }, penalty)));
    if (!list.length) { box.append(none(e && e.hardeningScore === null ? 'services unknown: no measure' : 'no findings')); return box; }
    box.append(el('ul', { class: 'plain findings' }, ...list.map((f) => el('li', { 'data-finding': f.id },
      el('span', { class: 'badge sev-' + f.severity }, f.severity), ' ', f.summary, ' ', el('span', { class: 'muted' }, '(control ' + f.control + ')'),
      f.evidence && f.evidence.length ? el('ul', { class: 'evidence' }, ...f.evidence.map((x) => el('li', {}, el('code', {}, x)))) : null))));
    return box;
  }

  function firmware(r) {
    const box = el('section', { id: 'firmware', class: 'card' }, el('h2', {}, 'Firmware'));
    const fw = r && r.os ? r.os.firmware : null;
    if (!fw) { box.append(none('not reported')); return box; }
    let state;
    let deadline = null;
    if (fw.pendingRollback) {
      state = el('span', { class: 's-lost', 'data-firmware': 'pending-rollback' }, 'pending rollback: the upgrade is not committed');
      if (typeof fw.timeToRollbackSec === 'number' && r.sentAt) deadline = new Date(Date.parse(r.sentAt) + fw.timeToRollbackSec * 1000).toISOString();
    } else if (fw.committed === true) state = el('span', { class: 's-ok', 'data-firmware': 'committed' }, 'committed');
    else if (fw.committed === false) state = el('span', { class: 's-lost', 'data-firmware': 'uncommitted' }, 'not committed');
    else state = el('span', { class: 'muted', 'data-firmware': 'unknown' }, 'unknown');
    box.append(dl([
      ['State', state],
      ['Active', fw.activeVersion],
      [fw.pendingRollback ? 'Rolls back to' : 'Inactive (previous)', fw.inactiveVersion],
      ['Rollback deadline', deadline ? deadline + ' (' + Math.round(fw.timeToRollbackSec / 60) + ' min after the report)' : null],
      ['Last upgrade', fw.lastUpgradeAt],
    ]));
    return box;
  }

  function platform(r) {
    const p = r && r.integrity ? r.integrity.platform : {};
    const d = (r && r.device) || {};
    return el('section', { id: 'platform', class: 'card' }, el('h2', {}, 'Platform'), dl([
      ['SoC', d.soc || el('span', { class: 'muted' }, 'unknown')],
      ['Architecture', d.architecture],
      ['Signed OS', yesNo(p.signedOs, true)],
      ['Secure boot', yesNo(p.secureBoot, true)],
      ['Edge Vault', yesNo(p.edgeVault, true)],
      ['Unsigned apps allowed', yesNo(r && r.integrity ? r.integrity.allowUnsignedApps : null, false)],
    ]));
  }

  function advisories(e) {
    const adv = (e && e.advisories) || [];
    const box = el('section', { id: 'advisories', class: 'card wide' }, el('h2', {}, 'Advisories (' + adv.length + ')'));
    if (!adv.length) { box.append(none('none known for this version')); return box; }
    box.append(el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'Advisory'), el('th', { class: 'num' }, 'CVSS'), el('th', {}, 'Match'), el('th', {}, 'Fixed in'), el('th', {}, 'Title'))),
      el('tbody', {}, ...adv.map((a) => el('tr', { 'data-advisory': a.id },
        el('td', {}, el('b', {}, a.id)),
        el('td', { class: 'num' + (a.cvss >= 7 ? ' s-lost' : ''), 'data-cvss': a.cvss === null ? '' : a.cvss }, a.cvss === null ? '—' : a.cvss.toFixed(1)),
        el('td', { title: a.reason }, badge(a.confidence)),
        el('td', {}, a.fixed || '—'),
        el('td', { class: 'wrap' }, a.title, el('br'), el('span', { class: 'muted' }, a.reason)))))));
    return box;
  }

  /** What a command event says (rebaseline: what the new baseline absorbed; set-interval: old and new seconds); null for other kinds. */
  function commandText(ev) {
    const j = ev.json || {};
    const d = j.details && typeof j.details === 'object' ? j.details : {};
    const by = typeof d.commandId === 'string' && d.commandId ? 'by command ' + d.commandId : 'by command';
    if (ev.kind === 'rebaseline') {
      const names = Array.isArray(d.differed) ? d.differed.filter((x) => typeof x === 'string') : [];
      const n = Number.isInteger(d.differedCount) ? d.differedCount : Array.isArray(d.differed) ? d.differed.length : null;
      const what = n === null ? 'files differed: unknown' : n === 1 ? '1 file differed' : n + ' files differed';
      return 'rebaseline ' + by + ': ' + what + (names.length ? ': ' + names.join(', ') + (n > names.length ? ', …' : '') : '');
    }
    if (ev.kind === 'interval-changed') return 'report interval changed ' + by + ': from ' + (d.oldSec ?? '?') + ' s to ' + (d.newSec ?? '?') + ' s';
    return null;
  }

  /** The camera's events, newest first; commands that could hide a problem say what they changed. */
  function events(list) {
    return el('section', { id: 'events' }, el('h2', {}, 'Events'), el('ul', { class: 'events-list' }, ...list.map((ev) => {
      const sev = ev.json && ev.json.severity;
      return el('li', { 'data-kind': ev.kind, 'data-event-id': ev.eventId },
        new Date(ev.receivedMs).toLocaleString() + ' ', sev ? el('span', { class: 'badge sev-' + sev }, sev) : null, ' ',
        el('span', { class: 'kind' }, ev.kind), ' · ', commandText(ev) || (ev.json && ev.json.summary) || '');
    })));
  }

  function dl(pairs) {
    const d = el('dl');
    for (const [k, v] of pairs) d.append(el('dt', {}, k), el('dd', {}, v === null || v === undefined || v === '' ? '—' : v));
    return d;
  }

  window.vigil.evidence = { posture, actions, services, findings, firmware, platform, advisories, events, severityCounts, dl };
})();
