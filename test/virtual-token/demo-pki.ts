/**
 * The demo certificate authority and company certificates for the virtual token, made with pkijs:
 * root "YZT Demo Root CA" → "YZT Demo Sub CA" → company certificates shaped like Beijing 一证通 ones
 * (O and CN = company name, subject serialNumber and extension 1.2.156.10260.4.1.4 = credit code).
 */
import { Crypto } from "@peculiar/webcrypto";
import * as asn1js from "asn1js";
import { createHash, randomBytes } from "node:crypto";
import * as pkijs from "pkijs";
import { creditCodeCheckChar } from "../../native-host/crypto/certificate.js";

const crypto = new Crypto();
pkijs.setEngine("yzt-demo-pki", new pkijs.CryptoEngine({ name: "yzt-demo-pki", crypto }));

const OID = {
  C: "2.5.4.6", ST: "2.5.4.8", L: "2.5.4.7", O: "2.5.4.10", OU: "2.5.4.11", CN: "2.5.4.3", serialNumber: "2.5.4.5",
  basicConstraints: "2.5.29.19", keyUsage: "2.5.29.15", subjectKeyIdentifier: "2.5.29.14", authorityKeyIdentifier: "2.5.29.35",
  creditCode: "1.2.156.10260.4.1.4", bjcaUniqueId: "1.2.156.112562.2.1.1.1",
} as const;

export const KEY_USAGE_BITS = {
  digitalSignature: 0, nonRepudiation: 1, keyEncipherment: 2, dataEncipherment: 3, keyAgreement: 4, keyCertSign: 5, cRLSign: 6,
} as const;
export type KeyUsageName = keyof typeof KEY_USAGE_BITS;

/** A credit code with its GB 32100-2015 check character appended. */
export function creditCodeWithCheck(first17: string): string {
  return first17 + creditCodeCheckChar(first17);
}

export interface KeyPair {
  algorithm: "RSA" | "EC";
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

export async function generateKeyPair(algorithm: "RSA" | "EC"): Promise<KeyPair> {
  const params =
    algorithm === "RSA"
      ? { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }
      : { name: "ECDSA", namedCurve: "P-256" };
  const pair = (await crypto.subtle.generateKey(params, true, ["sign", "verify"])) as CryptoKeyPair;
  return { algorithm, privateKey: pair.privateKey, publicKey: pair.publicKey };
}

export async function privateKeyPem(key: KeyPair): Promise<string> {
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey("pkcs8", key.privateKey));
  return toPem("PRIVATE KEY", pkcs8);
}

