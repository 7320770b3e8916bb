/**
 * Key writing on a PKCS#11 token, for certificate renewal from the issuer's site. PKCS#11 has no containers:
 * vendor middleware of Chinese keys names one by the CKA_LABEL shared by its objects (the signing pair, the
 * encryption pair, their certificates), and pairs by CKA_ID, so that is what a container is here. Pairs
 * yzt-bridge generates get a fresh random CKA_ID; a certificate goes in with its pair's CKA_ID and label.
 * Whether a pair signs or encrypts: its certificate's key usage where it has one, else its public key's
 * CKA_VERIFY (keys this module makes say it exactly).
 */
import { randomBytes } from "node:crypto";
import "./pkcs11js-interop.js";
import { KeyType, ObjectClass, type Key, type Session, type SessionObject } from "graphene-pk11";
import { YztError } from "../../../protocol/errors.js";
import { rsaPublicKeyInfo, sm2PublicKeyInfo } from "../../../crypto/public-key.js";
import { readX509 } from "../../../crypto/x509-reader.js";
import { derElement } from "../../../protocol/der.js";
import type { GeneratedKeyAlgorithm, KeyContainer, WrappedKeyPair } from "../device.js";
import { guard } from "./errors.js";
import { SM2_KEY_PAIR_MECHANISMS, SM2_KEY_TYPES, SM2_WRAPPED_KEY_MECHANISMS } from "./mechanisms.js";

/** DER of the SM2 curve OID 1.2.156.10197.1.301, the EC parameters of SM2 keys. */
const SM2_CURVE_PARAMS = Buffer.from("06082a811ccf5501822d", "hex");
const RSA_BITS = 2048;
const RSA_EXPONENT = Buffer.from([1, 0, 1]);

interface PairObjects {
  id: string;
  label: string;
  publicKey: SessionObject | null;
  certificate: Buffer | null;
  /** From the certificate's key usage or the public key's CKA_VERIFY. */
  sign: boolean;
  keyAlgorithm: GeneratedKeyAlgorithm | null;
}

function attributes(object: SessionObject, template: Record<string, null>): Record<string, unknown> {
  return guard(() => object.getAttribute(template as never)) as unknown as Record<string, unknown>;
}

/** One attribute's value. graphene names some attributes by an alias (paramsEC comes back as paramsECDSA). */
function attributeValue(object: SessionObject, name: string): unknown {
  return Object.values(attributes(object, { [name]: null }))[0];
}

function textOf(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString("utf8") : typeof value === "string" ? value : "";
}

function hexOf(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString("hex") : "";
}

function objectsOf(session: Session, template: Record<string, unknown>): SessionObject[] {
  const found = guard(() => session.find(template as never));
  return Array.from({ length: found.length }, (_, index) => found.items(index));
}

/** A certificate's purpose from its key usage bits (digitalSignature / nonRepudiation = signing). */
async function certificateSigns(der: Buffer): Promise<boolean> {
  const { parseCertificate } = await import("../../../crypto/certificate.js");
  return parseCertificate(der).purpose !== "encrypt";
}

function algorithmOfKey(publicKey: SessionObject): GeneratedKeyAlgorithm | null {
  const { keyType } = attributes(publicKey, { keyType: null });
  if (keyType === KeyType.RSA) return "RSA";
  if (typeof keyType === "number" && SM2_KEY_TYPES.has(keyType)) return "SM2";
  const paramsEC = attributeValue(publicKey, "paramsEC");
  return Buffer.isBuffer(paramsEC) && paramsEC.equals(SM2_CURVE_PARAMS) ? "SM2" : null;
}

function publicKeyInfo(publicKey: SessionObject, algorithm: GeneratedKeyAlgorithm): Uint8Array {
  if (algorithm === "RSA") {
    const { modulus, publicExponent } = attributes(publicKey, { modulus: null, publicExponent: null });
    return rsaPublicKeyInfo(modulus as Buffer, publicExponent as Buffer);
  }
  // CKA_EC_POINT is a DER OCTET STRING holding 04‖x‖y.
  const point = attributeValue(publicKey, "pointEC") as Buffer;
  return sm2PublicKeyInfo(point.length === 67 && point[0] === 0x04 && point[1] === 65 ? point.subarray(2) : point);
}

/** The one pair with this id when a certificate's label names none (vendor tools label certificates their own way). */
function soleOwner(pairs: PairObjects[], id: string): PairObjects | undefined {
  const owners = pairs.filter((pair) => pair.id === id);
  return owners.length === 1 ? owners[0] : undefined;
}

