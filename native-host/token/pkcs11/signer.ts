/**
 * Builds the SigningKey the crypto layer signs through for one private key on a PKCS#11 token: which
 * mechanism, with which parameter, and the mechanism's output normalised (SM2 r‖s whether the vendor returns
 * r‖s or DER). Signing runs through pkcs11js' asynchronous C_Sign (a worker thread), so a slow USB key never
 * blocks the host; removal and timeouts are handled by the token queue every caller runs inside.
 */
import type { Key, Session } from "graphene-pk11";
import type { SigningKey, TokenPrimitive } from "../../../crypto/algorithms.js";
import type { SignerIdentity } from "../device.js";
import { derToRs, SM2_DEFAULT_ID, sm2Digest } from "../../../crypto/sm2-digest.js";
import { YztError } from "../../../protocol/errors.js";
import type { Sm2Mechanisms } from "./mechanisms.js";
import { signingMechanism } from "./mechanisms.js";
import { guard, mapPkcs11Error } from "./errors.js";

function signOnToken(session: Session, key: Key, mechanism: string | { name: number; params: Buffer | null }, input: Uint8Array): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    // graphene's createSign runs C_SignInit synchronously; C_Sign itself runs on a worker thread.
    const signer = guard(() => session.createSign(mechanism as never, key));
    signer.once(Buffer.from(input), (error: Error | null, signature: Buffer) => {
      if (error) reject(mapPkcs11Error(error));
      else resolve(new Uint8Array(signature));
    });
  });
}

function sm2Output(raw: Uint8Array, output: Sm2Mechanisms["output"]): Uint8Array {
  if (output === "raw" || (output === "auto" && raw.length === 64)) {
    if (raw.length !== 64) throw new YztError("INTERNAL", `the token returned a ${raw.length}-byte SM2 signature, expected r‖s (64 bytes)`);
    return raw;
  }
  return derToRs(raw);
}

/** `sm2Mechanisms` is asked only for SM2 keys: it throws UNSUPPORTED_ALGORITHM when the library has none. */
export function pkcs11SigningKey(session: Session, key: Key, parsed: SignerIdentity, sm2Mechanisms: () => Sm2Mechanisms): SigningKey {
  const base = { keyAlgorithm: parsed.keyAlgorithm, certificate: parsed.der, ...(parsed.publicKeyPoint ? { publicKeyPoint: parsed.publicKeyPoint } : {}) };
  if (parsed.keyAlgorithm !== "SM2") {
    const mechanism = signingMechanism(parsed.keyAlgorithm);
    return { ...base, primitive: (input) => signOnToken(session, key, mechanism, input) };
  }
  const mechanisms = sm2Mechanisms();
  const { message, digest, output } = mechanisms;
  const primitive: TokenPrimitive | undefined = digest
    ? async (e) => sm2Output(await signOnToken(session, key, { name: digest.type, params: null }, e), output)
    : undefined;
  const point = parsed.publicKeyPoint;
  const messagePrimitive = message
    ? async (data: Uint8Array, id: string) => {
        if (message.idParameter === "id") {
          return sm2Output(await signOnToken(session, key, { name: message.type, params: Buffer.from(id, "utf8") }, data), output);
        }
        if (id === SM2_DEFAULT_ID) return sm2Output(await signOnToken(session, key, { name: message.type, params: null }, data), output);
        // This mechanism only knows the default ID: compute e for the other one and sign it, where possible.
        if (primitive && point) return primitive(sm2Digest(point, data, id));
        throw new YztError("UNSUPPORTED_ALGORITHM", `the token's SM2 mechanism (${mechanisms.source}) supports only the default signer ID`);
      }
    : undefined;
  return { ...base, ...(primitive ? { primitive } : {}), ...(messagePrimitive ? { messagePrimitive } : {}) };
}
