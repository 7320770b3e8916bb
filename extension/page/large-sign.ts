/**
 * `yzt.sign` for large documents, in the page script: a multi-megabyte document is hashed right here and
 * only its digest goes on to the extension, because copying megabytes through postMessage, the content
 * script and extension messaging costs far more than hashing them (see `npm run bench`). Anything this code
 * does not recognise as a well-formed large request goes on unchanged, and the background validates it.
 */
import { base64ByteLength, isBase64 } from "../../protocol/validate.js";
import { prepareLargeData } from "../shared/large-data.js";
import { HASH_IN_EXTENSION_BYTES, MAX_PAGE_DATA_BYTES } from "../shared/limits.js";
import type { PageBridge } from "./bridge.js";

const FORMATS: readonly unknown[] = ["pkcs7-detached", "pkcs7-attached", "raw"];

interface LargeRequest {
  certificateId: string;
  data: string;
  format: "pkcs7-detached" | "pkcs7-attached" | "raw";
}

function largeRequest(options: unknown): LargeRequest | null {
  if (typeof options !== "object" || options === null) return null;
  const { certificateId, data, format, digest, hashAlgorithm, ...rest } = options as Record<string, unknown>;
  if (typeof certificateId !== "string" || typeof data !== "string" || !FORMATS.includes(format)) return null;
  if (digest !== undefined || (hashAlgorithm !== undefined && hashAlgorithm !== "SHA-256") || Object.keys(rest).length > 0) return null;
  const size = data.length % 4 === 0 ? base64ByteLength(data) : 0;
  if (size < HASH_IN_EXTENSION_BYTES || size > MAX_PAGE_DATA_BYTES || !isBase64(data)) return null;
  return { certificateId, data, format: format as LargeRequest["format"] };
}

export async function signFromPage(bridge: PageBridge, options: unknown): Promise<unknown> {
  const request = largeRequest(options);
  if (!request) return bridge.call("sign", options);
  // The digest depends on the key: SHA-256 for RSA and EC keys. Other keys go the general way.
  const certificates = await bridge.call<Array<{ id: string; keyAlgorithm: string }>>("listCertificates", {});
  const keyAlgorithm = certificates.find((certificate) => certificate.id === request.certificateId)?.keyAlgorithm;
  if (keyAlgorithm !== "RSA" && keyAlgorithm !== "EC") return bridge.call("sign", options);
  const prepared = await prepareLargeData(request);
  return prepared.finish(await bridge.call<{ signature: string }>("sign", prepared.request));
}
