// Hostile answers from local VAPIX (issue 7, ROBUSTNESS.md): HTTP responses, param.cgi text, the
// applications XML, JSON answers. Fixed seed plus a printed random one (test/helpers/fc-seed.ts). The
// regression tests at the end are named after the bugs these found.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { check, checkAsync, seeds } from '../../../test/helpers/fc-seed';
import { FakeHost } from '../../test/fake-host';
import { serveVapix, VAPIX_HOST } from '../../test/vapix-fixture';
import { VigilError } from '../util/errors';
import { responseParser } from './http';
import { decodeEntities, parseAttributes, parseParamList, parseReply, startTags, createVapixClient } from './vapix';

const enc = (t: string | Uint8Array) => (typeof t === 'string' ? new Uint8Array(Buffer.from(t, 'latin1')) : t);

/** Only VigilErrors may escape a parser. */
function refusesCleanly(fn: () => unknown): unknown {
  try {
    return fn();
  } catch (e) {
    expect(e).toBeInstanceOf(VigilError);
    return e;
  }
}

function cut(bytes: Uint8Array, offsets: number[]): Uint8Array[] {
  const at = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const o of [...at, bytes.length]) (out.push(bytes.subarray(prev, o)), (prev = o));
  return out;
}

const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/);
const headerValue = fc.stringMatching(/^[ -~]{0,40}$/).map((v) => v.trim());

describe('HTTP responses under hostile input', () => {
  it.each(seeds(711))('random bytes in random chunks, then end of stream, give a response or a VigilError (%s)', (_l, seed) => {
    check(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 12 }), fc.boolean(), (chunks, withHead) => {
        const push = responseParser('GET /x', 4096);
        const all = withHead ? [enc('HTTP/1.1 200 OK\r\n'), ...chunks] : chunks;
        refusesCleanly(() => {
          for (const c of all) if (push(c)) return;
          push(null);
        });
      }),
      seed,
      2000,
    );
  });

  it.each(seeds(712))('a well-formed response (length, chunked or until EOF) reads back the same body however it is chunked (%s)', (_l, seed) => {
    check(
      fc.property(
        fc.integer({ min: 200, max: 599 }).filter((s) => s !== 204 && s !== 304),
        fc.array(fc.tuple(token, headerValue), { maxLength: 6 }),
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 5 }),
        fc.constantFrom('length', 'chunked', 'eof'),
        fc.array(fc.nat(), { maxLength: 20 }),
        (status, headers, parts, mode, offsets) => {
          const body = new Uint8Array(Buffer.concat(parts));
          const hs = headers.filter(([k]) => !/^(content-length|transfer-encoding)$/i.test(k));
          let head = `HTTP/1.1 ${status} Reason\r\n` + hs.map(([k, v]) => `${k}: ${v}\r\n`).join('');
          let payload: Buffer;
          if (mode === 'length') (head += `Content-Length: ${body.length}\r\n`), (payload = Buffer.from(body));
          else if (mode === 'chunked') {
            head += 'Transfer-Encoding: chunked\r\n';
            payload = Buffer.concat([...parts.filter((p) => p.length).map((p) => Buffer.concat([Buffer.from(p.length.toString(16) + '\r\n'), Buffer.from(p), Buffer.from('\r\n')])), Buffer.from('0\r\n\r\n')]);
          } else payload = Buffer.from(body);
          const bytes = new Uint8Array(Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), payload]));
          const push = responseParser('GET /x', 1 << 20);
          let res = null;
          for (const c of cut(bytes, offsets)) if (!res) res = push(c);
          if (!res) res = push(null);
          expect(res?.status).toBe(status);
          expect(Buffer.from(res!.body).equals(Buffer.from(body))).toBe(true);
        },
      ),
      seed,
      500,
    );
  });

  it.each(seeds(713))('an answer over the cap is refused with EFBIG whatever its framing (%s)', (_l, seed) => {
    check(
      fc.property(fc.integer({ min: 64, max: 2048 }), fc.integer({ min: 1, max: 4096 }), fc.boolean(), (max, extra, declared) => {
        const push = responseParser('GET /x', max);
        const head = declared ? `HTTP/1.1 200 OK\r\nContent-Length: ${max + extra}\r\n\r\n` : 'HTTP/1.1 200 OK\r\n\r\n';
        const err = refusesCleanly(() => {
          push(enc(head));
          push(new Uint8Array(max + extra));
          push(null);
        });
        expect((err as VigilError).code).toBe('EFBIG');
      }),
      seed,
      300,
    );
  });
});

