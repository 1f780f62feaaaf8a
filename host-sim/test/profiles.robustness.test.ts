// Device profiles as a boundary (issue 7, ROBUSTNESS.md): a user or a test writes its own profile.json,
// so loadProfile must give back either the profile, exactly as written, or a ProfileError that says
// `[vigil] [profiles] profile "NAME" at FILE: /json/path: ...`. Never another exception, never a hang,
// never a folder outside the profile. Random valid profiles are generated from the schema's shape; the
// hostile ones replace one node of a valid profile (random or bundled) by a hostile JSON fragment.
import fc from 'fast-check';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { check, seeds } from '../../test/helpers/fc-seed';
import { runSim } from '../src/cli';
import { PROFILE_MAX_BYTES, PROFILES_DIR, ProfileError, listProfiles, loadProfile, type Profile } from '../src/profiles';
import { minimalProfileData, tempDir } from './helpers';

let tmp: { dir: string; cleanup(): void };
beforeAll(() => {
  tmp = tempDir('profile-fuzz');
});
afterAll(() => tmp.cleanup());

/** A fresh profile folder `<tmp>/<n>/<name>` with rootfs/, holding `text` (or bytes) as profile.json. */
let folders = 0;
function profileDir(name: string, content?: string | Uint8Array): string {
  const dir = path.join(tmp.dir, String(folders++), name);
  mkdirSync(path.join(dir, 'rootfs'), { recursive: true });
  if (content !== undefined) writeFileSync(path.join(dir, 'profile.json'), content);
  return dir;
}

/** Loads; returns the profile or the ProfileError, and fails the property on any other throw. */
function load(dir: string): { profile?: ReturnType<typeof loadProfile>; error?: ProfileError } {
  try {
    return { profile: loadProfile(dir) };
  } catch (err) {
    if (!(err instanceof ProfileError)) throw new Error(`loadProfile threw something other than a ProfileError: ${String(err)}`);
    return { error: err };
  }
}

function expectProfileError(dir: string, error: ProfileError | undefined): ProfileError {
  expect(error, 'a ProfileError').toBeInstanceOf(ProfileError);
  const e = error as ProfileError;
  expect(e.message.startsWith(`[vigil] [profiles] profile "${path.basename(dir)}" at ${path.join(dir, 'profile.json')}: `)).toBe(true);
  expect(e.problems.length).toBeGreaterThan(0);
  // Printable: no control characters reach the terminal, and the message stays short.
  // eslint-disable-next-line no-control-regex
  expect(e.message).not.toMatch(/[\u0000-\u001f\u007f]/);
  expect(e.message.length).toBeLessThan(8000);
  return e;
}

// ---- valid profiles from the schema's shape -----------------------------------------------------------

/** Any text: every code point, and lone surrogates (JSON escapes them, so they survive the file). */
const anyText = (o: { minLength?: number; maxLength?: number } = {}) =>
  fc.string({ unit: fc.oneof({ weight: 8, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) }, { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) }), maxLength: 40, ...o });
const nonEmpty = anyText({ minLength: 1 });
const finite = (min: number, max: number) => fc.double({ min, max, noNaN: true }).map((x) => x || 0);
const pathList = fc.array(fc.stringMatching(/^\/[ -~]{0,20}$/), { maxLength: 3 });
const vapixFault = fc.record(
  { mode: fc.constantFrom('garbage', 'status500', 'slow', 'hang'), paths: pathList, delayMs: fc.integer({ min: 0, max: 600_000 }) },
  { requiredKeys: ['mode'] },
);
const faultStep = fc.record(
  {
    kind: fc.constantFrom('broker-down', 'broker-restart', 'drop', 'drop-during-replay', 'kill-during-write', 'disk-full', 'clock-jump', 'vapix'),
    at: finite(0, 2147483),
    for: finite(0, 2147483),
    value: finite(-4e9, 4e9),
    point: fc.constantFrom('partial-tmp', 'before-rename', 'after-rename'),
    mode: fc.constantFrom('garbage', 'status500', 'slow', 'hang'),
    delayMs: fc.integer({ min: 0, max: 600_000 }),
    paths: pathList,
  },
  { requiredKeys: ['kind', 'at'] },
);
const app = fc.record(
  { name: nonEmpty, niceName: anyText(), vendor: anyText(), version: anyText(), status: fc.constantFrom('Running', 'Stopped', 'Idle'), license: anyText(), applicationId: anyText(), signatureStatus: anyText() },
  { requiredKeys: ['name', 'niceName', 'vendor', 'version', 'status'] },
);
const triState = fc.constantFrom(true, false, null);
const profileName = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,24}$/);

