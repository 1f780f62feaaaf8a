/**
 * The dashboard's accounts: a JSON file (`vigil fleet --users FILE`, written by `vigil fleet user add`) of
 * users with a role and a scrypt hash of their password, never the password itself:
 *   {"schema":"vigil.users/1","users":[{"name":"alice","role":"operator","password":"scrypt$16384$8$1$<salt>$<hash>","createdAt":"…"}]}
 * Each user has a salt of their own (16 random bytes); hashes are compared in constant time. The file is re-read
 * when it changes, so a removed user cannot log in again (and their sessions end) without a restart.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { chmodSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { fleetError, type FleetLog } from '../log';
import { isRole, type Role } from './roles';

const scrypt = (password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> =>
  new Promise((resolve, reject) => scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))));

/** scrypt's cost: N = 2^14, r = 8 (16 MiB and some 50 ms a hash): slow for a guesser, fine for a login. */
export const SCRYPT_N = 16384;
const SCRYPT_R = 8;
const SCRYPT_P = 1;
const KEY_BYTES = 32;
export const MIN_PASSWORD_CHARS = 10;
export const MAX_PASSWORD_CHARS = 1024;
export const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

export interface Account {
  name: string;
  role: Role;
  /** `scrypt$N$r$p$<salt base64>$<hash base64>`. */
  password: string;
  createdAt: string;
}

export interface UsersFile {
  schema: 'vigil.users/1';
  users: Account[];
}

/** Why a password is not accepted for an account, or null. */
export function passwordProblem(password: string): string | null {
  if (password.length < MIN_PASSWORD_CHARS) return `the password must have at least ${MIN_PASSWORD_CHARS} characters`;
  if (password.length > MAX_PASSWORD_CHARS) return `the password must have at most ${MAX_PASSWORD_CHARS} characters`;
  return null;
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEY_BYTES, { N: SCRYPT_N, r: SCRYPT_R, p: SCRYPT_P });
  return `scrypt$${SCRYPT_N}$${SCRYPT_R}$${SCRYPT_P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

const HASH = /^scrypt\$(\d{1,7})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9+/=]{16,})\$([A-Za-z0-9+/=]{16,})$/;

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = HASH.exec(stored);
  if (!m) return false;
  const want = Buffer.from(m[5], 'base64');
  const N = Number(m[1]);
  const r = Number(m[2]);
  const got = await scrypt(password, Buffer.from(m[4], 'base64'), want.length, { N, r, p: Number(m[3]), maxmem: 256 * N * r });
  return got.length === want.length && timingSafeEqual(got, want);
}

/** Checks a users file's text; throws with what is wrong and where. */
export function parseUsers(text: string, file: string): UsersFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw fleetError(`${file} is not JSON: ${(err as Error).message}`);
  }
  const d = doc as { schema?: unknown; users?: unknown };
  if (!d || typeof d !== 'object' || d.schema !== 'vigil.users/1' || !Array.isArray(d.users)) throw fleetError(`${file} is not a users file ({"schema":"vigil.users/1","users":[…]}); make one with vigil fleet user add`);
  const seen = new Set<string>();
  d.users.forEach((u: Partial<Account>, i: number) => {
    const where = `${file}: user ${i + 1}`;
    if (!u || typeof u.name !== 'string' || !USER_NAME.test(u.name)) throw fleetError(`${where}: name must be 1 to 64 letters, digits, _ . @ -`);
    if (seen.has(u.name)) throw fleetError(`${where}: ${u.name} is there twice`);
    seen.add(u.name);
    if (!isRole(u.role)) throw fleetError(`${where} (${u.name}): role must be viewer or operator`);
    if (typeof u.password !== 'string' || !HASH.test(u.password)) throw fleetError(`${where} (${u.name}): password must be a scrypt hash (vigil fleet user add), never the password itself`);
  });
  return d as UsersFile;
}

export function readUsers(file: string): UsersFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { schema: 'vigil.users/1', users: [] };
    throw fleetError(`cannot read the users file ${file}: ${(err as Error).message}`);
  }
  return parseUsers(text, file);
}

/** Writes the file whole (a temporary file renamed over it), readable by its owner only. */
export function writeUsers(file: string, doc: UsersFile): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export interface Principal {
  name: string;
  role: Role;
}

/** The accounts of a running dashboard, following the file. */
export class Accounts {
  private users = new Map<string, Account>();
  private stamp = '';
  /** Hashed once: an unknown name costs what a wrong password costs, so names cannot be probed by timing. */
  private readonly dummy: Promise<string> = hashPassword(randomBytes(16).toString('hex'));

  /** Throws when the file is missing, malformed or has no user (a dashboard that nobody can open is a mistake). */
  constructor(readonly file: string, private readonly log: FleetLog) {
    const doc = readUsers(file);
    if (doc.users.length === 0) throw fleetError(`${file} has no users; add one with: vigil fleet user add NAME --role operator --users ${file}`);
    this.stamp = this.fileStamp();
    this.users = new Map(doc.users.map((u) => [u.name, u]));
  }

  private fileStamp(): string {
    try {
      const s = statSync(this.file);
      return `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch {
      return 'gone';
    }
  }

  /** Re-reads the file when it changed; a bad change keeps the accounts in use and says so once. */
  private refresh(): void {
    const stamp = this.fileStamp();
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    try {
      this.users = new Map(readUsers(this.file).users.map((u) => [u.name, u]));
      this.log('info', `reloaded ${this.users.size} dashboard account(s) from ${this.file}`);
    } catch (err) {
      this.log('error', `${(err as Error).message.replace(/^\[vigil\] \[fleet\] /, '')}; keeping the accounts in use`);
    }
  }

  /** The user's current role, or null when the account is gone (their sessions end). */
  role(name: string): Role | null {
    this.refresh();
    return this.users.get(name)?.role ?? null;
  }

  async verify(name: string, password: string): Promise<Principal | null> {
    this.refresh();
    const u = this.users.get(name);
    if (!u || password.length > MAX_PASSWORD_CHARS) {
      await verifyPassword(password.slice(0, MAX_PASSWORD_CHARS), await this.dummy);
      return null;
    }
    return (await verifyPassword(password, u.password)) ? { name: u.name, role: u.role } : null;
  }
}