export function toPem(label: string, der: Uint8Array): string {
  const lines = Buffer.from(der).toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

type NameField = [keyof typeof OID, string];

function name(fields: NameField[]): pkijs.RelativeDistinguishedNames {
  const rdn = new pkijs.RelativeDistinguishedNames();
  for (const [field, value] of fields) {
    // Country and serialNumber are PrintableString by X.520; names may be Chinese, so UTF8String.
    const printable = field === "C" || field === "serialNumber";
    rdn.typesAndValues.push(
      new pkijs.AttributeTypeAndValue({
        type: OID[field],
        value: printable ? new asn1js.PrintableString({ value }) : new asn1js.Utf8String({ value }),
      }),
    );
  }
  return rdn;
}

function keyUsageBits(usages: KeyUsageName[]): asn1js.BitString {
  let bits = 0;
  let highest = 0;
  for (const usage of usages) {
    const bit = KEY_USAGE_BITS[usage];
    bits |= 0x80 >> bit;
    highest = Math.max(highest, bit);
  }
  return new asn1js.BitString({ valueHex: new Uint8Array([bits]).buffer, unusedBits: 7 - highest });
}

function extension(oid: string, critical: boolean, value: asn1js.BaseBlock): pkijs.Extension {
  return new pkijs.Extension({ extnID: oid, critical, extnValue: value.toBER(false) });
}

async function subjectKeyId(publicKey: CryptoKey): Promise<Uint8Array> {
  const spki = pkijs.PublicKeyInfo.fromBER(await crypto.subtle.exportKey("spki", publicKey));
  return createHash("sha1").update(Buffer.from(spki.subjectPublicKey.valueBlock.valueHexView)).digest();
}

export interface CertificateSpec {
  subject: NameField[];
  publicKey: CryptoKey;
  notBefore: Date;
  notAfter: Date;
  keyUsage: KeyUsageName[];
  ca?: { pathLength?: number };
  /** The credit code goes into the GM/T 0015 extension and a BJCA-style unique id. */
  creditCode?: string;
  issuer?: { certificate: pkijs.Certificate; privateKey: CryptoKey };
  /** Key that signs a self-signed certificate. */
  selfSignKey?: CryptoKey;
}

export interface IssuedCertificate {
  certificate: pkijs.Certificate;
  der: Uint8Array;
  pem: string;
}

export async function issueCertificate(spec: CertificateSpec): Promise<IssuedCertificate> {
  const certificate = new pkijs.Certificate();
  certificate.version = 2;
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x10; // positive and exactly 16 bytes
  certificate.serialNumber = new asn1js.Integer({ valueHex: serial });
  certificate.subject = name(spec.subject);
  certificate.issuer = spec.issuer ? spec.issuer.certificate.subject : name(spec.subject);
  certificate.notBefore.value = spec.notBefore;
  certificate.notAfter.value = spec.notAfter;
  await certificate.subjectPublicKeyInfo.importKey(spec.publicKey);

  const ski = await subjectKeyId(spec.publicKey);
  const extensions: pkijs.Extension[] = [
    extension(OID.basicConstraints, true, new pkijs.BasicConstraints({
      cA: spec.ca !== undefined,
      ...(spec.ca?.pathLength !== undefined ? { pathLenConstraint: spec.ca.pathLength } : {}),
    }).toSchema()),
    extension(OID.keyUsage, true, keyUsageBits(spec.keyUsage)),
    extension(OID.subjectKeyIdentifier, false, new asn1js.OctetString({ valueHex: ski })),
  ];
  if (spec.issuer) {
    const issuerSki = spec.issuer.certificate.extensions?.find((e) => e.extnID === OID.subjectKeyIdentifier);
    const keyIdentifier = issuerSki ? (asn1js.fromBER(issuerSki.extnValue.valueBlock.valueHexView).result as asn1js.OctetString) : undefined;
    if (keyIdentifier) {
      extensions.push(extension(OID.authorityKeyIdentifier, false, new pkijs.AuthorityKeyIdentifier({
        keyIdentifier: new asn1js.OctetString({ valueHex: keyIdentifier.valueBlock.valueHexView }),
      }).toSchema()));
    }
  }
  if (spec.creditCode) {
    extensions.push(extension(OID.creditCode, false, new asn1js.PrintableString({ value: spec.creditCode })));
    extensions.push(extension(OID.bjcaUniqueId, false, new asn1js.Utf8String({ value: `SF${spec.creditCode}` })));
  }
  certificate.extensions = extensions;

  const signingKey = spec.issuer?.privateKey ?? spec.selfSignKey;
  if (!signingKey) throw new Error("a certificate needs an issuer or a self-signing key");
  await certificate.sign(signingKey, "SHA-256");
  const der = new Uint8Array(certificate.toSchema(true).toBER(false));
  return { certificate, der, pem: toPem("CERTIFICATE", der) };
}

export interface DemoCa {
  root: IssuedCertificate;
  intermediate: IssuedCertificate;
  intermediateKey: CryptoKey;
}

const DAY = 86_400_000;

export async function createDemoCa(now: Date): Promise<DemoCa> {
  const rootKey = await generateKeyPair("RSA");
  const root = await issueCertificate({
    subject: [["C", "CN"], ["O", "yzt-bridge demo"], ["CN", "YZT Demo Root CA"]],
    publicKey: rootKey.publicKey, selfSignKey: rootKey.privateKey,
    notBefore: new Date(now.getTime() - 3 * 365 * DAY), notAfter: new Date(now.getTime() + 10 * 365 * DAY),
    keyUsage: ["keyCertSign", "cRLSign"], ca: {},
  });
  const intermediateKey = await generateKeyPair("RSA");
  const intermediate = await issueCertificate({
    subject: [["C", "CN"], ["O", "yzt-bridge demo"], ["CN", "YZT Demo Sub CA"]],
    publicKey: intermediateKey.publicKey, issuer: { certificate: root.certificate, privateKey: rootKey.privateKey },
    notBefore: new Date(now.getTime() - 2 * 365 * DAY), notAfter: new Date(now.getTime() + 8 * 365 * DAY),
    keyUsage: ["keyCertSign", "cRLSign"], ca: { pathLength: 0 },
  });
  return { root, intermediate, intermediateKey: intermediateKey.privateKey };
}

export function companySubject(company: string, creditCode: string): NameField[] {
  return [["C", "CN"], ["ST", "北京市"], ["L", "北京市"], ["O", company], ["CN", company], ["serialNumber", creditCode]];
}

export { DAY };
