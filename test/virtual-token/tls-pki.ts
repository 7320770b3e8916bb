/**
 * The demo TLS PKI — FOR TESTS AND THE DEMO ONLY. The demo tax hall and the browser tests are served over
 * https under the real tax-hall host names (mapped to a loopback address inside throw-away browser
 * profiles), so the pages are real secure contexts. This makes a CA "yzt-bridge demo TLS CA" and one server
 * certificate for those names, P-256, written to <home>/tls/ (ca.pem, server.pem, server.key).
 *
 * The CA is trusted only by the throw-away profiles the launcher creates; even there it can do little harm:
 * its private key is never written anywhere (nothing else can ever be issued under it) and its name
 * constraints allow only the demo host names. Everything is synchronous (Node crypto signs, pkijs encodes).
 */
import * as asn1js from "asn1js";
import { createHash, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as pkijs from "pkijs";
import { DAY, toPem } from "./demo-pki.js";

/** The tax hall, its login service, a look-alike phishing site, and the issuer's site (一证通服务平台). */
export const DEMO_TLS_HOSTS = ["etax.beijing.chinatax.gov.cn", "tpass.beijing.chinatax.gov.cn", "etax-phish.example.com", "yzt.beijing.gov.cn"] as const;
export const DEMO_TLS_CA_NAME = "yzt-bridge demo TLS CA";
/** Browsers cap server certificates at 398 days; the demo renews them when less than a day is left. */
const SERVER_VALIDITY_DAYS = 397;
const RENEW_BEFORE_MS = DAY;

/** Paths of the PEM files, and the names the server certificate covers. */
export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
  hosts: string[];
}

const OID = {
  C: "2.5.4.6", O: "2.5.4.10", OU: "2.5.4.11", CN: "2.5.4.3",
  basicConstraints: "2.5.29.19", keyUsage: "2.5.29.15", extKeyUsage: "2.5.29.37", subjectAltName: "2.5.29.17",
  nameConstraints: "2.5.29.30", subjectKeyIdentifier: "2.5.29.14", authorityKeyIdentifier: "2.5.29.35",
  serverAuth: "1.3.6.1.5.5.7.3.1", ecdsaWithSha256: "1.2.840.10045.4.3.2",
} as const;
const DNS_NAME = 2;

/** One attribute per RDN (pkijs alone would put them all into one multi-valued RDN). */
function name(fields: Array<[keyof typeof OID, string]>): pkijs.RelativeDistinguishedNames {
  const rdns = fields.map(([field, value]) => new asn1js.Set({
    value: [new pkijs.AttributeTypeAndValue({
      type: OID[field],
      value: field === "C" ? new asn1js.PrintableString({ value }) : new asn1js.Utf8String({ value }),
    }).toSchema()],
  }));
  return pkijs.RelativeDistinguishedNames.fromBER(new asn1js.Sequence({ value: rdns }).toBER(false));
}

function extension(oid: string, critical: boolean, value: asn1js.BaseBlock): pkijs.Extension {
  return new pkijs.Extension({ extnID: oid, critical, extnValue: value.toBER(false) });
}

/** KeyUsage bits, numbered as in RFC 5280 (digitalSignature = 0). */
function keyUsage(bits: number[]): asn1js.BitString {
  const highest = Math.max(...bits);
  const value = bits.reduce((byte, bit) => byte | (0x80 >> bit), 0);
  return new asn1js.BitString({ valueHex: new Uint8Array([value]).buffer, unusedBits: 7 - highest });
}

function spkiDer(key: KeyObject): Uint8Array<ArrayBuffer> {
  return new Uint8Array(key.export({ type: "spki", format: "der" }));
}

function keyId(key: KeyObject): asn1js.OctetString {
  const spki = pkijs.PublicKeyInfo.fromBER(spkiDer(key));
  return new asn1js.OctetString({ valueHex: createHash("sha1").update(spki.subjectPublicKey.valueBlock.valueHexView).digest() });
}

interface CertificatePlan {
  subject: pkijs.RelativeDistinguishedNames;
  issuer: pkijs.RelativeDistinguishedNames;
  publicKey: KeyObject;
  issuerPublicKey: KeyObject;
  signingKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  extensions: pkijs.Extension[];
}

