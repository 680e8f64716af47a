/** The idle sweep's timer: starts one sweep at a time (a singleton instance), on AUTO_STOP_SCHEDULE. */
import { app, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { IDLE_SWEEP, SWEEP_INSTANCE_ID } from '../orchestrators/names.js';
import { ACTIVE_STATUSES, orchestrationsFromDurableClient } from '../services/orchestrations.js';

app.timer('idleSweepTimer', {
  schedule: '%AUTO_STOP_SCHEDULE%',
  extraInputs: [df.input.durableClient()],
  handler: async (_timer: unknown, context: InvocationContext) => {
    const orchestrations = orchestrationsFromDurableClient(df.getClient(context));
    const running = await orchestrations.get(SWEEP_INSTANCE_ID);
    if (running && ACTIVE_STATUSES.has(running.runtimeStatus)) {
      context.info(
        `idle sweep still running since ${running.createdTime ?? 'unknown'}; this tick is skipped`,
      );
      return;
    }
    await orchestrations.start(IDLE_SWEEP, SWEEP_INSTANCE_ID, null);
  },
});
