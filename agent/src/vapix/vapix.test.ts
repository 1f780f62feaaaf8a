import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config';
import { FakeHost } from '../../test/fake-host';
import { serveVapix, TEST_CREDENTIALS, type VapixAnswer } from '../../test/vapix-fixture';
import { decodeEntities, parseAttributes, parseParamList, resolveVapixCredentials, createVapixClient } from './vapix';

const TARGET = { host: '127.0.0.12', port: 80, timeoutMs: 5000 };

function client(answers: Record<string, VapixAnswer>) {
  const fake = new FakeHost();
  const requests = serveVapix(fake, answers, { credentials: TEST_CREDENTIALS });
  return { vapix: createVapixClient(fake, { ...TARGET, credentials: TEST_CREDENTIALS }), requests, fake };
}

const BASIC = '/axis-cgi/basicdeviceinfo.cgi';
const FW = '/axis-cgi/firmwaremanagement.cgi';
const LIST = '/axis-cgi/applications/list.cgi';
const CONFIG = '/axis-cgi/applications/config.cgi';
const PARAM = '/axis-cgi/param.cgi';

describe('basicDeviceInfo', () => {
  it('posts getAllProperties as JSON and returns the property list', async () => {
    const { vapix, requests } = client({
      [BASIC]: JSON.stringify({
        apiVersion: '1.3',
        context: 'vigil',
        data: { propertyList: { SerialNumber: 'ACCC8EF3A1C2', Soc: 'Axis Artpec-8', Version: '12.11.77', Extra: 3 } },
      }),
    });
    const props = await vapix.basicDeviceInfo();
    expect(props).toMatchObject({ SerialNumber: 'ACCC8EF3A1C2', Soc: 'Axis Artpec-8', Version: '12.11.77' });
    expect(requests[0].method).toBe('POST');
    expect(JSON.parse(requests[0].body)).toEqual({ apiVersion: '1.0', context: 'vigil', method: 'getAllProperties' });
  });

  it('rejects a property of the wrong type with a clear EVAPIX error', async () => {
    const { vapix } = client({ [BASIC]: JSON.stringify({ data: { propertyList: { SerialNumber: 12345 } } }) });
    await expect(vapix.basicDeviceInfo()).rejects.toMatchObject({
      code: 'EVAPIX',
      message: '[vigil] [vapix] basicdeviceinfo.cgi getAllProperties: "SerialNumber" should be a string, got 12345',
    });
  });

  it('rejects an answer without propertyList', async () => {
    const { vapix } = client({ [BASIC]: JSON.stringify({ data: [] }) });
    await expect(vapix.basicDeviceInfo()).rejects.toMatchObject({ code: 'EVAPIX', message: expect.stringMatching(/no "data" object/) });
  });

  it('passes on the device error object', async () => {
    const { vapix } = client({ [BASIC]: JSON.stringify({ apiVersion: '1.0', error: { code: 1000, message: 'Property not supported' } }) });
    await expect(vapix.basicDeviceInfo()).rejects.toMatchObject({ code: 'EVAPIX', message: expect.stringMatching(/device error 1000 Property not supported/) });
  });

  it('rejects an answer that is not JSON', async () => {
    const { vapix } = client({ [BASIC]: '<html>Service Unavailable</html>' });
    await expect(vapix.basicDeviceInfo()).rejects.toMatchObject({ code: 'EVAPIX', message: expect.stringMatching(/not JSON/) });
  });

  it('reports HTTP 500 as EHTTP', async () => {
    const { vapix } = client({ [BASIC]: { status: 500, body: 'oops' } });
    await expect(vapix.basicDeviceInfo()).rejects.toMatchObject({ code: 'EHTTP', message: expect.stringMatching(/HTTP 500/) });
  });

  it('reports wrong credentials as EAUTH', async () => {
    const fake = new FakeHost();
    serveVapix(fake, { [BASIC]: '{}' }, { credentials: TEST_CREDENTIALS });
    const vapix = createVapixClient(fake, { ...TARGET, credentials: { username: 'a0-vigil', password: 'wrong' } });
    await expect(vapix.basicDeviceInfo()).rejects.toMatchObject({ code: 'EAUTH' });
  });
});

