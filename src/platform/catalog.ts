/**
 * Static facts the API validates against and prices with. Kept small and explicit: a model missing from
 * the catalog is accepted (its size is simply unknown), a VM size missing from it is rejected.
 */

/** The NVIDIA T4 sizes of the NCasT4_v3 series (one T4 = 16 GiB of GPU memory per GPU). */
export const T4_VM_SIZES = {
  Standard_NC4as_T4_v3: { vcpus: 4, memoryGiB: 28, gpus: 1, gpuMemoryGiB: 16 },
  Standard_NC8as_T4_v3: { vcpus: 8, memoryGiB: 56, gpus: 1, gpuMemoryGiB: 16 },
  Standard_NC16as_T4_v3: { vcpus: 16, memoryGiB: 110, gpus: 1, gpuMemoryGiB: 16 },
  Standard_NC64as_T4_v3: { vcpus: 64, memoryGiB: 440, gpus: 4, gpuMemoryGiB: 16 },
} as const;

export type T4VmSize = keyof typeof T4_VM_SIZES;
export const DEFAULT_GPU_VM_SIZE: T4VmSize = 'Standard_NC4as_T4_v3';

/**
 * Regions that offer the NCasT4_v3 series. The default for the ALLOWED_LOCATIONS setting; operators narrow
 * or widen it to what their subscription has quota for.
 */
export const DEFAULT_ALLOWED_LOCATIONS = [
  'eastus',
  'eastus2',
  'southcentralus',
  'westus2',
  'westus3',
  'northeurope',
  'westeurope',
  'uksouth',
  'francecentral',
  'swedencentral',
  'southeastasia',
  'australiaeast',
  'japaneast',
  'koreacentral',
  'centralindia',
] as const;

/**
 * Approximate GPU memory a model needs to run fully on the GPU (weights at the default quantisation plus
 * a small context), in GiB. Keys are Ollama references without the registry host; a bare name means the
 * `latest` tag, as Ollama resolves it.
 */
export const MODEL_CATALOG: Readonly<Record<string, { gpuMemoryGiB: number; downloadGiB: number }>> = {
  'phi3.5:latest': { gpuMemoryGiB: 3.5, downloadGiB: 2.2 },
  'gemma2:2b': { gpuMemoryGiB: 2.5, downloadGiB: 1.6 },
  'llama3.2:latest': { gpuMemoryGiB: 3, downloadGiB: 2 },
  'llama3.2:1b': { gpuMemoryGiB: 1.8, downloadGiB: 1.3 },
  'llama3.1:8b': { gpuMemoryGiB: 6.2, downloadGiB: 4.9 },
  'llama3.1:latest': { gpuMemoryGiB: 6.2, downloadGiB: 4.9 },
  'llama3.1:70b': { gpuMemoryGiB: 43, downloadGiB: 40 },
  'llama3.3:latest': { gpuMemoryGiB: 43, downloadGiB: 43 },
  'mistral:7b': { gpuMemoryGiB: 5.5, downloadGiB: 4.1 },
  'mistral:latest': { gpuMemoryGiB: 5.5, downloadGiB: 4.1 },
  'qwen2.5:7b': { gpuMemoryGiB: 5.6, downloadGiB: 4.7 },
  'qwen2.5:72b': { gpuMemoryGiB: 49, downloadGiB: 47 },
  'deepseek-r1:latest': { gpuMemoryGiB: 6, downloadGiB: 4.7 },
  'deepseek-r1:70b': { gpuMemoryGiB: 45, downloadGiB: 43 },
  'deepseek-r1:671b': { gpuMemoryGiB: 420, downloadGiB: 404 },
  'gpt-oss:latest': { gpuMemoryGiB: 14, downloadGiB: 14 },
  'gpt-oss:20b': { gpuMemoryGiB: 14, downloadGiB: 14 },
  'gpt-oss:120b': { gpuMemoryGiB: 65, downloadGiB: 65 },
  'nomic-embed-text:latest': { gpuMemoryGiB: 0.6, downloadGiB: 0.3 },
};

/** `llama3.1` and `llama3.1:latest` name the same model; `library/llama3.1` too (Ollama's default namespace). */
export function canonicalModel(reference: string): string {
  const withoutLibrary = reference.startsWith('library/') ? reference.slice('library/'.length) : reference;
  return withoutLibrary.includes(':') ? withoutLibrary : `${withoutLibrary}:latest`;
}

export function knownModel(reference: string): { gpuMemoryGiB: number; downloadGiB: number } | undefined {
  return MODEL_CATALOG[canonicalModel(reference)];
}