const validProfile: fc.Arbitrary<Profile> = fc.record(
  {
    name: profileName,
    description: nonEmpty,
    identity: fc.record(
      {
        serialNumber: fc.stringMatching(/^(ACCC8E|B8A44F)[0-9A-F]{6}$/),
        prodNbr: nonEmpty,
        prodFullName: nonEmpty,
        prodShortName: nonEmpty,
        prodVariant: anyText(),
        brand: nonEmpty,
        prodType: nonEmpty,
        hardwareId: nonEmpty,
        soc: nonEmpty,
        socSerialNumber: anyText(),
        architecture: fc.constantFrom('armv7hf', 'aarch64', 'mips', 'crisv32'),
        webUrl: anyText(),
      },
      { requiredKeys: ['serialNumber', 'prodNbr', 'prodFullName', 'prodShortName', 'brand', 'prodType', 'hardwareId', 'soc', 'architecture'] },
    ),
    os: fc.record({
      version: fc.stringMatching(/^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,4}(\.[0-9]{1,3})?$/),
      buildDate: fc.stringMatching(/^[A-Z][a-z]{2} [0-9]{2} [0-9]{4} [0-9]{2}:[0-9]{2}$/),
    }),
    firmware: fc.record(
      {
        apiVersion: anyText(),
        activeFirmwarePart: anyText(),
        inactiveFirmwareVersion: anyText(),
        isCommited: fc.boolean(),
        lastUpgradeAt: fc.date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString()),
        pendingCommit: anyText(),
        timeToRollback: fc.nat(),
      },
      { requiredKeys: [] },
    ),
    vapix: fc.record({ credentials: fc.record({ username: nonEmpty, password: nonEmpty }) }),
    params: fc.dictionary(fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,8}(\.[A-Za-z0-9_]{1,8}){1,3}$/), anyText(), { maxKeys: 8 }),
    applications: fc.record({ allowUnsigned: fc.boolean(), installed: fc.array(app, { maxLength: 3 }) }, { requiredKeys: ['installed'] }),
    platform: fc.record({ signedOs: triState, secureBoot: triState, edgeVault: triState }),
    agent: fc.dictionary(fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,12}$/), anyText(), { maxKeys: 6 }),
    faults: fc.record({ vapix: fc.oneof(vapixFault, fc.array(vapixFault, { maxLength: 3 })), script: fc.array(faultStep, { maxLength: 3 }) }, { requiredKeys: [] }),
  },
  { requiredKeys: ['name', 'description', 'identity', 'os', 'firmware', 'vapix', 'params', 'applications', 'platform', 'agent'] },
) as fc.Arbitrary<Profile>;

// ---- hostile fragments ----------------------------------------------------------------------------------

const deep = (n: number) => fc.constantFrom('['.repeat(n) + ']'.repeat(n), '{"a":'.repeat(n) + '1' + '}'.repeat(n));
/** Raw JSON text put in place of one node (raw, so `__proto__` keys reach JSON.parse as they would from a file). */
const hostileJson = fc.oneof(
  fc.anything({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null'),
  fc.json({ maxDepth: 4 }),
  fc.constantFrom(
    'null', 'true', '[]', '{}', '""', '-1', '-0', '0.5', '1e308', '-1e308', '1e400', '2147483648', '9007199254740993', '2147484', '-4000000001',
    '"\\u0000"', '"a\\u0000b"', '"\\ud800"', '"\\udfff\\ud800"', '"\\u001b[31mred"', '"../../../etc/passwd"', '"/etc/passwd"', '".."', '"/"',
    '{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"polluted":true}}}', '{"__proto__":"x","constructor":"y","prototype":"z"}',
    '[{"__proto__":{"polluted":true}}]', '{"hasOwnProperty":1,"toString":2,"valueOf":3}',
  ),
  fc.integer({ min: 1, max: 200_000 }).chain(deep),
  fc.integer({ min: 1, max: 300_000 }).map((n) => JSON.stringify('x'.repeat(n))),
  fc.integer({ min: 1, max: 3000 }).map((n) => JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`bad key ${i}\u0007`, i])))),
);

const HOLE = '\u0001hostile\u0001';

