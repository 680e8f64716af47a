/**
 * The step catalogue: every step a flow records in a platform's timeline, with its title and the polling
 * policy that paces it and bounds it (its deadline). Flows, the status (overdue warnings), the docs and the
 * benchmarks read names, order and deadlines from here, so a step cannot be renamed in one place only.
 * Pure: times only feed durable timers and the status.
 */
import { AZURE_RESOURCE_NAMES, AZURE_RESOURCES, type AzureResourceName } from './azure-resources.js';
import { POLL, type PolicyName, type PollPolicy } from './polling.js';

/** The in-cluster readiness checks a step can wait on (one activity, a named check). */
export type ReadinessCheck =
  'access' | 'nodes' | 'gpu' | 'volumes' | 'job' | 'workloads' | 'endpoints' | 'metricsApi' | 'webuiStopped';

export interface StepDefinition {
  /** What the step does, for people (status readers, docs). */
  title: string;
  /** Paces the step's reads and bounds it (deadline). */
  poll: PolicyName;
  /** A readiness step: the check it waits on. */
  check?: ReadinessCheck;
}

/** Each resource of the table is created by a step named after it, paced by its entry's policy. */
const RESOURCE_STEPS = Object.fromEntries(
  AZURE_RESOURCE_NAMES.map((kind) => {
    const { title, poll } = AZURE_RESOURCES[kind];
    return [kind, { title: `Create the ${title}`, poll }];
  }),
) as { [K in AzureResourceName]: StepDefinition };

export const STEPS = {
  // provisioning, Azure half
  resourceGroup: { title: 'Create the resource group', poll: 'storageAccount' },
  secrets: { title: 'Generate the platform secrets in Key Vault', poll: 'storageAccount' },
  ...RESOURCE_STEPS,
  aksMaintenanceWindow: {
    title: "Schedule the cluster's auto-upgrades in the maintenance window",
    poll: 'storageAccount',
  },
  postgresSettings: { title: 'Write the PostgreSQL parameters and database', poll: 'postgresChild' },
  clusterAccess: {
    title:
      "Grant the API's identity Azure Kubernetes Service RBAC Cluster Admin on the platform's resource group",
    poll: 'storageAccount',
  },
  postgresFirewall: { title: "Admit the cluster's egress IPs to PostgreSQL", poll: 'postgresChild' },
  fileShares: { title: 'Create the model and Open WebUI file shares', poll: 'storageAccount' },
  clusterAccessReady: {
    title: "Wait until the cluster's API server honours the role assignment",
    poll: 'clusterAccess',
    check: 'access',
  },
  // provisioning, in-cluster half (the apply stages are named by what they apply: see APPLY_STAGES)
  applyDatabase: {
    title: 'Apply namespaces, GPU plugin, storage and the database setup Job',
    poll: 'kubernetes',
  },
  databaseSetup: {
    title: "Wait for the database setup Job (vector extension, Open WebUI's role)",
    poll: 'kubernetes',
    check: 'job',
  },
  applyMigration: { title: "Apply Ollama, Redis and Open WebUI's migration Job", poll: 'kubernetes' },
  databaseMigration: {
    title: "Wait for Open WebUI's database migration Job",
    poll: 'kubernetes',
    check: 'job',
  },
  applyWorkloads: {
    title: 'Apply Open WebUI, monitoring, autoscaling and the model preload',
    poll: 'kubernetes',
  },
  nodesReady: { title: 'Wait for every node to be Ready', poll: 'kubernetes', check: 'nodes' },
  gpuNode: { title: 'Wait for a GPU node advertising nvidia.com/gpu', poll: 'kubernetes', check: 'gpu' },
  volumesBound: { title: 'Wait for the volume claims to bind', poll: 'kubernetes', check: 'volumes' },
  workloadsReady: { title: 'Wait for every workload to be ready', poll: 'kubernetes', check: 'workloads' },
  endpoints: { title: 'Wait for the public endpoints', poll: 'kubernetes', check: 'endpoints' },
  metricsApi: { title: 'Wait for the custom metrics API', poll: 'kubernetes', check: 'metricsApi' },
  firstModel: { title: 'Wait for the first requested model', poll: 'models' },
  smokeTest: { title: 'Chat with the first model through Ollama', poll: 'kubernetes' },
  // change and wipe
  postgresResize: { title: 'Resize PostgreSQL for the Open WebUI replicas', poll: 'postgresServer' },
  modelsRemove: { title: 'Remove the dropped models from Ollama', poll: 'kubernetes' },
  models: { title: 'Wait for the added models', poll: 'models' },
  webuiStop: { title: 'Scale Open WebUI to zero', poll: 'kubernetes' },
  webuiStart: { title: "Scale Open WebUI back to its autoscaler's minimum", poll: 'kubernetes' },
  webuiStopped: { title: 'Wait until no Open WebUI pod runs', poll: 'kubernetes', check: 'webuiStopped' },
  webuiDataWipe: { title: "Remove Open WebUI's files from its share", poll: 'kubernetes', check: 'job' },
  databaseDrop: { title: 'Drop the openwebui database', poll: 'postgresChild' },
  databaseCreate: { title: 'Create the openwebui database again', poll: 'postgresChild' },
  // stop, start, delete
  aksStop: { title: 'Stop the AKS cluster', poll: 'aksPower' },
  postgresStop: { title: 'Stop PostgreSQL', poll: 'postgresPower' },
  waitAfterStop: { title: 'Wait the 15 minutes AKS asks between a stop and a start', poll: 'startAfterStop' },
  postgresStart: { title: 'Start PostgreSQL', poll: 'postgresPower' },
  aksStart: { title: 'Start the AKS cluster', poll: 'aksPower' },
  // start and wake
  gpuWake: { title: 'Scale Ollama back to one (the GPU tier)', poll: 'kubernetes' },
  resourceGroupDelete: {
    title: 'Delete the resource group and everything in it',
    poll: 'resourceGroupDelete',
  },
  secretsPurge: { title: "Delete and purge the platform's secrets", poll: 'keyVault' },
  // Not a step of the timeline: paces the read of the power states recorded after each power step.
  powerState: { title: "Read AKS's and PostgreSQL's power state", poll: 'storageAccount' },
} as const satisfies Record<string, StepDefinition>;

