// VAPIX answers decoded by their declared charset: param.cgi on a real camera is ISO-8859-1
// (`Content-Type: text/plain; charset=ISO-8859-1`), JSON APIs are UTF-8. The param.cgi fixture is a whole raw
// answer, bytes as a camera sends them (testdata/param-list-latin1.http).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FakeHost } from '../../test/fake-host';
import { bodyText, charsetOf, type HttpResponse } from './http';
import { createVapixClient } from './vapix';

const RAW_LATIN1_ANSWER = new Uint8Array(readFileSync(new URL('./testdata/param-list-latin1.http', import.meta.url)));
const TARGET = { host: '127.0.0.12', port: 80, timeoutMs: 5000 };

/** A VAPIX server that answers every request with the same raw bytes. */
function rawServer(answer: Uint8Array) {
  const fake = new FakeHost();
  fake.serve(TARGET.host, TARGET.port, (peer) => {
    peer.onData(() => {
      peer.send(answer);
      peer.end();
    });
  });
  return createVapixClient(fake, TARGET);
}

const latin1 = (text: string) => new Uint8Array(Buffer.from(text, 'latin1'));
const response = (contentType: string | undefined, body: Uint8Array): HttpResponse => ({
  status: 200,
  reason: 'OK',
  headers: contentType === undefined ? {} : { 'content-type': contentType },
  body,
});

describe('VAPIX charsets', () => {
  it('reads a param.cgi answer declared ISO-8859-1 with its umlauts and accents', async () => {
    const list = await rawServer(RAW_LATIN1_ANSWER).listParams(['Image.I0.Text', 'Network.Bonjour']);
    expect(list.params.get('Image.I0.Text.String')).toBe('Entrée Haustür');
    expect(list.params.get('Network.Bonjour.FriendlyName')).toBe('AXIS P3265-LVE - Fußgängerüberweg');
    expect(list.params.get('System.HostName')).toBe('axis-accc8e000001');
  });

  it('decodes ISO-8859-1 whatever the case of the charset name and with quotes', () => {
    for (const type of ['text/plain; charset=iso-8859-1', 'text/plain;charset="ISO-8859-1"', 'text/plain; Charset = Latin1', 'text/plain; charset=ISO_8859-1; x=y']) {
      expect(bodyText(response(type, latin1('Haustür'))), type).toBe('Haustür');
    }
  });

  it('decodes UTF-8 when the answer says so', () => {
    expect(bodyText(response('text/plain; charset=UTF-8', new Uint8Array(Buffer.from('Haustür', 'utf8'))))).toBe('Haustür');
    expect(bodyText(response('application/json; charset="utf-8"', new Uint8Array(Buffer.from('{"a":"é"}', 'utf8'))))).toBe('{"a":"é"}');
  });

  it('decodes UTF-8 when no charset is declared, as JSON answers come', () => {
    expect(bodyText(response('application/json', new Uint8Array(Buffer.from('"Fußgänger"', 'utf8'))))).toBe('"Fußgänger"');
    expect(bodyText(response(undefined, new Uint8Array(Buffer.from('ü', 'utf8'))))).toBe('ü');
  });

  it('falls back to UTF-8 for a charset it does not know', () => {
    expect(charsetOf('text/plain; charset=koi8-r')).toBe('utf-8');
    expect(charsetOf('text/plain; charsetx=iso-8859-1')).toBe('utf-8');
  });
});
