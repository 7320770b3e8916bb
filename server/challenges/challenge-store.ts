/**
 * Single-use login challenges: the contract every challenge store keeps, and the pieces all stores share
 * (how a challenge is made and recognised, how a binding is recorded). A tax hall runs many server nodes
 * behind a load balancer; a challenge issued by one node may be presented to another, and a LoginToken
 * replayed to a second node must find its challenge gone. So the store, not the node, decides "first use".
 *
 * Bindings: a challenge may be bound to the site's session id when it is issued; `consume` then succeeds
 * only with the same binding. A wrong binding refuses AND burns the challenge. Reason: verifyLoginToken
 * consumes only after the token's signature, dates and chain have passed, so what reaches a wrong-binding
 * consume is a genuine, signed token presented from another session — a stolen or leaked one. Burning it
 * ends that token at once (it can never be used, even by someone who later learns the right session id);
 * the cost is one new challenge for the rightful user. Forgers cannot burn anything: their tokens fail
 * the signature check first and never touch the store.
 */
import { createHash, randomBytes } from "node:crypto";

export interface ChallengeStore {
  /** A new challenge (base64url, 192 random bits), valid for `ttlSeconds`, optionally bound to a session id. */
  issue(ttlSeconds: number, binding?: string): Promise<string>;
  /**
   * true exactly once per issued challenge, to the first caller that presents it in time with the binding
   * it was issued with; false for unknown, used, expired or wrongly bound ones (a wrongly bound one is burnt).
   * Throws ChallengeStoreError when the store cannot answer: the caller must then refuse the login.
   */
  consume(challenge: string, binding?: string): Promise<boolean>;
  /** Releases the connection (Redis) or the table (memory); later calls throw ChallengeStoreError. */
  close(): Promise<void>;
}

/** The store could not answer (Redis unreachable, timed out, or the store is closed): fail closed. */
export class ChallengeStoreError extends Error {
  override readonly name = "ChallengeStoreError";
}

/** 24 random bytes: 192 bits, 32 base64url characters (API.md wants 16..256 characters). */
const CHALLENGE_BYTES = 24;
const CHALLENGE_SHAPE = /^[A-Za-z0-9_-]{32}$/;
/** Longest binding accepted: session ids are short; anything longer is a mistake, not a session. */
const MAX_BINDING_CHARS = 1024;

export function newChallenge(): string {
  return randomBytes(CHALLENGE_BYTES).toString("base64url");
}

/** Could this be a challenge a store issued? Anything else is refused without asking the store. */
export function isChallengeShaped(value: unknown): value is string {
  return typeof value === "string" && CHALLENGE_SHAPE.test(value);
}

/** The TTL in whole milliseconds; fractions of a second are allowed, nothing non-positive or unbounded. */
export function ttlMilliseconds(ttlSeconds: number): number {
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) throw new TypeError(`challenge TTL must be a positive number of seconds, got ${ttlSeconds}`);
  return Math.ceil(ttlSeconds * 1000);
}

/**
 * What a store keeps beside a challenge: "-" when unbound, else a hash of the binding, so the store (and
 * whoever can read Redis) never holds the site's session ids.
 */
export function bindingRecord(binding: string | undefined): string {
  if (binding === undefined) return "-";
  if (typeof binding !== "string" || binding.length === 0 || binding.length > MAX_BINDING_CHARS) {
    throw new TypeError(`a challenge binding must be a string of 1..${MAX_BINDING_CHARS} characters`);
  }
  return `b:${createHash("sha256").update(binding, "utf8").digest("base64url")}`;
}
