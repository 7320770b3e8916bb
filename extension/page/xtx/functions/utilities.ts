/** Utilities: random data, hashes, base64, the last error and the version. */
import { bytesToBase64 } from "../../../shared/base64.js";
import { sm3 } from "../../../shared/sm3.js";
import { YztError } from "../../bridge.js";
import { SGD_SHA1, SGD_SHA256, SGD_SM3, XTX_COMPAT_VERSION } from "../codes.js";
import type { XtxFunction, XtxService } from "../service.js";
import { base64Argument, base64Utf8, utf8Base64 } from "./text.js";
import { base64ToBytes } from "../../../shared/base64.js";

const MAX_RANDOM_BYTES = 4096;

async function hash(algorithm: number, bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  if (algorithm === SGD_SM3) return sm3(bytes);
  if (algorithm === SGD_SHA1) return new Uint8Array(await crypto.subtle.digest("SHA-1", bytes));
  if (algorithm === SGD_SHA256) return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  throw new YztError("UNSUPPORTED_ALGORITHM", "hashAlg: SM3 (1), SHA-1 (2) or SHA-256 (4)");
}

export function utilityFunctions(service: () => XtxService): Record<string, XtxFunction> {
  return {
    SOF_GenRandom: {
      kind: "string",
      aliases: ["GenerateRandom"],
      run: async (_context, length) => {
        const count = Number(length);
        if (!Number.isInteger(count) || count < 1 || count > MAX_RANDOM_BYTES) throw new YztError("BAD_REQUEST", `RandomLen: 1..${MAX_RANDOM_BYTES}`);
        return bytesToBase64(crypto.getRandomValues(new Uint8Array(count)));
      },
    },
    SOF_HashData: {
      kind: "string",
      run: async (_context, algorithm, data) => bytesToBase64(await hash(Number(algorithm), base64ToBytes(utf8Base64(data)))),
    },
    SOF_Base64Encode: { kind: "string", run: async (_context, data) => utf8Base64(data) },
    SOF_Base64Decode: { kind: "string", run: async (_context, data) => base64Utf8(base64Argument(data, "sIndata")) },
    SOF_GetLastError: { kind: "number", keepsError: true, run: async () => service().error.code },
    SOF_GetLastErrMsg: { kind: "string", keepsError: true, run: async () => service().error.message },
    SOF_GetVersion: { kind: "string", keepsError: true, run: async () => XTX_COMPAT_VERSION },
    SOF_GetProductVersion: { kind: "string", keepsError: true, run: async () => XTX_COMPAT_VERSION },
    GetEnvVersion: { kind: "string", keepsError: true, run: async () => XTX_COMPAT_VERSION },
  };
}
