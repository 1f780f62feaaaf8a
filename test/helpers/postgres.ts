/**
 * Starts Debian's PostgreSQL (the newest /usr/lib/postgresql/<major>/bin) for a test: `initdb` into a fresh temp
 * dir (user vigil, trust auth, UTF8, C locale), `postgres` on a free loopback port with its socket in that dir.
 * .ci/run installs the package; a missing binary is an error, not a skip.
 *
 * Durability stays PostgreSQL's default (fsync on, synchronous_commit on): tests of kill -9 safety need commits
 * that are honest. Only initdb runs with --no-sync (a lost template at a power cut does not matter to a test).
 * PostgreSQL refuses to run as root: as root the server runs as the `postgres` system user the package creates
 * (else `nobody`), owning the temp dir. stop() is an immediate shutdown (SIGQUIT: no shutdown checkpoint, whose
 * fsync of every database a test made took over 60 s on the busy shared machine; the dir is deleted anyway),
 * then SIGKILL past a bound, then rm.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports';

/** How long startPostgres waits for initdb plus the first accepted connection (a busy 2-core CI machine). */
export const POSTGRES_START_MS = 90_000;
/** A beforeAll calling startPostgres needs more than POSTGRES_START_MS. */
export const POSTGRES_START_TIMEOUT_MS = POSTGRES_START_MS + 30_000;
const STOP_MS = 30_000;
const USER = 'vigil';

export interface Postgres {
  host: string;
  port: number;
  /** postgres://vigil@127.0.0.1:<port>/vigil (a database made at start). */
  url: string;
  dir: string;
  /** Real ms from initdb to the first accepted connection. */
  startedInMs: number;
  /** Creates a fresh empty database and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  log(): string;
  stop(): Promise<void>;
}

/** The newest installed major's bin dir, e.g. /usr/lib/postgresql/15/bin. */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((d) => /^\d+$/.test(d) && existsSync(join(root, d, 'bin', 'postgres'))) : [];
  if (majors.length === 0) throw new Error(`[vigil] [test] no PostgreSQL under ${root}: apt-get install postgresql (.ci/apt-packages.txt)`);
  majors.sort((a, b) => Number(b) - Number(a));
  return join(root, majors[0], 'bin');
}

/** As root: the uid/gid of an unprivileged user to run PostgreSQL as; otherwise null (run as ourselves). */
function serverUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      return { uid, gid };
    } catch {
      // no such user: try the next
    }
  }
  throw new Error('[vigil] [test] running as root and neither the postgres nor the nobody user exists: PostgreSQL refuses to run as root');
}

const exitOf = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

const within = (ms: number, p: Promise<void>): Promise<boolean> =>
  new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    void p.then(() => {
      clearTimeout(t);
      resolve(true);
    });
  });

const running = new Set<{ child: ChildProcess; dir: string }>();
let exitHookInstalled = false;
function cleanUpOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Only synchronous work is possible here: an immediate shutdown (SIGQUIT) and the dir removed.
  process.once('exit', () => {
    for (const r of running) {
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGQUIT');
      rmSync(r.dir, { recursive: true, force: true });
    }
  });
}

export async function startPostgres(): Promise<Postgres> {
  const bin = postgresBinDir();
  const user = serverUser();
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pg-'));
  const data = join(dir, 'data');
  mkdirSync(data, { mode: 0o700 });
  if (user) {
    chownSync(dir, user.uid, user.gid);
    chownSync(data, user.uid, user.gid);
  }
  const asUser = user ? { uid: user.uid, gid: user.gid } : {};
  // LC_ALL=C: a fresh Debian machine may have no locales; the database's encoding is given explicitly.
  const env = { ...process.env, LC_ALL: 'C', LANG: 'C', HOME: dir };
  try {
    execFileSync(join(bin, 'initdb'), ['-D', data, '-U', USER, '--auth=trust', '--no-sync', '--encoding=UTF8', '--locale=C', '--no-instructions'], {
      ...asUser,
      env,
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: POSTGRES_START_MS,
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`[vigil] [test] initdb failed: ${e.stderr?.toString() ?? e.message}`);
  }
  const port = await freePort();
  const host = '127.0.0.1';
  let output = '';
  const child = spawn(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', dir, '-c', `listen_addresses=${host}`], {
    ...asUser,
    env,
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  let spawnError: Error | null = null;
  child.once('error', (err) => (spawnError = err));
  const exited = exitOf(child);
  const entry = { child, dir };
  running.add(entry);
  cleanUpOnExit();
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGQUIT'); // immediate shutdown: nothing of the dir is kept
      if (!(await within(STOP_MS, exited))) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    running.delete(entry);
    rmSync(dir, { recursive: true, force: true });
  };
  const urlOf = (db: string): string => `postgres://${USER}@${host}:${port}/${db}`;
  const deadline = t0 + POSTGRES_START_MS;
  for (;;) {
    if (spawnError) {
      await stop();
      throw new Error(`[vigil] [test] cannot start ${bin}/postgres: ${(spawnError as Error).message}`);
    }
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`[vigil] [test] postgres exited with ${child.exitCode}: ${output}`);
    }
    const client = new pg.Client({ connectionString: urlOf('postgres'), connectionTimeoutMillis: 5_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query(`CREATE DATABASE ${USER}`);
      await client.end();
      break;
    } catch {
      await client.end().catch(() => undefined);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`[vigil] [test] postgres did not accept connections on ${port} within ${POSTGRES_START_MS} ms: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const startedInMs = Date.now() - t0;
  let databases = 0;
  return {
    host,
    port,
    url: urlOf(USER),
    dir,
    startedInMs,
    log: () => output,
    createDatabase: async (name?: string) => {
      const db = name ?? `vigil_${++databases}`;
      if (!/^[a-z_][a-z0-9_]*$/.test(db)) throw new Error(`[vigil] [test] not a plain database name: ${db}`);
      const client = new pg.Client({ connectionString: urlOf('postgres') });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${db}`);
      } finally {
        await client.end();
      }
      return urlOf(db);
    },
    stop,
  };
}
