/**
 * The Grafana dashboards and the Prometheus side they depend on: every query is valid PromQL (the Prometheus
 * project's own grammar), asks only for metrics the deployed scrape configuration collects, and reads the
 * provisioned datasource. The seed's mistakes (MiB shown as GiB, Deployment metrics for a StatefulSet, a
 * label that does not exist, unused variables, overlapping panels) are checked for explicitly.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parser } from '@prometheus-io/lezer-promql';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderManifests } from '../../src/platform/manifests.js';
import {
  DASHBOARDS,
  GPU_MEMORY_METRIC,
  GRAFANA_DATASOURCE_UID,
  SCRAPED_METRICS,
  kubeStateMetricsResource,
} from '../../src/platform/observability.js';
import type { KubernetesObject } from '../../src/platform/templates.js';
import { SPECS, TEMPLATES, containersOf, find, namesOf, podSpecOf } from '../support/manifests.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const spec = SPECS.defaults!;
const objects = renderManifests(spec, namesOf(spec), TEMPLATES);

interface Target {
  expr: string;
  legendFormat?: string;
  refId: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets: Target[];
  fieldConfig: { defaults: { unit?: string } };
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: {
    list: { name: string; type: string; query: { query: string } | string; datasource?: { uid: string } }[];
  };
}

const dashboards = Object.values(DASHBOARDS).map((d) => ({
  ...d,
  json: JSON.parse(readFileSync(join(root, 'dashboards', d.file), 'utf8')) as Dashboard,
}));
const targetsOf = (d: Dashboard) => d.panels.flatMap((p) => p.targets.map((t) => ({ panel: p, target: t })));

interface Query {
  metrics: string[];
  matchers: { label: string; op: string; value: string }[];
}

/** Parses PromQL with lezer-promql; a tree with an error node (⚠) means invalid PromQL. */
function promql(expr: string): Query {
  const tree = parser.parse(expr);
  const errors: string[] = [];
  const metrics: string[] = [];
  const matchers: Query['matchers'] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(`⚠ at ${node.from}: "${expr.slice(node.from, node.to + 10)}"`);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector')
        metrics.push(expr.slice(node.from, node.to));
      if (node.name === 'UnquotedLabelMatcher') {
        const n = node.node;
        const text = (name: string) => {
          const c = n.getChild(name);
          return c ? expr.slice(c.from, c.to) : '';
        };
        matchers.push({
          label: text('LabelName'),
          op: text('MatchOp'),
          value: JSON.parse(text('StringLiteral')) as string,
        });
      }
    },
  });
  if (errors.length > 0) throw new Error(`invalid PromQL ${expr}\n${errors.join('\n')}`);
  return { metrics, matchers };
}

const scraped = new Set<string>(Object.values(SCRAPED_METRICS).flat());

/** `label_values(<selector>, <label>)`: a Grafana variable query, not PromQL itself. */
function variableQuery(query: { query: string } | string): { selector: string; label: string } {
  const text = typeof query === 'string' ? query : query.query;
  const m = /^label_values\((.+),\s*([A-Za-z_]\w*)\)$/.exec(text);
  if (!m) throw new Error(`unsupported variable query ${text}`);
  return { selector: m[1]!, label: m[2]! };
}

describe('the PromQL checker', () => {
  it('rejects invalid PromQL and finds metric names and matchers in valid PromQL', () => {
    expect(() => promql('sum(rate(x[5m])) by (pod')).toThrow(/invalid PromQL/);
    expect(() => promql('rate(x[$__rate_interval])')).toThrow(/invalid PromQL/);
    expect(promql('sum(a{b="c"}) / on(d) e * 1024')).toEqual({
      metrics: ['a', 'e'],
      matchers: [{ label: 'b', op: '=', value: 'c' }],
    });
  });
});

