/**
 * The certificate's life cycle in the protocol (additions to API.md, issuer origins only): the fields the
 * key-writing methods take and what they answer. messages.ts lists the methods themselves with the others.
 */
import { base64, literal, string } from "./validate.js";

/**
 * A key container as issuer pages name it: BJCA's pages pick names such as "{5F2A…}" or
 * "ContainerYYYYMMDD"; the key id of one of its pairs (the hex part of a certificate id) names it too.
 */
export const containerSchema = string({ min: 1, max: 64, pattern: /^[\x21-\x7e]+$/, patternName: "a container name (printable ASCII)" });
export const generatedKeyAlgorithmSchema = literal("SM2", "RSA");
/** A subject DN as BJCA pages write it ("CN=…,O=…,C=CN"); parsed by crypto/certificate-request.ts. */
export const subjectDnSchema = string({ min: 3, max: 1024 });
/** The KMC's encryption key pair: GM/T 0016 ENVELOPEDKEYBLOB or GM/T 0009 SM2EnvelopedKey, base64. */
export const encryptedKeyPairSchema = base64(4096, 64);

/** A key container (listContainers): its pairs' key ids, public keys (SPKI) and certificates, base64. */
export interface ContainerInfo {
  name: string;
  keyAlgorithm: "SM2" | "RSA" | null;
  signKeyId?: string;
  encryptKeyId?: string;
  signPublicKey?: string;
  encryptPublicKey?: string;
  signCertificate?: string;
  encryptCertificate?: string;
}

/** What the key-writing methods answer (ResultOf in messages.ts). */
export interface KeyWritingResults {
  unlockPin: { unlocked: true };
  listContainers: { containers: ContainerInfo[] };
  generateKeyPair: { container: string; publicKey: string };
  createCertificateRequest: { request: string };
  importCertificate: { purpose: "sign" | "encrypt"; certificateId: string };
  deleteContainer: { deleted: string };
}
