/** Anonymous routes: a health check for probes and the OpenAPI document. */
import { app } from '@azure/functions';
import { getServices } from '../composition.js';
import { ConfigError } from '../config.js';
import { buildOpenApi } from '../http/openapi.js';
import { problem } from '../http/problem.js';
import { handle, json } from '../http/respond.js';
import { VERSION as version } from '../version.js';

app.http('health', {
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: handle(async () => {
    try {
      getServices();
    } catch (e) {
      // Setting names and rules only: ConfigError never carries a value.
      if (e instanceof ConfigError) return problem('unavailable', e.message);
      throw e;
    }
    return json(200, { status: 'ok', version });
  }),
});

app.http('openapi', {
  route: 'openapi.json',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: handle(async () => {
    const { config } = getServices();
    return json(
      200,
      buildOpenApi({
        allowedLocations: config.allowedLocations,
        defaultIdleMinutes: config.defaultIdleMinutes,
        version,
      }),
    );
  }),
});