describe.each(dashboards)('dashboard $file', ({ uid, json }) => {
  it('has its fixed uid', () => {
    expect(json.uid).toBe(uid);
  });

  it('reads the provisioned Prometheus datasource by its uid, on every panel, query and variable', () => {
    const refs = [
      ...json.panels.map((p) => p.datasource),
      ...targetsOf(json).map(({ target }) => target.datasource),
      ...json.templating.list.map((v) => v.datasource),
    ];
    for (const ds of refs) expect(ds).toEqual({ type: 'prometheus', uid: GRAFANA_DATASOURCE_UID });
  });

  it('uses valid PromQL asking only for metrics that Prometheus scrapes', () => {
    for (const { panel, target } of targetsOf(json)) {
      const q = promql(target.expr);
      expect(q.metrics.length, `${panel.title}: ${target.expr}`).toBeGreaterThan(0);
      for (const metric of q.metrics) expect(scraped, `${panel.title}: ${metric}`).toContain(metric);
    }
    for (const v of json.templating.list) {
      const { selector } = variableQuery(v.query);
      for (const metric of promql(selector).metrics) expect(scraped).toContain(metric);
    }
  });

  it('names only workloads that exist, with the metric family of their kind', () => {
    const exists = (kind: string, name: string) =>
      objects.some((o) => o.kind === kind && o.metadata.name === name && o.metadata.namespace === 'llm');
    const containerNames = new Set(
      objects
        .filter((o) => o.metadata.namespace === 'llm')
        .flatMap((o) => containersOf(o).map((c) => c.name)),
    );
    for (const { target } of targetsOf(json))
      for (const m of promql(target.expr).matchers) {
        if (m.label === 'namespace') expect(m.value).toBe('llm');
        if (m.label === 'statefulset') expect(exists('StatefulSet', m.value), m.value).toBe(true);
        if (m.label === 'deployment') expect(exists('Deployment', m.value), m.value).toBe(true);
        if (m.label === 'job_name') expect(exists('Job', m.value), m.value).toBe(true);
        if (m.label === 'container') expect(containerNames, m.value).toContain(m.value);
      }
  });

  it('shows DCGM framebuffer values (MiB) in correct units', () => {
    for (const { panel, target } of targetsOf(json)) {
      if (!/DCGM_FI_DEV_FB_(USED|FREE)/.test(target.expr)) continue;
      const unit = panel.fieldConfig.defaults.unit;
      const where = `${panel.title}: ${target.expr} (${unit})`;
      if (unit === 'bytes') expect(target.expr, where).toMatch(/\* 1024 \* 1024$/);
      else if (unit === 'percent') expect(target.expr, where).toMatch(/^100 \* .* \/ \(.*\)$/);
      else expect(unit, where).toBe('mbytes');
    }
  });

  it('uses in legends only labels the series carry', () => {
    const promConfig = prometheusConfig();
    // Labels the exporters emit (DCGM: per GPU and, with DCGM_EXPORTER_KUBERNETES, its consumer pod),
    // plus those our relabelling adds.
    const emitted = new Set([
      ...['gpu', 'UUID', 'device', 'modelName', 'Hostname', 'pod', 'namespace', 'container'],
      ...['horizontalpodautoscaler', 'statefulset', 'deployment', 'job_name', 'condition', 'status'],
      ...promConfig.scrape_configs.flatMap((s) => (s.relabel_configs ?? []).map((r) => r.target_label ?? '')),
    ]);
    for (const { panel, target } of targetsOf(json))
      for (const [, label] of (target.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g))
        expect(emitted, `${panel.title}: ${target.legendFormat}`).toContain(label);
  });

  it('uses every template variable it declares, and no other', () => {
    const declared = json.templating.list.map((v) => v.name).sort();
    const used = new Set(
      targetsOf(json).flatMap(({ target }) => [...target.expr.matchAll(/\$(\w+)/g)].map((m) => m[1]!)),
    );
    expect([...used].sort()).toEqual(declared);
  });

  it('lays out panels with unique ids and without overlap, inside 24 columns', () => {
    const ids = json.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    json.panels.forEach((a, i) => {
      expect(a.gridPos.x + a.gridPos.w, a.title).toBeLessThanOrEqual(24);
      for (const b of json.panels.slice(i + 1)) {
        const overlap =
          a.gridPos.x < b.gridPos.x + b.gridPos.w &&
          b.gridPos.x < a.gridPos.x + a.gridPos.w &&
          a.gridPos.y < b.gridPos.y + b.gridPos.h &&
          b.gridPos.y < a.gridPos.y + a.gridPos.h;
        expect(overlap, `${a.title} overlaps ${b.title}`).toBe(false);
      }
    });
  });
});

