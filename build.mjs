#!/usr/bin/env node
// Bundles the agent for QuickJS: agent/src/main.ts -> dist/agent.js, one minified IIFE.
// Also bundles the host contract suite (dist/host-contract.js) so it can run inside each host's engine.
// Fails when the agent is over its size budget (DESIGN.md: 64 KiB hard, 56 KiB now, aim 40 KiB); warns past
// 56 KiB, so the headroom the next issues need is noticed while there is still time to make room.
// `node build.mjs --analyze` also prints what the bundle is made of, by folder (esbuild's metafile).
import { build } from 'esbuild';
import { readFileSync, statSync, mkdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(fileURLToPath(import.meta.url));
const AGENT_BUDGET_BYTES = 64 * 1024;
const AGENT_WARN_BYTES = 56 * 1024;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/**
 * QuickJS (2025-04-26 natively, 2025-09-13 in wasm) runs ES2022; nothing from Node or the DOM. Exported so
 * that tests bundling their own entries for QuickJS (host-sim/test/helpers.ts) build exactly the same way.
 */
export const quickjsOptions = {
  bundle: true,
  format: 'iife',
  platform: 'neutral',
  target: 'es2022',
  mainFields: ['module', 'main'],
  legalComments: 'none',
  define: { __VIGIL_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
};

/**
 * Property names the minifier may shorten in dist/agent.js (esbuild `mangleProps`, −1.7 KB). Only names that
 * never leave the bundle: options and fields of the agent's own objects. Never a Host member (host.ts), a
 * field of the report, state, event or cmd-result JSON, of a file on flash (state.json, baseline.json), an
 * MQTT 5 property or VAPIX name, or a config key. test/build.test.ts checks the list against those sources
 * and checks the mangled bundle; a name not listed here is kept, so new code is safe by default.
 */
export const MANGLED_PROPS = [
  // config (config.ts AgentConfig): parsed from the ACAP parameters, read inside the agent only
  'dataDir', 'procNetDir', 'topicPrefix', 'maxReportBytes', 'messageExpirySec', 'maxReports', 'maxFiles',
  'hashBytesPerSec', 'reconnectMaxSec', 'tlsVerify', 'inflight', 'perSec', 'keepaliveSec', 'protocolLevel',
  'clientId', 'cleanSession', 'brokerConf', 'vapixConf', 'fileScan', 'outboxConf', 'reportEverySec',
  // MQTT client and codec (mqtt/): options, decoded packet fields, the reader's helpers
  'brokerReceiveMaximum', 'maxIncomingPacketBytes', 'maxPacketBytes', 'connectTimeoutMs', 'connectProperties',
  'sessionPresent', 'returnCode', 'reasonCode', 'reasonCodes', 'granted', 'dup', 'onClose',
  'onMessage', 'subscribe', 'props', 'varint', 'left', 'str', 'u16', 'u8', 'commandName', 'cmdResult',
  // outbox
  'makeRoom', 'queuedAt', 'maxSeq', 'oldestQueuedAt', 'depth', 'ack', 'inQueue', 'nDropped', 'nBytes',
  // VAPIX client and collectors
  'maxResponseBytes', 'basicDeviceInfo', 'firmwareStatus', 'listApplications', 'listParams', 'attributes',
  'portParams', 'groupErrors', 'problems', 'blind', 'rows', 'signedSince', 'enforcedSince',
  'agentConf', 'byPath', 'paramMap', 'entryMap', 'unsignedOk', 'vapixApi', 'fwActive', 'fwPart', 'fwInactive', 'fwCommited', 'fwPending', 'fwRollback', 'fwUpgradeAt',
  // agent, session, delivery and commands: the methods of their dependency objects
  'unsignedAllowed', 'runCycle', 'ensureConnected', 'topics', 'setReportInterval', 'onReady', 'onOpen', 'forget', 'load', 'pump', 'take',
  'mqttLink', 'reportBox', 'eventBox', 'collectCtx', 'agentVer', 'serialNow', 'stopping', 'publishState', 'reconnectNow', 'update', 'osVersion', 'idle',
  // words that also occur in the prose of a message ("… is truncated"), never as a key: PROSE_PROPS below
  'payload', 'truncated', 'retain', 'qos', 'busy', 'commands', 'check', 'save', 'counters',
];

/** The names of MANGLED_PROPS that test/build.test.ts lets occur as words of prose in a string literal. */
export const PROSE_PROPS = ['payload', 'truncated', 'retain', 'qos', 'busy', 'commands', 'check', 'save', 'counters'];

/** The options of dist/agent.js; exported so that measurements (bench/sizes.ts) build exactly the same bundle. */
export const agentOptions = {
  ...quickjsOptions,
  entryPoints: [join(root, 'agent/src/main.ts')],
  minify: true,
  mangleProps: new RegExp(`^(${MANGLED_PROPS.join('|')})$`),
};

export async function buildAgent() {
  mkdirSync(join(root, 'dist'), { recursive: true });
  const { metafile } = await build({ ...agentOptions, outfile: join(root, 'dist/agent.js'), sourcemap: 'external', metafile: true });
  await build({
    ...quickjsOptions,
    entryPoints: [join(root, 'agent/test/host-contract-entry.ts')],
    outfile: join(root, 'dist/host-contract.js'),
    minify: false,
  });
  const bytes = statSync(join(root, 'dist/agent.js')).size;
  const gz = gzipSync(readFileSync(join(root, 'dist/agent.js')), { level: 9 }).length;
  return { bytes, gz, metafile };
}

/**
 * Bytes of the minified bundle per folder of agent/src (files directly in agent/src count on their own), from
 * esbuild's metafile: [[name, bytes], …], largest first. The rest (IIFE wrapper, separators) is not counted.
 */
export function bytesByFolder(metafile) {
  const out = Object.values(metafile.outputs).find((o) => o.entryPoint);
  const sums = new Map();
  for (const [path, { bytesInOutput }] of Object.entries(out.inputs)) {
    const rel = path.replace(/^.*?agent\/src\//, '');
    const key = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/') + 1) : rel;
    sums.set(key, (sums.get(key) ?? 0) + bytesInOutput);
  }
  return [...sums].sort((a, b) => b[1] - a[1]);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { bytes, gz, metafile } = await buildAgent();
  const kb = (n) => (n / 1024).toFixed(1) + ' KB';
  console.log(`dist/agent.js ${kb(bytes)} minified, ${kb(gz)} gzip (budget ${kb(AGENT_BUDGET_BYTES)})`);
  if (process.argv.includes('--analyze')) {
    for (const [name, n] of bytesByFolder(metafile)) console.log(`${String(n).padStart(8)} B  ${name}`);
  }
  if (bytes > AGENT_BUDGET_BYTES) {
    console.error(`[vigil] [build] dist/agent.js is ${bytes} bytes, over the ${AGENT_BUDGET_BYTES}-byte budget`);
    process.exit(1);
  }
  if (bytes > AGENT_WARN_BYTES) {
    console.warn(
      `[vigil] [build] warning: dist/agent.js is ${bytes} bytes, past ${AGENT_WARN_BYTES} (56 KiB); ${AGENT_BUDGET_BYTES - bytes} bytes ` +
        `left before the ${AGENT_BUDGET_BYTES}-byte budget fails the build`,
    );
  }
}
