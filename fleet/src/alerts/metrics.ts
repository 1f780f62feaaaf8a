/** The alerts' part of /metrics: alerts raised by kind, deliveries by outcome, the outbox by status. */
import { metricWriter, type MetricSamples } from '../metrics';
import type { FleetStore } from '../store/types';
import type { AlertDispatcher } from './dispatcher';
import type { AlertEngine } from './engine';
import { ALERT_KINDS } from './rules';

export async function alertMetricsText(engine: AlertEngine, dispatcher: AlertDispatcher, store: FleetStore): Promise<string> {
  const { lines, metric } = metricWriter();
  metric('vigil_fleet_alerts_raised_total', 'counter', 'Alerts raised since the consumer started, by kind.', ALERT_KINDS.map((k) => [{ kind: k }, engine.raised[k] ?? 0]));
  const bySink = (counts: Record<string, number>): MetricSamples => ['webhook', 'mqtt'].map((s) => [{ sink: s }, counts[s] ?? 0]);
  const c = dispatcher.counters;
  metric('vigil_fleet_alert_deliveries_ok_total', 'counter', 'Alert deliveries the receiver took, since start, by sink.', bySink(c.delivered));
  metric('vigil_fleet_alert_deliveries_failed_total', 'counter', 'Alert deliveries given up after the last attempt, since start, by sink.', bySink(c.failed));
  metric('vigil_fleet_alert_delivery_attempts_failed_total', 'counter', 'Delivery attempts that failed (each retry counts), since start, by sink.', bySink(c.attemptsFailed));
  const outbox = await store.deliveryCounts();
  metric('vigil_fleet_alert_deliveries', 'gauge', 'Deliveries in the store by status (pending: in the outbox, waiting for a try).', Object.entries(outbox).map(([s, n]) => [{ status: s }, n]));
  return lines.join('\n') + '\n';
}
