// The host contract, host.net: TCP connect, write and read against the harness's echo server, end of
// stream, refusal and close.
import type { Host } from '../src/host';
import { ECHO_QUIT, assert, bytes, text, within, type ContractCase } from './host-contract-support';

async function readAll(host: Host, socket: number, until: (received: string) => boolean): Promise<string> {
  let received = '';
  while (!until(received)) {
    const chunk = await host.net.read(socket);
    if (chunk === null) break;
    received += text(chunk);
  }
  return received;
}

export const NET_CASES: ContractCase[] = [
  {
    name: 'net connect, write and read round-trip through an echo server',
    async run(host, env) {
      const s = await within(host, 5000, 'connect', host.net.connect({ host: env.echoHost, port: env.echoPort, timeoutMs: 3000 }));
      try {
        assert.equal(typeof s, 'number', 'socket id type');
        await host.net.write(s, bytes('ping-1 '));
        await host.net.write(s, bytes('ping-2'));
        const got = await within(host, 5000, 'echo', readAll(host, s, (r) => r.length >= 13));
        assert.equal(got, 'ping-1 ping-2', 'echo');
      } finally {
        host.net.close(s);
      }
    },
  },
  {
    name: 'connect to a refused port rejects ECONNREFUSED',
    async run(host, env) {
      await within(
        host,
        5000,
        'connect',
        assert.rejects(host.net.connect({ host: env.echoHost, port: env.refusedPort, timeoutMs: 3000 }), 'ECONNREFUSED', 'connect'),
      );
    },
  },
  {
    name: 'read resolves null after the peer closes',
    async run(host, env) {
      const s = await within(host, 5000, 'connect', host.net.connect({ host: env.echoHost, port: env.echoPort, timeoutMs: 3000 }));
      try {
        await host.net.write(s, bytes(ECHO_QUIT));
        let chunk: ArrayBuffer | null = new ArrayBuffer(0);
        while (chunk !== null) chunk = await within(host, 5000, 'read', host.net.read(s));
        assert.equal(chunk, null, 'end of stream');
      } finally {
        host.net.close(s);
      }
    },
  },
  {
    name: 'close is idempotent and a pending read resolves null',
    async run(host, env) {
      const s = await within(host, 5000, 'connect', host.net.connect({ host: env.echoHost, port: env.echoPort, timeoutMs: 3000 }));
      const pending = host.net.read(s);
      host.net.close(s);
      host.net.close(s);
      assert.equal(await within(host, 2000, 'pending read', pending), null, 'pending read');
    },
  },
  {
    name: 'read of an unknown socket rejects EBADF',
    async run(host) {
      await assert.rejects(host.net.read(987654), 'EBADF', 'read');
    },
  },
];
