/**
 * Large documents are hashed where they already are, so megabytes never travel through extension messaging
 * or the native port: the host signs the digest. For raw and detached signatures that is all; for attached
 * ones the host returns the detached SignedData and the content is embedded afterwards (cms-attach.ts),
 * because a host→browser message is capped at 1 MB while pages may sign up to 32 MB.
 *
 * `window.yzt.sign` runs this in the page script itself (WebCrypto digests off the main thread); the
 * background runs it again for large data that reached it whole (XTX calls, or messages crafted by hand).
 */
import { attachedFraming } from "../../protocol/cms-attach.js";
import { badRequest } from "../../protocol/errors.js";
import { base64ByteLength } from "../../protocol/validate.js";
import { base64ToBytes, bytesToBase64, concatenationToBase64 } from "./base64.js";
import { HASH_IN_EXTENSION_BYTES } from "./limits.js";
import { Sm3 } from "./sm3.js";

// Taken when the script loads (document_start in the page world), before any page script could replace it.
const subtleDigest = crypto.subtle.digest.bind(crypto.subtle);
const LoopbackChannel = MessageChannel;

/** The key's hash: SHA-256 (RSA, EC) with WebCrypto, or SM3 for SM2 keys. */
export interface ContentHash {
  name: "SHA-256" | "SM3";
  digest(content: Uint8Array<ArrayBuffer>): Promise<Uint8Array>;
}

export const SHA256: ContentHash = { name: "SHA-256", digest: async (content) => new Uint8Array(await subtleDigest("SHA-256", content)) };

/** Bytes hashed between two yields: the page stays responsive while SM3 (which WebCrypto lacks) runs in script. */
const SM3_SLICE_BYTES = 1024 * 1024;

/**
 * Lets queued tasks (input, rendering, the page's own work) run, then continues. A message to ourselves, not
 * setTimeout(0): browsers clamp nested timeouts to 4 ms, which added 80 ms to hashing 20 MB in 1 MB slices.
 */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new LoopbackChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

export const SM3: ContentHash = {
  name: "SM3",
  async digest(content) {
    const hash = new Sm3();
    for (let at = 0; at < content.length; at += SM3_SLICE_BYTES) {
      hash.update(content.subarray(at, at + SM3_SLICE_BYTES));
      await yieldToEventLoop();
    }
    return hash.digest();
  },
};

/**
 * The attached SignedData's base64, built around the content without copying it into one buffer: where the
 * content starts on a 3-byte boundary its own base64 (the request's data) is reused as it is.
 */
function attachedSignature(detachedBase64: string, content: Uint8Array, contentBase64: string): string {
  const { head, tail } = attachedFraming(base64ToBytes(detachedBase64), content.length);
  return concatenationToBase64([head, { bytes: content, base64: contentBase64 }, tail]);
}

interface SignRequest {
  data?: string;
  digest?: string;
  hashAlgorithm?: "SHA-256" | "SM3";
  format: "pkcs7-detached" | "pkcs7-attached" | "raw";
}

export interface PreparedSign<T extends SignRequest> {
  /** What goes on: the digest instead of large data. */
  request: T;
  /** Applied to the answer: embeds the content when an attached signature was asked for. */
  finish<R extends { signature: string }>(result: R): R;
}

/**
 * Only valid base64 data of at least HASH_IN_EXTENSION_BYTES is replaced; everything else passes unchanged.
 * `decoded`: the data's bytes when the caller decoded (and so validated) them already.
 */
export async function prepareLargeData<T extends SignRequest>(params: T, hash: ContentHash = SHA256, decoded?: Uint8Array<ArrayBuffer>): Promise<PreparedSign<T>> {
  const unchanged: PreparedSign<T> = { request: params, finish: (result) => result };
  if (params.data === undefined || base64ByteLength(params.data) < HASH_IN_EXTENSION_BYTES) return unchanged;
  // A raw SM2 signature is over e = SM3(Z‖M), which needs the signer's public key: the host computes that one.
  if (hash.name === "SM3" && params.format === "raw") return unchanged;
  // The same refusal the host gives small data: a document is never hashed other than the page asked.
  if (params.hashAlgorithm !== undefined && params.hashAlgorithm !== hash.name) {
    throw badRequest(`hashAlgorithm: this key signs with ${hash.name}, not ${params.hashAlgorithm}`);
  }
  const content = decoded ?? base64ToBytes(params.data);
  const digest = bytesToBase64(await hash.digest(content));
  const { data: _data, ...rest } = params;
  const attached = params.format === "pkcs7-attached";
  return {
    // The host is told which hash made the digest, so a mismatch with the key is refused, not signed.
    request: { ...rest, digest, hashAlgorithm: hash.name, format: attached ? "pkcs7-detached" : params.format } as T,
    finish: (result) =>
      attached ? { ...result, signature: attachedSignature(result.signature, content, params.data!) } : result,
  };
}
