/** The Prometheus text exposition of the consumer's counters and the fleet's counts, served at /metrics. */
import type { FleetConsumer } from './consumer';

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export type MetricSamples = Array<[Record<string, string> | null, number]>;

/** Collects metrics in the text exposition format: `metric(…)` per metric, `lines` at the end. */
export function metricWriter(): { lines: string[]; metric(name: string, type: string, help: string, samples: MetricSamples): void } {
  const lines: string[] = [];
  return {
    lines,
    metric(name, type, help, samples) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of samples) {
        const l = labels ? `{${Object.entries(labels).map(([k, x]) => `${k}="${escapeLabel(x)}"`).join(',')}}` : '';
        lines.push(`${name}${l} ${v}`);
      }
    },
  };
}

export function metricsText(consumer: FleetConsumer): string {
  const c = consumer.counters;
  const counts = consumer.counts();
  const { lines, metric } = metricWriter();
  metric('vigil_fleet_messages_total', 'counter', 'MQTT messages received on the state, report and event topics.', [[null, c.messages]]);
  metric('vigil_fleet_reports_ingested_total', 'counter', 'Reports committed to the store.', [[null, c.reports]]);
  metric('vigil_fleet_ingest_rate', 'gauge', 'Reports ingested per second, averaged over the last 60 seconds.', [[null, Number(consumer.ingestRate().toFixed(3))]]);
  const reasons = Object.entries(c.invalid);
  metric('vigil_fleet_invalid_payloads_total', 'counter', 'Payloads quarantined, by reason.', reasons.length ? reasons.map(([r, n]) => [{ reason: r }, n]) : [[{ reason: 'schema' }, 0]]);
  const refused = Object.entries(c.refused);
  metric('vigil_fleet_reports_refused_total', 'counter', 'Reports refused as forged (quarantined as forged), by reason: identity, future, seq-jump.',
    refused.length ? refused.map(([r, n]) => [{ reason: r }, n]) : [[{ reason: 'future' }, 0]]);
  metric('vigil_fleet_duplicates_total', 'counter', 'Reports and events ignored as duplicates (same id).', [[null, c.duplicates]]);
  metric('vigil_fleet_seq_gaps_total', 'counter', 'Sequence gaps detected.', [[null, c.gaps]]);
  metric('vigil_fleet_out_of_order_total', 'counter', 'Reports that arrived after a newer one.', [[null, c.outOfOrder]]);
  metric('vigil_fleet_stale_states_total', 'counter', 'State messages ignored as older than the current session (stale wills).', [[null, c.staleStates]]);
  metric('vigil_fleet_store_errors_total', 'counter', 'Messages not acknowledged because the store failed.', [[null, c.storeErrors]]);
  metric('vigil_fleet_cameras', 'gauge', 'Cameras by status.', Object.entries(counts.status).map(([s, n]) => [{ status: s }, n]));
  metric('vigil_fleet_cameras_by_support', 'gauge', 'Cameras by AXIS OS support status.', Object.entries(counts.support).map(([s, n]) => [{ support: s }, n]));
  metric('vigil_fleet_cameras_by_integrity', 'gauge', 'Cameras by integrity verdict.', Object.entries(counts.integrity).map(([s, n]) => [{ integrity: s }, n]));
  metric('vigil_fleet_cameras_by_posture', 'gauge', 'Cameras by posture (at-risk, attention, good, unknown).', Object.entries(counts.posture).map(([s, n]) => [{ posture: s }, n]));
  const work = consumer.worklist().counts;
  metric('vigil_fleet_actions', 'gauge', 'Recommended actions on the worklist, by urgency.', Object.entries(work.byUrgency).map(([u, n]) => [{ urgency: u }, n]));
  metric('vigil_fleet_cameras_retired', 'gauge', 'Cameras retired (decommissioned): counted here only, not in the other camera gauges.', [[null, counts.retired]]);
  metric('vigil_fleet_cameras_with_advisories', 'gauge', 'Cameras with at least one matching advisory.', [[null, counts.withAdvisories]]);
  const drops = consumer.brokerDrops;
  metric('vigil_fleet_broker_dropped_messages', 'gauge', 'Messages the broker says it dropped past its queue limits since it started ($SYS/broker/publish/messages/dropped; absent when the broker does not say).',
    drops.total === null ? [] : [[null, drops.total]]);
  metric('vigil_fleet_broker_connected', 'gauge', '1 while the consumer is connected to the broker.', [[null, consumer.connected ? 1 : 0]]);
  return lines.join('\n') + '\n';
}