/** Every JSON pointer of the profile (root excluded), with the path as keys. */
function pointers(value: unknown, at: string[] = [], out: string[][] = []): string[][] {
  if (value && typeof value === 'object') {
    for (const k of Object.keys(value)) {
      out.push([...at, k]);
      pointers((value as Record<string, unknown>)[k], [...at, k], out);
    }
  }
  return out;
}

/** The profile's text with the node at `where` replaced by the raw fragment. */
function withHostile(profile: Profile, where: string[], fragment: string): string {
  const copy = JSON.parse(JSON.stringify(profile));
  let o = copy;
  for (const k of where.slice(0, -1)) o = o[k];
  o[where[where.length - 1]] = HOLE;
  return JSON.stringify(copy).replace(JSON.stringify(HOLE), () => fragment);
}

const pointerText = (where: string[]) => '/' + where.map((k) => k.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

const bundled = listProfiles().map((n) => loadProfile(n).data);

describe('loadProfile on random and hostile profiles', () => {
  it.each(seeds(811))('loads every valid profile generated from the schema, every field exactly as written (%s)', (_l, seed) => {
    check(
      fc.property(validProfile, (profile) => {
        const text = JSON.stringify(profile);
        const dir = profileDir(profile.name, text);
        const { profile: loaded, error } = load(dir);
        expect(error?.message).toBeUndefined();
        expect(loaded?.data).toEqual(JSON.parse(text));
        expect(loaded?.name).toBe(profile.name);
        expect(loaded?.rootfsDir).toBe(path.join(dir, 'rootfs'));
        rmSync(path.dirname(dir), { recursive: true });
      }),
      seed,
      150,
    );
  });

  it.each(seeds(812))('a valid profile with one node replaced by a hostile value loads exactly or names that node (%s)', (_l, seed) => {
    const base = fc.oneof(validProfile, fc.constantFrom(...bundled));
    check(
      fc.property(
        base.chain((p) => fc.tuple(fc.constant(p), fc.constantFrom(...pointers(p)), hostileJson)),
        ([profile, where, fragment]) => {
          const text = withHostile(profile, where, fragment);
          const dir = profileDir(profile.name, text);
          const { profile: loaded, error } = load(dir);
          if (loaded) {
            expect(loaded.data).toEqual(JSON.parse(text));
          } else {
            const e = expectProfileError(dir, error);
            if (Buffer.byteLength(text) > PROFILE_MAX_BYTES) expect(e.message).toMatch(/over the limit of 1048576/);
            else expect(e.message).toContain(`${pointerText(where)}`);
          }
          rmSync(path.dirname(dir), { recursive: true });
          // JSON.parse and the validator make own properties of "__proto__": nothing leaks into prototypes.
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
          expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
        },
      ),
      seed,
      300,
    );
  });

  it.each(seeds(813))('random JSON or random bytes as profile.json give a ProfileError (%s)', (_l, seed) => {
    const content = fc.oneof(
      fc.anything().map((v) => JSON.stringify(v) ?? ''),
      fc.json(),
      fc.uint8Array({ maxLength: 400 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
    );
    check(
      fc.property(content, (c) => {
        const dir = profileDir('test', c);
        expectProfileError(dir, load(dir).error);
        rmSync(path.dirname(dir), { recursive: true });
      }),
      seed,
      300,
    );
  });

  it.each(seeds(814))('a valid profile cut short at any byte is refused as not JSON or not UTF-8 (%s)', (_l, seed) => {
    check(
      fc.property(validProfile, fc.nat(), (profile, at) => {
        const bytes = Buffer.from(JSON.stringify(profile));
        const dir = profileDir(profile.name, bytes.subarray(0, at % bytes.length));
        const e = expectProfileError(dir, load(dir).error);
        expect(e.message).toMatch(/not valid JSON|not valid UTF-8/);
        rmSync(path.dirname(dir), { recursive: true });
      }),
      seed,
      200,
    );
  });

  it.each(seeds(815))('invalid-utf8-profile-loads-altered: invalid UTF-8 in any string is refused, not replaced by U+FFFD (%s)', (_l, seed) => {
    const badBytes = fc.constantFrom([0xff], [0xfe], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xf0, 0x9f, 0x98]);
    check(
      fc.property(validProfile, badBytes, (profile, bad) => {
        // Into the description, which takes any text: only the encoding is wrong.
        const [head, tail] = JSON.stringify({ ...profile, description: 'd\u0001' }).split('\\u0001');
        const dir = profileDir(profile.name, Buffer.concat([Buffer.from(head), Buffer.from(bad), Buffer.from(tail)]));
        expect(expectProfileError(dir, load(dir).error).message).toContain('profile.json is not valid UTF-8');
        rmSync(path.dirname(dir), { recursive: true });
      }),
      seed,
      100,
    );
  });
});

describe('loadProfile on a profile.json that is not a plain file', () => {
  const valid = () => JSON.stringify(minimalProfileData());

  it('fifo-profile-json-hangs: refuses a FIFO at once instead of blocking on its read', async () => {
    const dir = profileDir('test');
    const fifo = path.join(dir, 'profile.json');
    await new Promise<void>((resolve, reject) => spawn('mkfifo', [fifo]).on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`mkfifo exit ${c}`)))));
    // A writer that holds the FIFO open for 3 s bounds the test if the loader ever blocks again.
    const writer = spawn('sh', ['-c', 'exec sleep 3 > "$0"', fifo], { stdio: 'ignore' });
    try {
      const t0 = Date.now();
      const e = expectProfileError(dir, load(dir).error);
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(e.message).toContain('profile.json is not a regular file');
    } finally {
      writer.kill('SIGKILL');
    }
  });

  it('folder-profile-json-said-not-json: says profile.json is a folder, not that it is not JSON', () => {
    const dir = profileDir('test');
    mkdirSync(path.join(dir, 'profile.json'));
    const e = expectProfileError(dir, load(dir).error);
    expect(e.message).toContain('profile.json is a folder, not a file');
    expect(e.message).not.toContain('not valid JSON');
  });

  it('device-profile-json-read-forever: refuses a link to a device (/dev/zero would be read until memory runs out)', () => {
    const dir = profileDir('test');
    symlinkSync('/dev/null', path.join(dir, 'profile.json'));
    expect(expectProfileError(dir, load(dir).error).message).toContain('profile.json is not a regular file');
  });

  it('refuses a profile.json over 1 MiB without parsing it', () => {
    const dir = profileDir('test', valid().replace('"description":"', `"description":"${'x'.repeat(PROFILE_MAX_BYTES)}`));
    expect(expectProfileError(dir, load(dir).error).message).toMatch(/profile\.json is \d+ bytes, over the limit of 1048576/);
  });

  it('says "no such profile" for a missing file and for a link to nothing', () => {
    const missing = profileDir('test');
    expect(expectProfileError(missing, load(missing).error).message).toContain('no such profile');
    const dangling = profileDir('test');
    symlinkSync(path.join(dangling, 'nowhere.json'), path.join(dangling, 'profile.json'));
    expect(expectProfileError(dangling, load(dangling).error).message).toContain('no such profile');
  });

  it('says it cannot read a profile.json that is a link loop', () => {
    const dir = profileDir('test');
    symlinkSync('profile.json', path.join(dir, 'profile.json'));
    expect(expectProfileError(dir, load(dir).error).message).toContain('cannot read profile.json: ELOOP');
  });

  it.skipIf(process.getuid?.() === 0)('says it cannot read a profile.json without read permission', () => {
    const dir = profileDir('test', valid());
    chmodSync(path.join(dir, 'profile.json'), 0o000);
    expect(expectProfileError(dir, load(dir).error).message).toContain('cannot read profile.json: EACCES');
  });

  it('accepts a UTF-8 byte order mark before the JSON', () => {
    const dir = profileDir('test', `\ufeff${valid()}`);
    expect(load(dir).profile?.data).toEqual(minimalProfileData());
  });
});

