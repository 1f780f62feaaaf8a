/**
 * The HTML shells of the dashboard's pages (the worklist at /, the camera table at /cameras, one camera):
 * markup only; fleet/src/dashboard/ holds the scripts and stylesheet that fill them from the JSON API.
 */
import { ACTION_KINDS, URGENCIES } from './actions/types';
import { CAMERA_STATUSES } from './fleet-view';

type Nav = 'worklist' | 'cameras' | null;

function nav(current: Nav): string {
  const link = (href: string, name: Nav, text: string) => `<a href="${href}"${current === name ? ' aria-current="page"' : ''}>${text}</a>`;
  return `<nav class="nav">${link('/', 'worklist', 'Worklist')}${link('/cameras', 'cameras', 'Cameras')}<a href="/api/report.pdf" id="nav-pdf">PDF report</a></nav>`;
}

function page(title: string, scripts: string[], body: string, current: Nav = null): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title><link rel="stylesheet" href="/static/style.css"></head>
<body>
<header><a class="brand" href="/">Vigil fleet</a>${nav(current)}<span id="live" class="live" title="live updates">connecting…</span></header>
<main>${body}</main>
<script src="/static/common.js"></script>${scripts.map((s) => `<script src="${s}"></script>`).join('')}
</body></html>`;
}

const options = (values: readonly string[]) => values.map((v) => `<option>${v}</option>`).join('');

/** The first view: what to do now, ranked by risk (worklist.js). */
export const WORKLIST_PAGE = page('Vigil worklist', ['/static/worklist.js'], `
<h1>What to do now</h1>
<p id="data-dates" class="muted">Loading the worklist…</p>
<p id="data-stale" class="warning" role="alert" hidden></p>
<section id="wl-counts" class="counts" aria-label="action counts"></section>
<section class="filters" aria-label="filters">
  <label>Search <input id="wq" type="search" placeholder="serial, model, title"></label>
  <label>Urgency <select id="f-urgency"><option value="">all</option>${options(URGENCIES)}</select></label>
  <label>Kind <select id="f-kind"><option value="">all</option>${options(ACTION_KINDS)}</select></label>
  <span id="wl-shown" class="muted"></span>
  <a id="csv" class="button" href="/api/actions.csv" download>Download CSV</a>
  <a id="pdf" class="button" href="/api/report.pdf" download>PDF report</a>
</section>
<table id="worklist" class="worklist"><thead><tr>
  <th>Urgency</th><th>Camera</th><th>Action</th><th>Target</th><th>Why</th><th>Fixes</th><th>Control</th>
</tr></thead><tbody></tbody></table>
<p id="wl-empty" class="muted" hidden>No actions match.</p>
<section id="alerts" class="events" aria-label="recent alerts" hidden><h2>Recent alerts</h2>
<ol id="alert-list" class="events-list"></ol><p id="no-alerts" class="muted">No alerts.</p></section>`, 'worklist');

/** Every camera, sortable and filterable, with recent events (fleet.js). */
export const CAMERAS_PAGE = page('Vigil cameras', ['/static/fleet.js'], `
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
  <th data-key="support">Support</th><th data-key="status">Status</th><th data-key="posture" title="at-risk, attention, good or unknown, from everything the evaluation found">Posture</th><th data-key="hardening" class="num" title="findings by severity; sorts by the summed severity weights">Hardening</th>
  <th data-key="advisories" class="num">Advisories</th><th data-key="integrity" title="files against the baseline">Files</th><th data-key="lastReportAt">Last report</th>
</tr></thead><tbody></tbody></table>
<p id="empty" class="muted" hidden>No cameras match.</p>
<nav id="pager" class="pager" aria-label="pages"><button id="prev" type="button">← previous</button> <span id="page-of" class="muted"></span> <button id="next" type="button">next →</button></nav>
<section id="events" class="events" aria-label="recent events"><h2>Recent events</h2>
<ol id="event-list" class="events-list"></ol><p id="no-events" class="muted">No events yet.</p></section>`, 'cameras');

export function cameraPage(serial: string): string {
  return page(`${serial} · Vigil`, ['/static/camera-evidence.js', '/static/camera.js'], `<div id="camera" data-serial="${serial}"><p class="muted">Loading ${serial}…</p></div>`);
}
