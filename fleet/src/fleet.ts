/**
 * startFleet: store + consumer + dashboard in one call, for `vigil fleet`, `vigil demo` and tests.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { FleetAlerts, type AlertOptions } from './alerts/fleet-alerts';
import { alertMetricsText } from './alerts/metrics';
import { alertRoutes } from './alerts/routes';
import { Accounts } from './auth/accounts';
import { checkBind, isLoopback } from './auth/bind-policy';
import { createAuthGate } from './auth/gate';
import { LoginLimiter } from './auth/login-limit';
import { Sessions } from './auth/sessions';
import { AuditLog, auditRoutes } from './audit-log';
import { commandRoutes, type CommandSigner } from './command-routes';
import { FleetConsumer } from './consumer';
import { DATA_DIR, loadTables, type Tables } from './data';
import { watchTables, type TablesWatch } from './data-watch';
import { startDashboard, type DashboardServer } from './http';
import { retireRoutes } from './retire-routes';
import { fleetError, silentLog, type FleetLog } from './log';
import { isServerStore, openStore } from './store/open';
import type { FleetStore } from './store/types';
import type { BrokerTls } from './broker-flags';

export interface FleetOptions {
  brokerUrl: string;
  /** The store: a SQLite file (':memory:' keeps nothing), or a `postgres://` URL shared by consumers. Default ':memory:'. */
  db?: string;
  /** The same as db (the older name, for a SQLite file). */
  dbPath?: string;
  /** Where the dashboard listens; default 127.0.0.1 on a free port. null: no dashboard. */
  http?: {
    host?: string;
    port?: number;
    allowHosts?: readonly string[];
    /** HTTPS: PEM files of the certificate (with its chain) and the private key. */
    tls?: { certFile: string; keyFile: string };
    /** The accounts file (auth/accounts.ts): with it every route but /login, /static and /healthz needs a login. */
    usersFile?: string | null;
    /** Serve a non-loopback address without accounts (something in front authenticates). */
    insecureNoAuth?: boolean;
    /** Session idle and absolute expiry, ms (auth/sessions.ts); the sessions' and login limit's clock. */
    sessions?: { idleMs?: number; absoluteMs?: number; now?: () => number };
    /** Failed logins per client address in 15 minutes before it must wait (default 10). */
    maxLoginFailures?: number;
  } | null;
  /** The audit log of operator actions, a JSON-lines file (audit-log.ts); null or absent: kept in memory only. */
  auditLog?: string | null;
  /** Signs each command before the dashboard publishes it (fleet/src/command-signing.ts). */
  signCommand?: CommandSigner;
  /** Injectable clock (ms since epoch) for evaluation, missing detection and history. */
  now?: () => number;
  prefix?: string;
  shared?: string | null;
  clientId?: string;
  username?: string;
  password?: string;
  /** CA, client certificate and key for an mqtts:// broker (broker-flags.ts reads them). */
  tls?: BrokerTls;
  missingIntervals?: number;
  sweepMs?: number;
  maxPayloadBytes?: number;
  /** History older than this is pruned (hourly), and cameras silent or retired this long leave the camera table. Default 30 days. */
  retentionDays?: number;
  /** Tables given directly (tests); not watched. */
  tables?: Tables;
  /** The folder with lifecycle.json, advisories.json and actions.json (default fleet/data/), reloaded on change. */
  dataDir?: string;
  /** How often the data folder is checked for changes, ms (default 5000; 0: never, call tablesWatch.check()). */
  dataWatchMs?: number;
  /** Alerts: webhooks, secret, days, quiet period, MQTT (alerts/fleet-alerts.ts). Default: MQTT only. */
  alerts?: AlertOptions;
  log?: FleetLog;
}

