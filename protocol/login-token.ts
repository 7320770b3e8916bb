/**
 * The message behind a LoginToken (API.md): SHA-256(UTF-8 origin) || SHA-256(UTF-8 challenge), 64 bytes.
 * Hashing each part separately makes the boundary unambiguous, so no origin/challenge pair can collide
 * with another by shifting characters between them.
 */
import { createHash } from "node:crypto";

export const LOGIN_TOKEN_FORMAT = "yzt-login:1";

export function loginMessage(origin: string, challenge: string): Buffer {
  const part = (text: string) => createHash("sha256").update(text, "utf8").digest();
  return Buffer.concat([part(origin), part(challenge)]);
}
