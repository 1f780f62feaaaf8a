// The simulated VAPIX: each CGI answers from the profile in the device's format, credentials are
// checked (HTTP Basic), and each fault mode behaves as described.
import { afterEach, describe, expect, it } from 'vitest';
import { loadProfile } from '../src/profiles';
import { VapixServer } from '../src/vapix-server';
import type { VapixFault } from '../src/profiles';

const servers: VapixServer[] = [];
afterEach(async () => {
  while (servers.length) await (servers.pop() as VapixServer).close();
});

async function serve(name: string, faults?: VapixFault[]) {
  const profile = loadProfile(name).data;
  const server = new VapixServer({ profile });
  if (faults) server.setFaults(faults);
  servers.push(server);
  const port = await server.listen();
  const c = profile.vapix.credentials;
  const auth = 'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64');
  const call = (pathAndQuery: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${port}${pathAndQuery}`, { ...init, headers: { Authorization: auth, ...(init.headers ?? {}) } });
  const post = (cgi: string, body: unknown) => call(cgi, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
  return { server, port, profile, call, post };
}

describe('VapixServer CGIs', () => {
  it('answers basicdeviceinfo getAllProperties with the profile identity', async () => {
    const { post } = await serve('active-12');
    const res = await post('/axis-cgi/basicdeviceinfo.cgi', { apiVersion: '1.0', context: 'vigil', method: 'getAllProperties' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { apiVersion: string; context: string; data: { propertyList: Record<string, string> } };
    expect(body.apiVersion).toBe('1.3');
    expect(body.context).toBe('vigil');
    expect(body.data.propertyList).toMatchObject({ SerialNumber: 'ACCC8E9A3B21', ProdNbr: 'Q3536-LVE', Version: '12.11.77', Architecture: 'aarch64', Soc: 'Axis Artpec-8' });
  });

  it('leaves Architecture and Soc out of getAllUnrestrictedProperties', async () => {
    const { post } = await serve('active-12');
    const body = (await (await post('/axis-cgi/basicdeviceinfo.cgi', { apiVersion: '1.0', method: 'getAllUnrestrictedProperties' })).json()) as { data: { propertyList: Record<string, string> } };
    expect(body.data.propertyList.Architecture).toBeUndefined();
    expect(body.data.propertyList.Version).toBe('12.11.77');
  });

  it('answers firmwaremanagement status with the spelling isCommited', async () => {
    const { post } = await serve('lts2024');
    const body = (await (await post('/axis-cgi/firmwaremanagement.cgi', { apiVersion: '1.0', context: 'c', method: 'status' })).json()) as {
      method: string;
      data: Record<string, unknown>;
    };
    expect(body.method).toBe('status');
    expect(body.data).toMatchObject({ activeFirmwareVersion: '11.11.140', inactiveFirmwareVersion: '11.11.135', isCommited: true });
  });

  it('lists applications as XML attributes in the documented order, SignatureStatus last', async () => {
    const { call } = await serve('exposed');
    const xml = await (await call('/axis-cgi/applications/list.cgi')).text();
    expect(xml).toBe(
      '<reply result="ok">\n' +
        ' <application Name="camstreamer" NiceName="Stream Relay" Vendor="Example Integrations" Version="2.3.1" ApplicationID="" License="Valid" Status="Running"' +
        ' ConfigurationPage="" VendorHomePage="" LicenseName="Available" SignatureStatus="Unsigned" />\n' +
        '</reply>\n',
    );
  });

  it('lists an Axis app with its ApplicationID, configuration page and vendor link', async () => {
    const { call } = await serve('active-12');
    const xml = await (await call('/axis-cgi/applications/list.cgi')).text();
    expect(xml).toContain(
      ' <application Name="objectanalytics" NiceName="AXIS Object Analytics" Vendor="Axis Communications" Version="1.8.9" ApplicationID="415827" License="None" Status="Running"' +
        ' ConfigurationPage="local/objectanalytics/index.html" VendorHomePage="http://www.axis.com" LicenseName="Available" SignatureStatus="Signed" />\n',
    );
  });

  it('answers AllowUnsigned from applications/config.cgi', async () => {
    const { call } = await serve('exposed');
    expect(await (await call('/axis-cgi/applications/config.cgi?action=get&name=AllowUnsigned')).text()).toBe('<reply result="ok"><param name="AllowUnsigned" value="true"/></reply>');
  });

  it('has no applications/config.cgi before AXIS OS 11.2', async () => {
    const { call } = await serve('legacy-840');
    expect((await call('/axis-cgi/applications/config.cgi?action=get&name=AllowUnsigned')).status).toBe(404);
  });

  it('lists param.cgi groups as root.Group.Name=value lines', async () => {
    const { call } = await serve('exposed');
    const text = await (await call('/axis-cgi/param.cgi?action=list&group=Network.SSH,SNMP')).text();
    expect(text.split('\n')).toEqual(expect.arrayContaining(['root.Network.SSH.Enabled=yes', 'root.SNMP.V1=yes', 'root.SNMP.V2c=yes']));
    expect(text).not.toMatch(/Network\.FTP/);
  });

  it('derives Properties and Brand parameters from the identity', async () => {
    const { call } = await serve('lts2022');
    const text = await (await call('/axis-cgi/param.cgi?action=list&group=Properties.Firmware.Version,Brand.ProdNbr')).text();
    expect(text).toBe('root.Properties.Firmware.Version=10.12.228\nroot.Brand.ProdNbr=P8815-2\n');
  });

  it('reports a missing param group as the device does, dropping root. from the next line', async () => {
    const { call } = await serve('legacy-840');
    const text = await (await call('/axis-cgi/param.cgi?action=list&group=WebService.DiscoveryMode,Network.SSH')).text();
    expect(text).toBe("# Error: Error -1 getting param in group 'WebService.DiscoveryMode'\nNetwork.SSH.Enabled=no\n");
  });

  it('accepts param.cgi as a form POST', async () => {
    const { call } = await serve('hardened');
    const res = await call('/axis-cgi/param.cgi', { method: 'POST', body: 'action=list&group=Network.SSH.Enabled', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    expect(await res.text()).toBe('root.Network.SSH.Enabled=no\n');
  });

  it('answers param.cgi in ISO-8859-1 and says so, as a camera does', async () => {
    const { server, call } = await serve('hardened');
    server.setParam('Image.I0.Text.String', 'Haustür Entrée');
    const res = await call('/axis-cgi/param.cgi?action=list&group=Image.I0.Text.String');
    expect(res.headers.get('content-type')).toBe('text/plain; charset=ISO-8859-1');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.equals(Buffer.from('root.Image.I0.Text.String=Haustür Entrée\n', 'latin1'))).toBe(true);
  });

  it('answers a character ISO-8859-1 lacks as ?', async () => {
    const { server, call } = await serve('hardened');
    server.setParam('Image.I0.Text.String', 'Kamera €');
    const bytes = Buffer.from(await (await call('/axis-cgi/param.cgi?action=list&group=Image.I0.Text.String')).arrayBuffer());
    expect(bytes.toString('latin1')).toBe('root.Image.I0.Text.String=Kamera ?\n');
  });

  it('answers 404 for anything else', async () => {
    const { call } = await serve('active-12');
    expect((await call('/axis-cgi/admin/systemlog.cgi')).status).toBe(404);
  });
});

describe('VapixServer credentials', () => {
  it('rejects wrong credentials with 401 and a Basic challenge', async () => {
    const { port } = await serve('active-12');
    const res = await fetch(`http://127.0.0.1:${port}/axis-cgi/applications/list.cgi`, { headers: { Authorization: 'Basic ' + Buffer.from('a0-vigil:wrong').toString('base64') } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="AXIS_ACCC8E9A3B21"');
  });

  it('rejects a request without credentials with 401', async () => {
    const { port } = await serve('active-12');
    expect((await fetch(`http://127.0.0.1:${port}/axis-cgi/param.cgi?action=list`)).status).toBe(401);
  });
});

