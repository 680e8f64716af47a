/**
 * Reads the files the manifest renderer needs (`manifests/`, `dashboards/`) into a `TemplateSource`. The
 * composition root, the scripts, the benchmarks and the tests call this once and hand the result to the
 * pure renderer, so the platform domain does no I/O.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ON_DEMAND, type OnDemandName, type TemplateSource } from './platform/manifests.js';
import { DASHBOARDS } from './platform/observability.js';
import type { TemplateFile } from './platform/templates.js';

/**
 * The package root: the nearest ancestor of this module holding package.json and manifests/. Works from
 * src (tests), dist/src (the built app) and the deployed package alike.
 */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'manifests'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('manifests/ not found above the module; is it shipped with the app?');
    dir = parent;
  }
}

const TEMPLATE_FILE = /^\d{2}-[a-z0-9-]+\.yaml$/;

export function loadTemplateSource(): TemplateSource {
  const root = packageRoot();
  const manifests = join(root, 'manifests');
  const read = (...path: string[]) => readFileSync(join(...path), 'utf8');
  const onDemand = (name: OnDemandName): [OnDemandName, TemplateFile] => [
    name,
    { file: `on-demand/${name}.yaml`, text: read(manifests, 'on-demand', `${name}.yaml`) },
  ];
  return {
    manifests: readdirSync(manifests)
      .filter((file) => TEMPLATE_FILE.test(file))
      .sort()
      .map((file) => ({ file, text: read(manifests, file) })),
    onDemand: Object.fromEntries(Object.values(ON_DEMAND).map(onDemand)) as TemplateSource['onDemand'],
    dashboards: {
      gpuMonitoring: read(root, 'dashboards', DASHBOARDS.gpuMonitoring.file),
      platformOverview: read(root, 'dashboards', DASHBOARDS.platformOverview.file),
    },
    databaseSetupSql: read(manifests, 'sql', 'database-setup.sql'),
  };
}
