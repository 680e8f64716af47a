/** Types of scripts/manifests.mjs, for the tests that call it. */
import type { DEFAULT_ALLOWED_LOCATIONS } from '../src/platform/catalog.js';
import type { renderManifestsYaml, TemplateSource } from '../src/platform/manifests.js';
import type { derivePlatformNames } from '../src/platform/naming.js';
import type { createRequestValidator } from '../src/platform/schema.js';

export interface ManifestsLibrary {
  createRequestValidator: typeof createRequestValidator;
  allowedLocations: typeof DEFAULT_ALLOWED_LOCATIONS;
  derivePlatformNames: typeof derivePlatformNames;
  renderManifestsYaml: typeof renderManifestsYaml;
  templates: TemplateSource;
}

export interface Output {
  write(text: string): unknown;
}

export declare function loadLibrary(): Promise<ManifestsLibrary>;
export declare function main(
  argv: readonly string[],
  io?: { stdout: Output; stderr: Output },
  lib?: ManifestsLibrary,
): Promise<number>;
