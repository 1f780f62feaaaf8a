/**
 * Text to bytes and back, through the host's codec (Host.text): QuickJS has no TextEncoder or TextDecoder,
 * and a codec in JS costs thousands of instructions per byte. The agent installs its host's codec once at
 * start (createAgent); the parsers and encoders that need it stay free of a Host parameter. Agent tests in
 * Node get a TextEncoder-based one from a vitest setup file (agent/test/install-text.ts).
 */
import type { HostFs, HostText, TextEncoding } from '../host';

let codec: HostText | null = null;

/** Makes `text` the codec of every function below (the host's, at the agent's start). */
export const installText = (text: HostText): void => {
  codec = text;
};

const host = (): HostText => {
  if (!codec) throw new Error('[vigil] [agent] no text codec installed (installText)');
  return codec;
};

/** UTF-8 of a string; a lone surrogate becomes U+FFFD. The array spans its whole buffer. */
export const utf8Encode = (text: string): Uint8Array => new Uint8Array(host().encode(text));

/** Decodes bytes as `encoding`; invalid UTF-8 becomes U+FFFD instead of throwing (device files can hold anything). */
export const decodeText = (bytes: Uint8Array, encoding: TextEncoding): string =>
  host().decode(bytes.buffer as ArrayBuffer, encoding, bytes.byteOffset, bytes.byteLength);

export const utf8Decode = (bytes: Uint8Array): string => decodeText(bytes, 'utf-8');

/** True when the bytes are well-formed UTF-8 (MQTT requires it of topics and strings). */
export const isValidUtf8 = (bytes: Uint8Array): boolean => host().isUtf8(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);

/** A whole file as text (invalid UTF-8 becomes U+FFFD); rejects as Host.fs.readFile does. */
export const readText = async (fs: HostFs, path: string, maxBytes: number): Promise<string> => host().decode(await fs.readFile(path, maxBytes), 'utf-8');

/** Replaces a file atomically with the text as UTF-8. */
export const writeText = (fs: HostFs, path: string, text: string): Promise<void> => fs.writeFileAtomic(path, host().encode(text));
