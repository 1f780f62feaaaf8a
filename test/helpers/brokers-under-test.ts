// The two brokers the end-to-end tests run against, one describe.each row each: the embedded Aedes (the
// demo's own) and Debian's Mosquitto, on `port` when given, else a free one.
import { startEmbeddedBroker } from './broker';
import { startMosquitto } from './mosquitto';

export interface BrokerUnderTest {
  host: string;
  port: number;
  url: string;
  close(): Promise<void>;
}

export const BROKERS_UNDER_TEST: Array<{ name: string; start(port?: number): Promise<BrokerUnderTest> }> = [
  { name: 'embedded Aedes', start: (port) => startEmbeddedBroker({ port }) },
  {
    name: 'Mosquitto',
    start: async (port) => {
      const m = await startMosquitto({ port });
      return { host: m.host, port: m.port, url: m.url, close: () => m.stop() };
    },
  },
];
