/**
 * `yzt.sign` for large documents, in the page script: a multi-megabyte document is hashed right here and
 * only its digest goes on to the extension, because copying megabytes through postMessage, the content
 * script and extension messaging costs far more than hashing them (see `npm run bench`). Anything this code
 * does not recognise as a well-formed large request goes on unchanged, and the background validates it.
 */
import { base64ByteLength } from "../../protocol/validate.js";
import { decodeCanonicalBase64 } from "../shared/base64.js";
import { prepareLargeData, SHA256, SM3 } from "../shared/large-data.js";
import { HASH_IN_EXTENSION_BYTES, MAX_PAGE_DATA_BYTES } from "../shared/limits.js";
import type { PageBridge } from "./bridge.js";

const FORMATS: readonly unknown[] = ["pkcs7-detached", "pkcs7-attached", "raw"];

interface LargeRequest {
  certificateId: string;
  data: string;
  format: "pkcs7-detached" | "pkcs7-attached" | "raw";
  /** The data's bytes: decoding them is also what validates the base64. */
  content: Uint8Array<ArrayBuffer>;
}

function largeRequest(options: unknown): LargeRequest | null {
  if (typeof options !== "object" || options === null) return null;
  const { certificateId, data, format, digest, hashAlgorithm, ...rest } = options as Record<string, unknown>;
  if (typeof certificateId !== "string" || typeof data !== "string" || !FORMATS.includes(format)) return null;
  if (digest !== undefined || (hashAlgorithm !== undefined && hashAlgorithm !== "SHA-256") || Object.keys(rest).length > 0) return null;
  const size = data.length % 4 === 0 ? base64ByteLength(data) : 0;
  if (size < HASH_IN_EXTENSION_BYTES || size > MAX_PAGE_DATA_BYTES) return null;
  const content = decodeCanonicalBase64(data);
  return content ? { certificateId, data, format: format as LargeRequest["format"], content } : null;
}

/** A certificate's key algorithm never changes, so one lookup per certificate id is enough for this page. */
const keyAlgorithms = new Map<string, string>();

async function keyAlgorithmOf(bridge: PageBridge, certificateId: string): Promise<string | undefined> {
  if (!keyAlgorithms.has(certificateId)) {
    const certificates = await bridge.call<Array<{ id: string; keyAlgorithm: string }>>("listCertificates", {});
    for (const certificate of certificates) keyAlgorithms.set(certificate.id, certificate.keyAlgorithm);
  }
  return keyAlgorithms.get(certificateId);
}

export async function signFromPage(bridge: PageBridge, options: unknown): Promise<unknown> {
  const request = largeRequest(options);
  if (!request) return bridge.call("sign", options);
  // The digest depends on the key: SHA-256 (WebCrypto, off the main thread) for RSA and EC keys, SM3 for
  // SM2 keys (in script, in slices that let the page run in between). Unknown keys go the general way.
  const keyAlgorithm = await keyAlgorithmOf(bridge, request.certificateId);
  const hash = keyAlgorithm === "SM2" ? SM3 : keyAlgorithm === "RSA" || keyAlgorithm === "EC" ? SHA256 : null;
  if (!hash) return bridge.call("sign", options);
  const { content, ...params } = request;
  const prepared = await prepareLargeData(params, hash, content);
  return prepared.finish(await bridge.call<{ signature: string }>("sign", prepared.request));
}
