/**
 * Puts SM2 key pairs on a virtual token, through the shim (which owns SM2: SoftHSM2 has none) and logged in
 * as the user, the way a vendor's personalisation tool would. See the SM2 part of shim.c's header comment.
 *
 * Node can make SM2 keys (generateSm2KeyPair) but not SM2 signatures: crypto.sign on an SM2 key does plain
 * ECDSA. Verify SM2 signatures with the OpenSSL 3 CLI (pkeyutl -verify -rawin -digest sm3 -pkeyopt distid:ID).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { derElement, readTlv } from "../../protocol/der.js";
import { toPem } from "./pem.js";
import { KeyType, Module, ObjectClass, SessionFlag, UserType, type ITemplate } from "graphene-pk11";

/** Vendor-defined PKCS#11 values of the virtual token (must match shim.c). */
export const CKK_VTOKEN_SM2 = 0x80005300;
/** Signs a precomputed 32-byte e = SM3(Z‖M); the signature is r‖s (64 bytes). */
export const CKM_VTOKEN_SM2 = 0x80005301;
/** Signs a message (Z and e computed inside); parameter = signer ID bytes, none = "1234567812345678". */
export const CKM_VTOKEN_SM2_SM3 = 0x80005302;
export const SM2_DEFAULT_ID = "1234567812345678";
/** DER of the SM2 curve OID 1.2.156.10197.1.301: CKA_EC_PARAMS of SM2 keys. */
export const SM2_CURVE_OID_DER = Buffer.from("06082a811ccf5501822d", "hex");
/** SubjectPublicKeyInfo of an SM2 key up to its 65-byte uncompressed point (id-ecPublicKey, SM2 curve). */
const SM2_SPKI_PREFIX = Buffer.from("3059301306072a8648ce3d020106082a811ccf5501822d034200", "hex");

export interface Sm2KeyMaterial {
  /** Private scalar, 32 bytes big-endian. */
  d: Buffer;
  /** Public point 04‖x‖y, 65 bytes. */
  point: Buffer;
}

export interface Sm2ImportOptions {
  /** CKA_ID in hex, shared by the private and the public key object (and later the certificate). */
  ckaId: string;
  label: string;
  /** A Node SM2 private KeyObject, its DER (PKCS#8 or SEC1), or the raw scalar and point. */
  key: KeyObject | { privateKeyDer: Buffer } | Sm2KeyMaterial;
  /** true: create with the vendor key type CKK_VTOKEN_SM2; false: as CKK_EC on the SM2 curve. */
  vendorKeyType: boolean;
  /** What the key may do: sign (default) or decrypt (the encryption half of a 一证通 pair). */
  purpose?: "sign" | "encrypt";
}

export interface Sm2ImportResult {
  point: Buffer;
  /** The public key as SPKI PEM (for certificates and `openssl pkeyutl -verify -pubin`). */
  publicKeyPem: string;
}

export function generateSm2KeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync("ec", { namedCurve: "SM2" });
}

/** d and the point of an SM2 private key (Node 20 cannot export SM2 keys as JWK, so read SEC1 and SPKI DER). */
export function sm2KeyMaterial(privateKey: KeyObject): Sm2KeyMaterial {
  // ECPrivateKey ::= SEQUENCE { version INTEGER, privateKey OCTET STRING, [0] parameters, [1] publicKey }
  const sec1 = privateKey.export({ type: "sec1", format: "der" });
  const sequence = readTlv(sec1, 0);
  const version = readTlv(sec1, sequence.start);
  const scalar = readTlv(sec1, version.end);
  if (sequence.tag !== 0x30 || version.tag !== 0x02 || scalar.tag !== 0x04 || scalar.end - scalar.start > 32) throw new Error("not an EC private key");
  const d = Buffer.alloc(32);
  sec1.copy(d, 32 - (scalar.end - scalar.start), scalar.start, scalar.end);
  const spki = createPublicKey(privateKey).export({ type: "spki", format: "der" });
  if (spki.length !== SM2_SPKI_PREFIX.length + 65 || !spki.subarray(0, SM2_SPKI_PREFIX.length).equals(SM2_SPKI_PREFIX)) {
    throw new Error("not an SM2 key (expected an EC key on the SM2 curve)");
  }
  return { d, point: Buffer.from(spki.subarray(SM2_SPKI_PREFIX.length)) };
}

