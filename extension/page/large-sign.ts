/**
 * `yzt.sign` for large documents, in the page script: a multi-megabyte document is hashed right here and
 * only its digest goes on to the extension, because copying megabytes through postMessage, the content
 * script and extension messaging costs far more than hashing them (see `npm run bench`). Anything this code
 * does not recognise as a well-formed large request goes on unchanged, and the background validates it.
 */
import { base64ByteLength } from "../../protocol/validate.js";
import { decodeCanonicalBase64 } from "../shared/base64.js";
import { prepareLargeData, SHA256 } from "../shared/large-data.js";
import { HASH_IN_EXTENSION_BYTES, MAX_PAGE_DATA_BYTES } from "../shared/limits.js";
import type { PageBridge } from "./bridge.js";
import { ReusableBuffer } from "./reusable-buffer.js";
import { SM3_OFF_THREAD } from "./sm3-off-thread.js";

const FORMATS: readonly unknown[] = ["pkcs7-detached", "pkcs7-attached", "raw"];

interface LargeRequest {
  certificateId: string;
  data: string;
  format: "pkcs7-detached" | "pkcs7-attached" | "raw";
  /** Passed on as they are (the background validates them): they shape the signature, not the digest. */
  hashAlgorithm?: unknown;
  sm2Id?: unknown;
  cmsProfile?: unknown;
}

function largeRequest(options: unknown): LargeRequest | null {
  if (typeof options !== "object" || options === null) return null;
  const { certificateId, data, format, digest, hashAlgorithm, sm2Id, cmsProfile, ...rest } = options as Record<string, unknown>;
  if (typeof certificateId !== "string" || typeof data !== "string" || !FORMATS.includes(format)) return null;
  if (digest !== undefined || Object.keys(rest).length > 0) return null;
  const size = data.length % 4 === 0 ? base64ByteLength(data) : 0;
  if (size < HASH_IN_EXTENSION_BYTES || size > MAX_PAGE_DATA_BYTES) return null;
  const passed = { hashAlgorithm, sm2Id, cmsProfile };
  for (const key of Object.keys(passed) as Array<keyof typeof passed>) if (passed[key] === undefined) delete passed[key];
  return { certificateId, data, format: format as LargeRequest["format"], ...passed };
}

const decodeBuffer = new ReusableBuffer();

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
  // SM2 keys (in a worker; in slices on the page thread where the page forbids workers). Unknown keys, and a
  // hash the key does not use (the background refuses it with the right error), go the general way.
  const keyAlgorithm = await keyAlgorithmOf(bridge, request.certificateId);
  const hash = keyAlgorithm === "SM2" ? SM3_OFF_THREAD : keyAlgorithm === "RSA" || keyAlgorithm === "EC" ? SHA256 : null;
  if (!hash || (request.hashAlgorithm !== undefined && request.hashAlgorithm !== hash.name)) return bridge.call("sign", options);
  // Decoding is also the validation: text that is not canonical base64 goes on whole and gets BAD_REQUEST.
  const content = decodeCanonicalBase64(request.data, (size) => decodeBuffer.take(size));
  if (!content) return bridge.call("sign", options);
  try {
    // The key's hash, named: what the background would pick for it anyway.
    const prepared = await prepareLargeData({ ...request, hashAlgorithm: hash.name }, hash, content);
    return prepared.finish(await bridge.call<{ signature: string }>("sign", prepared.request));
  } finally {
    // finish() has encoded an attached signature by now: nothing refers to the bytes any more.
    decodeBuffer.giveBack(content);
  }
}
