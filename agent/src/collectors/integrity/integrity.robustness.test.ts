// The integrity collector against file-system oddities (issue 7, ROBUSTNESS.md), with the FakeHost: random
// trees with symbolic-link loops, unreadable files, special files, odd names (newlines, U+FFFD, spaces),
// then random changes between two scans, a directory replaced by a file among them. The second scan must
// report exactly the changes a model of the tree predicts. host-sim/test/integrity-oddities.sim.test.ts
// does the same for real files through SimHost. Fixed seed plus a printed random one.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkAsync, seeds } from '../../../../test/helpers/fc-seed';
import { FakeHost } from '../../../test/fake-host';
import { makeContext, serveVapix } from '../../../test/vapix-fixture';
import { collectIntegrity } from './integrity';

const INPUT = { soc: 'Axis Artpec-8', osVersion: '12.11.77' };
const nameArb = fc.oneof(
  fc.stringMatching(/^[a-z]{1,6}$/),
  fc.constantFrom('with\nnewline', 'bad\ufffdutf8', 'sp ace', 'ünï', '.hidden', '-dash', 'x'.repeat(200)),
);

type Node = { kind: 'file'; content: string; unreadable: boolean } | { kind: 'link'; target: string } | { kind: 'other' } | { kind: 'dir' };

const treeArb = fc.array(
  fc.tuple(
    fc.array(nameArb, { minLength: 1, maxLength: 3 }),
    fc.oneof(
      fc.record({ kind: fc.constant('file' as const), content: fc.string({ maxLength: 20 }), unreadable: fc.boolean() }),
      fc.record({ kind: fc.constant('link' as const), target: fc.constantFrom('loop-a', '/usr/bin/loop-b', '..', '/', '/usr/bin') }),
      fc.constant({ kind: 'other' as const }),
    ),
  ),
  { minLength: 1, maxLength: 12 },
);

const opArb = fc.tuple(fc.constantFrom('change', 'remove', 'add', 'dir-to-file', 'unreadable'), fc.nat(), fc.string({ maxLength: 10 }));

/** Builds the model: files at /usr/bin/<names...>, intermediate directories implied. */
function buildModel(tree: Array<[string[], Node]>): Map<string, Node> {
  const model = new Map<string, Node>();
  for (const [names, node] of tree) {
    let p = '/usr/bin';
    let ok = true;
    for (const n of names.slice(0, -1)) {
      const at = model.get(p + '/' + n);
      if (at && at.kind !== 'dir') {
        ok = false;
        break;
      }
      p += '/' + n;
      model.set(p, { kind: 'dir' });
    }
    const leaf = p + '/' + names[names.length - 1];
    if (!ok || model.has(leaf)) continue;
    model.set(leaf, node);
  }
  return model;
}

function apply(fake: FakeHost, model: Map<string, Node>, mtime: number): void {
  fake.addDir('/usr/bin');
  for (const [p, n] of [...model].sort(([a], [b]) => a.length - b.length)) {
    if (n.kind === 'dir') fake.addDir(p);
    else if (n.kind === 'link') fake.addSymlink(p, n.target);
    else if (n.kind === 'other') fake.addFile(p, ''), ((fake as unknown as { nodes: Map<string, { type: string }> }).nodes.get(p)!.type = 'other');
    else {
      fake.addFile(p, n.content, { mtimeMs: mtime });
      if (n.unreadable) fake.makeUnreadable(p);
    }
  }
}

describe('integrity collector against file-system oddities (FakeHost)', () => {
  it.each(seeds(761))('a second scan reports exactly the added, changed and removed paths, whatever the tree and changes (%s)', async (_l, seed) => {
    await checkAsync(
      fc.asyncProperty(treeArb, fc.array(opArb, { maxLength: 5 }), async (tree, ops) => {
        const fake = new FakeHost();
        serveVapix(fake, {});
        const ctx = makeContext(fake, { IntegrityPaths: '/usr/bin', IntegrityMaxFiles: '100000' });
        const model = buildModel(tree);
        apply(fake, model, 1000);
        const first = await collectIntegrity(ctx, INPUT);
        expect(first.value.status).toBe('baseline-created');

        // what the baseline saw: every non-dir path
        const before = new Map([...model].filter(([, n]) => n.kind !== 'dir'));
        const expected = new Map<string, string>();
        const paths = () => [...model.keys()].sort();
        for (const [op, i, text] of ops) {
          const all = paths();
          if (!all.length) break;
          const p = all[i % all.length];
          const n = model.get(p)!;
          if (op === 'change' && n.kind === 'file') {
            n.content += 'x' + text;
            fake.addFile(p, n.content, { mtimeMs: 5000 });
            if (n.unreadable) fake.makeUnreadable(p);
            expected.set(p, before.has(p) ? 'changed' : 'added');
          } else if (op === 'remove') {
            for (const q of all) if (q === p || q.startsWith(p + '/')) model.delete(q);
            fake.deletePath(p);
          } else if (op === 'add' && n.kind === 'dir') {
            const q = `${p}/new-${text.replace(/[/\0]/g, '')}`;
            if (model.has(q)) continue;
            model.set(q, { kind: 'file', content: text, unreadable: false });
            fake.addFile(q, text, { mtimeMs: 5000 });
          } else if (op === 'dir-to-file' && n.kind === 'dir') {
            for (const q of all) if (q.startsWith(p + '/')) model.delete(q);
            fake.deletePath(p);
            model.set(p, { kind: 'file', content: 'now a file', unreadable: false });
            fake.addFile(p, 'now a file', { mtimeMs: 5000 });
          } else if (op === 'unreadable' && n.kind === 'file') {
            n.unreadable = true;
            fake.makeUnreadable(p);
          }
        }
        const after = new Map([...model].filter(([, n]) => n.kind !== 'dir'));
        const want = new Map<string, string>();
        for (const p of after.keys()) if (!before.has(p)) want.set(p, 'added');
        for (const p of before.keys()) if (!after.has(p)) want.set(p, 'removed');
        for (const [p, c] of expected) if (after.has(p) && before.has(p)) want.set(p, c);
        for (const [p, n] of after) if (before.has(p) && before.get(p) !== n && !want.has(p)) want.set(p, 'changed');

        const second = await collectIntegrity(ctx, INPUT);
        const got = new Map(second.value.changes.map((c) => [c.path, c.change]));
        expect(second.value.totalChanges).toBe(want.size);
        expect(got).toEqual(new Map([...want].slice(0, 100)).size === want.size ? want : got);
        expect(second.value.status).toBe(want.size ? 'changed' : 'ok');
        for (const e of second.errors) expect(e.collector).toBe('integrity');
      }),
      seed,
      300,
    );
  });
});
