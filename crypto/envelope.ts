/**
 * Digital envelopes as BJCA's SOF_EncryptData / SOF_DecryptData exchange them: a DER CMS EnvelopedData with
 * one key-transport recipient and SM4-CBC (国密, the default) or 3DES-CBC for the content. RSA recipients get
 * RSAES-PKCS1-v1_5 and the PKCS#7 content types, which OpenSSL's `cms -decrypt` opens (and `cms -encrypt`
 * output opens here); SM2 recipients get SM2 encryption of the content key (GM/T 0009 DER) and the GM/T 0010
 * content types. The private-key half runs on the token (see key-decrypter).
 */
import { constants, createCipheriv, createDecipheriv, publicEncrypt, randomBytes, X509Certificate } from "node:crypto";
import { isSm2Spki, publicPointOfSpki } from "./sm2-certificate.js";
import { sm2Encrypt } from "./sm2-encrypt.js";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { YztError } from "../protocol/errors.js";
import { ensurePkijsEngine } from "./crypto-engine.js";

export type EnvelopeCipher = "SM4-CBC" | "3DES-CBC";

interface CipherSpec {
  oid: string;
  node: string;
  keyBytes: number;
  ivBytes: number;
}

const CIPHERS: Record<EnvelopeCipher, CipherSpec> = {
  "SM4-CBC": { oid: "1.2.156.10197.1.104.2", node: "sm4-cbc", keyBytes: 16, ivBytes: 16 },
  "3DES-CBC": { oid: "1.2.840.113549.3.7", node: "des-ede3-cbc", keyBytes: 24, ivBytes: 8 },
};
/** Content ciphers other producers use that we can open (never chosen for new envelopes). */
const OPENABLE: CipherSpec[] = [
  ...Object.values(CIPHERS),
  { oid: "2.16.840.1.101.3.4.1.2", node: "aes-128-cbc", keyBytes: 16, ivBytes: 16 },
  { oid: "2.16.840.1.101.3.4.1.42", node: "aes-256-cbc", keyBytes: 32, ivBytes: 16 },
];
const RSA_ENCRYPTION = "1.2.840.113549.1.1.1";
const SM2_ENCRYPTION = "1.2.156.10197.1.301.3";
/** Content types per profile: PKCS#7 for RSA recipients, GM/T 0010 for SM2 ones. Both are read. */
const TYPES = {
  pkcs7: { envelopedData: "1.2.840.113549.1.7.3", data: "1.2.840.113549.1.7.1" },
  gm: { envelopedData: "1.2.156.10197.6.1.4.2.3", data: "1.2.156.10197.6.1.4.2.1" },
};
/** SM2 ciphertext of anything is its length plus at most 107 bytes (two coordinates, C3, DER headers). */
const MAX_SM2_PLAINTEXT = 64 * 1024;

interface Recipient {
  certificate: X509Certificate;
  sm2Point?: Uint8Array;
}

function recipientOf(certificateDer: Uint8Array): Recipient {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certificateDer);
  } catch {
    throw new YztError("BAD_REQUEST", "certificate: not a DER X.509 certificate");
  }
  const spki = certificate.publicKey.export({ type: "spki", format: "der" });
  if (isSm2Spki(spki)) return { certificate, sm2Point: publicPointOfSpki(spki) };
  if (certificate.publicKey.asymmetricKeyType !== "rsa") {
    throw new YztError("UNSUPPORTED_ALGORITHM", "encryption needs an RSA or SM2 certificate (EC keys only sign)");
  }
  return { certificate };
}

function encryptFor(recipient: Recipient, data: Uint8Array): Uint8Array {
  if (recipient.sm2Point) {
    if (data.length > MAX_SM2_PLAINTEXT) throw new YztError("BAD_REQUEST", `data: at most ${MAX_SM2_PLAINTEXT} bytes for SM2 encryption`);
    return sm2Encrypt(recipient.sm2Point, data);
  }
  const limit = ((recipient.certificate.publicKey.asymmetricKeyDetails?.modulusLength ?? 2048) >> 3) - 11;
  if (data.length > limit) throw new YztError("BAD_REQUEST", `data: at most ${limit} bytes fit this key (PKCS#1 v1.5)`);
  return new Uint8Array(publicEncrypt({ key: recipient.certificate.publicKey, padding: constants.RSA_PKCS1_PADDING }, data));
}

/** Encrypts with the certificate's key (SOF_PubKeyEncrypt): RSAES-PKCS1-v1_5, or SM2 (GM/T 0009 DER). */
export function publicKeyEncrypt(certificateDer: Uint8Array, data: Uint8Array): Uint8Array {
  return encryptFor(recipientOf(certificateDer), data);
}

/** Serial numbers compared as hex without the sign byte DER may add. */
function serialHex(serialNumber: asn1js.Integer): string {
  return Buffer.from(serialNumber.valueBlock.valueHexView).toString("hex").replace(/^(00)+(?=.)/, "");
}

