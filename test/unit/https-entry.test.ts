/**
 * The platform's public surface, over every rendered object: one HTTPS entry (Caddy) on 443 behind the only
 * public Service, a certificate Caddy obtains and renews itself from an ACME CA with the TLS-ALPN challenge
 * (so no plain-HTTP listener at all), Open WebUI and Grafana in-cluster only, and the request's allowed
 * source ranges enforced in the Caddyfile.
 */
import { describe, expect, it } from 'vitest';
import { HTTPS_ENTRY, renderManifests } from '../../src/platform/manifests.js';
import { derivePlatformNames, publicDnsLabel, publicHost } from '../../src/platform/naming.js';
import type { KubernetesObject } from '../../src/platform/templates.js';
import type { PlatformSpec } from '../../src/platform/types.js';
import { SPECS, SUBSCRIPTION, TEMPLATES, namesOf, specOf } from '../support/manifests.js';
import { containersOf, envOf, find, podSpecOf, ref } from '../support/manifests.js';

interface ServiceSpec {
  type?: string;
  externalTrafficPolicy?: string;
  loadBalancerSourceRanges?: string[];
  ports: { name?: string; port: number; targetPort?: string | number; nodePort?: number }[];
}

const render = (spec: PlatformSpec) => renderManifests(spec, namesOf(spec), TEMPLATES);
const cases = Object.entries(SPECS).map(([label, spec]) => [label, render(spec)] as const);
const defaults = render(SPECS.defaults!);
const host = publicHost(namesOf(SPECS.defaults!), SPECS.defaults!.location);

const services = (objects: KubernetesObject[]) =>
  objects.filter((o) => o.kind === 'Service').map((o) => ({ o, spec: o.spec as ServiceSpec }));
const caddyfile = (objects: KubernetesObject[]) =>
  (find(objects, 'ConfigMap', HTTPS_ENTRY.configMap, HTTPS_ENTRY.namespace).data as { Caddyfile: string })
    .Caddyfile;
/** The Caddyfile without comments, one directive per line, trimmed. */
const directives = (text: string) =>
  text
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter(Boolean);

describe('public endpoints', () => {
  it.each(cases)('only the HTTPS entry is public, on port 443 alone (%s)', (_label, objects) => {
    const exposed = services(objects).filter(
      ({ spec }) => spec.type === 'LoadBalancer' || spec.type === 'NodePort',
    );
    expect(exposed.map(({ o }) => ref(o))).toEqual([
      `Service ${HTTPS_ENTRY.namespace}/${HTTPS_ENTRY.service}`,
    ]);
    for (const { spec } of exposed) expect(spec.ports.map((p) => p.port)).toEqual([443]);
    // No other way in from outside the cluster: no Ingress, no host ports.
    expect(objects.filter((o) => o.kind === 'Ingress')).toEqual([]);
    for (const o of objects.filter((x) => podSpecOf(x)))
      for (const c of containersOf(o) as unknown as { ports?: { hostPort?: number }[] }[])
        expect(c.ports?.filter((p) => p.hostPort !== undefined) ?? [], ref(o)).toEqual([]);
  });

  it('keeps Open WebUI and Grafana in-cluster (ClusterIP)', () => {
    for (const [name, namespace] of [
      ['open-webui', 'llm'],
      ['open-webui-pods', 'llm'],
      ['grafana', 'monitoring'],
    ] as const)
      expect((find(defaults, 'Service', name, namespace).spec as ServiceSpec).type).toBe('ClusterIP');
  });

  it('gives the entry a stable host name: an Azure DNS label, unique per platform and subscription', () => {
    const entry = find(defaults, 'Service', HTTPS_ENTRY.service, HTTPS_ENTRY.namespace);
    const label = entry.metadata.annotations?.['service.beta.kubernetes.io/azure-dns-label-name'];
    const names = namesOf(SPECS.defaults!);
    expect(label).toBe(publicDnsLabel(names));
    // Azure's rule for a public IP's domain name label.
    expect(label).toMatch(/^[a-z][a-z0-9-]{1,61}[a-z0-9]$/);
    expect(host).toBe(`${label}.eastus.cloudapp.azure.com`);
    const other = derivePlatformNames('11111111-1111-1111-1111-111111111111', 'team42');
    expect(publicDnsLabel(other)).not.toBe(label);
    expect(publicDnsLabel(derivePlatformNames(SUBSCRIPTION, 'team43'))).not.toBe(label);
    // The longest prefix still gives a valid label.
    expect(publicDnsLabel(derivePlatformNames(SUBSCRIPTION, 'abcdefghijkl'))).toMatch(
      /^[a-z][a-z0-9-]{1,61}[a-z0-9]$/,
    );
  });

  it("preserves the client's address (the allow-list reads it) and filters nothing at the load balancer", () => {
    const spec = find(defaults, 'Service', HTTPS_ENTRY.service, HTTPS_ENTRY.namespace).spec as ServiceSpec;
    expect(spec.externalTrafficPolicy).toBe('Local');
    // Source ranges at the load balancer would also block the ACME CA's validation connection.
    expect(spec.loadBalancerSourceRanges).toBeUndefined();
  });

  it('sends the 443 traffic to Caddy on 443, where it serves HTTPS and nothing else', () => {
    const deployment = find(defaults, 'Deployment', 'https-entry', 'llm');
    const [caddy] = containersOf(deployment) as unknown as {
      image: string;
      ports: { name: string; containerPort: number }[];
    }[];
    expect(caddy!.image).toMatch(/^caddy:2\.\d+\.\d+$/);
    expect(caddy!.ports).toEqual([{ name: 'https', containerPort: 443 }]);
    const spec = find(defaults, 'Service', HTTPS_ENTRY.service, HTTPS_ENTRY.namespace).spec as ServiceSpec;
    expect(spec.ports).toEqual([{ name: 'https', port: 443, targetPort: 'https' }]);
    // Caddy's default HTTPS port; the TLS-ALPN challenge is answered there.
    expect(directives(caddyfile(defaults))).not.toContainEqual(expect.stringMatching(/^https?_port\b/));
    // The one capability it needs to bind 443, and only that (the image's binary will not start without it).
    expect((caddy as unknown as { securityContext: unknown }).securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
    });
  });
});

