/**
 * Signatures of X.509 certificates and PKCS#10 requests, by key type, in one table: SM2 keys sign
 * sm2sign-with-sm3 (1.2.156.10197.1.501, GM/T 0006; e = SM3(Z‖M) with the default ID 1234567812345678, as CAs
 * and OpenSSL compute it for certificates), RSA keys sha256WithRSAEncryption (PKCS#1 v1.5). The request
 * builder and reader (certificate-request.ts) and the software CA (certificate-issuer.ts) take the algorithm
 * identifiers, the key checks and the signing and verification from here. A new key type is one entry more.
 */
import { createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";
import { expectTag, readTlv, type Tlv } from "../protocol/der.js";
import { badRequest, YztError } from "../protocol/errors.js";
import { DER_NULL, derAlgorithmIdentifier } from "./der-writer.js";
import { publicPointOfSpki } from "./sm2-certificate.js";
import { parsePublicPoint } from "./sm2-digest.js";
import { derToRs, rsToDer, sm2Digest, sm2PublicFromPrivate, sm2Sign, sm2Verify } from "./sm2.js";
import { childrenOf, contentOf, decodeOid } from "./x509-reader.js";

export type X509KeyAlgorithm = "SM2" | "RSA";

const KEY_OID = {
  ecPublicKey: "1.2.840.10045.2.1",
  /** The SM2 curve; some vendors also name SM2 keys with it as the key algorithm itself. */
  sm2: "1.2.156.10197.1.301",
  rsaEncryption: "1.2.840.113549.1.1.1",
} as const;

interface SignatureAlgorithm {
  key: X509KeyAlgorithm;
  /** The hash node:crypto applies for RSA; SM2 computes e = SM3(Z‖M) itself. */
  nodeHash?: "sha256" | "sha384" | "sha512";
  /** RSA AlgorithmIdentifiers carry an explicit NULL (RFC 4055); SM2 ones have no parameters (GM/T 0015). */
  nullParameters: boolean;
}

/** Every algorithm a signature is checked with; the first per key type is the one we sign with. */
const SIGNATURE_ALGORITHMS: Record<string, SignatureAlgorithm> = {
  "1.2.156.10197.1.501": { key: "SM2", nullParameters: false },
  "1.2.840.113549.1.1.11": { key: "RSA", nodeHash: "sha256", nullParameters: true },
  "1.2.840.113549.1.1.12": { key: "RSA", nodeHash: "sha384", nullParameters: true },
  "1.2.840.113549.1.1.13": { key: "RSA", nodeHash: "sha512", nullParameters: true },
};

/** The OID of the signature algorithm a key of this type signs certificates and requests with. */
export function signingAlgorithmOid(key: X509KeyAlgorithm): string {
  return Object.entries(SIGNATURE_ALGORITHMS).find(([, algorithm]) => algorithm.key === key)![0];
}

/** That algorithm's AlgorithmIdentifier, DER. */
export function signatureAlgorithmIdentifier(key: X509KeyAlgorithm): Uint8Array {
  const oid = signingAlgorithmOid(key);
  return SIGNATURE_ALGORITHMS[oid]!.nullParameters ? derAlgorithmIdentifier(oid, DER_NULL) : derAlgorithmIdentifier(oid);
}

export interface AlgorithmIdentifier {
  oid: string;
  /** The parameters' TLV, when present. */
  parameters?: Tlv;
}

export function readAlgorithmIdentifier(der: Uint8Array, tlv: Tlv): AlgorithmIdentifier {
  const [oid, parameters, extra] = childrenOf(der, expectTag(tlv, 0x30, "AlgorithmIdentifier"));
  if (!oid || extra) throw new Error("DER: an AlgorithmIdentifier is an OID and at most one parameter");
  return { oid: decodeOid(contentOf(der, expectTag(oid, 0x06, "algorithm OID"))), ...(parameters ? { parameters } : {}) };
}

/** A subject public key, checked: an SM2 point on the curve, or an RSA key node:crypto loads. */
export interface SubjectKey {
  spki: Uint8Array;
  keyAlgorithm: X509KeyAlgorithm;
  /** SM2: 04‖x‖y, for Z. */
  point?: Uint8Array;
}

function keyAlgorithmOf(spki: Uint8Array): X509KeyAlgorithm {
  const outer = expectTag(readTlv(spki, 0), 0x30, "SubjectPublicKeyInfo");
  if (outer.end !== spki.length) throw new Error("DER: bytes after the SubjectPublicKeyInfo");
  const [algorithmTlv, key, extra] = childrenOf(spki, outer);
  if (!algorithmTlv || !key || extra) throw new Error("DER: a SubjectPublicKeyInfo is an algorithm and a key");
  const algorithm = readAlgorithmIdentifier(spki, algorithmTlv);
  const curve = algorithm.parameters?.tag === 0x06 ? decodeOid(contentOf(spki, algorithm.parameters)) : undefined;
  if (algorithm.oid === KEY_OID.sm2 || (algorithm.oid === KEY_OID.ecPublicKey && curve === KEY_OID.sm2)) return "SM2";
  if (algorithm.oid === KEY_OID.rsaEncryption) return "RSA";
  throw badRequest(`publicKey: ${algorithm.oid}${curve ? ` on curve ${curve}` : ""} is not supported (SM2 or RSA keys)`);
}

/** Reads and checks a SubjectPublicKeyInfo; badRequest naming the problem. */
export function readSubjectKey(spki: Uint8Array): SubjectKey {
  let keyAlgorithm: X509KeyAlgorithm;
  try {
    keyAlgorithm = keyAlgorithmOf(spki);
  } catch (error) {
    if (error instanceof YztError) throw error;
    throw badRequest(`publicKey: not a DER SubjectPublicKeyInfo (${error instanceof Error ? error.message : String(error)})`);
  }
  const copy = new Uint8Array(spki);
  if (keyAlgorithm === "SM2") {
    const point = publicPointOfSpki(copy);
    if (!parsePublicPoint(point)) throw badRequest("publicKey: the SM2 key is not a point 04‖x‖y on the curve");
    return { spki: copy, keyAlgorithm, point: new Uint8Array(point) };
  }
  try {
    if (createPublicKey({ key: Buffer.from(copy), format: "der", type: "spki" }).asymmetricKeyType !== "rsa") throw new Error("not RSA");
  } catch {
    throw badRequest("publicKey: not a valid RSA public key");
  }
  return { spki: copy, keyAlgorithm };
}

const isNull = (tlv: Tlv | undefined) => tlv !== undefined && tlv.tag === 0x05 && tlv.end === tlv.start;

/** Throws badRequest unless the algorithm is one this key type signs with (parameters absent or NULL). */
export function checkSignatureAlgorithm(key: SubjectKey, algorithm: AlgorithmIdentifier): void {
  const known = SIGNATURE_ALGORITHMS[algorithm.oid];
  if (!known || known.key !== key.keyAlgorithm) throw badRequest(`signature algorithm ${algorithm.oid} does not go with an ${key.keyAlgorithm} key`);
  if (algorithm.parameters && !isNull(algorithm.parameters)) throw badRequest(`signature algorithm ${algorithm.oid} takes no parameters (or NULL)`);
}

/** Whether `signature` (the DER value: SM2 SEQUENCE { r, s }, RSA PKCS#1 bytes) signs `signed` with the key. */
export function verifySignature(key: SubjectKey, algorithm: AlgorithmIdentifier, signed: Uint8Array, signature: Uint8Array): boolean {
  checkSignatureAlgorithm(key, algorithm);
  try {
    if (key.keyAlgorithm === "SM2") return sm2Verify(key.point!, sm2Digest(key.point!, signed), derToRs(signature));
    return nodeVerify(SIGNATURE_ALGORITHMS[algorithm.oid]!.nodeHash!, signed, { key: Buffer.from(key.spki), format: "der", type: "spki" }, signature);
  } catch {
    return false; // a malformed signature value is simply not a valid signature
  }
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((byte, i) => byte === b[i]);

/**
 * Signs `tbs` as `signer` (the issuer's subject key): SM2 with its 32-byte scalar, RSA with a node KeyObject.
 * The private key must be the signer's: a certificate signed with another key would verify against nothing.
 */
export function signAs(signer: SubjectKey, privateKey: Uint8Array | KeyObject, tbs: Uint8Array): Uint8Array {
  if (signer.keyAlgorithm === "SM2") {
    if (!(privateKey instanceof Uint8Array)) throw badRequest("issuerPrivateKey: an SM2 issuer signs with its 32-byte scalar");
    let point: Uint8Array;
    try {
      point = sm2PublicFromPrivate(privateKey);
    } catch {
      throw badRequest("issuerPrivateKey: an SM2 private key is 32 bytes, an integer in [1, n-2]");
    }
    if (!sameBytes(point, signer.point!)) throw badRequest("issuerPrivateKey does not match the issuer certificate's public key");
    return rsToDer(sm2Sign(privateKey, sm2Digest(signer.point!, tbs)));
  }
  if (privateKey instanceof Uint8Array || privateKey.asymmetricKeyType !== "rsa") throw badRequest("issuerPrivateKey: an RSA issuer signs with an RSA KeyObject");
  const spkiOf = (key: KeyObject) => new Uint8Array(key.export({ type: "spki", format: "der" }));
  if (!sameBytes(spkiOf(createPublicKey(privateKey)), spkiOf(createPublicKey({ key: Buffer.from(signer.spki), format: "der", type: "spki" })))) throw badRequest("issuerPrivateKey does not match the issuer certificate's public key");
  return new Uint8Array(nodeSign(SIGNATURE_ALGORITHMS[signingAlgorithmOid("RSA")]!.nodeHash!, tbs, privateKey));
}
