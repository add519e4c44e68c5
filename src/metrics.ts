import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The server's Prometheus metrics, on a registry of its own (not prom-client's global one) so that
 * several servers in one process, as in tests, count separately.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly accessBatches = new Counter({
    name: 'imagegraph_access_batches_total',
    help: 'Region access decision batches (one per request that touches any region)',
    registers: [this.registry],
  });

  readonly accessKeys = new Counter({
    name: 'imagegraph_access_keys_total',
    help: 'Regions decided by the access policy',
    registers: [this.registry],
  });

  readonly providerCalls = new Counter({
    name: 'imagegraph_provider_calls_total',
    help: 'Calls made to image providers, after per-request de-duplication',
    labelNames: ['region', 'operation'] as const,
    registers: [this.registry],
  });

  readonly circuitOpen = new Gauge({
    name: 'imagegraph_provider_circuit_open',
    help: "1 while the region's provider circuit is open (calls fail at once), else 0",
    labelNames: ['region'] as const,
    registers: [this.registry],
  });

  readonly requestsRefused = new Counter({
    name: 'imagegraph_requests_refused_total',
    help: 'Requests refused before execution, by reason (rate limit, query limits, body policy, authentication)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly httpRequestDuration = new Histogram({
    name: 'imagegraph_http_request_duration_seconds',
    help: 'HTTP request duration',
    labelNames: ['route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