describe('Grafana provisioning', () => {
  const data = find(objects, 'ConfigMap', 'grafana-provisioning', 'monitoring').data as Record<
    string,
    string
  >;

  it('provisions a datasource named Prometheus with the uid the dashboards use, pointing at our Prometheus', () => {
    const { datasources } = parse(data['datasources.yaml']!) as {
      datasources: { name: string; uid: string; type: string; url: string }[];
    };
    expect(datasources).toHaveLength(1);
    expect(datasources[0]).toMatchObject({
      name: 'Prometheus',
      uid: GRAFANA_DATASOURCE_UID,
      type: 'prometheus',
      url: 'http://prometheus.monitoring.svc.cluster.local:9090',
    });
    const svc = find(objects, 'Service', 'prometheus', 'monitoring').spec as { ports: { port: number }[] };
    expect(svc.ports.map((p) => p.port)).toContain(9090);
  });

  it('ships both dashboards, byte for byte, where the provider reads them', () => {
    const dashboardsCm = find(objects, 'ConfigMap', 'grafana-dashboards', 'monitoring').data as Record<
      string,
      string
    >;
    for (const d of dashboards)
      expect(dashboardsCm[d.file]).toBe(readFileSync(join(root, 'dashboards', d.file), 'utf8'));
    const { providers } = parse(data['dashboards.yaml']!) as { providers: { options: { path: string } }[] };
    const grafana = containersOf(find(objects, 'Deployment', 'grafana', 'monitoring'))[0] as unknown as {
      volumeMounts: { name: string; mountPath: string }[];
    };
    expect(grafana.volumeMounts).toContainEqual(
      expect.objectContaining({ name: 'dashboards', mountPath: providers[0]!.options.path }),
    );
  });
});

interface ScrapeConfig {
  job_name: string;
  honor_labels?: boolean;
  kubernetes_sd_configs: { role: string; namespaces?: { names: string[] } }[];
  relabel_configs?: { source_labels?: string[]; regex?: string; action?: string; target_label?: string }[];
  metric_relabel_configs?: { source_labels?: string[]; regex?: string; action?: string }[];
}

function prometheusConfig(): { scrape_configs: ScrapeConfig[] } {
  const cm = find(objects, 'ConfigMap', 'prometheus-config', 'monitoring').data as Record<string, string>;
  return parse(cm['prometheus.yml']!) as { scrape_configs: ScrapeConfig[] };
}

