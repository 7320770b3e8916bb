/**
 * `yzt sign`: files of any size. The file is streamed through the key algorithm's hash and only the digest
 * goes to the token, so a detached or raw signature of a multi-gigabyte file needs no more memory than a
 * small one. An attached signature embeds the file, so that one format reads it whole.
 */
import { createHash } from "node:crypto";
import { createReadStream, readFileSync, writeFileSync } from "node:fs";
import { pipeline } from "node:stream/promises";
import { YztError } from "../../protocol/errors.js";
import { attachContent } from "../../protocol/cms-attach.js";
import type { SignResult } from "../../protocol/types.js";
import { signatureAlgorithm } from "../crypto/algorithms.js";
import type { TokenService } from "../token/token-service.js";

export interface SignFileOptions {
  certificateId: string;
  format: "pkcs7-detached" | "pkcs7-attached" | "raw";
  inPath: string;
  outPath: string;
  origin: string;
  pin: string;
}

async function hashFile(path: string, nodeHashName: string): Promise<Buffer> {
  const hash = createHash(nodeHashName);
  await pipeline(createReadStream(path), hash);
  return hash.digest();
}

export async function signFile(service: TokenService, options: SignFileOptions): Promise<SignResult> {
  const certificate = (await service.listCertificates()).find((candidate) => candidate.id === options.certificateId);
  if (!certificate) throw new YztError("NO_CERTIFICATE", `no inserted key holds certificate ${options.certificateId}`);
  const digest = await hashFile(options.inPath, signatureAlgorithm(certificate.keyAlgorithm).nodeHashName);
  const attached = options.format === "pkcs7-attached";
  const result = await service.sign({
    certificateId: options.certificateId, origin: options.origin, pin: options.pin,
    format: attached ? "pkcs7-detached" : options.format, digest: digest.toString("base64"),
  });
  let signature = Buffer.from(result.signature, "base64");
  if (attached) signature = Buffer.from(attachContent(signature, readFileSync(options.inPath)));
  writeFileSync(options.outPath, signature);
  return result;
}