describe('folders beside profile.json stay inside the profile', () => {
  it('rootfs-link-leads-out-of-profile: refuses a rootfs/ that links out of the profile folder', () => {
    const dir = profileDir('test', JSON.stringify(minimalProfileData()));
    rmSync(path.join(dir, 'rootfs'), { recursive: true });
    symlinkSync('/', path.join(dir, 'rootfs'));
    expect(expectProfileError(dir, load(dir).error).message).toContain('rootfs/ leads out of the profile folder (to /)');
  });

  it('localdata-link-copies-host-files: refuses a localdata/ that links out of the profile folder', () => {
    const dir = profileDir('test', JSON.stringify(minimalProfileData()));
    symlinkSync(tmp.dir, path.join(dir, 'localdata'));
    expect(expectProfileError(dir, load(dir).error).message).toContain('localdata/ leads out of the profile folder');
  });

  it('accepts a rootfs/ link to a folder inside the profile', () => {
    const dir = profileDir('test', JSON.stringify(minimalProfileData()));
    rmSync(path.join(dir, 'rootfs'), { recursive: true });
    mkdirSync(path.join(dir, 'images', 'rootfs-a'), { recursive: true });
    symlinkSync('images/rootfs-a', path.join(dir, 'rootfs'));
    expect(load(dir).profile?.rootfsDir).toBe(path.join(dir, 'rootfs'));
  });

  it('refuses a profile whose rootfs is a file', () => {
    const dir = profileDir('test', JSON.stringify(minimalProfileData()));
    rmSync(path.join(dir, 'rootfs'), { recursive: true });
    writeFileSync(path.join(dir, 'rootfs'), 'not a folder');
    expect(expectProfileError(dir, load(dir).error).message).toContain('the profile has no rootfs/ folder beside it');
  });
});