describe('param.cgi text under hostile input', () => {
  it.each(seeds(721))('any text gives a parameter list or an EVAPIX error (%s)', (_l, seed) => {
    check(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => {
        const r = refusesCleanly(() => parseParamList(text));
        if (r instanceof VigilError) expect(r.code).toBe('EVAPIX');
      }),
      seed,
      2000,
    );
  });

  it.each(seeds(722))('well-formed lines read back with any value, with or without root. and CRLF (%s)', (_l, seed) => {
    check(
      fc.property(
        fc.dictionary(fc.stringMatching(/^[A-Za-z][\w.-]{0,20}$/), fc.string({ unit: 'binary', maxLength: 40 }).map((v) => v.replace(/[\r\n]/g, ''))),
        fc.boolean(),
        fc.boolean(),
        (params, root, crlf) => {
          const text = Object.entries(params).map(([k, v]) => `${root ? 'root.' : ''}${k}=${v}`).join(crlf ? '\r\n' : '\n');
          const got = parseParamList(text).params;
          for (const [k, v] of Object.entries(params)) expect(got.get(root ? k : k.replace(/^root\./, ''))).toBe(v);
        },
      ),
      seed,
      500,
    );
  });
});

describe('the applications XML under hostile input', () => {
  it.each(seeds(731))('any text gives a reply, an EVAPIX error, or attributes, never anything else (%s)', (_l, seed) => {
    check(
      fc.property(fc.string({ unit: fc.constantFrom('<', '>', '"', "'", '=', ' ', '&', ';', '#', 'x', 'a', '/', 'reply', 'application', 'result="ok"', 'Name=', 'amp', '\n'), maxLength: 200 }), (text) => {
        refusesCleanly(() => {
          for (const t of startTags(parseReply(text, 'list.cgi'), 'application')) parseAttributes(t.attributes);
        });
      }),
      seed,
      3000,
    );
  });

  it.each(seeds(732))('attributes written with escaped values read back exactly, in either quote style (%s)', (_l, seed) => {
    const escape = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
    check(
      fc.property(fc.dictionary(fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,10}$/), fc.string({ maxLength: 30 })), fc.boolean(), (attrs, single) => {
        const q = single ? "'" : '"';
        const xml = `<reply result="ok"><application ${Object.entries(attrs).map(([k, v]) => `${k}=${q}${escape(v)}${q}`).join(' ')}/></reply>`;
        const tags = [...startTags(parseReply(xml, 'x'), 'application')];
        expect(tags).toHaveLength(1);
        expect({ ...parseAttributes(tags[0].attributes) }).toEqual(attrs);
      }),
      seed,
      500,
    );
  });
});

describe('VAPIX JSON answers under hostile input', () => {
  const answer = fc.oneof(
    fc.json({ maxDepth: 6 }),
    fc.anything({ maxDepth: 4 }).map((v) => {
      try {
        return JSON.stringify({ data: v }) ?? 'null';
      } catch {
        return 'null';
      }
    }),
    fc.record({ propertyList: fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.object())) }).map((d) => JSON.stringify({ apiVersion: '1.0', data: d })),
    fc.nat({ max: 5000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  );

  it.each(seeds(741))('basicdeviceinfo and firmware status answers give values or an EVAPIX error (%s)', async (_l, seed) => {
    await checkAsync(
      fc.asyncProperty(answer, fc.boolean(), async (body, firmware) => {
        const fake = new FakeHost();
        serveVapix(fake, { '/axis-cgi/basicdeviceinfo.cgi': body, '/axis-cgi/firmwaremanagement.cgi': body });
        const client = createVapixClient(fake, { host: VAPIX_HOST, port: 80, timeoutMs: 1000 });
        const p = firmware ? client.firmwareStatus() : client.basicDeviceInfo();
        const r = await p.then(
          (v) => v,
          (e: unknown) => e,
        );
        if (r instanceof Error) {
          expect(r).toBeInstanceOf(VigilError);
          expect((r as VigilError).code).toMatch(/^(EVAPIX|EHTTP)$/);
        } else if (!firmware) for (const v of Object.values(r as object)) expect(v === undefined || typeof v === 'string').toBe(true);
      }),
      seed,
      300,
    );
  });
});

describe('regressions found by these properties', () => {
  it('vapix-xml-entity-named-like-object-member: &constructor; is left as it is, not turned into a function text', () => {
    expect(decodeEntities('&constructor; &toString; &__proto__; &amp;')).toBe('&constructor; &toString; &__proto__; &');
  });

  it('vapix-xml-unclosed-quote-quadratic: a megabyte of unclosed application tags is scanned in one linear pass', () => {
    const xml = '<reply result="ok">' + '<application a="'.repeat(65536);
    expect([...startTags(parseReply(xml, 'x'), 'application')]).toEqual([]);
  });

  it('vapix-xml-attribute-run-quadratic: a megabyte of unquoted attribute text gives no attributes, in one linear pass', () => {
    expect(Object.keys(parseAttributes('a'.repeat(1 << 20) + '"'.repeat(1 << 20)))).toEqual([]);
  });

  it('http-head-blank-run-quadratic: a header value with a 16 KB blank run inside is read without backtracking', () => {
    const push = responseParser('GET /x', 1 << 20);
    const res = push(enc('HTTP/1.1 200 OK' + ' '.repeat(8000) + '\r\nX: a' + ' \t'.repeat(4000) + 'b   \r\nContent-Length: 0\r\n\r\n'));
    expect(res?.reason).toBe('OK');
    expect(res?.headers.x).toBe('a' + ' \t'.repeat(4000) + 'b');
  });
});
