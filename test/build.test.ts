/**
 * build.mjs: the property names it lets esbuild shorten in dist/agent.js (MANGLED_PROPS) never cross the
 * bundle's edges, and the by-folder table `node build.mjs --analyze` prints adds up.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import ts from 'typescript';
import { MANGLED_PROPS, PROSE_PROPS, agentOptions, bytesByFolder } from '../build.mjs';

const root = resolve(__dirname, '..');
const words = (text: string): string[] => text.match(/[A-Za-z_$][\w$]*/g) ?? [];
const walk = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));

/**
 * Field names of JSON no schema in schemas/ spells out: state.json, baseline.json and events.json on flash,
 * the cmd-result message, an event's `details`, and VAPIX JSON requests and answers. Mangled, they would
 * change with every build (or no longer match the device).
 */
const UNSCHEMED_WIRE = [
  'session', 'seq', 'dropped', 'serial', 'interval', 'sec', 'base', // state.json
  'v', 'createdAt', 'paths', 'files', // baseline.json
  'id', 'n', 'b', 's', 'e', 'k', // events.json
  'command', 'ok', 'code', 'error', 'result', 'at', 'queued', 'intervalSec', 'baseline', // cmd-result
  'added', 'removed', 'addedCount', 'removedCount', // event details
  'apiVersion', 'context', 'method', 'params', 'data', 'error', 'code', 'message', 'propertyList', // VAPIX JSON
];

/**
 * Schemas of JSON the agent produces or reads (checked against mangling), those only the fleet reads, and
 * the ACAP manifest's, which only the packaging and the camera's installer read (the agent gets its
 * settings from param.conf and param.cgi, never from manifest.json).
 */
const AGENT_SCHEMAS = ['report.schema.json', 'state.schema.json', 'event.schema.json', 'profile.schema.json'];
const FLEET_ONLY_SCHEMAS = ['lifecycle.schema.json', 'advisories.schema.json', 'actions.schema.json', 'alerts.schema.json', 'alert.schema.json'];
const PACKAGING_SCHEMAS = ['manifest.schema.json'];

describe('property mangling in dist/agent.js', () => {
  it('never shortens a name that crosses the bundle: Host, schemas, string keys, builtins, unschemed JSON', () => {
    const edge = new Map<string, string>();
    const mark = (names: Iterable<string>, where: string, prose = false) => {
      for (const n of names) if (!edge.has(n) && !(prose && PROSE_PROPS.includes(n))) edge.set(n, where);
    };
    mark(words(readFileSync(join(root, 'agent/src/host.ts'), 'utf8')), 'agent/src/host.ts');
    // Only what the agent's JSON crosses: its wire formats, the devices it reads. The fleet's own tables (lifecycle,
    // advisories, actions, alerts) and the package manifest never meet the bundle; a new schema must be placed on a side.
    const schemaFiles = readdirSync(join(root, 'schemas')).filter((f) => f.endsWith('.json'));
    expect(schemaFiles.filter((f) => ![...AGENT_SCHEMAS, ...FLEET_ONLY_SCHEMAS, ...PACKAGING_SCHEMAS].includes(f))).toEqual([]);
    for (const f of AGENT_SCHEMAS) mark(words(readFileSync(join(root, 'schemas', f), 'utf8')), `schemas/${f}`);
    mark(UNSCHEMED_WIRE, 'unschemed JSON');
    // Words inside string literals: config keys, VAPIX and MQTT 5 property names, keys looked up by string. A
    // PROSE_PROPS name may be a word of a sentence ("PUBLISH is truncated"), never a whole string (a key).
    const MQTT5_TABLE = /^,?[bhivsdp] [A-Za-z]/; // codec.ts PROPS: `kind name,…`, names as keys
    for (const file of walk(join(root, 'agent/src')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
      const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
      const visit = (node: ts.Node): void => {
        if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) return; // module paths are not keys
        if (ts.isLiteralTypeNode(node)) return; // a type (`Pick<VapixClient, 'listParams'>`) is erased: no key at run time
        if (ts.isStringLiteralLike(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
          const sentence = /\s/.test(node.text) && !MQTT5_TABLE.test(node.text);
          mark(words(node.text), `a string in ${file.slice(root.length + 1)}`, sentence);
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    // Members of the engine's own objects (Array, Promise, Map, iterators…), as far as Node has them too.
    const seen = new Set<unknown>();
    const builtins = (o: unknown): void => {
      if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) return;
      seen.add(o);
      for (const k of Object.getOwnPropertyNames(o)) {
        mark([k], 'a builtin');
        const d = Object.getOwnPropertyDescriptor(o, k);
        if (d && 'value' in d) builtins(d.value);
      }
      builtins(Object.getPrototypeOf(o));
    };
    for (const name of ['Object', 'Array', 'String', 'Number', 'Promise', 'Map', 'Set', 'Uint8Array', 'ArrayBuffer', 'JSON', 'Math', 'RegExp', 'Error', 'Date']) {
      const c = (globalThis as Record<string, unknown>)[name] as { prototype?: unknown };
      builtins(c);
      builtins(c.prototype);
    }
    builtins([][Symbol.iterator]());
    builtins((function* () {})());
    const crossing = MANGLED_PROPS.filter((n: string) => edge.has(n)).map((n: string) => `${n} (${edge.get(n)})`);
    expect(crossing).toEqual([]);
    expect(new Set(MANGLED_PROPS).size).toBe(MANGLED_PROPS.length);
    expect(PROSE_PROPS.filter((n: string) => !MANGLED_PROPS.includes(n))).toEqual([]);
  });

  it('gives every mangled name a short name no kept property of the bundle has', async () => {
    const outfile = join(root, 'dist/mangle-check.js');
    const all = await build({ ...agentOptions, mangleProps: /./, mangleCache: {}, write: false, outfile });
    const kept = Object.keys(all.mangleCache ?? {}).filter((n) => !MANGLED_PROPS.includes(n));
    const real = await build({ ...agentOptions, mangleCache: {}, write: false, outfile });
    const cache = real.mangleCache as Record<string, string | false>;
    // Every listed name still occurs in the agent (a stale entry would hide a rename), and none collides.
    expect(MANGLED_PROPS.filter((n: string) => !(n in cache))).toEqual([]);
    expect(Object.values(cache).filter((short) => typeof short === 'string' && kept.includes(short))).toEqual([]);
  });

  it('reports bytes per folder that add up to the bundle', async () => {
    const r = await build({ ...agentOptions, metafile: true, write: false, outfile: join(root, 'dist/analyze-check.js') });
    const table = bytesByFolder(r.metafile);
    const total = table.reduce((sum: number, [, n]: [string, number]) => sum + n, 0);
    const bundle = r.outputFiles!.find((f) => f.path.endsWith('.js'))!.contents.length;
    expect(table.map(([name]: [string, number]) => name)).toEqual(expect.arrayContaining(['mqtt/', 'vapix/', 'agent.ts']));
    expect(total).toBeLessThanOrEqual(bundle);
    expect(total).toBeGreaterThan(bundle * 0.97);
  });
});
