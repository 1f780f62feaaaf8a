/**
 * The seam between the portable agent and the runtime that hosts it.
 *
 * The agent owns the protocols (MQTT, HTTP/1.1 for VAPIX, report logic); the host owns the bytes
 * (files, sockets, TLS, hashing, timers). host-sim (Node + QuickJS-wasm) and host-native (C + QuickJS)
 * each supply one object of this type as the global `__vigilHost` before the bundle runs; tests supply
 * the in-memory FakeHost. Keep it small: every member here must also be written in C.
 *
 * Conventions:
 * - Bytes cross the seam as ArrayBuffer (QuickJS has no Buffer; both engines copy ArrayBuffers cheaply).
 * - Every asynchronous call returns a Promise. A failure rejects with an Error whose `code` is one of
 *   HostErrorCode and whose message says what failed, e.g. `ENOENT: /proc/net/tcp6`.
 * - Paths are device paths (`/proc/net/tcp`). The host maps them onto its root: the profile's rootfs/
 *   in the simulator, `/` or `--root DIR` natively. Writes are allowed only under the data dir.
 * - Sockets and timers are small integer ids so that a C host needs no wrapper classes.
 */

export const HOST_API_VERSION = 1;

/** Stable failure codes. A host maps its native errors onto these; anything else becomes EIO. */
export type HostErrorCode =
  | 'ENOENT' // no such file or directory
  | 'EACCES' // permission denied, or a write outside the data dir
  | 'EISDIR'
  | 'ENOTFILE' // a content read (readFile, sha256File) of a FIFO, device or socket: refused without blocking
  | 'ENOTDIR'
  | 'EFBIG' // file larger than the byte cap
  | 'ENOSPC' // disk full
  | 'ELOOP' // too many symbolic links
  | 'EIO' // anything else on a file or socket
  | 'EINVAL' // bad argument
  | 'ETIMEDOUT'
  | 'ECONNREFUSED'
  | 'ECONNRESET'
  | 'EHOSTUNREACH'
  | 'ENOTFOUND' // host name did not resolve
  | 'ETLS' // TLS handshake or verification failed (message says why)
  | 'EBADF' // unknown or closed socket id
  | 'ECLOSED'; // socket closed while an operation was pending

export interface HostError extends Error {
  code: HostErrorCode;
}

/**
 * A HostError as a host rejects with it: the message is `CODE: what failed`. For hosts and test hosts written
 * in TypeScript (host-sim, FakeHost); the agent itself does not make them, so its bundle leaves this out.
 */
export function hostError(code: HostErrorCode, message: string): HostError {
  const err = new Error(`${code}: ${message}`) as HostError;
  err.code = code;
  return err;
}

export type FileType = 'file' | 'dir' | 'symlink' | 'other';

export interface FileStat {
  type: FileType;
  size: number;
  /** Modification time, epoch milliseconds. */
  mtimeMs: number;
  ino: number;
  /** Permission bits and file type, as st_mode. */
  mode: number;
}

export interface DirEntry {
  name: string;
  type: FileType;
}

export interface HostFs {
  /**
   * Reads a whole file. Rejects EFBIG when it is larger than maxBytes (nothing is returned then), EISDIR for a
   * directory and ENOTFILE for anything else that is not a regular file: a FIFO could block forever and a
   * device such as /dev/zero never ends. The host opens without blocking and checks the opened file (never
   * stat-then-open), so a file swapped for a FIFO between the agent's stat and this read is refused too.
   */
  readFile(path: string, maxBytes: number): Promise<ArrayBuffer>;
  /** Lists a directory, without `.` and `..`, in no particular order. */
  list(path: string): Promise<DirEntry[]>;
  /** Like lstat(2): a symbolic link is reported as `symlink`, not followed. */
  stat(path: string): Promise<FileStat>;
  /**
   * Replaces a file atomically (temporary file, flush, rename), so that a reader or a power cut sees
   * either the old or the new content. Only under the data dir; rejects EACCES elsewhere.
   */
  writeFileAtomic(path: string, data: ArrayBuffer): Promise<void>;
  /** Removes a file under the data dir. Removing a missing file rejects ENOENT. */
  remove(path: string): Promise<void>;
  /** Creates a directory (and its parents) under the data dir; succeeds if it exists. */
  mkdir(path: string): Promise<void>;
}

export interface TlsOptions {
  /** Device path of a PEM CA bundle; the system store when absent. */
  caFile?: string;
  /** Device paths of a PEM client certificate and key, for mutual TLS. */
  certFile?: string;
  keyFile?: string;
  /** SNI and the name checked in the certificate; defaults to the host. */
  serverName?: string;
  /** Server verification is on unless this is explicitly false. */
  verify?: boolean;
}

export interface ConnectOptions {
  host: string;
  port: number;
  tls?: TlsOptions;
  /** Gives up with ETIMEDOUT when the connection (and TLS handshake) is not up by then. */
  timeoutMs: number;
}

