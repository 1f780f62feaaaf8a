/**
 * The Io a CLI function writes to (out, err, and an optional stdin), captured as text for the test: the in-process
 * twin of running the command and reading its stdout and stderr.
 */
import { PassThrough } from 'node:stream';

export interface CapturedIo {
  io: { out: PassThrough; err: PassThrough; input: PassThrough; env: NodeJS.ProcessEnv };
  out(): string;
  err(): string;
}

/** `input`, when given, is what stdin holds (then ends); `env` is the command's environment (default empty). */
export function captureIo(input?: string, env: NodeJS.ProcessEnv = {}): CapturedIo {
  const out = new PassThrough();
  const err = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (d) => (o += d));
  err.on('data', (d) => (e += d));
  const stdin = new PassThrough();
  if (input !== undefined) stdin.end(input);
  return { io: { out, err, input: stdin, env }, out: () => o, err: () => e };
}

/** Runs a CLI function in process with a captured Io: its exit code and what it wrote. */
export async function runCli(run: (argv: string[], io: CapturedIo['io']) => number | Promise<number>, argv: string[], input?: string): Promise<{ code: number; out: string; err: string }> {
  const t = captureIo(input);
  const code = await run(argv, t.io);
  return { code, out: t.out(), err: t.err() };
}
