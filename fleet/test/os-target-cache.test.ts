import { describe, expect, it } from 'vitest';
import { loadTables } from '../src/data';
import { tracksForSoc } from '../src/os-target';
import { parseVersion } from '../src/version';

describe('remembered lookups', () => {
  it('give the tracks a SoC can run as of the time asked, also after the same tables were asked before a track ended', () => {
    const { tracks } = loadTables();
    const ending = tracks.filter((t) => t.endMs !== null).sort((a, b) => a.endMs! - b.endMs!)[0];
    const before = tracksForSoc(tracks, null, ending.endMs! - 1);
    const after = tracksForSoc(tracks, null, ending.endMs! + 1);
    expect(before).toContain(ending);
    expect(after).not.toContain(ending);
    expect(tracksForSoc(tracks, null, ending.endMs! - 1)).toEqual(before);
  });

  it('share one frozen parse per version text, so no caller can change another one\'s', () => {
    const v = parseVersion('12.11.77')!;
    expect(v).toEqual([12, 11, 77]);
    expect(parseVersion('12.11.77')).toBe(v);
    expect(() => (v as number[]).push(1)).toThrow();
    expect(parseVersion('not a version')).toBeNull();
  });
});