describe("the entry's Caddyfile", () => {
  const lines = directives(caddyfile(defaults));

  it('serves the platform host over HTTPS only: no http:// site, no port 80, no redirect server', () => {
    // The top-level blocks: the global options, then the site addresses.
    const sites: string[] = [];
    let depth = 0;
    for (const line of lines) {
      if (depth === 0 && line.endsWith('{')) sites.push(line.slice(0, -1).trim());
      depth += (line.match(/{/g) ?? []).length - (line.match(/}/g) ?? []).length;
      expect(depth).toBeGreaterThanOrEqual(0);
    }
    expect(depth).toBe(0);
    // A bare host name: HTTPS on Caddy's HTTPS port, never http:// or an explicit port.
    expect(sites).toEqual(['', host]);
    // Port 80 only as an in-cluster upstream (Grafana's ClusterIP Service).
    const eighty = lines.filter((l) => /:80\b/.test(l));
    expect(eighty).toEqual(['reverse_proxy /grafana* grafana.monitoring.svc.cluster.local:80']);
    expect(lines).not.toContainEqual(expect.stringMatching(/^http_port\b|http:\/\//));
    expect(lines).toContain('auto_https disable_redirects');
  });

  it("obtains the certificate from Let's Encrypt with the TLS-ALPN challenge, and keeps it on a claim", () => {
    expect(lines).toContain('issuer acme {');
    expect(lines).toContain('dir https://acme-v02.api.letsencrypt.org/directory');
    expect(lines).toContain('disable_http_challenge');
    expect(lines).not.toContain('disable_tlsalpn_challenge');
    expect(lines).toContain('storage file_system /data');
    const pod = podSpecOf(find(defaults, 'Deployment', 'https-entry', 'llm'))!;
    const mounts = (pod.containers[0] as unknown as { volumeMounts: { name: string; mountPath: string }[] })
      .volumeMounts;
    const data = mounts.find((m) => m.mountPath === '/data')!;
    expect(pod.volumes?.find((v) => v.name === data.name)?.persistentVolumeClaim?.claimName).toBe(
      'https-entry-data',
    );
    find(defaults, 'PersistentVolumeClaim', 'https-entry-data', 'llm');
  });

  it('proxies Grafana at /grafana/ and everything else to Open WebUI', () => {
    expect(lines).toContain('reverse_proxy /grafana* grafana.monitoring.svc.cluster.local:80');
    expect(lines).toContain('dynamic a open-webui-pods.llm.svc.cluster.local 8080 {');
    const grafana = containersOf(find(defaults, 'Deployment', 'grafana', 'monitoring'))[0]!;
    expect(envOf(grafana)).toMatchObject({
      GF_SERVER_ROOT_URL: `https://${host}/grafana/`,
      GF_SERVER_SERVE_FROM_SUB_PATH: 'true',
      GF_AUTH_ANONYMOUS_ENABLED: 'false',
    });
  });

  it('lets anyone in when the request names no source ranges, and answers others 403 when it does', () => {
    expect(lines).toContain('@outside not remote_ip 0.0.0.0/0 ::/0');
    expect(lines).toContain('respond @outside "Forbidden" 403');
    const restricted = render({
      ...specOf({}),
      network: { allowedSourceRanges: ['203.0.113.0/24', '2001:db8::/32'] },
    });
    expect(directives(caddyfile(restricted))).toContain(
      '@outside not remote_ip 203.0.113.0/24 2001:db8::/32',
    );
  });

  it('rolls the entry when its Caddyfile changes (the hash is on the pod template), only then', () => {
    const hashOf = (objects: KubernetesObject[]) =>
      (
        find(objects, 'Deployment', 'https-entry', 'llm').spec as {
          template: { metadata: { annotations: Record<string, string> } };
        }
      ).template.metadata.annotations['llm-platforms-api/config-hash'];
    const restricted = render({ ...specOf({}), network: { allowedSourceRanges: ['203.0.113.0/24'] } });
    expect(hashOf(defaults)).toMatch(/^[0-9a-f]{16}$/);
    expect(hashOf(restricted)).not.toBe(hashOf(defaults));
    expect(hashOf(render(specOf({ models: ['phi3.5'] })))).toBe(hashOf(defaults));
  });
});
