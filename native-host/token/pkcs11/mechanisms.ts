/**
 * Which PKCS#11 mechanism signs for each key algorithm. RSA and EC use the standard ones. SM2 has none in
 * PKCS#11 2.40: Chinese vendors define their own numbers, so the host keeps a table per library (built-in
 * entries below, found by manufacturer ID or library file name, plus `sm2Mechanisms` in config.json), and
 * for a library it does not know it looks for any known SM2 mechanism in the token's mechanism list.
 * A mechanism that hashes inside (message + signer ID) is preferred over one that signs a precomputed
 * e = SM3(Z‖M). The input each mechanism takes is defined by crypto/algorithms.ts.
 */
import { YztError } from "../../../protocol/errors.js";
import type { KeyAlgorithm } from "../../../protocol/types.js";

const STANDARD_MECHANISMS: Record<Exclude<KeyAlgorithm, "SM2">, string> = { RSA: "RSA_PKCS", EC: "ECDSA" };

/** How a module signs with SM2. */
export interface Sm2Mechanisms {
  /** Where this came from, for diagnostics and error messages. */
  source: string;
  /** Hashes inside: takes the message; `id` means the signer ID goes in as the mechanism parameter, `none` that only the default ID is used. */
  message?: { type: number; idParameter: "id" | "none" };
  /** Signs a precomputed 32-byte e = SM3(Z‖M). */
  digest?: { type: number };
  /** What the mechanism returns: r‖s (64 bytes), DER SEQUENCE{r, s}, or either (told apart by length). */
  output: "raw" | "der" | "auto";
}

export interface Sm2TableEntry extends Sm2Mechanisms {
  /** Matches the module's manufacturer ID (C_GetInfo). */
  manufacturer?: RegExp;
  /** Matches the library's file path. */
  library?: RegExp;
}

/**
 * Built-in knowledge. Values for vendor libraries come from their public headers (Sansec swpkcs11.h, Koal's
 * HSM interface definitions): CKM_SM3_SM2 0x80008100 (hashes inside, default ID), CKM_SM2_SIGN_NO_DER
 * 0x80008105 (e in, r‖s out). Sources disagree on whether CKM_SM3_SM2 returns r‖s or DER, hence "auto".
 */
export const BUILT_IN_SM2_MECHANISMS: readonly Sm2TableEntry[] = [
  {
    source: "built-in: yzt-bridge virtual token",
    manufacturer: /^yzt-bridge virtual token/,
    message: { type: 0x80005302, idParameter: "id" },
    digest: { type: 0x80005301 },
    output: "raw",
  },
  {
    source: "built-in: Sansec / Koal family (CKM_SM3_SM2, CKM_SM2_SIGN_NO_DER)",
    library: /swpkcs11|swsds|sansec|koal|klpkcs11|kl_p11/i,
    message: { type: 0x80008100, idParameter: "none" },
    digest: { type: 0x80008105 },
    output: "auto",
  },
];

/**
 * SM2 decryption of a GM/T 0009 DER ciphertext: the virtual token's CKM_VTOKEN_SM2_ENC and the Sansec / Koal
 * family's CKM_SM2_CIPHER_DER (0x80008201, swpkcs11.h). The first one the token lists is used.
 */
export const SM2_DECRYPT_MECHANISMS: readonly number[] = [0x80005303, 0x80008201];

/**
 * SM2 key-pair generation, with the key type the generated objects carry: the virtual token's
 * CKM_VTOKEN_SM2_KEY_PAIR_GEN with CKK_VTOKEN_SM2, and the Sansec / Koal family's CKM_SM2_KEY_PAIR_GEN
 * (CKM_VENDOR_DEFINED + 0x8001, beside the CKM_SM3_SM2 at + 0x8100 above) with CKK_SM2 (CKK_VENDOR_DEFINED + 4).
 * The first one the token lists is used; more vendors' numbers go here as their headers become known.
 */
export const SM2_KEY_PAIR_MECHANISMS: readonly { mechanism: number; keyType: number }[] = [
  { mechanism: 0x80005304, keyType: 0x80005300 },
  { mechanism: 0x80008001, keyType: 0x80000004 },
];