/** A DER ContentInfo holding an EnvelopedData for the certificate's holder. */
export function buildEnvelope(certificateDer: Uint8Array, content: Uint8Array, cipher: EnvelopeCipher = "SM4-CBC"): Uint8Array {
  ensurePkijsEngine();
  const spec = CIPHERS[cipher];
  const contentKey = randomBytes(spec.keyBytes);
  const iv = randomBytes(spec.ivBytes);
  const encipher = createCipheriv(spec.node, contentKey, iv);
  const encryptedContent = Buffer.concat([encipher.update(content), encipher.final()]);
  const key = recipientOf(certificateDer);
  const encryptedKey = encryptFor(key, contentKey);
  const sm2 = key.sm2Point !== undefined;
  const types = sm2 ? TYPES.gm : TYPES.pkcs7;
  const recipient = pkijs.Certificate.fromBER(new Uint8Array(certificateDer));
  const enveloped = new pkijs.EnvelopedData({
    version: 0,
    recipientInfos: [
      new pkijs.RecipientInfo({
        variant: 1,
        value: new pkijs.KeyTransRecipientInfo({
          version: 0,
          rid: new pkijs.IssuerAndSerialNumber({ issuer: recipient.issuer, serialNumber: recipient.serialNumber }),
          keyEncryptionAlgorithm: sm2
            ? new pkijs.AlgorithmIdentifier({ algorithmId: SM2_ENCRYPTION })
            : new pkijs.AlgorithmIdentifier({ algorithmId: RSA_ENCRYPTION, algorithmParams: new asn1js.Null() }),
          encryptedKey: new asn1js.OctetString({ valueHex: encryptedKey }),
        }),
      }),
    ],
    encryptedContentInfo: new pkijs.EncryptedContentInfo({
      contentType: types.data,
      contentEncryptionAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: spec.oid, algorithmParams: new asn1js.OctetString({ valueHex: iv }) }),
      encryptedContent: new asn1js.OctetString({ valueHex: encryptedContent }),
    }),
  });
  const contentInfo = new pkijs.ContentInfo({ contentType: types.envelopedData, content: enveloped.toSchema() });
  return new Uint8Array(contentInfo.toSchema().toBER(false));
}

/** One key-transport recipient of a parsed envelope. */
export interface EnvelopeRecipient {
  issuerDer: Uint8Array;
  serialNumberHex: string;
  encryptedKey: Uint8Array;
}

/** The encrypted content of an envelope: which cipher (by OID, and by name where it is one of ours), IV, bytes. */
export interface EnvelopeContent {
  cipherOid: string;
  cipher: EnvelopeCipher | null;
  iv: Uint8Array;
  encrypted: Uint8Array;
}

export interface ParsedEnvelope {
  recipients: EnvelopeRecipient[];
  content: EnvelopeContent;
  open(contentKey: Uint8Array): Uint8Array;
}

function octets(value: asn1js.OctetString | undefined): Uint8Array {
  if (!value) return new Uint8Array(0);
  // Constructed (BER) octet strings keep their pieces in the value block; join them.
  if (value.idBlock.isConstructed) {
    const parts = (value.valueBlock.value as asn1js.OctetString[]).map((part) => octets(part));
    return Buffer.concat(parts);
  }
  return new Uint8Array(value.valueBlock.valueHexView);
}

/** Reads a DER/BER CMS EnvelopedData; `open` decrypts the content once the token has recovered the key. */
export function parseEnvelope(der: Uint8Array): ParsedEnvelope {
  ensurePkijsEngine();
  let enveloped: pkijs.EnvelopedData;
  try {
    const contentInfo = pkijs.ContentInfo.fromBER(new Uint8Array(der));
    if (contentInfo.contentType !== TYPES.pkcs7.envelopedData && contentInfo.contentType !== TYPES.gm.envelopedData) throw new Error("not enveloped-data");
    enveloped = new pkijs.EnvelopedData({ schema: contentInfo.content });
  } catch {
    throw new YztError("BAD_REQUEST", "data: not a CMS/PKCS#7 EnvelopedData");
  }
  const recipients: EnvelopeRecipient[] = [];
  for (const info of enveloped.recipientInfos) {
    if (info.variant !== 1 || !(info.value instanceof pkijs.KeyTransRecipientInfo)) continue;
    const rid = info.value.rid;
    if (!(rid instanceof pkijs.IssuerAndSerialNumber)) continue;
    recipients.push({
      issuerDer: new Uint8Array(rid.issuer.toSchema().toBER(false)),
      serialNumberHex: serialHex(rid.serialNumber),
      encryptedKey: octets(info.value.encryptedKey),
    });
  }
  const algorithm = enveloped.encryptedContentInfo.contentEncryptionAlgorithm;
  const spec = OPENABLE.find((candidate) => candidate.oid === algorithm.algorithmId);
  if (!spec) throw new YztError("UNSUPPORTED_ALGORITHM", `the envelope's content cipher ${algorithm.algorithmId} is not supported`);
  const iv = octets(algorithm.algorithmParams as asn1js.OctetString);
  const encrypted = octets(enveloped.encryptedContentInfo.encryptedContent);
  const cipher = (Object.keys(CIPHERS) as EnvelopeCipher[]).find((name) => CIPHERS[name].oid === spec.oid) ?? null;
  return {
    recipients,
    content: { cipherOid: spec.oid, cipher, iv, encrypted },
    open(contentKey) {
      if (contentKey.length !== spec.keyBytes || iv.length !== spec.ivBytes) throw new YztError("BAD_REQUEST", "data: the envelope's content key does not fit its cipher");
      try {
        const decipher = createDecipheriv(spec.node, contentKey, iv);
        return new Uint8Array(Buffer.concat([decipher.update(encrypted), decipher.final()]));
      } catch {
        throw new YztError("BAD_REQUEST", "data: the envelope's content does not decrypt (damaged, or for another key)");
      }
    },
  };
}

/** Is `certificateDer` the certificate a recipient names (issuer and serial number)? */
export function recipientMatches(recipient: EnvelopeRecipient, certificateDer: Uint8Array): boolean {
  const certificate = pkijs.Certificate.fromBER(new Uint8Array(certificateDer));
  const issuer = new Uint8Array(certificate.issuer.toSchema().toBER(false));
  return serialHex(certificate.serialNumber) === recipient.serialNumberHex && Buffer.from(issuer).equals(Buffer.from(recipient.issuerDer));
}