function certificatePem(plan: CertificatePlan): string {
  const certificate = new pkijs.Certificate();
  certificate.version = 2;
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x10;
  certificate.serialNumber = new asn1js.Integer({ valueHex: serial });
  certificate.subject = plan.subject;
  certificate.issuer = plan.issuer;
  certificate.notBefore.value = plan.notBefore;
  certificate.notAfter.value = plan.notAfter;
  certificate.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(spkiDer(plan.publicKey));
  certificate.extensions = [
    ...plan.extensions,
    extension(OID.subjectKeyIdentifier, false, keyId(plan.publicKey)),
    extension(OID.authorityKeyIdentifier, false, new pkijs.AuthorityKeyIdentifier({ keyIdentifier: keyId(plan.issuerPublicKey) }).toSchema()),
  ];
  certificate.signature = new pkijs.AlgorithmIdentifier({ algorithmId: OID.ecdsaWithSha256 });
  certificate.signatureAlgorithm = new pkijs.AlgorithmIdentifier({ algorithmId: OID.ecdsaWithSha256 });
  certificate.tbsView = new Uint8Array(certificate.encodeTBS().toBER(false));
  certificate.signatureValue = new asn1js.BitString({ valueHex: sign("sha256", certificate.tbsView, plan.signingKey) });
  return toPem("CERTIFICATE", new Uint8Array(certificate.toSchema(false).toBER(false)));
}

function dnsNames(hosts: readonly string[]): pkijs.GeneralName[] {
  return hosts.map((host) => new pkijs.GeneralName({ type: DNS_NAME, value: host }));
}

function tlsPaths(home: string): Omit<TlsFiles, "hosts"> {
  const dir = join(home, "tls");
  return { ca: join(dir, "ca.pem"), cert: join(dir, "server.pem"), key: join(dir, "server.key") };
}

/** Makes the demo TLS CA and the server certificate for DEMO_TLS_HOSTS; (re)writes <home>/tls/. */
export function createDemoTls(home: string, now = new Date()): TlsFiles {
  const hosts = [...DEMO_TLS_HOSTS];
  const caKey = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const serverKey = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const caName = name([["C", "CN"], ["O", "yzt-bridge TEST ONLY"], ["OU", "demo and browser tests only - never trust elsewhere"], ["CN", DEMO_TLS_CA_NAME]]);
  const notBefore = new Date(now.getTime() - DAY);
  const notAfter = new Date(now.getTime() + SERVER_VALIDITY_DAYS * DAY);
  const caPem = certificatePem({
    subject: caName, issuer: caName, publicKey: caKey.publicKey, issuerPublicKey: caKey.publicKey, signingKey: caKey.privateKey,
    notBefore, notAfter,
    extensions: [
      extension(OID.basicConstraints, true, new pkijs.BasicConstraints({ cA: true, pathLenConstraint: 0 }).toSchema()),
      extension(OID.keyUsage, true, keyUsage([5, 6])), // keyCertSign, cRLSign
      extension(OID.nameConstraints, true, new pkijs.NameConstraints({
        permittedSubtrees: dnsNames(hosts).map((base) => new pkijs.GeneralSubtree({ base })),
      }).toSchema()),
    ],
  });
  const serverPem = certificatePem({
    subject: name([["C", "CN"], ["O", "yzt-bridge TEST ONLY"], ["CN", hosts[0]!]]), issuer: caName,
    publicKey: serverKey.publicKey, issuerPublicKey: caKey.publicKey, signingKey: caKey.privateKey,
    notBefore, notAfter,
    extensions: [
      extension(OID.basicConstraints, true, new pkijs.BasicConstraints({ cA: false }).toSchema()),
      extension(OID.keyUsage, true, keyUsage([0, 2])), // digitalSignature, keyEncipherment
      extension(OID.extKeyUsage, false, new pkijs.ExtKeyUsage({ keyPurposes: [OID.serverAuth] }).toSchema()),
      extension(OID.subjectAltName, false, new pkijs.AltName({ altNames: dnsNames(hosts) }).toSchema()),
    ],
  });
  const files = tlsPaths(home);
  mkdirSync(join(home, "tls"), { recursive: true });
  writeFileSync(files.ca, caPem);
  writeFileSync(files.cert, serverPem);
  writeFileSync(files.key, serverKey.privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  return { ...files, hosts };
}

/** The demo TLS files already in <home>/tls/, or null when missing, for other names, or about to expire. */
export function demoTlsFiles(home: string, now = new Date()): TlsFiles | null {
  const files = tlsPaths(home);
  if (![files.ca, files.cert, files.key].every((path) => existsSync(path))) return null;
  const certificate = new X509Certificate(readFileSync(files.cert));
  if (new Date(certificate.validTo).getTime() - now.getTime() < RENEW_BEFORE_MS) return null;
  if (!DEMO_TLS_HOSTS.every((host) => certificate.checkHost(host, { subject: "never" }) === host)) return null;
  return { ...files, hosts: [...DEMO_TLS_HOSTS] };
}

/** base64(SHA-256(SubjectPublicKeyInfo)) of a certificate: what Chromium's SPKI allow-lists take. */
export function spkiSha256Base64(certificatePem: string): string {
  const spki = new X509Certificate(certificatePem).publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(spki).digest("base64");
}
