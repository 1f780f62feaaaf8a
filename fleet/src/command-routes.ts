/**
 * Operator commands from the dashboard: `POST /api/cameras/<serial>/command/report-now|rebaseline` (an empty
 * body or `{}`) publishes `<prefix>/<serial>/cmd/<name>` with a fresh command id through the consumer's MQTT
 * client (QoS 1, never retained), signed first when a signer is configured, and audits the outcome. 202 with
 * the command id once the broker has it (the camera answers on cmd-result); 404 for an unknown camera; 503
 * when the broker does not take it. Only operators get here (auth/roles.ts), with the CSRF token (auth/csrf.ts).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditLog } from './audit-log';
import type { FleetConsumer } from './consumer';
import type { FleetLog } from './log';
import { json, readJsonBody } from './json-body';
import type { CommandSigner } from './command-signing';

export type { CommandSigner };

export const DASHBOARD_COMMANDS = ['report-now', 'rebaseline'] as const;
const MAX_BODY = 1024;

export function commandRoutes(o: { consumer: FleetConsumer; audit: AuditLog; signCommand?: CommandSigner; log: FleetLog }): (req: IncomingMessage, res: ServerResponse, url: URL) => boolean {
  return (req, res, url) => {
    const m = /^\/api\/cameras\/([A-Za-z0-9_-]{1,64})\/command\/([a-z-]{1,32})$/.exec(url.pathname);
    if (!m) return false;
    const [, serial, name] = m;
    if (!(DASHBOARD_COMMANDS as readonly string[]).includes(name)) {
      json(res, 404, { error: `[vigil] [fleet] no dashboard command ${name}; known: ${DASHBOARD_COMMANDS.join(', ')}` });
      return true;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return true;
    }
    void (async () => {
      const read = await readJsonBody(req, res, MAX_BODY);
      if (!read) return;
      if (read.body !== undefined) {
        const body = read.body;
        if (typeof body !== 'object' || body === null || Array.isArray(body) || Object.keys(body).length) return json(res, 400, { error: `[vigil] [fleet] ${name} takes no fields: send {} or nothing` });
      }
      if (!o.consumer.camera(serial)) {
        await o.audit.record(req, { action: name, serial, commandId: null, result: 'not-found' });
        return json(res, 404, { error: `[vigil] [fleet] no camera ${serial}` });
      }
      const commandId = `dash-${randomBytes(8).toString('hex')}`;
      const topic = `${o.consumer.prefix}/${serial}/cmd/${name}`;
      let payload: Record<string, unknown>;
      try {
        payload = o.signCommand ? o.signCommand(serial, name, { id: commandId }) : { id: commandId };
        await o.consumer.publish(topic, JSON.stringify(payload));
      } catch (err) {
        const detail = (err as Error).message.replace(/^\[vigil\] \[fleet\] /, '');
        o.log('error', `${name} for ${serial} was not sent: ${detail}`);
        await o.audit.record(req, { action: name, serial, commandId, result: 'failed', detail });
        return json(res, 503, { error: `[vigil] [fleet] ${name} for ${serial} was not sent: ${detail}` });
      }
      await o.audit.record(req, { action: name, serial, commandId, result: 'ok' });
      json(res, 202, { serial, command: name, commandId, topic, signed: o.signCommand !== undefined });
    })().catch((err: Error) => {
      // The audit line could not be written: say so (the command may have gone out).
      o.log('error', `audit log: ${err.message}`);
      if (!res.headersSent) json(res, 500, { error: `[vigil] [fleet] the audit log could not be written: ${err.message}` });
      else res.end();
    });
    return true;
  };
}
