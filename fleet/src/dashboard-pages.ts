/**
 * The HTML shells of the dashboard's two pages (the fleet, one camera): markup only; fleet/src/dashboard/ holds
 * the script and stylesheet that fill them from the JSON API.
 */
import { CAMERA_STATUSES } from './fleet-view';

function page(title: string, script: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title><link rel="stylesheet" href="/static/style.css"></head>
<body>
<header><a class="brand" href="/">Vigil fleet</a><span id="live" class="live" title="live updates">connecting…</span></header>
<main>${body}</main>
<script src="/static/common.js"></script><script src="${script}"></script>
</body></html>`;
}

export const FLEET_PAGE = page('Vigil fleet', '/static/fleet.js', `
<section id="counts" class="counts" aria-label="fleet counts"></section>
<section class="filters" aria-label="filters">
  <label>Search <input id="q" type="search" placeholder="serial, model, version"></label>
  <label>Status <select id="f-status"><option value="">all</option>${CAMERA_STATUSES.map((s) => `<option>${s}</option>`).join('')}</select></label>
  <label>Support <select id="f-support"><option value="">all</option><option>supported</option><option>ending-soon</option><option>outdated</option><option>end-of-life</option><option>unknown</option></select></label>
  <label><input id="f-adv" type="checkbox"> with advisories</label>
  <span id="shown" class="muted"></span>
</section>
<table id="cameras" class="cameras"><thead><tr>
  <th data-key="serial">Camera</th><th data-key="model">Model</th><th data-key="osVersion">AXIS OS</th><th data-key="track">Track</th>
  <th data-key="support">Support</th><th data-key="status">Status</th><th data-key="score" class="num">Hardening</th>
  <th data-key="advisories" class="num">Advisories</th><th data-key="integrity">Integrity</th><th data-key="lastReportAt">Last report</th>
</tr></thead><tbody></tbody></table>
<p id="empty" class="muted" hidden>No cameras match.</p>
<section id="events" class="events" aria-label="recent events"><h2>Recent events</h2>
<ol id="event-list" class="events-list"></ol><p id="no-events" class="muted">No events yet.</p></section>`);

export function cameraPage(serial: string): string {
  return page(`${serial} · Vigil`, '/static/camera.js', `<div id="camera" data-serial="${serial}"><p class="muted">Loading ${serial}…</p></div>`);
}
