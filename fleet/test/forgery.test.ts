// The forgery bounds at their edges (store/forgery.ts, store/forgery-bounds.ts), on one stored camera.
import { describe, expect, it } from 'vitest';
import { newCameraState } from '../src/store/decide';
import { FORGERY_BOUNDS } from '../src/store/forgery-bounds';
import { refusalOf, storedFromFuture } from '../src/store/forgery';
import type { CameraState } from '../src/store/types';
import { iso, MIN, report, STARTED, T0 } from './store-contract-items';

const CAM = 'ACCC8E000001';
const known: CameraState = { ...newCameraState(CAM, T0), model: 'M3086-V', hardwareId: '9A1', lastSeq: 10, lastSentAt: iso(T0), lastStartedAt: STARTED };
const at = (seq: number, sentMs: number, o: { startedAt?: string } = {}) => report(CAM, seq, { nowMs: T0, sentAt: iso(sentMs), ...o });

describe('the forgery bounds', () => {
  it('takes a report sent exactly maxFutureMs ahead of the consumer, and refuses one a millisecond later', () => {
    expect(refusalOf(known, at(11, T0 + FORGERY_BOUNDS.maxFutureMs), true)).toBeNull();
    expect(refusalOf(known, at(11, T0 + FORGERY_BOUNDS.maxFutureMs + 1), true)?.reason).toBe('future');
  });

  it('refuses an agent start from the future even when sentAt is now', () => {
    expect(refusalOf(known, at(11, T0, { startedAt: iso(T0 + 11 * MIN) }), true)).toMatchObject({ reason: 'future', detail: expect.stringMatching(/^health\.startedAt /) });
  });

  it('takes a jump of exactly maxSeqJump sent at once, and refuses one more', () => {
    expect(refusalOf(known, at(10 + FORGERY_BOUNDS.maxSeqJump, T0), true)).toBeNull();
    expect(refusalOf(known, at(11 + FORGERY_BOUNDS.maxSeqJump, T0), true)?.reason).toBe('seq-jump');
  });

  it('checks neither identity nor seq against a stored report it does not trust', () => {
    const forgedStored = { ...known, model: 'FORGED', lastSeq: 999_999_999, lastSentAt: '2099-01-01T00:00:00.000Z' };
    expect(storedFromFuture(forgedStored, T0)).toBe(true);
    expect(storedFromFuture(known, T0)).toBe(false);
    expect(refusalOf(forgedStored, at(11, T0), false)).toBeNull();
  });
});
