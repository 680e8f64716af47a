#!/usr/bin/env node
/**
 * `llm-platforms`: the CLI of this API (package.json `bin`, compiled to dist/src/cli/main.js). Wires the
 * process to `run`: its streams, environment and terminal. Not a function of the app: package.json `main`
 * does not load it and .funcignore keeps it out of the deployment package.
 */
import { createInterface } from 'node:readline/promises';
import { run } from './run.js';

async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

try {
  process.exitCode = await run(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    // A deletion is confirmed only by someone at a terminal; piped input cannot confirm it.
    ...(process.stdin.isTTY ? { ask } : {}),
  });
} catch (e) {
  // A fault of the CLI itself, not an answer of the API: its message, and the stack only on request.
  process.stderr.write(
    `error: ${process.env.LLM_PLATFORMS_DEBUG ? ((e as Error).stack ?? String(e)) : (e as Error).message}\n`,
  );
  process.exitCode = 1;
}
