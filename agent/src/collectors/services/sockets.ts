/**
 * Listening sockets from /proc/net/{tcp,tcp6,udp,udp6}: TCP in state 0A (LISTEN), UDP bound and not
 * connected (state 07, remote port 0). Addresses are printed by the kernel as 32-bit words in host order
 * (little-endian on Axis SoCs), 1 word for IPv4 and 4 for IPv6.
 */
import type { Host } from '../../host';
import type { CollectorError, ListeningSocket } from '../../report/types';
import { readText } from '../../util/text';
import { quote } from '../../util/errors';
import { collectorError, toCollectorError } from '../context';

export const SOCKET_TABLES = ['tcp', 'tcp6', 'udp', 'udp6'] as const;
const MAX_TABLE_BYTES = 1 << 20;

//   sl  local_address rem_address   st …   (hex address:port, hex state)
const ROW = /^\s*\d+:\s+([0-9A-Fa-f]+):([0-9A-Fa-f]{4})\s+([0-9A-Fa-f]+):([0-9A-Fa-f]{4})\s+([0-9A-Fa-f]{2})(?:\s|$)/;

export const readListeningSockets = async (
  host: Pick<Host, 'fs'>,
  procNetDir: string,
): Promise<{ sockets: ListeningSocket[]; errors: CollectorError[] }> => {
  const sockets: ListeningSocket[] = [];
  const errors: CollectorError[] = [];
  const seen = new Set<string>();
  for (const proto of SOCKET_TABLES) {
    const path = `${procNetDir}/${proto}`;
    let text: string;
    try {
      text = await readText(host.fs, path, MAX_TABLE_BYTES);
    } catch (err) {
      errors.push(toCollectorError('services', err, `cannot read ${path}`));
      continue;
    }
    const { rows, bad } = parseSocketTable(text, proto);
    for (const s of rows) {
      const key = `${s.proto} ${s.address} ${s.port}`;
      if (!seen.has(key)) sockets.push(s);
      seen.add(key);
    }
    if (bad.length) {
      errors.push(collectorError('services', 'EPARSE', `${path}: ${bad.length} malformed line(s), first ${quote(bad[0], 60)}`));
    }
  }
  return { sockets, errors };
};

export const parseSocketTable = (text: string, proto: ListeningSocket['proto']): { rows: ListeningSocket[]; bad: string[] } => {
  const rows: ListeningSocket[] = [];
  const bad: string[] = [];
  const hexLen = proto.endsWith('6') ? 32 : 8;
  for (const line of text.split('\n')) {
    if (!line.trim() || /^\s*sl\s/.test(line)) continue;
    const m = ROW.exec(line);
    if (!m || m[1].length !== hexLen || m[3].length !== hexLen) {
      bad.push(line.trim());
      continue;
    }
    const state = m[5].toUpperCase();
    const listening = proto[0] === 't' ? state === '0A' : state === '07' && m[4] === '0000';
    if (listening) rows.push({ proto, address: decodeAddress(m[1]), port: parseInt(m[2], 16) });
  }
  return { rows, bad };
};

/** `0100007F` → 127.0.0.1; 32 hex digits → compressed IPv6 (`::`, `::1`, `::ffff:10.0.0.1`). */
export const decodeAddress = (hex: string): string => {
  const b: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    for (let j = 6; j >= 0; j -= 2) b.push(parseInt(hex.slice(w + j, w + j + 2), 16));
  }
  if (b.length === 4) return b.join('.');
  if (b.slice(0, 10).every((x) => x === 0) && b[10] === 255 && b[11] === 255) return '::ffff:' + b.slice(12).join('.');
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[i] << 8) | b[i + 1]).toString(16));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && g[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
  }
  return best < 0 ? g.join(':') : g.slice(0, best).join(':') + '::' + g.slice(best + bestLen).join(':');
};

export const isLoopback = (address: string): boolean => /^(127\.|::1$|::ffff:127\.)/.test(address);
