/**
 * An Azure SDK HttpClient that keeps the SDK's https:// URLs (so the bearer-token and Key Vault challenge
 * policies behave exactly as against Azure) and delivers each request to a plain-http loopback server.
 * Only the transport changes; every pipeline policy of the real client still runs.
 */
import { createDefaultHttpClient, type HttpClient, type PipelineRequest } from '@azure/core-rest-pipeline';
import { sandboxCredentialOn } from './entra.js';

export function forwardingHttpClient(routes: (url: URL) => string | undefined): HttpClient {
  const inner = createDefaultHttpClient();
  return {
    async sendRequest(request) {
      const url = new URL(request.url);
      const target = routes(url);
      if (!target) throw new Error(`sandbox: no simulated endpoint for ${url.origin}`);
      // A copy: the policies that run after the response (Key Vault's challenge check) still see the https URL.
      const forwarded: PipelineRequest = {
        ...request,
        // Origin swapped, path kept verbatim: resolving `//subscriptions/…` as a relative URL reads it as a host.
        url: `${new URL(target).origin}${url.pathname}${url.search}`,
        allowInsecureConnection: true,
      };
      const response = await inner.sendRequest(forwarded);
      return { ...response, request };
    },
  };
}

/** The Azure SDK clients' transport in the sandbox: Key Vault and ARM requests to their simulators. */
export function simulatedAzureHttpClient(endpoints: {
  keyVaultUrl: string;
  keyVaultBase: string;
  armBase: string;
}): HttpClient {
  const keyVaultOrigin = new URL(endpoints.keyVaultUrl).origin;
  return forwardingHttpClient((url) =>
    url.origin === keyVaultOrigin
      ? endpoints.keyVaultBase
      : url.origin === 'https://management.azure.com'
        ? endpoints.armBase
        : undefined,
  );
}

/**
 * A TokenCredential for simulated services on the wall clock: Entra-shaped tokens (sandbox/azure/entra.ts).
 * The sandbox app and the activity tests use `sandboxCredentialOn(clock)` with their own clock.
 */
export const sandboxCredential = sandboxCredentialOn({ now: () => Date.now() });
