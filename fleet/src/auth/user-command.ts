/**
 * `vigil fleet user add|remove|list`: edits the dashboard's accounts file (accounts.ts). The password comes from
 * VIGIL_FLEET_PASSWORD or standard input (its first line; typed without echo on a terminal), never from the
 * command line, where every user of the machine could read it in the process list.
 */
import type { Readable, Writable } from 'node:stream';
import { hashPassword, passwordProblem, readUsers, USER_NAME, writeUsers } from './accounts';
import { isRole, ROLES } from './roles';

export const USER_USAGE = `usage: vigil fleet user add NAME --role viewer|operator --users FILE
       vigil fleet user remove NAME --users FILE
       vigil fleet user list --users FILE

Dashboard accounts (vigil fleet --users FILE). add creates the user, or sets a new password and role;
the password is read from VIGIL_FLEET_PASSWORD, else from standard input (first line; not echoed on a
terminal), never from the command line. Only its scrypt hash is stored. A viewer reads the dashboard;
an operator may also send report-now and rebaseline, retire cameras and read the audit log.
A running vigil fleet follows the file: a removed user's sessions end at their next request.

  --role ROLE     viewer or operator (add)
  --users FILE    the accounts file (created by add, owner-readable only)
  -h, --help      this text
`;

interface Io {
  out: Writable;
  err: Writable;
  input?: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  env?: NodeJS.ProcessEnv;
}

/** The first line of the input; on a terminal, typed without echo. */
function readPassword(io: Io): Promise<string> {
  const input = io.input ?? (process.stdin as NonNullable<Io['input']>);
  return new Promise((resolve, reject) => {
    let text = '';
    const tty = input.isTTY === true && typeof input.setRawMode === 'function';
    if (tty) {
      io.err.write('password: ');
      input.setRawMode!(true);
    }
    const finish = (value: string | null) => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', reject);
      if (tty) {
        input.setRawMode!(false);
        io.err.write('\n');
      }
      input.pause();
      if (value === null) reject(new Error('cancelled'));
      else resolve(value);
    };
    const onData = (d: Buffer | string) => {
      for (const ch of String(d)) {
        if (ch === '\n' || ch === '\r') return finish(text);
        if (tty && ch === '\u0003') return finish(null);
        if (tty && (ch === '\u007f' || ch === '\b')) text = text.slice(0, -1);
        else text += ch;
      }
    };
    const onEnd = () => finish(text);
    input.on('data', onData);
    input.once('end', onEnd);
    input.once('error', reject);
    input.resume();
  });
}

export async function runUser(argv: string[], io: Io): Promise<number> {
  const usage = (msg: string) => {
    io.err.write(`[vigil] [fleet] ${msg}\n\n${USER_USAGE}`);
    return 2;
  };
  if (argv.includes('-h') || argv.includes('--help')) {
    io.out.write(USER_USAGE);
    return 0;
  }
  const [verb, ...rest] = argv;
  const flags: Record<string, string> = {};
  const names: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const m = /^--(role|users)(?:=(.*))?$/s.exec(rest[i]);
    if (m) {
      const v = m[2] ?? rest[++i];
      if (v === undefined) return usage(`--${m[1]} needs a value`);
      flags[m[1]] = v;
    } else if (rest[i].startsWith('-')) return usage(`unknown option ${rest[i]}${rest[i] === '--password' ? ' (the password comes from VIGIL_FLEET_PASSWORD or standard input)' : ''}`);
    else names.push(rest[i]);
  }
  if (verb !== 'add' && verb !== 'remove' && verb !== 'list') return usage('say add, remove or list');
  if (!flags.users) return usage('--users FILE is required');
  if (verb === 'list' ? names.length > 0 : names.length !== 1) return usage(verb === 'list' ? 'list takes no NAME' : 'one NAME is required');
  const name = names[0];
  if (name !== undefined && !USER_NAME.test(name)) return usage(`"${name.slice(0, 64)}" is not a user name (1 to 64 letters, digits, _ . @ -)`);
  try {
    const doc = readUsers(flags.users);
    if (verb === 'list') {
      for (const u of doc.users) io.out.write(`${u.name}\t${u.role}\t${u.createdAt}\n`);
      return 0;
    }
    if (verb === 'remove') {
      const before = doc.users.length;
      doc.users = doc.users.filter((u) => u.name !== name);
      if (doc.users.length === before) {
        io.err.write(`[vigil] [fleet] no user ${name} in ${flags.users}\n`);
        return 1;
      }
      writeUsers(flags.users, doc);
      io.out.write(`[vigil] [fleet] removed ${name} from ${flags.users}\n`);
      return 0;
    }
    const role = flags.role;
    if (!isRole(role)) return usage(`--role must be ${ROLES.join(' or ')}`);
    const env = io.env ?? process.env;
    const password = env.VIGIL_FLEET_PASSWORD !== undefined && env.VIGIL_FLEET_PASSWORD !== '' ? env.VIGIL_FLEET_PASSWORD : (await readPassword(io)).replace(/\r$/, '');
    const problem = passwordProblem(password);
    if (problem) {
      io.err.write(`[vigil] [fleet] ${problem}\n`);
      return 1;
    }
    const hash = await hashPassword(password);
    const old = doc.users.find((u) => u.name === name);
    if (old) Object.assign(old, { role, password: hash });
    else doc.users.push({ name, role, password: hash, createdAt: new Date().toISOString() });
    writeUsers(flags.users, doc);
    io.out.write(`[vigil] [fleet] ${old ? 'updated' : 'added'} ${name} (${role}) in ${flags.users}\n`);
    return 0;
  } catch (err) {
    io.err.write(`${(err as Error).message.startsWith('[vigil]') ? '' : '[vigil] [fleet] '}${(err as Error).message}\n`);
    return 1;
  }
}
