/** The Azure tags that mark a resource as one of ours, and which platform it belongs to. */
import type { PlatformSpec } from './types.js';

export const MANAGED_BY = 'llm-platforms-api';

/** Our tags go last so a request can never overwrite them (the schema also refuses these names). */
export function platformTags(spec: PlatformSpec): Record<string, string> {
  return { ...spec.tags, 'managed-by': MANAGED_BY, 'platform-id': spec.prefix };
}
