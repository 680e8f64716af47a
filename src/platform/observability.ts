/**
 * What the platform's monitoring is built from: the metrics Prometheus scrapes, the custom metric the
 * Ollama autoscaler reads, and the Grafana dashboards with the datasource they query. The templates and
 * the dashboards' tests both read these lists, so a dashboard cannot chart a series nobody collects.
 */
/**
 * The GPU memory metric (percent) as prometheus-adapter exposes it; Ollama's KEDA ScaledObject queries the
 * same DCGM series from Prometheus.
 */
export const GPU_MEMORY_METRIC = 'gpu_memory_utilization';

/** uid of the provisioned Prometheus datasource; the dashboards reference it. */
export const GRAFANA_DATASOURCE_UID = 'prometheus';

export const DASHBOARDS = {
  gpuMonitoring: { file: 'gpu-monitoring.json', uid: 'gpu-llm-platform' },
  platformOverview: { file: 'platform-overview.json', uid: 'llm-platform-overview' },
} as const;

/**
 * Every metric name Prometheus gets, by scrape job (the `job_name`s of the Prometheus ConfigMap). Dashboards
 * and adapter rules may use these and nothing else.
 * - dcgm-exporter: the exporter's default counters (etc/default-counters.csv of the pinned 4.4.2-4.7.1);
 *   FB_* are MiB.
 * - kubelet-cadvisor: only these series are kept (metric_relabel_configs).
 * - kube-state-metrics: it only builds metrics for the kinds it watches; `--resources` is derived from
 *   this list.
 */
export const SCRAPED_METRICS = {
  'dcgm-exporter': [
    'DCGM_FI_DEV_SM_CLOCK',
    'DCGM_FI_DEV_MEM_CLOCK',
    'DCGM_FI_DEV_MEMORY_TEMP',
    'DCGM_FI_DEV_GPU_TEMP',
    'DCGM_FI_DEV_POWER_USAGE',
    'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION',
    'DCGM_FI_DEV_PCIE_REPLAY_COUNTER',
    'DCGM_FI_DEV_GPU_UTIL',
    'DCGM_FI_DEV_MEM_COPY_UTIL',
    'DCGM_FI_DEV_ENC_UTIL',
    'DCGM_FI_DEV_DEC_UTIL',
    'DCGM_FI_DEV_XID_ERRORS',
    'DCGM_FI_DEV_FB_FREE',
    'DCGM_FI_DEV_FB_USED',
    'DCGM_FI_DEV_FB_RESERVED',
    'DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL',
    'DCGM_FI_DEV_VGPU_LICENSE_STATUS',
    'DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS',
    'DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS',
    'DCGM_FI_DEV_ROW_REMAP_FAILURE',
    'DCGM_FI_PROF_GR_ENGINE_ACTIVE',
    'DCGM_FI_PROF_PIPE_TENSOR_ACTIVE',
    'DCGM_FI_PROF_DRAM_ACTIVE',
    'DCGM_FI_PROF_PCIE_TX_BYTES',
    'DCGM_FI_PROF_PCIE_RX_BYTES',
  ],
  'kubelet-cadvisor': ['container_cpu_usage_seconds_total', 'container_memory_working_set_bytes'],
  'kube-state-metrics': [
    'kube_deployment_spec_replicas',
    'kube_deployment_status_replicas_available',
    'kube_horizontalpodautoscaler_spec_max_replicas',
    'kube_horizontalpodautoscaler_status_current_replicas',
    'kube_job_status_failed',
    'kube_job_status_succeeded',
    'kube_node_status_condition',
    'kube_statefulset_replicas',
    'kube_statefulset_status_replicas_ready',
  ],
  // The interceptor in front of Ollama (manifests/62-ollama-wake.yaml): chats held or in flight, one of
  // the triggers of Ollama's KEDA ScaledObject.
  'ollama-wake': ['caddy_http_requests_in_flight'],
} as const satisfies Record<string, readonly string[]>;

/** The kube-state-metrics resource (a `--resources` entry) each metric family comes from. */
export const KUBE_STATE_METRICS_RESOURCES: Readonly<Record<string, string>> = {
  kube_deployment_: 'deployments',
  kube_horizontalpodautoscaler_: 'horizontalpodautoscalers',
  kube_job_: 'jobs',
  kube_node_: 'nodes',
  kube_statefulset_: 'statefulsets',
};

export function kubeStateMetricsResource(metric: string): string {
  const prefix = Object.keys(KUBE_STATE_METRICS_RESOURCES).find((p) => metric.startsWith(p));
  if (!prefix) throw new RangeError(`no kube-state-metrics resource known for ${metric}`);
  return KUBE_STATE_METRICS_RESOURCES[prefix]!;
}