describe('VapixServer faults', () => {
  it('garbage: 200 with a body that does not parse', async () => {
    const { post } = await serve('active-12', [{ mode: 'garbage', paths: ['/axis-cgi/basicdeviceinfo.cgi'] }]);
    const res = await post('/axis-cgi/basicdeviceinfo.cgi', { apiVersion: '1.0', method: 'getAllProperties' });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(() => JSON.parse(text)).toThrow();
  });

  it('status500: an HTTP 500', async () => {
    const { call } = await serve('active-12', [{ mode: 'status500', paths: ['/axis-cgi/applications/list.cgi'] }]);
    expect((await call('/axis-cgi/applications/list.cgi')).status).toBe(500);
  });

  it('slow: the normal answer after delayMs', async () => {
    const { call } = await serve('active-12', [{ mode: 'slow', delayMs: 300 }]);
    const t0 = Date.now();
    const res = await call('/axis-cgi/param.cgi?action=list&group=Network.SSH');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    expect(await res.text()).toBe('root.Network.SSH.Enabled=no\n');
  });

  it('hang: no answer at all until the client gives up', async () => {
    const { call, server } = await serve('active-12', [{ mode: 'hang', paths: ['/axis-cgi/firmwaremanagement.cgi'] }]);
    await expect(call('/axis-cgi/firmwaremanagement.cgi', { method: 'POST', body: '{"method":"status"}', signal: AbortSignal.timeout(300) })).rejects.toThrow();
    expect(server.requests.at(-1)).toMatchObject({ path: '/axis-cgi/firmwaremanagement.cgi', fault: 'hang' });
  });

  it('applies a fault only to its paths', async () => {
    const { call } = await serve('active-12', [{ mode: 'status500', paths: ['/axis-cgi/applications/list.cgi'] }]);
    expect((await call('/axis-cgi/param.cgi?action=list&group=Network.SSH')).status).toBe(200);
  });

  it('takes new fault rules at run time (the hook for timed faults)', async () => {
    const { call, server } = await serve('active-12');
    expect((await call('/axis-cgi/applications/list.cgi')).status).toBe(200);
    server.setFaults([{ mode: 'status500' }]);
    expect((await call('/axis-cgi/applications/list.cgi')).status).toBe(500);
    server.setFaults([]);
    expect((await call('/axis-cgi/applications/list.cgi')).status).toBe(200);
  });

  it('uses the bad-vapix profile faults by default', async () => {
    const { call } = await serve('bad-vapix');
    expect((await call('/axis-cgi/applications/list.cgi')).status).toBe(500);
  });
});
