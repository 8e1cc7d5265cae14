// @peculiar/x509 resolves its crypto provider through tsyringe, which needs the
// Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { ensureDir, writeFileAtomic } from '../../../common/src/files.ts';
import { HUB_TLS_NAME } from '../../../common/src/hub-tls.ts';
import type { Logger } from '../../../common/src/logger.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface HubTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/**
 * The embedded-mode PKI: a hub CA (10 years) and a server certificate (1 year)
 * for the names agents dial, all kept in <dataDir>/tls with keys at 0600. The CA
 * certificate is public and travels in every enrollment bundle so agents can
 * pin it. A server certificate missing a requested name, or expiring within 30
 * days, is reissued at start.
 */
export async function ensureHubTls(dataDir: string, names: readonly string[], log: Logger): Promise<HubTls> {
  const dir = join(dataDir, 'tls');
  ensureDir(dir, 0o700);
  const caCertPath = join(dir, 'ca.pem');
  const caKeyPath = join(dir, 'ca.key');
  const certPath = join(dir, 'server.pem');
  const keyPath = join(dir, 'server.key');
  const wanted = [...new Set([HUB_TLS_NAME, 'localhost', '127.0.0.1', '::1', ...names])];

  let caCert: x509.X509Certificate;
  let caKey: CryptoKey;
  if (existsSync(caCertPath) && existsSync(caKeyPath)) {
    caCert = new x509.X509Certificate(readFileSync(caCertPath, 'utf8'));
    caKey = await importKey(readFileSync(caKeyPath, 'utf8'));
  } else {
    const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
    caKey = keys.privateKey;
    caCert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: 'CN=Agents Plane hub CA',
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 3650 * DAY_MS),
      keys,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    });
    writeFileAtomic(caKeyPath, await exportKey(caKey), 0o600);
    writeFileAtomic(caCertPath, caCert.toString('pem'), 0o644);
    log.info('created hub certificate authority', { caCertPath });
  }

  if (existsSync(certPath) && existsSync(keyPath)) {
    const cert = new x509.X509Certificate(readFileSync(certPath, 'utf8'));
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    const have = new Set((san?.names.items ?? []).map((n) => n.value));
    const fresh = cert.notAfter.getTime() - Date.now() > 30 * DAY_MS;
    if (fresh && wanted.every((n) => have.has(n)) && cert.issuer === caCert.subject) {
      return { caPem: caCert.toString('pem'), certPem: cert.toString('pem'), keyPem: readFileSync(keyPath, 'utf8') };
    }
  }

  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: 'CN=agents-plane-hub',
    issuer: caCert.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 365 * DAY_MS),
    signingKey: caKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(wanted.map((n) => ({ type: isIP(n) ? ('ip' as const) : ('dns' as const), value: n }))),
    ],
  });
  const keyPem = await exportKey(keys.privateKey);
  writeFileAtomic(keyPath, keyPem, 0o600);
  writeFileAtomic(certPath, cert.toString('pem'), 0o644);
  log.info('issued hub server certificate', { names: wanted });
  return { caPem: caCert.toString('pem'), certPem: cert.toString('pem'), keyPem };
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1');
}

async function exportKey(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

async function importKey(pem: string): Promise<CryptoKey> {
  return webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(pem), ALG, true, ['sign']);
}
