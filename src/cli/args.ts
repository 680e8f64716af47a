/**
 * The CLI's commands and flags: what each command accepts, its help text, and the parsing of argv into one
 * invocation (node:util parseArgs, no dependency). Anything wrong with the invocation is a UsageError, exit
 * code 2, before any request is sent.
 */
import { parseArgs } from 'node:util';

export const EXIT = {
  ok: 0,
  /** The platform ended Failed (or not where the operation leads), or the API answered 4xx/5xx. */
  failed: 1,
  /** The invocation is wrong, or a deletion was not confirmed: nothing was sent. */
  usage: 2,
  /** The API did not answer at all (connection refused, DNS, TLS). */
  unreachable: 3,
} as const;

export const DEFAULT_URL = 'http://127.0.0.1:7071';
export const DEFAULT_INTERVAL_SECONDS = 2;

export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose usage to show after the message. */
    readonly command?: CommandName,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

const OPTIONS = {
  url: { type: 'string' },
  key: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  watch: { type: 'boolean', short: 'w' },
  interval: { type: 'string' },
  models: { type: 'string' },
  'gpu-max-nodes': { type: 'string' },
  'idle-minutes': { type: 'string' },
  'gpu-idle-minutes': { type: 'string' },
  replicas: { type: 'string' },
  file: { type: 'string', short: 'f' },
  'dry-run': { type: 'boolean' },
  all: { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
} as const;
type OptionName = keyof typeof OPTIONS;

const GLOBAL: readonly OptionName[] = ['url', 'key', 'token', 'json', 'help'];
const WATCH: readonly OptionName[] = ['watch', 'interval'];

interface CommandSpec {
  args: string;
  summary: string;
  /** Flags beyond the global ones. */
  options: readonly OptionName[];
  /** The positional argument: the platform id (which is its prefix), required unless `optional`. */
  target: 'id' | 'prefix' | 'none';
  details?: string;
}

const ACTION_DETAILS: Record<string, string> = {
  stop: 'Stops a Ready platform: AKS and PostgreSQL stop, storage and secrets stay (Stopping → Stopped).',
  start: 'Starts a Stopped platform again (Starting → Ready).',
  wake: 'Brings a Ready platform’s released GPU tier back: Ollama to one replica and its GPU node. A Stopped platform is started instead.',
  wipe: 'Clears users, chats, documents and embeddings; infrastructure and models stay (Updating → Ready).',
  retry: 'Runs the failed flow of a Failed platform again (finished steps are found and skipped).',
};

export const COMMANDS = {
  create: {
    args: '<prefix> --models <a,b,...>',
    summary: 'create a platform',
    options: ['models', 'gpu-max-nodes', 'idle-minutes', 'file', 'dry-run', ...WATCH],
    target: 'prefix',
    details:
      'The body is --file (a JSON create request, as POST /platforms takes) with the flags laid over it; the\n' +
      'prefix may come from the file. --dry-run shows what would be created and its cost, creating nothing.',
  },
  list: { args: '', summary: 'list the platforms and their phases', options: ['all'], target: 'none' },
  status: {
    args: '<id>',
    summary: 'show a platform’s phase, step timeline and models',
    options: WATCH,
    target: 'id',
    details: 'With --watch, follows it until no flow runs any more.',
  },
  stop: { args: '<id>', summary: 'stop a Ready platform', options: WATCH, target: 'id' },
  start: { args: '<id>', summary: 'start a Stopped platform', options: WATCH, target: 'id' },
  wake: { args: '<id>', summary: 'bring a released GPU tier back', options: WATCH, target: 'id' },
  wipe: { args: '<id>', summary: 'clear the platform’s data, keep its models', options: WATCH, target: 'id' },
  retry: { args: '<id>', summary: 'run the failed flow again', options: WATCH, target: 'id' },
  patch: {
    args: '<id>',
    summary: 'change models, replicas or auto-stop',
    options: ['models', 'replicas', 'idle-minutes', 'gpu-idle-minutes', 'file', ...WATCH],
    target: 'id',
    details:
      'The body is --file (a JSON merge patch, as PATCH /platforms/{id} takes) with the flags laid over it.\n' +
      '--models is the whole new list. An auto-stop change alone is recorded at once and runs no flow.',
  },
  delete: {
    args: '<id>',
    summary: 'delete a platform and everything it owns',
    options: ['yes', ...WATCH],
    target: 'id',
    details:
      'Asks for the id to be typed again, unless --yes. Without a terminal to ask on, refuses (exit 2)\n' +
      'unless --yes is given.',
  },
} as const satisfies Record<string, CommandSpec>;
export type CommandName = keyof typeof COMMANDS;

const OPTION_HELP: Record<OptionName, string> = {
  url: `--url <url>              the API (env LLM_PLATFORMS_URL; default ${DEFAULT_URL})`,
  key: '--key <key>              the function key (env LLM_PLATFORMS_KEY)',
  token: '--token <token>          an Entra ID bearer token for the API (env LLM_PLATFORMS_TOKEN)',
  json: '--json                   machine output: the API’s JSON body (with --watch, one JSON line per change)',
  help: '-h, --help               this help',
  watch: '-w, --watch              follow the platform until the operation ends; exit 1 if it fails',
  interval: `--interval <seconds>     between two status reads with --watch (default ${DEFAULT_INTERVAL_SECONDS})`,
  models: '--models <a,b,...>       the models, comma-separated (the whole list)',
  'gpu-max-nodes': '--gpu-max-nodes <n>      most GPU nodes the autoscaler may add',
  'idle-minutes': '--idle-minutes <n>       stop the platform after this many minutes without use',
  'gpu-idle-minutes':
    '--gpu-idle-minutes <n>   release the GPU after this many minutes without a model loaded',
  replicas: '--replicas <n>           Open WebUI replicas',
  file: '-f, --file <body.json>   the request body from a JSON file (flags override its fields)',
  'dry-run': '--dry-run                show the plan and its cost, create nothing',
  all: '--all                    include deleted platforms',
  yes: '-y, --yes                delete without asking',
};

const EXIT_HELP = `Exit codes: 0 done, 1 the platform failed or the API refused (4xx/5xx), 2 usage error or not
confirmed, 3 the API could not be reached.`;

export function generalHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, spec]) => `  ${name.padEnd(width)}  ${spec.summary}`);
  return `Usage: llm-platforms <command> [options]

Creates and operates per-tenant LLM platforms through the llm-platforms API.

Commands:
${lines.join('\n')}

Global options:
${GLOBAL.map((o) => `  ${OPTION_HELP[o]}`).join('\n')}

\`llm-platforms <command> --help\` shows a command's options.
${EXIT_HELP}
`;
}

