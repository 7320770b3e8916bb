/**
 * What the certificate-renewal tests share (requests, enveloped key pairs, the software CA): software SM2 and
 * RSA keys, a scratch directory, and the OpenSSL CLI as the independent implementation every result is checked
 * against. CA certificates come from OpenSSL too, so the issuer under test never checks its own work only.
 */
import { spawnSync } from "node:child_process";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sm2PublicKeyInfo } from "../../crypto/public-key.js";
import { rsToDer, sm2Digest, sm2Sign } from "../../crypto/sm2.js";
import { expect } from "vitest";
import { YztError } from "../../protocol/errors.js";
import { toPem } from "../virtual-token/pem.js";
import { generateSm2KeyPair, sm2KeyMaterial } from "../virtual-token/sm2-import.js";

export class Scratch {
  readonly dir = mkdtempSync(join(tmpdir(), "yzt-renewal-"));

  /** Writes bytes or text and returns the file's path. */
  file(name: string, content: Uint8Array | string): string {
    const path = join(this.dir, name);
    writeFileSync(path, content);
    return path;
  }

  read(name: string): Uint8Array {
    return new Uint8Array(readFileSync(join(this.dir, name)));
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface OpensslResult {
  ok: boolean;
  output: string;
}

export function openssl(args: string[], cwd?: string): OpensslResult {
  const run = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
}

export interface Sm2TestKey {
  /** The scalar, 32 bytes. */
  d: Uint8Array;
  /** 04‖x‖y. */
  point: Uint8Array;
  spki: Uint8Array;
  privatePem: string;
  publicPem: string;
}

export function sm2TestKey(): Sm2TestKey {
  const { privateKey } = generateSm2KeyPair();
  const material = sm2KeyMaterial(privateKey);
  const spki = sm2PublicKeyInfo(material.point);
  return {
    d: new Uint8Array(material.d),
    point: new Uint8Array(material.point),
    spki,
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicPem: toPem("PUBLIC KEY", spki),
  };
}

export interface RsaTestKey {
  privateKey: KeyObject;
  spki: Uint8Array;
  privatePem: string;
}

export function rsaTestKey(): RsaTestKey {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    privateKey,
    spki: new Uint8Array(publicKey.export({ type: "spki", format: "der" })),
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

/** What a USB key does for an SM2 request: SM2 with the default ID over the bytes, DER { r, s }. */
export function sm2Signer(key: Sm2TestKey): (message: Uint8Array) => Promise<Uint8Array> {
  return async (message) => rsToDer(sm2Sign(key.d, sm2Digest(key.point, message)));
}

/** A self-signed CA certificate (DER) made by OpenSSL; SM2 ones signed with the default ID. */
export function opensslCa(scratch: Scratch, name: string, key: { privatePem: string }, algorithm: "SM2" | "RSA"): Uint8Array {
  const keyFile = scratch.file(`${name}.key`, key.privatePem);
  const signing = algorithm === "SM2" ? ["-sm3", "-sigopt", "distid:1234567812345678"] : ["-sha256"];
  const made = openssl([
    "req", "-x509", "-new", "-utf8", "-key", keyFile, ...signing, "-subj", `/C=CN/O=yzt-bridge test/CN=${name}`, "-days", "30",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    "-outform", "DER", "-out", join(scratch.dir, `${name}.der`),
  ]);
  if (!made.ok) throw new Error(`openssl req -x509 failed: ${made.output}`);
  return scratch.read(`${name}.der`);
}

/** Expects `action` to throw BAD_REQUEST with a message matching `message`. */
export function expectBadRequest(action: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected a refusal matching ${message}`).toBeInstanceOf(YztError);
  expect((caught as YztError).code).toBe("BAD_REQUEST");
  expect((caught as YztError).message).toMatch(message);
}
