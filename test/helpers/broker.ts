// The embedded Aedes broker for tests of every part: the demo's own (cli/broker.ts), so fleet and host-sim
// tests start a broker without importing each other or the command line.
export { startEmbeddedBroker, type EmbeddedBroker } from '../../cli/broker';
