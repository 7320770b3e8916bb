/**
 * The demo certificate authority and company certificates for the virtual token, made with pkijs:
 * root "YZT Demo Root CA" → "YZT Demo Sub CA" → company certificates shaped like Beijing 一证通 ones
 * (O and CN = company name, subject serialNumber and extension 1.2.156.10260.4.1.4 = credit code).
 * Two chains: RSA (WebCrypto through pkijs) and SM2 with SM3 (GM/T 0015), signed with the project's own
 * SM2 code because neither WebCrypto nor Node signs SM2.
 */
import { Crypto } from "@peculiar/webcrypto";
import * as asn1js from "asn1js";
import { createHash, randomBytes } from "node:crypto";
import * as pkijs from "pkijs";
import { creditCodeCheckChar } from "../../crypto/certificate.js";
import { rsToDer, sm2Digest, sm2Sign } from "../../crypto/sm2.js";
import { toPem } from "./pem.js";
import { generateSm2KeyPair, sm2KeyMaterial, type Sm2KeyMaterial } from "./sm2-import.js";

/** SM2-with-SM3 (GM/T 0006): the signature algorithm of SM2 certificates. */
const SM2_WITH_SM3 = "1.2.156.10197.1.501";
/** SubjectPublicKeyInfo of an SM2 key up to its 65-byte point (id-ecPublicKey, SM2 curve). */
const SM2_SPKI_PREFIX = Buffer.from("3059301306072a8648ce3d020106082a811ccf5501822d034200", "hex");

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

/** An SM2 key of the demo PKI: the scalar and point (what the token and the demo CA sign with). */
export interface Sm2Key {
  algorithm: "SM2";
  material: Sm2KeyMaterial;
}

export function generateSm2Key(): Sm2Key {
  return { algorithm: "SM2", material: sm2KeyMaterial(generateSm2KeyPair().privateKey) };
}

type PublicKey = CryptoKey | Sm2Key;
type PrivateKey = CryptoKey | Sm2Key;
const isSm2 = (key: PublicKey | PrivateKey): key is Sm2Key => (key as Sm2Key).algorithm === "SM2";

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

export { toPem };

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

async function publicKeyInfo(publicKey: PublicKey): Promise<pkijs.PublicKeyInfo> {
  const spki = isSm2(publicKey) ? Buffer.concat([SM2_SPKI_PREFIX, publicKey.material.point]) : await crypto.subtle.exportKey("spki", publicKey);
  return pkijs.PublicKeyInfo.fromBER(new Uint8Array(spki));
}

function subjectKeyId(spki: pkijs.PublicKeyInfo): Uint8Array {
  return createHash("sha1").update(Buffer.from(spki.subjectPublicKey.valueBlock.valueHexView)).digest();
}

/** SM2-with-SM3 over the TBSCertificate, Z computed with the default ID (as OpenSSL verifies certificates). */
function signWithSm2(certificate: pkijs.Certificate, key: Sm2Key): void {
  const algorithm = new pkijs.AlgorithmIdentifier({ algorithmId: SM2_WITH_SM3 });
  certificate.signature = algorithm;
  certificate.signatureAlgorithm = new pkijs.AlgorithmIdentifier({ algorithmId: SM2_WITH_SM3 });
  const tbs = new Uint8Array(certificate.encodeTBS().toBER(false));
  const signature = rsToDer(sm2Sign(key.material.d, sm2Digest(key.material.point, tbs)));
  certificate.tbsView = tbs;
  certificate.signatureValue = new asn1js.BitString({ valueHex: signature });
}

export interface CertificateSpec {
  subject: NameField[];
  publicKey: PublicKey;
  notBefore: Date;
  notAfter: Date;
  keyUsage: KeyUsageName[];
  ca?: { pathLength?: number };
  /** The credit code goes into the GM/T 0015 extension and a BJCA-style unique id. */
  creditCode?: string;
  issuer?: { certificate: pkijs.Certificate; privateKey: PrivateKey };
  /** Key that signs a self-signed certificate. */
  selfSignKey?: PrivateKey;
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
  certificate.subjectPublicKeyInfo = await publicKeyInfo(spec.publicKey);

  const ski = subjectKeyId(certificate.subjectPublicKeyInfo);
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
  if (isSm2(signingKey)) signWithSm2(certificate, signingKey);
  else await certificate.sign(signingKey, "SHA-256");
  const der = new Uint8Array(certificate.toSchema(false).toBER(false));
  return { certificate, der, pem: toPem("CERTIFICATE", der) };
}

export interface DemoCa {
  root: IssuedCertificate;
  intermediate: IssuedCertificate;
  intermediateKey: PrivateKey;
}

const DAY = 86_400_000;

/** Root → sub CA, RSA (default) or SM2 (国密, "YZT Demo SM2 Root CA" → "YZT Demo SM2 Sub CA"). */
export async function createDemoCa(now: Date, algorithm: "RSA" | "SM2" = "RSA"): Promise<DemoCa> {
  const keyPair = async () => {
    if (algorithm === "SM2") {
      const key = generateSm2Key();
      return { publicKey: key, privateKey: key };
    }
    return generateKeyPair("RSA");
  };
  const label = algorithm === "SM2" ? "SM2 " : "";
  const rootKey = await keyPair();
  const root = await issueCertificate({
    subject: [["C", "CN"], ["O", "yzt-bridge demo"], ["CN", `YZT Demo ${label}Root CA`]],
    publicKey: rootKey.publicKey, selfSignKey: rootKey.privateKey,
    notBefore: new Date(now.getTime() - 3 * 365 * DAY), notAfter: new Date(now.getTime() + 10 * 365 * DAY),
    keyUsage: ["keyCertSign", "cRLSign"], ca: {},
  });
  const intermediateKey = await keyPair();
  const intermediate = await issueCertificate({
    subject: [["C", "CN"], ["O", "yzt-bridge demo"], ["CN", `YZT Demo ${label}Sub CA`]],
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
