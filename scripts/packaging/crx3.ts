/**
 * CRX3, the signed archive Chromium browsers install from outside the Web Store (external_crx, policy
 * update manifests): "Cr24", format version 3, a protobuf CrxFileHeader, then the ZIP itself.
 * The header carries the signer's public key and an RSA PKCS#1 v1.5 SHA-256 signature over
 * "CRX3 SignedData\0" ‖ len(signed_header_data) ‖ signed_header_data ‖ ZIP, where signed_header_data is
 * the protobuf SignedData { crx_id }: the first 16 bytes of SHA-256(SPKI) — the extension id in binary.
 * The browser refuses the file unless crx_id matches a key proof, so the id follows from the key.
 */
import { createHash, createPrivateKey, createPublicKey, sign } from "node:crypto";

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** One length-delimited protobuf field (wire type 2). */
function bytesField(fieldNumber: number, value: Buffer): Buffer {
  return Buffer.concat([varint(fieldNumber * 8 + 2), varint(value.length), value]);
}

const CRX_FILE_HEADER = { sha256WithRsa: 2, signedHeaderData: 10000 } as const;
const ASYMMETRIC_KEY_PROOF = { publicKey: 1, signature: 2 } as const;
const SIGNED_DATA_CRX_ID = 1;

export function crxIdBytes(spki: Buffer): Buffer {
  return createHash("sha256").update(spki).digest().subarray(0, 16);
}

/** The public key of `privateKeyPem` as DER SPKI, base64: what goes into the manifest `key`. */
export function manifestKeyOf(privateKeyPem: string): string {
  return createPublicKey(createPrivateKey(privateKeyPem)).export({ type: "spki", format: "der" }).toString("base64");
}

export function buildCrx3(zip: Buffer, privateKeyPem: string): Buffer {
  const key = createPrivateKey(privateKeyPem);
  if (key.asymmetricKeyType !== "rsa") throw new Error("CRX signing key must be RSA");
  const spki = createPublicKey(key).export({ type: "spki", format: "der" });
  const signedHeaderData = bytesField(SIGNED_DATA_CRX_ID, crxIdBytes(spki));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(signedHeaderData.length);
  const signature = sign("sha256", Buffer.concat([Buffer.from("CRX3 SignedData\0", "latin1"), length, signedHeaderData, zip]), key);
  const proof = Buffer.concat([bytesField(ASYMMETRIC_KEY_PROOF.publicKey, spki), bytesField(ASYMMETRIC_KEY_PROOF.signature, signature)]);
  const header = Buffer.concat([bytesField(CRX_FILE_HEADER.sha256WithRsa, proof), bytesField(CRX_FILE_HEADER.signedHeaderData, signedHeaderData)]);
  const prefix = Buffer.alloc(12);
  prefix.write("Cr24", 0, "latin1");
  prefix.writeUInt32LE(3, 4);
  prefix.writeUInt32LE(header.length, 8);
  return Buffer.concat([prefix, header, zip]);
}
