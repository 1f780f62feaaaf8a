/**
 * docs/broker-acl.md's Mosquitto setup as tests use it: the mosquitto.conf block's settings and the ACL block,
 * parsed from the doc so that what is tested is what is documented, and a Mosquitto started with that ACL, a
 * password file (mosquitto_passwd) and use_username_as_clientid.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMosquitto, type Mosquitto } from './mosquitto';

function codeBlocks(): string[] {
  // import.meta.url, not __dirname: bench/soak-fleet.ts runs this under tsx as an ES module too.
  const doc = readFileSync(fileURLToPath(new URL('../../docs/broker-acl.md', import.meta.url)), 'utf8');
  return [...doc.matchAll(/```\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/** The mosquitto.conf block's lines that set one of these options (the first code block). */
export function documentedConfLines(options: string[]): string[] {
  return codeBlocks()[0].split('\n').filter((l) => options.some((o) => l.startsWith(`${o} `)));
}

/** The ACL file (the code block with `user` and `pattern` lines). */
export function documentedAcl(): string {
  const acl = codeBlocks().find((b) => /^user /m.test(b) && /^pattern /m.test(b));
  if (!acl) throw new Error('[vigil] [test] docs/broker-acl.md has no ACL block');
  return acl;
}

/** The fleet user names the documented ACL names (fleet-1, fleet-2, fleet-status). */
export function documentedFleetUsers(): string[] {
  return [...documentedAcl().matchAll(/^user (\S+)$/gm)].map((m) => m[1]);
}

export const passwordOf = (user: string) => `${user}-secret`;

export interface AclBroker extends Mosquitto {
  /** Stops the broker and removes the password and ACL files. */
  stop(): Promise<void>;
}

/**
 * Mosquitto with the documented ACL, a password for each fleet user and each of `cameras` (passwordOf), and
 * use_username_as_clientid under the listener. extraLines are global settings (after the helper's own).
 */
export async function startAclBroker(cameras: string[], extraLines: string[] = []): Promise<AclBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-acl-'));
  const passwd = join(dir, 'passwd');
  writeFileSync(passwd, '');
  for (const user of [...documentedFleetUsers(), ...cameras]) execFileSync('mosquitto_passwd', ['-b', passwd, user, passwordOf(user)]);
  const acl = join(dir, 'acl');
  writeFileSync(acl, documentedAcl());
  try {
    const broker = await startMosquitto({
      extraLines,
      extraListenerLines: ['allow_anonymous false', `password_file ${passwd}`, `acl_file ${acl}`, 'use_username_as_clientid true'],
    });
    return {
      ...broker,
      stop: async () => {
        await broker.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
