/**
 * Challenges in Redis, shared by every server node of a site. One key per challenge, holding its binding
 * record, with the TTL as the key's expiry (Redis drops it; nothing sweeps). `consume` is one GETDEL:
 * Redis runs commands one at a time, so of any number of nodes presenting the same challenge exactly one
 * gets the value back, and the key is gone for everyone after — also when the binding then turns out
 * wrong (see challenge-store.ts for why a wrong binding burns).
 *
 * Failing closed: while Redis is unreachable every call throws ChallengeStoreError at once (no offline
 * queue: a login must not wait for a Redis that may never come back, nor run late against a stale
 * decision), and a command that gets no answer (a hung server, a dead link not noticed yet) fails after
 * `commandTimeoutMs` — timed here, because the client's own command timeout stops counting once a command
 * is written. Such a command may still run later: a consume then burns its challenge, and the login it
 * belonged to has already been refused. The client keeps reconnecting in the background and the store
 * works again as soon as Redis is back.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "redis";
import { bindingRecord, ChallengeStoreError, isChallengeShaped, newChallenge, ttlMilliseconds, type ChallengeStore } from "./challenge-store.js";

export interface RedisChallengeStoreOptions {
  /** Prefix of the store's keys, so that several sites or stores can share one Redis (default "yzt:challenge:"). */
  keyPrefix?: string;
  /** Longest wait for one command's answer, and for the very first connection (default 2000 ms). */
  commandTimeoutMs?: number;
  /** Longest pause between two reconnection attempts while Redis is away (default 1000 ms). */
  maxReconnectDelayMs?: number;
  /** Told of each connection error (the store keeps reconnecting by itself); by default they are dropped. */
  onError?: (error: Error) => void;
}

const FIRST_RECONNECT_DELAY_MS = 50;

/** `work`, or a rejection once `ms` have passed without its answer. */
async function answerWithin<T>(work: Promise<T>, ms: number): Promise<T> {
  const answered = new AbortController();
  const late = sleep(ms, undefined, { ref: false, signal: answered.signal }).then(() => {
    throw new Error(`no answer within ${ms} ms`);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    answered.abort();
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** A store over the Redis at `url` (redis://[user:password@]host:port[/db], or rediss:// for TLS). */
export function redisChallengeStore(url: string, options: RedisChallengeStoreOptions = {}): ChallengeStore {
  const keyPrefix = options.keyPrefix ?? "yzt:challenge:";
  const commandTimeoutMs = options.commandTimeoutMs ?? 2000;
  const maxReconnectDelayMs = options.maxReconnectDelayMs ?? 1000;
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: commandTimeoutMs,
      reconnectStrategy: (retries: number) => Math.min(FIRST_RECONNECT_DELAY_MS * 2 ** retries, maxReconnectDelayMs),
    },
  });
  // Without a listener an 'error' event would end the process; outages surface as failed calls instead.
  client.on("error", (error: Error) => options.onError?.(error));
  let everConnected = false;
  let closed = false;
  const firstConnection = client.connect().then(
    () => {
      everConnected = true;
    },
    () => undefined,
  );

  async function run<T>(what: string, command: () => Promise<T>): Promise<T> {
    if (closed) throw new ChallengeStoreError("the challenge store is closed");
    // A node that has just started waits (briefly) for its first connection; later outages fail at once.
    if (!everConnected) await Promise.race([firstConnection, sleep(commandTimeoutMs, undefined, { ref: false })]);
    try {
      return await answerWithin(command(), commandTimeoutMs);
    } catch (error) {
      throw new ChallengeStoreError(`challenge store: Redis ${what} failed (${describeError(error)})`, { cause: error });
    }
  }

  return {
    async issue(ttlSeconds, binding) {
      const ttlMs = ttlMilliseconds(ttlSeconds);
      const record = bindingRecord(binding);
      const challenge = newChallenge();
      // NX: a key that somehow exists already is never overwritten (with 192 random bits it never does).
      const stored = await run("SET", () => client.set(keyPrefix + challenge, record, { expiration: { type: "PX", value: ttlMs }, condition: "NX" }));
      if (stored !== "OK") throw new ChallengeStoreError("challenge store: Redis refused a new challenge");
      return challenge;
    },
    async consume(challenge, binding) {
      const record = bindingRecord(binding);
      if (!isChallengeShaped(challenge)) return false;
      const held = await run("GETDEL", () => client.getDel(keyPrefix + challenge));
      return held === record;
    },
    async close() {
      if (closed) return;
      closed = true;
      // At once, connected or not: a graceful close would wait for every unanswered command, forever if
      // Redis hangs. Close the site's server first (it waits for logins in progress), then the store: a
      // command still in flight fails, and its login with it.
      client.destroy();
    },
  };
}
