// A local certificate authority and a server certificate for loopback, kept in the data folder.
// kubectl sends bearer tokens only over TLS (client-go drops credentials for http:// servers), so
// the proxy that kubectl talks to must serve https with a CA the written kubeconfig trusts.
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import forge from 'node-forge';

export interface TlsMaterial {
  /** PEM of the CA certificate: goes into kubeconfig `certificate-authority-data`. */
  ca: string;
  /** PEM server certificate (signed by the CA) and its key. */
  cert: string;
  key: string;
}

const CA_DAYS = 3650;
// Browsers and Go accept at most 825 days for a server certificate; renewed well before that.
const SERVER_DAYS = 825;
const RENEW_BEFORE_DAYS = 30;

/** Loads DIR/{ca.crt,server.crt,server.key}, creating or renewing them when needed. */
export async function loadOrCreateTls(dir: string, hostnames: string[] = []): Promise<TlsMaterial> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const paths = { ca: join(dir, 'ca.crt'), caKey: join(dir, 'ca.key'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
  const existing = await Promise.all([paths.ca, paths.caKey, paths.cert, paths.key].map((p) => readFile(p, 'utf8').catch(() => undefined)));
  const [ca, caKey, cert, key] = existing;
  if (ca && caKey && cert && key && serverCertificateUsable(cert, hostnames)) return { ca, cert, key };

  const authority = ca && caKey && stillValid(ca) ? { cert: ca, key: caKey } : createAuthority();
  const server = createServerCertificate(authority, hostnames);
  await writeFile(paths.ca, authority.cert, { mode: 0o644 });
  await writeFile(paths.caKey, authority.key, { mode: 0o600 });
  await writeFile(paths.cert, server.cert, { mode: 0o644 });
  await writeFile(paths.key, server.key, { mode: 0o600 });
  return { ca: authority.cert, cert: server.cert, key: server.key };
}

function stillValid(pem: string): boolean {
  try {
    const cert = new X509Certificate(pem);
    return new Date(cert.validTo).getTime() - Date.now() > RENEW_BEFORE_DAYS * 86_400_000;
  } catch {
    return false;
  }
}

function serverCertificateUsable(pem: string, hostnames: string[]): boolean {
  if (!stillValid(pem)) return false;
  const cert = new X509Certificate(pem);
  return hostnames.every((name) => (isIp(name) ? cert.checkIP(name) !== undefined : cert.checkHost(name) !== undefined));
}

function keyPair(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; pem: string } {
  // Node generates the key natively (fast); forge only assembles and signs the certificate.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  return {
    privateKey: forge.pki.privateKeyFromPem(pem),
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    pem,
  };
}

function serial(): string {
  // Positive, 16 random bytes.
  return '01' + forge.util.bytesToHex(forge.random.getBytesSync(15));
}

function createAuthority(): { cert: string; key: string } {
  const keys = keyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + CA_DAYS * 86_400_000);
  const name = [{ name: 'commonName', value: 'kubecast local CA' }, { name: 'organizationName', value: 'kubecast' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.pem };
}

function createServerCertificate(authority: { cert: string; key: string }, hostnames: string[]): { cert: string; key: string } {
  const caCert = forge.pki.certificateFromPem(authority.cert);
  const caKey = forge.pki.privateKeyFromPem(authority.key);
  const keys = keyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + SERVER_DAYS * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: 'kubecast proxy' }]);
  cert.setIssuer(caCert.subject.attributes);
  const names = new Set(['localhost', '127.0.0.1', '::1', ...hostnames]);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [...names].map((n) => (isIp(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.pem };
}

function isIp(name: string): boolean {
  return /^[\d.]+$/.test(name) || name.includes(':');
}