async function pairsOf(session: Session): Promise<PairObjects[]> {
  const pairs = new Map<string, PairObjects>();
  // Some middleware reuses CKA_IDs across containers: a pair is its label and its id.
  const pairKey = (id: string, label: string) => `${label}\u0000${id}`;
  const pairFor = (id: string, label: string) => {
    let pair = pairs.get(pairKey(id, label));
    if (!pair) pairs.set(pairKey(id, label), (pair = { id, label, publicKey: null, certificate: null, sign: true, keyAlgorithm: null }));
    return pair;
  };
  for (const publicKey of objectsOf(session, { class: ObjectClass.PUBLIC_KEY })) {
    const { id, label, verify } = attributes(publicKey, { id: null, label: null, verify: null });
    const pair = pairFor(hexOf(id), textOf(label));
    Object.assign(pair, { publicKey, sign: verify !== false, keyAlgorithm: algorithmOfKey(publicKey) });
  }
  for (const certificate of objectsOf(session, { class: ObjectClass.CERTIFICATE })) {
    const { id, label, value } = attributes(certificate, { id: null, label: null, value: null });
    const pair = pairs.get(pairKey(hexOf(id), textOf(label))) ?? soleOwner([...pairs.values()], hexOf(id));
    if (!pair || !Buffer.isBuffer(value)) continue;
    pair.certificate = value;
    pair.sign = await certificateSigns(value).catch(() => pair.sign);
  }
  return [...pairs.values()].filter((pair) => pair.publicKey !== null && pair.id !== "");
}

export async function listContainers(session: Session): Promise<KeyContainer[]> {
  const byName = new Map<string, KeyContainer>();
  for (const pair of (await pairsOf(session)).sort((a, b) => a.id.localeCompare(b.id))) {
    let container = byName.get(pair.label);
    if (!container) {
      container = { name: pair.label, keyAlgorithm: null, signKeyId: null, encryptKeyId: null, signPublicKey: null, encryptPublicKey: null, signCertificate: null, encryptCertificate: null };
      byName.set(pair.label, container);
    }
    if (!pair.keyAlgorithm) continue;
    container.keyAlgorithm ??= pair.keyAlgorithm;
    const publicKey = publicKeyInfo(pair.publicKey!, pair.keyAlgorithm);
    const certificate = pair.certificate ? new Uint8Array(pair.certificate) : null;
    // A second pair of the same purpose in one label stays out: one container holds one of each.
    if (pair.sign && container.signKeyId === null) Object.assign(container, { signKeyId: pair.id, signPublicKey: publicKey, signCertificate: certificate });
    else if (!pair.sign && container.encryptKeyId === null) Object.assign(container, { encryptKeyId: pair.id, encryptPublicKey: publicKey, encryptCertificate: certificate });
  }
  return [...byName.values()];
}

function sm2Mechanism(available: Set<number> | null, candidates: readonly { mechanism: number; keyType: number }[], what: string, modulePath: string) {
  const found = candidates.find((candidate) => available?.has(candidate.mechanism));
  if (!found) throw new YztError("UNSUPPORTED_ALGORITHM", `the PKCS#11 library ${modulePath} offers no ${what} mechanism yzt-bridge knows`);
  return found;
}

/** Token objects, private key private and unextractable; the new pair's id is fresh and random. */
export function generateKeyPair(session: Session, name: string, algorithm: GeneratedKeyAlgorithm, available: Set<number> | null, modulePath: string): Uint8Array {
  const id = randomBytes(16);
  const common = { token: true, id, label: name };
  if (algorithm === "RSA") {
    const pair = guard(() =>
      session.generateKeyPair("RSA_PKCS_KEY_PAIR_GEN" as never, { ...common, class: ObjectClass.PUBLIC_KEY, private: false, verify: true, encrypt: false, modulusBits: RSA_BITS, publicExponent: RSA_EXPONENT } as never, {
        ...common, class: ObjectClass.PRIVATE_KEY, private: true, sensitive: true, extractable: false, sign: true, decrypt: false,
      } as never),
    );
    return publicKeyInfo(pair.publicKey, "RSA");
  }
  const { mechanism, keyType } = sm2Mechanism(available, SM2_KEY_PAIR_MECHANISMS, "SM2 key generation", modulePath);
  const pair = guard(() =>
    session.generateKeyPair({ name: mechanism, params: null } as never, { ...common, class: ObjectClass.PUBLIC_KEY, keyType, private: false, verify: true, encrypt: false, paramsEC: SM2_CURVE_PARAMS } as never, {
      ...common, class: ObjectClass.PRIVATE_KEY, keyType, private: true, sensitive: true, extractable: false, sign: true, decrypt: false,
    } as never),
  );
  return publicKeyInfo(pair.publicKey, "SM2");
}