describe('profile errors are clear', () => {
  it('profile-error-says-host-sim: speaks as [vigil] [profiles] and names the profile', () => {
    const dir = profileDir('test', JSON.stringify({ ...minimalProfileData(), os: { version: 12, buildDate: 'x' } }));
    const e = expectProfileError(dir, load(dir).error);
    expect(e.message).toMatch(/^\[vigil\] \[profiles\] profile "test" at .*profile\.json: \/os\/version: must be string/);
  });

  it('profile-error-echoes-raw-key: escapes control characters in a bad key and lists at most 20 problems', () => {
    const agent = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`\u001b[2J${i}`, 'x']));
    const dir = profileDir('test', JSON.stringify({ ...minimalProfileData(), agent }));
    const e = expectProfileError(dir, load(dir).error);
    expect(e.message).toContain('/agent: bad property name "\\u001b[2J0"');
    expect(e.message).toContain('and 480 more');
  });

  it('huge-fault-time-fires-at-once: refuses a fault time past what a timer can hold', () => {
    const dir = profileDir('test', JSON.stringify({ ...minimalProfileData(), faults: { script: [{ kind: 'broker-down', at: 1e12 }] } }));
    expect(expectProfileError(dir, load(dir).error).message).toContain('/faults/script/0/at: must be <= 2147483');
  });

  it('does not add a property to Object.prototype for a "__proto__" key in the file', () => {
    const dir = profileDir('test', JSON.stringify(minimalProfileData()).replace('"params":{', '"params":{"__proto__":{"polluted":"yes"},'));
    const e = expectProfileError(dir, load(dir).error);
    expect(e.message).toContain('/params: bad property name "__proto__"');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('vigil sim --profile NAME', () => {
  async function sim(profile: string): Promise<{ code: number; err: string }> {
    let err = '';
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err += String(chunk);
      return true;
    });
    try {
      // --bundle: any file that exists; the profile is loaded before anything runs.
      const code = await runSim(['--profile', profile, '--broker', 'mqtt://127.0.0.1:1', '--bundle', path.join(PROFILES_DIR, 'lts2022', 'profile.json')]);
      return { code, err };
    } finally {
      spy.mockRestore();
    }
  }

  it.each(seeds(816))('a bare name never loads a folder outside the bundled profiles (%s)', async (_l, seed) => {
    // Names without a slash; `..`-like ones start with a dot and are taken as paths from the cwd, which
    // holds no profile.json here.
    const name = fc.oneof(fc.string({ unit: 'binary', maxLength: 30 }), fc.constantFrom('..', '...', '.', '..\\..\\etc', 'lts2022\u0000', '%2e%2e', 'con', 'a\nb'));
    await fc.assert(
      fc.asyncProperty(name, async (n) => {
        fc.pre(n !== '' && !n.startsWith('-') && !n.includes('/') && n !== 'all' && !listProfiles().includes(n));
        const r = await sim(n);
        expect(r.code).toBe(2);
        expect(r.err).toMatch(/^\[vigil\] \[profiles\] profile ".*" at .*profile\.json: /);
        expect(r.err.trimEnd().split('\n')).toHaveLength(1);
      }),
      { seed, numRuns: 60 },
    );
  });

  it('takes a name with ../ as a folder path, and says no such profile when it holds none', async () => {
    const r = await sim('../../../../../../../etc');
    expect(r.code).toBe(2);
    expect(r.err).toContain('[vigil] [profiles] profile "etc" at /etc/profile.json: no such profile "../../../../../../../etc"');
  });
});