describe('the Prometheus scrape configuration', () => {
  const config = prometheusConfig();
  const job = (name: string) => config.scrape_configs.find((s) => s.job_name === name)!;

  it('has exactly one job per declared metric source', () => {
    expect(config.scrape_configs.map((s) => s.job_name).sort()).toEqual(Object.keys(SCRAPED_METRICS).sort());
  });

  /** The Service a `keep` rule on service name and port name selects, and the workload behind it. */
  function keptTarget(name: string): { service: KubernetesObject; workload: KubernetesObject; port: string } {
    const keep = job(name).relabel_configs!.find((r) => r.action === 'keep')!;
    expect(keep.source_labels).toEqual([
      '__meta_kubernetes_service_name',
      '__meta_kubernetes_endpointslice_port_name',
    ]);
    const [serviceName, port] = keep.regex!.split(';') as [string, string];
    const namespaces = job(name).kubernetes_sd_configs[0]!.namespaces!.names;
    const service = objects.find(
      (o) =>
        o.kind === 'Service' && o.metadata.name === serviceName && namespaces.includes(o.metadata.namespace!),
    )!;
    expect(service, `${name}: Service ${serviceName}`).toBeDefined();
    const spec = service.spec as { selector: Record<string, string>; ports: { name: string }[] };
    expect(spec.ports.map((p) => p.name)).toContain(port);
    const workload = objects.find((o) => {
      const owner = o.spec as { template?: { metadata: { labels: Record<string, string> } } } | undefined;
      const labels = owner?.template?.metadata.labels;
      return (
        podSpecOf(o) &&
        o.metadata.namespace === service.metadata.namespace &&
        Object.entries(spec.selector).every(([k, v]) => labels?.[k] === v)
      );
    })!;
    expect(workload, `${name}: pods behind Service ${serviceName}`).toBeDefined();
    return { service, workload, port };
  }

  it('scrapes the DCGM exporter DaemonSet, keeping its pod and namespace labels', () => {
    const { workload } = keptTarget('dcgm-exporter');
    expect(workload.kind).toBe('DaemonSet');
    expect(containersOf(workload)[0]!.image).toMatch(/^nvcr\.io\/nvidia\/k8s\/dcgm-exporter:/);
    expect(job('dcgm-exporter').honor_labels).toBe(true);
  });

  it('scrapes kube-state-metrics, watching every kind the declared metrics come from', () => {
    const { workload } = keptTarget('kube-state-metrics');
    const args = containersOf(workload)[0]!.args!;
    const resources = args
      .find((a) => a.startsWith('--resources='))!
      .slice('--resources='.length)
      .split(',');
    for (const metric of SCRAPED_METRICS['kube-state-metrics'])
      expect(resources, metric).toContain(kubeStateMetricsResource(metric));
    // …and may list and watch exactly those kinds.
    const role = find(objects, 'ClusterRole', 'llm-platform:kube-state-metrics').rules as {
      resources: string[];
      verbs: string[];
    }[];
    expect(role.flatMap((r) => r.resources).sort()).toEqual([...resources].sort());
    for (const rule of role) expect(rule.verbs).toEqual(['list', 'watch']);
  });

  it('scrapes every kubelet for cAdvisor and keeps exactly the declared series', () => {
    const cadvisor = job('kubelet-cadvisor');
    expect(cadvisor.kubernetes_sd_configs[0]!.role).toBe('node');
    const keep = cadvisor.metric_relabel_configs!.find((r) => r.action === 'keep')!;
    expect(keep.source_labels).toEqual(['__name__']);
    expect(keep.regex!.split('|').sort()).toEqual([...SCRAPED_METRICS['kubelet-cadvisor']].sort());
    const role = find(objects, 'ClusterRole', 'llm-platform:prometheus').rules as { resources: string[] }[];
    expect(role.flatMap((r) => r.resources)).toContain('nodes/metrics');
    expect(role.flatMap((r) => r.resources)).not.toContain('nodes/proxy');
  });
});

describe('prometheus-adapter rules', () => {
  const config = parse(
    (find(objects, 'ConfigMap', 'prometheus-adapter-config', 'monitoring').data as Record<string, string>)[
      'config.yaml'
    ]!,
  ) as { rules: { seriesQuery: string; metricsQuery: string; name: { matches: string; as: string } }[] };

  /** The adapter's Go template markers, replaced the way it fills them for a pods query in llm. */
  const expand = (query: string, series: string) =>
    query
      .replace(/<<\.Series>>/g, series)
      .replace(/<<\.LabelMatchers>>/g, 'namespace="llm",pod=~"ollama-0|ollama-1"')
      .replace(/<<\.GroupBy>>/g, 'pod');

  it('expose the GPU memory metric the Ollama HPA uses', () => {
    expect(config.rules.map((r) => r.name.as)).toContain(GPU_MEMORY_METRIC);
  });

  it('use valid PromQL over scraped DCGM counters only, as FB_USED / (FB_USED + FB_FREE)', () => {
    for (const rule of config.rules) {
      const series = promql(rule.seriesQuery).metrics;
      expect(series).toHaveLength(1);
      const query = promql(expand(rule.metricsQuery, series[0]!));
      for (const metric of [...series, ...query.metrics])
        expect(SCRAPED_METRICS['dcgm-exporter']).toContain(metric);
      expect(new RegExp(rule.name.matches).test(series[0]!)).toBe(true);
    }
    const memory = config.rules.find((r) => r.name.as === GPU_MEMORY_METRIC)!;
    expect(memory.metricsQuery.replace(/\s+/g, ' ')).toContain(
      'DCGM_FI_DEV_FB_USED{<<.LabelMatchers>>} / (DCGM_FI_DEV_FB_USED{<<.LabelMatchers>>} + DCGM_FI_DEV_FB_FREE{<<.LabelMatchers>>})',
    );
  });
});