function pairOf(container: KeyContainer, purpose: "sign" | "encrypt"): string {
  const id = purpose === "sign" ? container.signKeyId : container.encryptKeyId;
  if (id === null) throw new YztError("BAD_REQUEST", `container ${container.name} has no ${purpose === "sign" ? "signing" : "encryption"} key pair`);
  return id;
}

export function importCertificate(session: Session, container: KeyContainer, purpose: "sign" | "encrypt", der: Uint8Array): void {
  const id = Buffer.from(pairOf(container, purpose), "hex");
  // One certificate per pair: an older one with the same id goes once the new one is written.
  const older = certificatesOf(session, container.name, id);
  // CKA_SUBJECT, CKA_ISSUER and CKA_SERIAL_NUMBER as vendor tools write them (SoftHSM2 requires the subject).
  const fields = readX509(der);
  const template = {
    class: ObjectClass.CERTIFICATE, certType: 0, token: true, private: false, id, label: container.name, value: Buffer.from(der),
    subject: Buffer.from(fields.subjectDer), issuer: Buffer.from(fields.issuerDer), serial: Buffer.from(derElement(0x02, fields.serialNumber)),
  };
  guard(() => session.create(template as never));
  for (const object of older) guard(() => object.destroy());
}

/**
 * The KMC's pair, unwrapped inside the token with the container's signing key (a vendor mechanism taking the
 * GM/T 0016 blob); the public key object is written beside it. The private key comes first: a public key
 * alone would list as a pair that cannot decrypt.
 */
export function importEncryptionKeyPair(session: Session, container: KeyContainer, pair: WrappedKeyPair, available: Set<number> | null, modulePath: string): void {
  const signId = Buffer.from(pairOf(container, "sign"), "hex");
  const { mechanism, keyType } = sm2Mechanism(available, SM2_WRAPPED_KEY_MECHANISMS, "enveloped key-pair import", modulePath);
  const [signing] = objectsOf(session, { class: ObjectClass.PRIVATE_KEY, id: signId, label: container.name });
  if (!signing) throw new YztError("LOGIN_REQUIRED", "the signing key is not visible: the PIN must be verified first");
  const id = randomBytes(16);
  const common = { token: true, id, label: container.name, keyType };
  const privateKey = guard(() =>
    session.unwrapKey({ name: mechanism, params: null } as never, signing.toType<Key>(), Buffer.from(pair.blob), {
      ...common, class: ObjectClass.PRIVATE_KEY, private: true, sensitive: true, extractable: false, sign: false, decrypt: true,
    } as never),
  );
  try {
    guard(() => session.create({ ...common, class: ObjectClass.PUBLIC_KEY, private: false, verify: false, encrypt: true, paramsEC: SM2_CURVE_PARAMS, pointEC: Buffer.concat([Buffer.from([0x04, 65]), pair.publicKey]) } as never));
  } catch (error) {
    guard(() => privateKey.destroy());
    throw error;
  }
}

/**
 * A pair's certificates: those with its label, and those of another label when no other container has a
 * key with this id (as pairsOf reads them).
 */
function certificatesOf(session: Session, label: string, id: Buffer): SessionObject[] {
  const otherOwner = objectsOf(session, { class: ObjectClass.PUBLIC_KEY, id }).some((key) => textOf(attributeValue(key, "label")) !== label);
  return objectsOf(session, { class: ObjectClass.CERTIFICATE, id }).filter((certificate) => !otherOwner || textOf(attributeValue(certificate, "label")) === label);
}

/**
 * The container's pairs with their certificates: certificates first, so no certificate ever lists without its
 * key. Only objects of this container: another one may reuse its CKA_IDs.
 */
export function deleteContainer(session: Session, container: KeyContainer): void {
  const ids = [container.signKeyId, container.encryptKeyId].filter((id): id is string => id !== null).map((id) => Buffer.from(id, "hex"));
  if (ids.length === 0) throw new YztError("BAD_REQUEST", `container ${container.name} holds no key pair yzt-bridge can read: nothing was deleted`);
  for (const id of ids) for (const object of certificatesOf(session, container.name, id)) guard(() => object.destroy());
  for (const objectClass of [ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY]) {
    for (const id of ids) for (const object of objectsOf(session, { class: objectClass, id, label: container.name })) guard(() => object.destroy());
  }
}
