import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every metric's name starts with it. */
export const metricsPrefix = 'orthanc_recipes_';

/** Called at each scrape to set a gauge from a value that exists elsewhere (a queue's length, a table's counts). */
export type CollectFunction<Labels extends string> = (gauge: Gauge<Labels>) => void | Promise<void>;

/**
 * Where a recipe (`ctx.metrics`) or the host creates its Prometheus metrics. Names are given
 * without the prefix (`attempts_total`); the prefix is added (`orthanc_recipes_autorouting_attempts_total`
 * for the recipe `autorouting`). Asking again for a name returns the metric already made (a
 * recipe's setup may run more than once: after Orthanc was unreachable, say); a gauge's
 * `collect` is then the latest one given.
 */
export interface Metrics {
  counter<Labels extends string = never>(name: string, help: string, labelNames?: readonly Labels[]): Counter<Labels>;
  /** With `collect`, the gauge is set at each scrape (collect-on-scrape); otherwise set it yourself. */
  gauge<Labels extends string = never>(
    name: string,
    help: string,
    labelNames?: readonly Labels[],
    collect?: CollectFunction<Labels>,
  ): Gauge<Labels>;
  /** `buckets` in the metric's unit (seconds for `_seconds`); prom-client's defaults when absent. */
  histogram<Labels extends string = never>(
    name: string,
    help: string,
    labelNames?: readonly Labels[],
    buckets?: number[],
  ): Histogram<Labels>;
}

type AnyMetric = Counter<string> | Gauge<string> | Histogram<string>;

/** The host's one registry: `GET /recipes/metrics` renders it. */
export class MetricsRegistry {
  readonly registry = new Registry();
  private readonly made = new Map<string, AnyMetric>();

  /** The host's own metrics: `orthanc_recipes_<name>`. */
  readonly host: Metrics = this.scoped(metricsPrefix);

  constructor() {
    // The process's own (CPU, memory, event loop lag, heap, handles), read at each scrape.
    collectDefaultMetrics({ register: this.registry, prefix: metricsPrefix });
    // Gauges that prom-client names `_total`, against Prometheus' conventions (promtool refuses them).
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
      this.registry.removeSingleMetric(metricsPrefix + name);
  }

  /** A recipe's metrics: `orthanc_recipes_<recipe id, with _ for ->_<name>`. */
  forRecipe(id: string): Metrics {
    return this.scoped(`${metricsPrefix}${id.replace(/-/g, '_')}_`);
  }

  /** Prometheus' text exposition format. */
  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  private scoped(prefix: string): Metrics {
    return {
      counter: (name, help, labelNames = []) =>
        this.make('counter', prefix + name, () => new Counter({ name: prefix + name, help, labelNames, registers: [this.registry] })),
      gauge: (name, help, labelNames = [], collect) => {
        const gauge = this.make(
          'gauge',
          prefix + name,
          () => new Gauge({ name: prefix + name, help, labelNames, registers: [this.registry] }),
        );
        // prom-client calls `this.collect()` at each scrape, when it is set.
        if (collect) (gauge as unknown as { collect: () => unknown }).collect = () => collect(gauge);
        return gauge;
      },
      histogram: (name, help, labelNames = [], buckets) =>
        this.make(
          'histogram',
          prefix + name,
          () => new Histogram({ name: prefix + name, help, labelNames, registers: [this.registry], ...(buckets ? { buckets } : {}) }),
        ),
    };
  }

  private make<T extends AnyMetric>(type: string, name: string, create: () => T): T {
    const existing = this.made.get(name);
    if (existing) {
      const existingType = existing instanceof Counter ? 'counter' : existing instanceof Gauge ? 'gauge' : 'histogram';
      if (existingType !== type) throw new TypeError(`the metric ${name} exists already as a ${existingType}, not a ${type}`);
      return existing as T;
    }
    const metric = create();
    this.made.set(name, metric);
    return metric;
  }
}
