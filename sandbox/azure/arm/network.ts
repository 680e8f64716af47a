/**
 * Microsoft.Network/publicIPAddresses, read-only: the only public IPs in the sandbox are the managed
 * outbound IPs AKS creates in a cluster's node resource group (see aks.ts).
 */
import { byMethod, type ProviderRequest, type Route } from './route.js';
import { ArmError, notFound } from './world.js';
import { PUBLIC_IP_TYPE } from './aks.js';

export function publicIpRoute(ctx: ProviderRequest): Route {
  const { world, rgName, name } = ctx;
  if (ctx.ltail.length > 0)
    throw new ArmError(
      404,
      'InvalidResourceType',
      `The sandbox does not simulate '${ctx.tail.join('/')}' on public IP addresses.`,
    );
  return byMethod(ctx, 'a public IP address', {
    GET: {
      op: 'network.publicIp.get',
      run: () => {
        const ip = world.get(`${world.rgId(rgName)}/providers/Microsoft.Network/publicIPAddresses/${name}`);
        if (ip?.type !== PUBLIC_IP_TYPE) throw notFound(PUBLIC_IP_TYPE, name, rgName);
        return { status: 200, body: ip.present() };
      },
    },
  });
}