export type StepName = keyof typeof STEPS;
/** The steps that wait on a readiness check. */
export type ReadinessStep = {
  [S in StepName]: (typeof STEPS)[S] extends { check: string } ? S : never;
}[StepName];

export const stepPolicy = (step: StepName): PollPolicy => POLL[STEPS[step].poll];

/**
 * The manifests are applied in stages: each stage but the last ends with a Job annotated with the stage's
 * name (`llm-platforms-api/apply-stage`), which must complete before the next stage is applied. Each stage
 * has its apply step and, when it ends with a Job, the step that waits for that Job.
 */
export const APPLY_STAGES = [
  { stage: 'database', apply: 'applyDatabase', job: 'databaseSetup' },
  { stage: 'migration', apply: 'applyMigration', job: 'databaseMigration' },
  { stage: 'workloads', apply: 'applyWorkloads' },
] as const satisfies readonly { stage: string; apply: StepName; job?: ReadinessStep }[];
export type ApplyStage = (typeof APPLY_STAGES)[number]['stage'];

/** The readiness gates of provisioning, in the order they can be met. */
export const PROVISION_GATES = [
  'nodesReady',
  'gpuNode',
  'volumesBound',
  'workloadsReady',
  'endpoints',
  'metricsApi',
] as const satisfies readonly ReadinessStep[];

/** What a start waits for: standalone pods are gone and nodes come back one by one. */
export const START_GATES = [
  'nodesReady',
  'workloadsReady',
  'endpoints',
] as const satisfies readonly ReadinessStep[];

/**
 * Provisioning's steps in the order they run (a row's steps run in parallel). The flows follow it, the
 * benchmarks and ARCHITECTURE.md read it (a test keeps the document equal to it).
 */
export const PROVISION_ORDER: readonly (readonly StepName[])[] = [
  ['resourceGroup'],
  ['secrets'],
  // The grant goes first, so that it propagates while the resources are created.
  ['clusterAccess'],
  AZURE_RESOURCE_NAMES,
  // The steps that follow each resource in its own sub-orchestration (the table's `then`), in parallel.
  AZURE_RESOURCE_NAMES.flatMap((kind): StepName[] => {
    const then = AZURE_RESOURCES[kind].then;
    return then ? [then] : [];
  }),
  ['postgresFirewall'],
  ['fileShares'],
  ['clusterAccessReady'],
  ...APPLY_STAGES.flatMap((s): StepName[][] => ('job' in s ? [[s.apply], [s.job]] : [[s.apply]])),
  ...PROVISION_GATES.map((g) => [g]),
  ['firstModel'],
  ['smokeTest'],
];

export const isStepName = (name: string): name is StepName => Object.hasOwn(STEPS, name);

/** How long a step may run before it fails as a timeout (the status warns once it is past that). */
export function stepDeadlineMs(step: string): number {
  return isStepName(step) ? stepPolicy(step).deadlineMs : POLL.kubernetes.deadlineMs;
}
