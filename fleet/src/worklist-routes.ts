/**
 * The worklist's HTTP side: `GET /api/actions` (JSON), `/api/actions.csv` (the same filter as CSV, a download) and
 * `/api/report.pdf` (the auditor's report of the whole fleet). http.ts hands each request here first; the filters
 * are worklist-query.ts, the exports export-csv.ts and export-pdf.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Worklist } from './actions/types';
import { actionsCsv } from './export-csv';
import { reportPdf } from './export-pdf';
import type { FleetCounts } from './fleet-view';
import { answerQuery, FilterError, MAX_LIMIT, parseFilter } from './worklist-query';

/** What the routes read: the consumer has both (worklist() from the action rules). */
export interface WorklistSource {
  worklist(): Worklist;
  counts(): FleetCounts;
}

function send(res: ServerResponse, status: number, headers: Record<string, string | number>, body: string | Buffer): void {
  res.writeHead(status, { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers }).end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, { 'content-type': 'application/json; charset=utf-8' }, JSON.stringify(body));
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Returns a handler that answers the worklist's paths and returns false for any other. */
export function worklistRoutes(source: WorklistSource, now: () => number = Date.now): (req: IncomingMessage, res: ServerResponse, url: URL) => boolean {
  return (_req, res, url) => {
    const path = url.pathname;
    if (path !== '/api/actions' && path !== '/api/actions.csv' && path !== '/api/report.pdf') return false;
    const nowMs = now();
    try {
      if (path === '/api/report.pdf') {
        // The whole fleet, unfiltered: an auditor files the fleet's state, not a view of it.
        const answer = answerQuery(source.worklist(), parseFilter(new URLSearchParams(), MAX_LIMIT), nowMs);
        reportPdf({ worklist: answer, counts: source.counts(), nowMs }).then(
          (pdf) => send(res, 200, { 'content-type': 'application/pdf', 'content-length': pdf.length, 'content-disposition': `attachment; filename="vigil-report-${day(nowMs)}.pdf"` }, pdf),
          (err: Error) => sendJson(res, 500, { error: `[vigil] [fleet] the PDF report failed: ${err.message}` }),
        );
        return true;
      }
      const csv = path === '/api/actions.csv';
      // A CSV is a download of everything that matches, up to MAX_LIMIT unless the query says fewer.
      const answer = answerQuery(source.worklist(), parseFilter(url.searchParams, csv ? MAX_LIMIT : undefined), nowMs);
      if (!csv) sendJson(res, 200, answer);
      else send(res, 200, { 'content-type': 'text/csv; charset=utf-8; header=present', 'content-disposition': `attachment; filename="vigil-actions-${day(nowMs)}.csv"` }, actionsCsv(answer.items));
    } catch (err) {
      if (err instanceof FilterError) sendJson(res, 400, { error: err.message });
      else throw err;
    }
    return true;
  };
}