/** PKCS#8 PEM of an SM2 key (id-ecPublicKey on the SM2 curve), which OpenSSL 3 loads as an SM2 key. */
export function sm2PrivateKeyPem(material: Sm2KeyMaterial): string {
  const ecPublicKey = Uint8Array.of(0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01);
  const ecPrivateKey = derElement(0x30, Uint8Array.of(0x02, 0x01, 0x01), derElement(0x04, material.d), derElement(0xa1, derElement(0x03, Uint8Array.of(0), material.point)));
  return toPem("PRIVATE KEY", derElement(0x30, Uint8Array.of(0x02, 0x01, 0x00), derElement(0x30, ecPublicKey, SM2_CURVE_OID_DER), derElement(0x04, ecPrivateKey)));
}

export function sm2PublicKeyPem(point: Buffer): string {
  return toPem("PUBLIC KEY", Buffer.concat([SM2_SPKI_PREFIX, point]));
}

function materialOf(key: Sm2ImportOptions["key"]): Sm2KeyMaterial {
  if ("d" in key && "point" in key) return key;
  if ("privateKeyDer" in key) {
    const der = key.privateKeyDer;
    // PKCS#8 starts SEQUENCE { INTEGER 0, SEQUENCE AlgorithmIdentifier ...}; SEC1 has an OCTET STRING second.
    const second = readTlv(der, readTlv(der, readTlv(der, 0).start).end);
    return sm2KeyMaterial(createPrivateKey({ key: der, format: "der", type: second.tag === 0x30 ? "pkcs8" : "sec1" }));
  }
  return sm2KeyMaterial(key as KeyObject);
}

/**
 * Imports an SM2 private key (CKA_PRIVATE; CKA_SIGN, or CKA_DECRYPT for an encryption key) and its public key (CKA_EC_POINT as a DER OCTET STRING
 * of the uncompressed point) into the token labelled tokenLabel. Loads the shim in this process: do not call
 * it while this process has another virtual-token home initialised (SoftHSM is one instance per process).
 */
export function importSm2KeyPair(modulePath: string, home: string, tokenLabel: string, userPin: string, options: Sm2ImportOptions): Sm2ImportResult {
  const { d, point } = materialOf(options.key);
  if (d.length !== 32 || point.length !== 65 || point[0] !== 0x04) throw new Error("SM2 key material must be a 32-byte scalar and a 65-byte point");
  const id = Buffer.from(options.ckaId, "hex");
  const keyType = options.vendorKeyType ? CKK_VTOKEN_SM2 : KeyType.EC;
  // Vendor-typed keys go in without CKA_EC_PARAMS, as vendor tools do; the shim adds the SM2 curve.
  const curve: ITemplate = options.vendorKeyType ? {} : { paramsEC: SM2_CURVE_OID_DER };

  const previousHome = process.env.YZT_VTOKEN_HOME;
  process.env.YZT_VTOKEN_HOME = home; // the shim reads its state directory from here
  const module = Module.load(modulePath);
  try {
    module.initialize({ flags: 2 }); // CKF_OS_LOCKING_OK
    try {
      const slots = module.getSlots(true);
      const slot = Array.from({ length: slots.length }, (_, i) => slots.items(i)).find((s) => s.getToken().label === tokenLabel);
      if (!slot) throw new Error(`no inserted virtual token labelled "${tokenLabel}"`);
      const session = slot.open(SessionFlag.SERIAL_SESSION | SessionFlag.RW_SESSION);
      try {
        session.login(userPin, UserType.USER);
        // A signing key signs, an encryption key decrypts (the shim implements both; no key agreement).
        const decrypts = options.purpose === "encrypt";
        session.create({
          class: ObjectClass.PRIVATE_KEY, keyType, token: true, private: true, sign: !decrypts, decrypt: decrypts, unwrap: false, derive: false,
          id, label: options.label, value: d, ...curve,
        });
        const ecPoint = Buffer.concat([Buffer.from([0x04, point.length]), point]);
        session.create({
          class: ObjectClass.PUBLIC_KEY, keyType, token: true, private: false, verify: !decrypts, encrypt: decrypts, wrap: false, derive: false,
          id, label: options.label, pointEC: ecPoint, ...curve,
        });
        session.logout();
      } finally {
        session.close();
      }
    } finally {
      module.finalize();
    }
  } finally {
    if (previousHome === undefined) delete process.env.YZT_VTOKEN_HOME;
    else process.env.YZT_VTOKEN_HOME = previousHome;
  }
  return { point: Buffer.from(point), publicKeyPem: sm2PublicKeyPem(point) };
}
