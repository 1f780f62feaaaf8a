/**
 * host.crypto for the simulator: node:crypto. sha256File streams the file, and one token bucket per host
 * paces all of its hashing by maxBytesPerSec (so the cap holds across files, as on the device).
 */
import { createHash, createPublicKey, randomBytes as nodeRandomBytes, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { closeSync, readSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { HostCrypto } from '../../../agent/src/host';
import { hostError } from '../../../agent/src/host';
import { fsError, openRegular, type DeviceFiles } from './fs';

/** Time for the hash rate cap: a monotonic reading and a wait. */
export interface HashClock {
  monotonic(): number;
  sleep(ms: number): Promise<void>;
}

export const realHashClock: HashClock = {
  monotonic: () => performance.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

export class SimCrypto {
  /**
   * The host's one hashing token bucket (bytes), shared by every sha256File call so that the cap holds across
   * files: pacing per call let a stream of files smaller than a chunk go at full speed (BENCHMARKS.md, miss 1).
   * A read may run the bucket into debt; the next read waits until it is paid back.
   */
  private readonly hashBucket = { tokens: 0, at: Number.NaN };

  constructor(
    private readonly files: DeviceFiles,
    private readonly hashClock: HashClock,
    /** True once the host is closed: hashing stops. */
    private readonly closed: () => boolean,
  ) {}

  /** Refills the bucket at `rate` bytes/s up to `burst` (one chunk) and waits until it is out of debt. */
  private async hashTokens(devicePath: string, rate: number, burst: number): Promise<void> {
    const b = this.hashBucket;
    for (;;) {
      const now = this.hashClock.monotonic();
      b.tokens = Number.isNaN(b.at) ? burst : Math.min(burst, b.tokens + ((now - b.at) * rate) / 1000);
      b.at = now;
      // Less than a byte short is rounding, not debt.
      if (b.tokens > -1) return;
      await this.hashClock.sleep((-b.tokens / rate) * 1000);
      if (this.closed()) throw hostError('ECLOSED', `${devicePath}: the host closed while hashing`);
    }
  }

  readonly crypto: HostCrypto = {
    sha256: (data: ArrayBuffer): string => createHash('sha256').update(new Uint8Array(data)).digest('hex'),

    sha256File: async (devicePath: string, maxBytesPerSec: number): Promise<string> => {
      const { real } = await this.files.resolve(devicePath, true);
      const { fd } = openRegular(real, devicePath);
      try {
        const hash = createHash('sha256');
        const chunkSize = maxBytesPerSec > 0 ? Math.max(4096, Math.min(64 * 1024, Math.floor(maxBytesPerSec / 8))) : 64 * 1024;
        const buf = Buffer.alloc(chunkSize);
        for (;;) {
          if (maxBytesPerSec > 0) await this.hashTokens(devicePath, maxBytesPerSec, chunkSize);
          // A closed host stops hashing (a paced hash of a big file could otherwise outlive the camera).
          if (this.closed()) throw hostError('ECLOSED', `${devicePath}: the host closed while hashing`);
          const bytesRead = readSync(fd, buf, 0, buf.length, null);
          if (bytesRead === 0) break;
          hash.update(buf.subarray(0, bytesRead));
          if (maxBytesPerSec > 0) this.hashBucket.tokens -= bytesRead;
        }
        return hash.digest('hex');
      } catch (err) {
        throw fsError(err, devicePath);
      } finally {
        closeSync(fd);
      }
    },

    randomBytes: (length: number): ArrayBuffer => {
      if (!(length >= 0 && length <= 1 << 20)) throw hostError('EINVAL', `randomBytes length ${length}`);
      const b = nodeRandomBytes(length);
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    },

    verifyP256: (publicKey: ArrayBuffer, data: ArrayBuffer, signature: ArrayBuffer): boolean => {
      const key = p256Key(publicKey);
      if (signature.byteLength !== 64) return false;
      try {
        return nodeVerify('sha256', new Uint8Array(data), { key, dsaEncoding: 'ieee-p1363' }, new Uint8Array(signature));
      } catch {
        // r or s out of range: not a signature of this key
        return false;
      }
    },
  };
}

/** The P-256 key of an SPKI DER, or EINVAL (as host-native: another curve, another algorithm or not a key). */
function p256Key(der: ArrayBuffer): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
  } catch (err) {
    throw hostError('EINVAL', `verifyP256: the public key is not an SPKI DER key (${(err as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw hostError('EINVAL', `verifyP256: the public key is ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''}, not P-256`.trimEnd());
  }
  return key;
}
