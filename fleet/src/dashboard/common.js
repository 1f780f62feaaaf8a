// Shared helpers for the dashboard pages (plain browser JavaScript, no libraries).
'use strict';
// Bidirectional controls in device text (a model name with U+202E) would reorder what is displayed around
// them: every text the pages show goes through shown(), which writes each as a visible <U+XXXX>.
const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;
const shown = (text) => String(text).replace(BIDI_CONTROLS, (c) => '<U+' + c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0') + '>');
window.vigil = {
  shown,
  el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v; else if (k === 'text') e.textContent = shown(v); else e.setAttribute(k, v === true ? '' : shown(v));
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(shown(c)));
    return e;
  },
  badge(value) {
    return vigil.el('span', { class: 'badge s-' + (value || 'unknown') }, value || 'unknown');
  },
  ago(iso) {
    if (!iso) return '—';
    const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
    if (s < 0) return 'just now';
    if (s < 90) return s + ' s ago';
    if (s < 5400) return Math.round(s / 60) + ' min ago';
    if (s < 129600) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' days ago';
  },
  // Who is logged in and the CSRF token that state-changing requests send back (GET /api/session).
  session() {
    if (!vigil.sessionPromise) {
      vigil.sessionPromise = fetch('/api/session').then((r) => (r.ok ? r.json() : null)).catch(() => null)
        .then((s) => s || { auth: false, user: null, role: null, csrf: null });
    }
    return vigil.sessionPromise;
  },
  async post(path, body) {
    const s = await vigil.session();
    const headers = { 'content-type': 'application/json' };
    if (s.csrf) headers['x-csrf-token'] = s.csrf;
    const r = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body || {}) });
    let data = {};
    try { data = await r.json(); } catch { /* no JSON body */ }
    return { ok: r.ok, status: r.status, data };
  },
  live(onEvent, names) {
    const status = document.getElementById('live');
    const es = new EventSource('/api/events');
    es.onopen = () => { status.textContent = 'live'; status.className = 'live on'; };
    es.onerror = () => { status.textContent = 'reconnecting…'; status.className = 'live off'; };
    for (const name of names || ['camera', 'counts']) es.addEventListener(name, (m) => onEvent(name, JSON.parse(m.data)));
    return es;
  },
};

// The logged-in user and a logout button in the header, when the dashboard has accounts.
vigil.session().then((s) => {
  const header = document.querySelector('header');
  if (!s.auth || !s.user || !header) return;
  const out = vigil.el('button', { id: 'logout', type: 'button' }, 'Log out');
  out.addEventListener('click', () => vigil.post('/logout').then(() => { location.href = '/login'; }));
  header.append(vigil.el('span', { id: 'user', class: 'muted' }, s.user + ' (' + s.role + ')'), out);
});