export interface Fleet {
  /** The dashboard's URL (empty when http is null). */
  url: string;
  consumer: FleetConsumer;
  alerts: FleetAlerts;
  store: FleetStore;
  dashboard: DashboardServer | null;
  /** Null when the tables were given directly. */
  tablesWatch: TablesWatch | null;
  stop(): Promise<void>;
}

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw fleetError(`cannot read the HTTPS ${what} ${file}: ${(err as Error).message}`);
  }
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const log = options.log ?? silentLog;
  const now = options.now ?? Date.now;
  const db = options.db ?? options.dbPath ?? ':memory:';
  // What can be wrong with the dashboard's settings is found before anything starts.
  const web = options.http === null ? null : options.http ?? {};
  const accounts = web?.usersFile ? new Accounts(web.usersFile, log) : null;
  if (web) checkBind(web.host ?? '127.0.0.1', web.port, { accounts: accounts !== null, insecureNoAuth: web.insecureNoAuth === true });
  if (web && !accounts && web.insecureNoAuth && !isLoopback(web.host ?? '127.0.0.1')) log('warn', `the dashboard on ${web.host} has no accounts (--insecure-no-auth): whoever reaches it is an operator`);
  const tls = web?.tls ? { cert: readPem(web.tls.certFile, 'certificate'), key: readPem(web.tls.keyFile, 'key') } : undefined;
  const audit = new AuditLog(options.auditLog ?? null, now);
  const tables = options.tables ?? loadTables({ dir: options.dataDir });
  const store = await openStore(db, { log });
  const persistent = db !== ':memory:' && db !== '';
  // One stable client id per store (and share group): a restarted consumer resumes its broker session and gets
  // what was queued while it was away. A throw-away store gets a clean session. Consumers sharing a server store
  // from one host need a --client-id each.
  const where = isServerStore(db) ? db.replace(/\/\/[^@/]*@/, '//') : resolve(db);
  const clientId = options.clientId ?? (persistent ? `vigil-fleet-${createHash('sha256').update(`${hostname()}:${where}:${options.shared ?? ''}`).digest('hex').slice(0, 12)}` : undefined);
  const consumer = new FleetConsumer({
    brokerUrl: options.brokerUrl, store, tables, prefix: options.prefix, shared: options.shared, clientId, clean: !persistent,
    username: options.username, password: options.password, tls: options.tls, missingIntervals: options.missingIntervals, sweepMs: options.sweepMs,
    maxPayloadBytes: options.maxPayloadBytes, now, log,
  });
  const alerts = new FleetAlerts({ consumer, store, now, log, options: options.alerts });
  const retentionMs = (options.retentionDays ?? 30) * 86_400_000;
  const prune = async () => {
    try {
      const n = await store.prune(now() - retentionMs);
      if (n) log('info', `pruned ${n} history rows older than ${options.retentionDays ?? 30} days`);
    } catch (err) {
      log('error', `cannot prune history: ${(err as Error).message}`);
    }
  };
  await prune();
  const pruneTimer = setInterval(() => void prune(), 3_600_000);
  pruneTimer.unref();
  const tablesWatch = options.tables ? null : watchTables(options.dataDir ?? DATA_DIR, (t) => consumer.reloadTables(t), log, options.dataWatchMs ?? 5000);
  let dashboard: DashboardServer | null = null;
  try {
    // The dashboard first: a port in use is said at once, not after a broker that is down has come up, and
    // the stored fleet is on view while the consumer waits for the broker.
    if (options.http !== null) {
      const sessionClock = web?.sessions?.now;
      const gate = createAuthGate({
        accounts, secure: tls !== undefined, log,
        sessions: new Sessions({ idleMs: web?.sessions?.idleMs, absoluteMs: web?.sessions?.absoluteMs, now: sessionClock }),
        limiter: new LoginLimiter({ maxFailures: web?.maxLoginFailures, now: sessionClock }),
      });
      dashboard = await startDashboard({
        consumer, store, host: web?.host, port: web?.port, allowHosts: web?.allowHosts, now, gate, tls, pruneAfterMs: retentionMs,
        routes: [alertRoutes(store), retireRoutes({ consumer, store, now, audit }), commandRoutes({ consumer, audit, signCommand: options.signCommand, log }), auditRoutes(audit)],
        metrics: () => alertMetricsText(alerts.engine, alerts.dispatcher, store),
      });
    }
    await consumer.start();
    await alerts.start();
  } catch (err) {
    clearInterval(pruneTimer);
    tablesWatch?.stop();
    await dashboard?.close();
    await alerts.stop();
    await consumer.stop().catch(() => undefined);
    await store.close();
    throw err;
  }
  let stopping: Promise<void> | null = null;
  return {
    url: dashboard?.url ?? '',
    consumer,
    alerts,
    store,
    dashboard,
    tablesWatch,
    stop() {
      stopping ??= (async () => {
        clearInterval(pruneTimer);
        tablesWatch?.stop();
        await dashboard?.close();
        await alerts.stop();
        await consumer.stop();
        await store.close();
      })();
      return stopping;
    },
  };
}
