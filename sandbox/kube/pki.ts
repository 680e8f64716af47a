/**
 * The certificates of the sandbox's AKS API servers, generated at runtime (ECDSA P-256 through WebCrypto):
 * one CA that signs the loopback listener's server certificate (IP SAN 127.0.0.1), and per cluster a CA
 * that signs its admin client certificate (CN=masterclient, O=system:masters), as in the admin kubeconfig
 * AKS returns (azure-real-behaviours F9). The listener accepts a client certificate only when the cluster's
 * own CA issued it.
 */
import 'reflect-metadata';
import { X509Certificate as NodeX509Certificate, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const YEAR_MS = 365 * 24 * 3_600_000;

interface Authority {
  cert: x509.X509Certificate;
  keys: webcrypto.CryptoKeyPair;
  /** The CA as node:crypto reads it, to verify a peer certificate's signature. */
  node: NodeX509Certificate;
}

export interface PemPair {
  certificate: string;
  key: string;
}

async function newKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

async function keyPem(keys: webcrypto.CryptoKeyPair): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const body = Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n');
  return `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;
}

let serial = 1;
const nextSerial = () => (serial++).toString(16).padStart(2, '0');

async function authority(name: string): Promise<Authority> {
  const keys = await newKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name: `CN=${name}`,
    notBefore: new Date(now - 3_600_000),
    notAfter: new Date(now + 10 * YEAR_MS),
    keys,
    signingAlgorithm: SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  return { cert, keys, node: new NodeX509Certificate(cert.toString('pem')) };
}

async function issue(
  ca: Authority,
  subject: string,
  extensions: x509.Extension[],
): Promise<PemPair & { keys: webcrypto.CryptoKeyPair }> {
  const keys = await newKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: nextSerial(),
    subject,
    issuer: ca.cert.subject,
    notBefore: new Date(now - 3_600_000),
    notAfter: new Date(now + 2 * YEAR_MS),
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: SIGN,
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true), ...extensions],
  });
  return { certificate: cert.toString('pem'), key: await keyPem(keys), keys };
}

export class SandboxPki {
  private readonly clusterCas = new Map<string, Promise<Authority>>();
  private readonly admins = new Map<string, Promise<PemPair>>();

  private constructor(
    private readonly serverCa: Authority,
    /** The listener's certificate and key (127.0.0.1). */
    readonly server: PemPair,
  ) {}

  static async create(): Promise<SandboxPki> {
    const ca = await authority('sandbox-apiserver-ca');
    const server = await issue(ca, 'CN=apiserver', [
      new x509.SubjectAlternativeNameExtension([
        { type: 'ip', value: '127.0.0.1' },
        { type: 'dns', value: 'localhost' },
      ]),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    ]);
    return new SandboxPki(ca, { certificate: server.certificate, key: server.key });
  }

  /** The CA a kubeconfig's `certificate-authority-data` carries (PEM). */
  get caPem(): string {
    return this.serverCa.cert.toString('pem');
  }

  private clusterCa(key: string): Promise<Authority> {
    let ca = this.clusterCas.get(key);
    if (!ca) {
      ca = authority(`ca-${key.split('/').pop()}`);
      this.clusterCas.set(key, ca);
    }
    return ca;
  }

  /** The admin client certificate of the cluster `key` (one per cluster, as AKS's). */
  adminCertificate(key: string): Promise<PemPair> {
    let admin = this.admins.get(key);
    if (!admin) {
      admin = this.clusterCa(key).then(async (ca) => {
        const { certificate, key: privateKey } = await issue(ca, 'CN=masterclient, O=system:masters', [
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
        ]);
        return { certificate, key: privateKey };
      });
      this.admins.set(key, admin);
    }
    return admin;
  }

  /**
   * The user a peer certificate authenticates on the cluster `key`: its subject's CN and O when the cluster's
   * own CA signed it and it is valid at `now`; undefined otherwise (another cluster's, self-signed, expired).
   */
  async clientUser(
    key: string,
    der: Buffer,
    now: number,
  ): Promise<{ name: string; groups: string[] } | undefined> {
    const ca = this.clusterCas.get(key);
    if (!ca) return undefined;
    const authorityCert = (await ca).node;
    let peer: NodeX509Certificate;
    try {
      peer = new NodeX509Certificate(der);
    } catch {
      return undefined;
    }
    if (!peer.checkIssued(authorityCert) || !peer.verify(authorityCert.publicKey)) return undefined;
    if (now < Date.parse(peer.validFrom) || now > Date.parse(peer.validTo)) return undefined;
    const field = (name: string) =>
      peer.subject
        .split('\n')
        .filter((l) => l.startsWith(`${name}=`))
        .map((l) => l.slice(name.length + 1));
    return { name: field('CN')[0] ?? '', groups: field('O') };
  }
}
