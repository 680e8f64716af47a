/** Vitest global setup: one private Azurite for the whole run, its connection string provided to tests. */
import type { TestProject } from 'vitest/node';
import { startAzurite } from './azurite.js';

declare module 'vitest' {
  export interface ProvidedContext {
    azuriteConnection: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const azurite = await startAzurite();
  project.provide('azuriteConnection', azurite.connectionString);
  return () => azurite.stop();
}