describe('firmwareStatus', () => {
  it('reads the status with the isCommited spelling and optional fields', async () => {
    const data = {
      activeFirmwareVersion: '12.11.77',
      activeFirmwarePart: '7454651131',
      inactiveFirmwareVersion: 'UNKNOWN',
      isCommited: false,
      pendingCommit: 'started',
      timeToRollback: '600',
    };
    const { vapix } = client({ [FW]: { status: 200, body: JSON.stringify({ apiVersion: '1.10', method: 'status', data }), chunked: true } });
    expect(await vapix.firmwareStatus()).toEqual({
      fwActive: '12.11.77',
      fwPart: '7454651131',
      fwInactive: 'UNKNOWN',
      fwCommited: false,
      fwPending: 'started',
      fwRollback: 600,
      fwUpgradeAt: undefined,
    });
  });

  it('reads isCommitted, the dictionary spelling, where isCommited is absent', async () => {
    const { vapix } = client({ [FW]: JSON.stringify({ data: { activeFirmwareVersion: '11.11.140', isCommitted: false } }) });
    expect((await vapix.firmwareStatus()).fwCommited).toBe(false);
  });

  it('rejects isCommited that is not a boolean', async () => {
    const { vapix } = client({ [FW]: JSON.stringify({ data: { activeFirmwareVersion: '12.11.77', isCommited: 'yes' } }) });
    await expect(vapix.firmwareStatus()).rejects.toMatchObject({ code: 'EVAPIX', message: expect.stringMatching(/"isCommited" should be a boolean/) });
  });
});

describe('listApplications', () => {
  it('parses application attributes in any order, with entities', async () => {
    const xml =
      '<reply result="ok">\n' +
      ' <application Name="vigil" NiceName="Vigil &amp; Co" Vendor="Example Corp" Version="1.0.0" Status="Running" SignatureStatus="Signed"/>\n' +
      " <application Status='Stopped' Version=\"2.1\" Name=\"objectanalytics\" NiceName=\"AXIS Object Analytics\" Vendor=\"Axis Communications\" License=\"None\">" +
      '<CompatibleOsVersions><VersionRange><Min>11.0</Min><Max>13</Max></VersionRange></CompatibleOsVersions></application>\n' +
      '</reply>';
    const { vapix } = client({ [LIST]: xml });
    expect(await vapix.listApplications()).toEqual([
      { name: 'vigil', niceName: 'Vigil & Co', vendor: 'Example Corp', version: '1.0.0', status: 'Running', signatureStatus: 'Signed', applicationId: null, license: null, vendorHomePage: null },
      { name: 'objectanalytics', niceName: 'AXIS Object Analytics', vendor: 'Axis Communications', version: '2.1', status: 'Stopped', signatureStatus: null, applicationId: null, license: 'None', vendorHomePage: null },
    ]);
  });

  it('prefers SignatureStatus when a camera sends both spellings', async () => {
    const { vapix } = client({ [LIST]: '<reply result="ok"><application Name="a" SignedStatus="Unsigned" SignatureStatus="Signed"/></reply>' });
    expect((await vapix.listApplications())[0].signatureStatus).toBe('Signed');
  });

  it('returns no applications for an empty reply', async () => {
    const { vapix } = client({ [LIST]: '<reply result="ok"/>' });
    expect(await vapix.listApplications()).toEqual([]);
  });

  it('rejects an error reply with its text', async () => {
    const { vapix } = client({ [LIST]: '<reply result="error"><error type="10">Internal error</error></reply>' });
    await expect(vapix.listApplications()).rejects.toMatchObject({
      code: 'EVAPIX',
      message: '[vigil] [vapix] applications/list.cgi: device replied result="error": Internal error',
    });
  });
});

