/**
 * The one trust decision both verifiers make: does a signer certificate chain up to the CA certificates
 * the site configured? Sites hand their roots over as PEM text, PEM bundles or DER; intermediates may come
 * the same way. The chain walk itself is shared (crypto/chain.ts, also used by the host's diagnostics).
 */
import { X509Certificate } from "node:crypto";
import { checkChain, parsePemBundle } from "../crypto/chain.js";

/** Trusted CA certificates: PEM text, a PEM bundle or DER bytes. */
export type TrustedRoots = Array<string | Uint8Array>;

function toCertificates(inputs: TrustedRoots): X509Certificate[] {
  return inputs.flatMap((input) => (typeof input === "string" ? parsePemBundle(input) : [new X509Certificate(input)]));
}

/** Why `certificateDer` is not trusted at `now`, or null when it chains to one of the roots. */
export function untrustedReason(certificateDer: Uint8Array, roots: TrustedRoots, now: Date): string | null {
  const chain = checkChain(certificateDer, toCertificates(roots), now);
  if (chain.status === "ok") return null;
  return chain.status === "incomplete" ? `issuer not trusted: ${chain.missingIssuer}` : chain.reason;
}
