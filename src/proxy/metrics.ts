// Proxy metrics (prom-client), served at /metrics by the console and by `kubecast proxy`.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ProxyMetrics {
  readonly registry: Registry;
  readonly attempted: Counter<'type' | 'protocol'>;
  readonly recorded: Counter<'type' | 'protocol'>;
  readonly unrecorded: Counter<'type' | 'reason'>;
  readonly refused: Counter<'type' | 'reason'>;
  readonly failed: Counter<'type' | 'reason'>;
  readonly bytesRecorded: Counter;
  readonly ackLatency: Histogram;
  readonly liveSessions: Gauge;
  readonly spooledBytes: Gauge;

  constructor(registry = new Registry(), withDefaults = false) {
    this.registry = registry;
    if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'kubecast_' });
    const registers = [registry];
    this.attempted = new Counter({ name: 'kubecast_sessions_attempted_total', help: 'exec/attach sessions that reached the proxy', labelNames: ['type', 'protocol'], registers });
    this.recorded = new Counter({ name: 'kubecast_sessions_recorded_total', help: 'sessions that ran with a recording', labelNames: ['type', 'protocol'], registers });
    this.unrecorded = new Counter({ name: 'kubecast_sessions_unrecorded_total', help: 'sessions that ran without a recording (fail-open)', labelNames: ['type', 'reason'], registers });
    this.refused = new Counter({ name: 'kubecast_sessions_refused_total', help: 'sessions refused because they could not be recorded (fail-closed)', labelNames: ['type', 'reason'], registers });
    this.failed = new Counter({ name: 'kubecast_sessions_failed_total', help: 'sessions ended by a recording or protocol failure', labelNames: ['type', 'reason'], registers });
    this.bytesRecorded = new Counter({ name: 'kubecast_recorded_bytes_total', help: 'cast bytes handed to recorders', registers });
    this.ackLatency = new Histogram({
      name: 'kubecast_recorder_ack_latency_seconds',
      help: 'time from sending bytes to the recorder acknowledging them as stored',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.liveSessions = new Gauge({ name: 'kubecast_sessions_live', help: 'sessions in progress through this proxy', registers });
    this.spooledBytes = new Gauge({ name: 'kubecast_spooled_bytes', help: 'recording bytes waiting in the local spool for a recorder', registers });
  }
}
