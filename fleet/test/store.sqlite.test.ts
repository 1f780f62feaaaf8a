// The SQLite store holds the FleetStore contract (fleet/test/store-contract.ts), in memory and in a file that is
// opened again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/store/open';
import { SqliteStore } from '../src/store/sqlite';
import { storeContract } from './store-contract';

const dir = mkdtempSync(join(tmpdir(), 'vigil-store-contract-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
let lastFile = '';

storeContract('SqliteStore in memory', async () => new SqliteStore(':memory:'));

storeContract('SqliteStore in a file', async () => new SqliteStore((lastFile = join(dir, `fleet-${++files}.db`))), {
  reopen: async () => new SqliteStore(lastFile),
});

describe('openStore', () => {
  it('opens a SQLite store for a target that is not a postgres URL', async () => {
    const store = await openStore(join(dir, 'opened.db'));
    expect(store.kind).toBe('sqlite');
    await store.close();
  });
});