export interface HostNet {
  /** Opens a TCP (optionally TLS) connection and resolves with a socket id. */
  connect(options: ConnectOptions): Promise<number>;
  /**
   * Resolves with the next chunk received, or null at an orderly end of stream. Rejects with the reason
   * the connection failed (ECONNRESET, ETIMEDOUT, ETLS…). One read at a time per socket; the host stops
   * reading from the kernel while no read is pending, which is the agent's back-pressure.
   */
  read(socket: number): Promise<ArrayBuffer | null>;
  /** Resolves once the bytes are handed to the kernel (or the TLS layer). */
  write(socket: number, data: ArrayBuffer): Promise<void>;
  /** Closes at once; a pending read resolves null. Closing twice is harmless. */
  close(socket: number): void;
}

export interface HostCrypto {
  /** SHA-256 of bytes, lowercase hex. */
  sha256(data: ArrayBuffer): string;
  /**
   * SHA-256 of a file, streamed by the host so the file never enters the JS heap. Refuses what is not a
   * regular file as readFile does (EISDIR, ENOTFILE). With maxBytesPerSec > 0 the host paces its reads so
   * hashing never starves the camera's video: the rate is a cap on the host's hashing across calls (one token
   * bucket per host, refilled at the rate the latest call asked for, holding one read chunk), so hashing many
   * small files one after another averages the cap while a single small file is not delayed.
   */
  sha256File(path: string, maxBytesPerSec: number): Promise<string>;
  randomBytes(length: number): ArrayBuffer;
  /**
   * Verifies an ECDSA P-256 signature over SHA-256(data): how a signed command is checked. `publicKey` is a SubjectPublicKeyInfo
   * in DER (what `openssl pkey -pubout -outform DER` writes; the uncompressed point, 91 bytes); `signature` is the raw
   * r||s, 32 bytes each, big-endian (IEEE P1363, as WebCrypto signs). Any signature that does not verify, including
   * one of the wrong length or with r or s out of range, is false: it is the sender's input. A key that is not a
   * P-256 public key throws EINVAL: it is configuration, and must be told apart from a bad signature.
   */
  verifyP256(publicKey: ArrayBuffer, data: ArrayBuffer, signature: ArrayBuffer): boolean;
}

export interface HostClock {
  /** Wall clock, epoch milliseconds. May jump (NTP, a user). */
  now(): number;
  /** Monotonic milliseconds since an arbitrary origin. Never jumps. */
  monotonic(): number;
  setTimer(delayMs: number, callback: () => void): number;
  clearTimer(timer: number): void;
}

/** The encodings HostText decodes: UTF-8, and ISO-8859-1 (each byte is the code point, as VAPIX param.cgi sends). */
export type TextEncoding = 'utf-8' | 'iso-8859-1';

/**
 * Text codecs, in the host because a per-byte codec in JS costs thousands of engine instructions per byte
 * (QuickJS has no TextEncoder/TextDecoder). `offset`/`length` select a part of `data` (default: all of it
 * from offset), so a view into a larger buffer is read where it lies, without a copy; a range outside the
 * buffer throws EINVAL.
 */
export interface HostText {
  /**
   * Decodes bytes. UTF-8 never fails: each maximal invalid subpart becomes one U+FFFD (the WHATWG decoder, as
   * TextDecoder and Node do); a leading byte order mark is kept. ISO-8859-1 maps each byte to U+0000–U+00FF.
   */
  decode(data: ArrayBuffer, encoding: TextEncoding, offset?: number, length?: number): string;
  /** True when the bytes are well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). */
  isUtf8(data: ArrayBuffer, offset?: number, length?: number): boolean;
  /** UTF-8 of a string in a new ArrayBuffer of exactly its length; a lone surrogate becomes U+FFFD (EF BF BD). */
  encode(text: string): ArrayBuffer;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface VapixCredentials {
  username: string;
  password: string;
}

export interface RuntimeInfo {
  /** 'host-sim', 'host-native', 'fake'. Reported, never used to change behaviour. */
  name: string;
  version: string;
  /** SHA-256 of the bundle (source or bytecode) the host loaded, or null when unknown. */
  bundleSha256: string | null;
  /** Why the previous run of the agent ended, when the host restarted it (memory limit, CPU budget…). */
  lastExit: string | null;
}

export interface RuntimeMemory {
  usedBytes: number;
  limitBytes: number;
}

export interface Host {
  readonly apiVersion: number;
  readonly fs: HostFs;
  readonly net: HostNet;
  readonly crypto: HostCrypto;
  readonly clock: HostClock;
  readonly text: HostText;
  log(level: LogLevel, message: string): void;
  /**
   * The agent's parameters as strings, named as the ACAP parameters in manifest.json
   * (BrokerHost, BrokerPort, IntervalSec…). The agent parses and validates them (config.ts).
   */
  config(): Record<string, string>;
  /**
   * The subset of config() a lab or a test forced (host-native: --config files and --set; the simulator: its
   * overrides). They win over the camera's own settings page (param.cgi, settings.ts); everything else in
   * config() is only the default (param.conf). Absent: nothing is forced.
   */
  configOverrides?(): Record<string, string>;
  /** Local VAPIX credentials from D-Bus GetCredentials (AXIS OS ≥ 11.9); absent where not available. */
  vapixCredentials?(): Promise<VapixCredentials>;
  readonly info: RuntimeInfo;
  memory(): RuntimeMemory;
}

/** What the bundle exposes back to its host as the global `__vigilAgent`. */
export interface AgentHandle {
  /** A planned stop: publish `offline`, disconnect cleanly, resolve when done. */
  stop(): Promise<void>;
}
