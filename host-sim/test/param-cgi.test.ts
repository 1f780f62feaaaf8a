// The simulated camera's param.cgi for the app's own parameters: `root.vigil.*` listed from manifest.json's
// paramConfig with the camera's values, and `action=update` changing them, as the camera's settings page does.
import { afterEach, describe, expect, it } from 'vitest';
import { loadProfile } from '../src/profiles';
import { AppSettings, VapixServer, type AppParam } from '../src/vapix-server';
import { manifestAppParams } from '../src/param-cgi';

const servers: VapixServer[] = [];
afterEach(async () => {
  while (servers.length) await (servers.pop() as VapixServer).close();
});

async function serve(app?: AppSettings) {
  const profile = loadProfile('active-12').data;
  const server = new VapixServer({ profile, app });
  servers.push(server);
  const port = await server.listen();
  const c = profile.vapix.credentials;
  const auth = 'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64');
  const text = async (query: string, headers: Record<string, string> = { Authorization: auth }) => {
    const res = await fetch(`http://127.0.0.1:${port}/axis-cgi/param.cgi?${query}`, { headers });
    return { status: res.status, body: await res.text() };
  };
  return { server, text };
}

const lines = (body: string) => body.split('\n').filter((l) => l);

describe('param.cgi: the app group root.vigil', () => {
  it("lists every parameter of manifest.json's paramConfig with its default", async () => {
    const { text } = await serve();
    const { body } = await text('action=list&group=root.vigil');
    const declared = manifestAppParams();
    expect(lines(body)).toHaveLength(declared.length);
    expect(lines(body)).toContain('root.vigil.IntervalSec=300');
    expect(lines(body)).toContain('root.vigil.MqttVersion=3.1.1');
  });

  it("lists the camera's value over the default", async () => {
    const { text } = await serve(new AppSettings(undefined, { IntervalSec: '60', BrokerHost: 'mqtt.lan' }));
    const { body } = await text('action=list&group=vigil');
    expect(lines(body)).toEqual(expect.arrayContaining(['root.vigil.IntervalSec=60', 'root.vigil.BrokerHost=mqtt.lan']));
  });

  it('answers the Error -1 line for the group on a camera without the app', async () => {
    const { text } = await serve(new AppSettings([]));
    expect((await text('action=list&group=root.vigil')).body).toBe("# Error: Error -1 getting param in group 'vigil'\n");
  });

  it('updates an app parameter for an admin and lists the new value', async () => {
    const { server, text } = await serve();
    expect((await text('action=update&root.vigil.IntervalSec=20')).body).toBe('OK\n');
    expect(server.app.get('IntervalSec')).toBe('20');
    expect((await text('action=list&group=root.vigil.IntervalSec')).body).toBe('root.vigil.IntervalSec=20\n');
  });

  it('updates several parameters at once, with or without the root. prefix', async () => {
    const { server, text } = await serve();
    expect((await text('action=update&root.vigil.BrokerHost=b.lan&vigil.BrokerPort=8883')).body).toBe('OK\n');
    expect([server.app.get('BrokerHost'), server.app.get('BrokerPort')]).toEqual(['b.lan', '8883']);
  });

  it('takes a value the agent will refuse (the camera does not check it): IntervalSec=abc', async () => {
    const { server, text } = await serve();
    expect((await text('action=update&root.vigil.IntervalSec=abc')).body).toBe('OK\n');
    expect(server.app.get('IntervalSec')).toBe('abc');
  });

  it('refuses to update a readonly parameter and changes nothing of the request', async () => {
    const params: AppParam[] = [
      { name: 'IntervalSec', default: '300', type: 'int:min=1;max=3600' },
      { name: 'Serial', default: 'X', type: 'readonly:string' },
    ];
    const { server, text } = await serve(new AppSettings(params));
    expect((await text('action=update&root.vigil.IntervalSec=20&root.vigil.Serial=Y')).body).toBe("# Error: Error setting 'root.vigil.Serial' to 'Y'!\n");
    expect([server.app.get('IntervalSec'), server.app.get('Serial')]).toEqual(['300', 'X']);
  });

  it('refuses to update a parameter the app does not declare', async () => {
    const { server, text } = await serve();
    expect((await text('action=update&root.vigil.NoSuchThing=1')).body).toMatch(/^# Error: /);
    expect(server.app.get('NoSuchThing')).toBeNull();
  });

  it("refuses to update a parameter outside the app's group", async () => {
    const { text } = await serve();
    expect((await text('action=update&root.Network.SSH.Enabled=yes')).body).toMatch(/^# Error: /);
    expect((await text('action=list&group=Network.SSH.Enabled')).body).toBe('root.Network.SSH.Enabled=no\n');
  });

  it('refuses an update without credentials (401)', async () => {
    const { server, text } = await serve();
    expect((await text('action=update&root.vigil.IntervalSec=20', {})).status).toBe(401);
    expect(server.app.get('IntervalSec')).toBe('300');
  });
});