describe('unsignedAllowed', () => {
  it('reads AllowUnsigned true', async () => {
    const { vapix, requests } = client({ [CONFIG]: '<reply result="ok"><param name="AllowUnsigned" value="true"/></reply>' });
    expect(await vapix.unsignedAllowed()).toBe(true);
    expect(requests[0].query).toBe('action=get&name=AllowUnsigned');
  });

  it('is null when the device has no config.cgi (404)', async () => {
    const { vapix } = client({});
    expect(await vapix.unsignedAllowed()).toBeNull();
  });

  it('rejects a value that is not a boolean', async () => {
    const { vapix } = client({ [CONFIG]: '<reply result="ok"><param value="maybe" name="AllowUnsigned"/></reply>' });
    await expect(vapix.unsignedAllowed()).rejects.toMatchObject({ code: 'EVAPIX', message: expect.stringMatching(/"maybe" is not true or false/) });
  });
});

describe('listParams', () => {
  it('asks for the groups and returns names without the root. prefix', async () => {
    const { vapix, requests } = client({ [PARAM]: 'root.Network.SSH.Enabled=yes\nroot.SNMP.Enabled=no\n' });
    const list = await vapix.listParams(['Network.SSH', 'SNMP', 'Missing']);
    expect(requests[0].method).toBe('GET');
    expect(requests[0].query).toBe('action=list&group=Network.SSH,SNMP,Missing');
    expect(Array.from(list.params)).toEqual([
      ['Network.SSH.Enabled', 'yes'],
      ['SNMP.Enabled', 'no'],
    ]);
    expect(list.groupErrors).toEqual(['Missing']);
  });
});

describe('parseParamList', () => {
  it('keeps the line after an error line even without its root. prefix', () => {
    const text = "root.Network.SSH.Enabled=no\r\n# Error: Error -1 getting param in group 'Network.Telnet'\r\nNetwork.FTP.Enabled=yes\r\n";
    const list = parseParamList(text);
    expect(list.params.get('Network.FTP.Enabled')).toBe('yes');
    expect(list.groupErrors).toEqual(['Network.Telnet']);
  });

  it('keeps = signs inside values', () => {
    expect(parseParamList('root.Time.POSIXTimeZone=CET-1CEST,M3.5.0,M10.5.0/3=x').params.get('Time.POSIXTimeZone')).toBe('CET-1CEST,M3.5.0,M10.5.0/3=x');
  });

  it('rejects a body that is not name=value lines', () => {
    expect(() => parseParamList('<HTML><HEAD><META HTTP-EQUIV="Refresh" CONTENT="0"></HEAD></HTML>')).toThrow(/line 1 is not name=value/);
  });
});

describe('XML helpers', () => {
  it('decodes named and numeric entities and leaves unknown ones', () => {
    expect(decodeEntities('a &amp; b &lt;c&gt; &quot;&apos; &#65;&#x42; &nbsp;')).toBe('a & b <c> "\' AB &nbsp;');
  });

  it('reads attributes with spaces around = and > inside values', () => {
    expect(parseAttributes(' Name = "a>b"  Vendor=\'X\'')).toEqual({ Name: 'a>b', Vendor: 'X' });
  });
});

describe('resolveVapixCredentials', () => {
  const config = parseConfig({ BrokerHost: 'b', VapixUsername: 'root', VapixPassword: 'cfg' });

  it('prefers the host credentials', async () => {
    const fake = new FakeHost({ vapixCredentials: TEST_CREDENTIALS });
    expect(await resolveVapixCredentials(fake, config)).toEqual(TEST_CREDENTIALS);
  });

  it('falls back to the configured credentials when the host has none', async () => {
    expect(await resolveVapixCredentials(new FakeHost(), config)).toEqual({ username: 'root', password: 'cfg' });
  });

  it('falls back to the configured credentials when the host call fails', async () => {
    const fake = new FakeHost();
    fake.vapixCredentials = () => Promise.reject(Object.assign(new Error('dbus down'), { code: 'EIO' }));
    expect(await resolveVapixCredentials(fake, config)).toEqual({ username: 'root', password: 'cfg' });
  });

  it('is null without any credentials', async () => {
    expect(await resolveVapixCredentials(new FakeHost(), parseConfig({ BrokerHost: 'b' }))).toBeNull();
  });
});
