/**
 * The bundle's entry. The only place that reads the host global: the runtime installs `__vigilHost`
 * before evaluating dist/agent.js and may call `__vigilAgent.stop()` for a planned stop (SIGTERM).
 */
import type { AgentHandle, Host } from './host';
import { HOST_API_VERSION } from './host';
import { createAgent } from './agent';

declare const __VIGIL_VERSION__: string;

const scope = globalThis as unknown as { __vigilHost?: Host; __vigilAgent?: AgentHandle };
const host = scope.__vigilHost;
if (!host || host.apiVersion !== HOST_API_VERSION) {
  throw new Error(`[vigil] [agent] host API ${host ? host.apiVersion : 'missing'}, this agent needs ${HOST_API_VERSION}`);
}
const agent = createAgent(host, __VIGIL_VERSION__);
scope.__vigilAgent = { stop: () => agent.stop() };
agent.start();

export {};
