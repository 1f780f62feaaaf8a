/**
 * JSON over the fleet's small POST routes (retire, dashboard commands, login): a bounded body read, the JSON
 * answer those routes give, and a JSON body parsed or refused with the route's one clear error.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A JSON answer that no cache keeps (every answer of these routes depends on who asks and when). */
export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers }).end(JSON.stringify(body));
}

/** The body as text; null when it is larger than `max` bytes. */
export function readBody(req: IncomingMessage, max: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => {
      size += d.length;
      // Too large: answered at once, the rest read and dropped (destroying the request would lose the answer).
      if (size > max) resolve(null);
      else chunks.push(d);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * The body parsed as JSON ({ body: undefined } when it is empty), or null once the request has been answered:
 * 413 when it is larger than `max` bytes, 400 when it is not JSON.
 */
export async function readJsonBody(req: IncomingMessage, res: ServerResponse, max: number): Promise<{ body: unknown } | null> {
  const text = await readBody(req, max);
  if (text === null) {
    json(res, 413, { error: `[vigil] [fleet] the body is larger than ${max} bytes` });
    return null;
  }
  if (text.trim() === '') return { body: undefined };
  try {
    return { body: JSON.parse(text) as unknown };
  } catch {
    json(res, 400, { error: '[vigil] [fleet] the body is not JSON' });
    return null;
  }
}