export function commandHelp(name: CommandName): string {
  const spec: CommandSpec = COMMANDS[name];
  const details = spec.details ?? ACTION_DETAILS[name];
  return `Usage: llm-platforms ${name}${spec.args ? ` ${spec.args}` : ''} [options]

${details ?? `${spec.summary[0]!.toUpperCase()}${spec.summary.slice(1)}.`}

Options:
${[...spec.options, ...GLOBAL].map((o) => `  ${OPTION_HELP[o]}`).join('\n')}

${EXIT_HELP}
`;
}

export interface Invocation {
  command: CommandName;
  /** The platform id (create: the prefix), when the command takes one. */
  target: string | undefined;
  url: string;
  key: string | undefined;
  token: string | undefined;
  json: boolean;
  watch: boolean;
  intervalMs: number;
  flags: {
    models?: string[];
    gpuMaxNodes?: string;
    idleMinutes?: string;
    gpuIdleMinutes?: string;
    replicas?: string;
    file?: string;
    dryRun: boolean;
    all: boolean;
    yes: boolean;
  };
}

export type Parsed = Invocation | { help: string };

const isCommand = (name: string): name is CommandName => Object.hasOwn(COMMANDS, name);

/** argv (without node and the script) and the environment into one invocation, or the help to print. */
export function parseInvocation(argv: string[], env: Record<string, string | undefined>): Parsed {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    // parseArgs names the flag ("Unknown option '--frobnicate'"); the usage follows.
    const name = argv.find(isCommand);
    throw new UsageError((e as Error).message.split('. ')[0]!, name);
  }
  const { values, positionals } = parsed;
  const [first, ...rest] = positionals;
  if (first === undefined || first === 'help') {
    const about = rest[0];
    if (first === 'help' && about !== undefined && isCommand(about)) return { help: commandHelp(about) };
    if (values.help || first === 'help') return { help: generalHelp() };
    throw new UsageError('a command is required');
  }
  if (!isCommand(first)) throw new UsageError(`unknown command "${first}"`);
  const command = first;
  if (values.help) return { help: commandHelp(command) };

  const spec: CommandSpec = COMMANDS[command];
  const allowed = new Set<OptionName>([...GLOBAL, ...spec.options]);
  for (const name of Object.keys(values) as OptionName[])
    if (!allowed.has(name)) throw new UsageError(`${command} does not take --${name}`, command);

  const [target, ...extra] = rest;
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`, command);
  if (spec.target === 'none' && target !== undefined)
    throw new UsageError(`unexpected argument "${target}"`, command);
  // create may take its prefix from --file.
  if (spec.target === 'id' && target === undefined)
    throw new UsageError(`${command} needs the platform id`, command);
  if (spec.target === 'prefix' && target === undefined && values.file === undefined)
    throw new UsageError(`${command} needs the prefix (or --file with one)`, command);

  if (values.interval !== undefined && !values.watch)
    throw new UsageError('--interval goes with --watch', command);
  const interval = values.interval === undefined ? DEFAULT_INTERVAL_SECONDS : Number(values.interval);
  if (!Number.isFinite(interval) || interval <= 0)
    throw new UsageError(
      `--interval must be a positive number of seconds, not "${values.interval}"`,
      command,
    );
  if (values['dry-run'] && values.watch) throw new UsageError('--dry-run creates nothing to watch', command);

  const url = values.url ?? (env.LLM_PLATFORMS_URL || DEFAULT_URL);
  try {
    const parsedUrl = new URL(url);
    if (parsedUrl.protocol !== 'http:' && parsedUrl.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new UsageError('--url (or LLM_PLATFORMS_URL) must be an http or https URL', command);
  }

  return {
    command,
    target,
    url,
    key: values.key ?? (env.LLM_PLATFORMS_KEY || undefined),
    token: values.token ?? (env.LLM_PLATFORMS_TOKEN || undefined),
    json: values.json ?? false,
    watch: values.watch ?? false,
    intervalMs: interval * 1000,
    flags: {
      ...(values.models !== undefined
        ? {
            models: values.models
              .split(',')
              .map((m) => m.trim())
              .filter(Boolean),
          }
        : {}),
      ...(values['gpu-max-nodes'] !== undefined ? { gpuMaxNodes: values['gpu-max-nodes'] } : {}),
      ...(values['idle-minutes'] !== undefined ? { idleMinutes: values['idle-minutes'] } : {}),
      ...(values['gpu-idle-minutes'] !== undefined ? { gpuIdleMinutes: values['gpu-idle-minutes'] } : {}),
      ...(values.replicas !== undefined ? { replicas: values.replicas } : {}),
      ...(values.file !== undefined ? { file: values.file } : {}),
      dryRun: values['dry-run'] ?? false,
      all: values.all ?? false,
      yes: values.yes ?? false,
    },
  };
}
