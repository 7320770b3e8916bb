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
import { signatureAlgorithm } from "../../crypto/algorithms.js";
import { sm2Z } from "../../crypto/sm2-digest.js";
import type { TokenService } from "../token/token-service.js";

export interface SignFileOptions {
  certificateId: string;
  format: "pkcs7-detached" | "pkcs7-attached" | "raw";
  inPath: string;
  outPath: string;
  origin: string;
  pin: string;
}

async function hashFile(path: string, nodeHashName: string, prefix?: Uint8Array): Promise<Buffer> {
  const hash = createHash(nodeHashName);
  if (prefix) hash.update(prefix);
  await pipeline(createReadStream(path), hash);
  return hash.digest();
}

/** A raw SM2 signature is over e = SM3(Z‖M): Z (from the signer's public key and ID) goes in front of the file. */
async function sm2RawPrefix(certificateDer: string): Promise<Uint8Array> {
  const { parseCertificate } = await import("../../crypto/certificate.js");
  const point = parseCertificate(Buffer.from(certificateDer, "base64")).publicKeyPoint;
  if (!point) throw new YztError("BAD_REQUEST", "SM2 certificate without a public point");
  return sm2Z(point);
}

export async function signFile(service: TokenService, options: SignFileOptions): Promise<SignResult> {
  const certificate = (await service.listCertificates()).find((candidate) => candidate.id === options.certificateId);
  if (!certificate) throw new YztError("NO_CERTIFICATE", `no inserted key holds certificate ${options.certificateId}`);
  const prefix = certificate.keyAlgorithm === "SM2" && options.format === "raw" ? await sm2RawPrefix(certificate.der) : undefined;
  const digest = await hashFile(options.inPath, signatureAlgorithm(certificate.keyAlgorithm).nodeHashName, prefix);
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
