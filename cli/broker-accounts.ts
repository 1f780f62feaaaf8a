/**
 * The embedded broker's users, generated for one run: a fleet user for the consumer, a read-only status
 * user for the live table, and one user per camera (user name = serial). A camera's password is an HMAC of
 * its serial under the run's secret, so any serial can be given credentials (a camera added by hand in a
 * test too) without a table, and none is valid in another run. Passwords are never logged.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { CAMERA_USER, type BrokerIdentity, type BrokerRole } from './broker-acl';

export interface BrokerCredentials {
  username: string;
  password: string;
}

/** Why a CONNECT is refused, with the MQTT 3.1.1 CONNACK code Aedes sends for it. */
export interface LoginRefusal {
  returnCode: 2 | 4 | 5;
  reason: string;
}

/** The fixed users and the client ids each may use (a camera uses its serial, as `use_username_as_clientid` forces on Mosquitto). */
const USERS: ReadonlyArray<{ user: string; role: Exclude<BrokerRole, 'camera'>; clientIdPrefix: string }> = [
  { user: 'fleet-1', role: 'fleet', clientIdPrefix: 'vigil-fleet-' },
  { user: 'fleet-status', role: 'status', clientIdPrefix: 'vigil-table-' },
];

export class BrokerAccounts {
  private readonly secret = randomBytes(32);
  private readonly passwords = new Map(USERS.map((u) => [u.user, randomBytes(18).toString('base64url')]));

  /** The consumer's login (its client id must start with `vigil-fleet-`). */
  get fleet(): BrokerCredentials {
    return this.credentials('fleet-1');
  }

  /** The read-only login of the live table (client id `vigil-table-…`). */
  get status(): BrokerCredentials {
    return this.credentials('fleet-status');
  }

  /** The login of the camera with this serial (its client id must be the serial). */
  camera(serial: string): BrokerCredentials {
    if (!isCameraUser(serial)) throw new Error(`[vigil] [broker] "${serial}" cannot be a camera's user name`);
    return { username: serial, password: this.cameraPassword(serial) };
  }

  /** Who this CONNECT is, or why it is refused. */
  login(clientId: string, username: string | undefined, password: Buffer | undefined): BrokerIdentity | LoginRefusal {
    if (username === undefined || password === undefined) return { returnCode: 5, reason: 'anonymous clients are not allowed' };
    const fixed = USERS.find((u) => u.user === username);
    const expected = fixed ? this.passwords.get(fixed.user)! : isCameraUser(username) ? this.cameraPassword(username) : null;
    if (expected === null || !sameSecret(password, expected)) return { returnCode: 4, reason: `bad user name or password for "${username}"` };
    if (fixed) {
      if (!clientId.startsWith(fixed.clientIdPrefix)) return { returnCode: 2, reason: `user "${username}" must use a client id starting with "${fixed.clientIdPrefix}", not "${clientId}"` };
      return { role: fixed.role, user: username };
    }
    // Another client id would take over (or resume) another client's session.
    if (clientId !== username) return { returnCode: 2, reason: `camera "${username}" must use its serial as client id, not "${clientId}"` };
    return { role: 'camera', user: username };
  }

  private credentials(user: string): BrokerCredentials {
    return { username: user, password: this.passwords.get(user)! };
  }

  private cameraPassword(serial: string): string {
    return createHmac('sha256', this.secret).update(serial).digest('base64url').slice(0, 24);
  }
}

/** Serial-shaped, and not a name the fixed users or their client ids could be confused with. */
function isCameraUser(name: string): boolean {
  return CAMERA_USER.test(name) && !name.startsWith('vigil-') && !USERS.some((u) => u.user === name);
}

function sameSecret(given: Buffer, expected: string): boolean {
  const want = Buffer.from(expected, 'utf8');
  return given.length === want.length && timingSafeEqual(given, want);
}
