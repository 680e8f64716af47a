/** Objects and a read helper shared by the tests of the simulated Kubernetes API server. */
import type { KubernetesObject, KubernetesObjectApi } from '@kubernetes/client-node';

/** What the platform's GPU workloads tolerate: its GPU taint, AKS's spot taint, the device plugin's. */
export const GPU_TOLERATIONS = [
  { key: 'sku', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' },
  { key: 'kubernetes.azure.com/scalesetpriority', operator: 'Equal', value: 'spot', effect: 'NoSchedule' },
  { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
];

/** The NVIDIA device plugin, on the nodes AKS labels as having an accelerator. */
export const devicePlugin = (tolerations: object[]) => ({
  apiVersion: 'apps/v1',
  kind: 'DaemonSet',
  metadata: { name: 'nvidia-device-plugin', namespace: 'kube-system' },
  spec: {
    selector: { matchLabels: { name: 'nvidia-device-plugin' } },
    template: {
      metadata: { labels: { name: 'nvidia-device-plugin' } },
      spec: {
        nodeSelector: { 'kubernetes.azure.com/accelerator': 'nvidia' },
        tolerations,
        containers: [{ name: 'plugin', image: 'nvcr.io/nvidia/k8s-device-plugin:v0.17.1' }],
      },
    },
  },
});

/** Ollama as one replica asking for one GPU on the GPU pool. */
export const ollamaStatefulSet = {
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 'ollama', namespace: 'llm' },
  spec: {
    serviceName: 'ollama',
    replicas: 1,
    selector: { matchLabels: { app: 'ollama' } },
    template: {
      metadata: { labels: { app: 'ollama' } },
      spec: {
        nodeSelector: { workload: 'llm' },
        tolerations: GPU_TOLERATIONS,
        containers: [
          {
            name: 'ollama',
            image: 'ollama/ollama:0.12.6',
            ports: [{ name: 'http', containerPort: 11434 }],
            resources: { limits: { 'nvidia.com/gpu': '1' } },
          },
        ],
      },
    },
  },
};

/** Reads one object by its coordinates, with the client a test has at the time (often set in beforeEach). */
export const readObject =
  (client: () => KubernetesObjectApi) =>
  <T extends KubernetesObject>(apiVersion: string, kind: string, name: string, namespace?: string) =>
    client().read<T>({ apiVersion, kind, metadata: { name, ...(namespace ? { namespace } : {}) } });