/** Key types that are SM2 keys whatever their CKA_EC_PARAMS say (vendor libraries may leave them out). */
export const SM2_KEY_TYPES: ReadonlySet<number> = new Set(SM2_KEY_PAIR_MECHANISMS.map((entry) => entry.keyType));

/**
 * Import of the encryption pair a CA's key-management centre wrapped to the signing key (C_UnwrapKey with the
 * GM/T 0016 ENVELOPEDKEYBLOB as the wrapped key): the virtual token's CKM_VTOKEN_SM2_ENVELOPED_KEY.
 */
export const SM2_WRAPPED_KEY_MECHANISMS: readonly { mechanism: number; keyType: number }[] = [{ mechanism: 0x80005305, keyType: 0x80005300 }];

export function sm2DecryptMechanism(available: Set<number> | null, modulePath: string): number {
  const found = SM2_DECRYPT_MECHANISMS.find((type) => available?.has(type));
  if (found === undefined) {
    throw new YztError("UNSUPPORTED_ALGORITHM", `the PKCS#11 library ${modulePath} offers no SM2 decryption mechanism yzt-bridge knows (${SM2_DECRYPT_MECHANISMS.map((t) => `0x${t.toString(16)}`).join(", ")})`);
  }
  return found;
}

export function signingMechanism(keyAlgorithm: Exclude<KeyAlgorithm, "SM2">): string {
  return STANDARD_MECHANISMS[keyAlgorithm];
}

/** The error a user sees when a key's library signs SM2 in a way the host does not know. */
export function unsupportedSm2(modulePath: string, manufacturer: string | undefined, configPath: string): YztError {
  return new YztError(
    "UNSUPPORTED_ALGORITHM",
    `the PKCS#11 module ${modulePath}${manufacturer ? ` (${manufacturer})` : ""} offers no known SM2 signing mechanism; ` +
      `add its mechanism numbers under "sm2Mechanisms" in ${configPath}`,
    { module: modulePath, configField: "sm2Mechanisms" },
  );
}

/**
 * Picks the SM2 mechanisms for a module: the user's config entries first, then built-in entries matching the
 * manufacturer or library, then any known entry whose mechanisms the token lists. `available` is the
 * token's C_GetMechanismList (null when the module cannot tell); a named entry is used even then.
 */
export function resolveSm2Mechanisms(
  module: { path: string; manufacturer?: string },
  available: ReadonlySet<number> | null,
  configured: readonly Sm2TableEntry[],
): Sm2Mechanisms | null {
  const entries = [...configured, ...BUILT_IN_SM2_MECHANISMS];
  const named = entries.find(
    (entry) => (entry.manufacturer?.test(module.manufacturer ?? "") ?? false) || (entry.library?.test(module.path) ?? false),
  );
  if (named) return named;
  if (!available) return null;
  const offered = (entry: Sm2Mechanisms) =>
    (entry.message !== undefined && available.has(entry.message.type)) || (entry.digest !== undefined && available.has(entry.digest.type));
  const probed = entries.find(offered);
  return probed ? { ...probed, source: `${probed.source}, found in the token's mechanism list` } : null;
}

/** config.json `sm2Mechanisms` entries as table entries: `library` matches part of the path, `manufacturer` its start. */
export function configuredSm2Mechanisms(
  entries: ReadonlyArray<{ library?: string; manufacturer?: string; message?: number; messageIdParameter?: "id" | "none"; digest?: number; output?: "raw" | "der" | "auto" }>,
): Sm2TableEntry[] {
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return entries
    .filter((entry) => (entry.library || entry.manufacturer) && (entry.message !== undefined || entry.digest !== undefined))
    .map((entry, index) => ({
      source: `config.json sm2Mechanisms[${index}]`,
      ...(entry.library ? { library: new RegExp(escape(entry.library), "i") } : {}),
      ...(entry.manufacturer ? { manufacturer: new RegExp(`^${escape(entry.manufacturer)}`) } : {}),
      ...(entry.message !== undefined ? { message: { type: entry.message, idParameter: entry.messageIdParameter ?? "none" } } : {}),
      ...(entry.digest !== undefined ? { digest: { type: entry.digest } } : {}),
      output: entry.output ?? "auto",
    }));
}

/** SM2 mechanisms of libraries named in config.json, and where that file is (for error messages). */
export interface Sm2Settings {
  configured: readonly Sm2TableEntry[];
  configPath: string;
}
