/**
 * The agent's parsers of untrusted bytes, as one function for the native coverage-guided fuzzer
 * (host-native/fuzz/fuzz_js.c): `__vigilFuzz(selector, bytes)` feeds bytes that arrived through a socket
 * read or a file read into the parser the selector names. Bundled by host-native/fuzz/build.sh into
 * out/fuzz/fuzz-parsers.js and run inside the native host's QuickJS, so engine bugs reachable by data
 * (reference quickjs.md §3) are in scope too.
 *
 * Returns normally when the parser returned or threw a VigilError (a clean refusal). Anything else thrown
 * (TypeError, RangeError, an engine InternalError other than stack overflow) escapes: the harness aborts.
 */
import { PacketParser, decodeAnyPacket } from '../src/mqtt/codec';
import { responseParser } from '../src/vapix/http';
import { parseAttributes, parseParamList, parseReply, startTags } from '../src/vapix/vapix';
import { parseSocketTable } from '../src/collectors/services/sockets';
import type { Host } from '../src/host';
import { installText, utf8Decode } from '../src/util/text';
import { VigilError } from '../src/util/errors';

// The parsers decode text through the host's codec, as in the agent (fuzz_js.c fills host.text).
installText((globalThis as unknown as { __vigilHost: Host }).__vigilHost.text);

/** Splits data into chunks at offsets the data itself chooses (its first byte), like a TCP stream would. */
function chunks(data: Uint8Array): Uint8Array[] {
  if (data.length === 0) return [data];
  const step = (data[0] % 13) + 1;
  const out: Uint8Array[] = [];
  for (let i = 1; i < data.length; i += step) out.push(data.subarray(i, i + step));
  return out;
}

const PARSERS: Array<(data: Uint8Array) => unknown> = [
  // MQTT from a broker (3.1.1), as the client's socket reads deliver it
  (d) => {
    const p = new PacketParser({ maxPacketBytes: 4096 });
    for (const c of chunks(d)) p.push(c);
  },
  // MQTT 5 from a broker
  (d) => {
    const p = new PacketParser({ maxPacketBytes: 4096, protocolLevel: 5 });
    for (const c of chunks(d)) p.push(c);
  },
  // any MQTT packet (scripted brokers and tests)
  (d) => {
    const p = new PacketParser({ maxPacketBytes: 4096, decode: decodeAnyPacket });
    for (const c of chunks(d)) p.push(c);
  },
  // an HTTP/1.1 response from local VAPIX, then end of stream
  (d) => {
    const push = responseParser('GET /fuzz', 8192);
    for (const c of chunks(d)) if (push(c)) return;
    push(null);
  },
  // param.cgi action=list text
  (d) => parseParamList(utf8Decode(d)),
  // applications/list.cgi XML
  (d) => {
    const body = parseReply(utf8Decode(d), 'fuzz');
    for (const tag of startTags(body, 'application')) parseAttributes(tag.attributes);
  },
  // /proc/net/tcp and tcp6 (file reads)
  (d) => {
    const text = utf8Decode(d);
    parseSocketTable(text, 'tcp');
    parseSocketTable(text, 'udp6');
  },
  // JSON answers (VAPIX JSON, baseline.json, command payloads) through the engine's JSON
  (d) => JSON.stringify(JSON.parse(utf8Decode(d))),
];

function fuzz(selector: number, buffer: ArrayBuffer): void {
  const parse = PARSERS[selector % PARSERS.length];
  try {
    parse(new Uint8Array(buffer));
  } catch (err) {
    if (err instanceof VigilError) return;
    // JSON.parse's own refusal
    if (err instanceof SyntaxError && selector % PARSERS.length === PARSERS.length - 1) return;
    // deep nesting: a catchable engine limit, not a crash
    if (err instanceof Error && err.name === 'InternalError' && /stack overflow/.test(err.message)) return;
    if (err instanceof RangeError && /stack|call stack/i.test(err.message)) return;
    throw err;
  }
}

(globalThis as unknown as { __vigilFuzz: typeof fuzz }).__vigilFuzz = fuzz;
