/**
 * Challenges in this process's memory: right for a site with one server node (and the default). Atomic
 * because JavaScript runs one callback at a time and `consume` looks up and deletes without yielding in
 * between. With several nodes use the Redis store: a challenge lives only in the node that issued it here.
 */
import { bindingRecord, ChallengeStoreError, isChallengeShaped, newChallenge, ttlMilliseconds, type ChallengeStore } from "./challenge-store.js";

/** How often expired challenges that nobody presented are dropped, so the table does not grow forever. */
const SWEEP_INTERVAL_MS = 60_000;

export interface MemoryChallengeStoreOptions {
  /** The clock, in milliseconds (tests move it instead of waiting). */
  now?: () => number;
}

interface Entry {
  record: string;
  expiresAtMs: number;
}

export function memoryChallengeStore(options: MemoryChallengeStoreOptions = {}): ChallengeStore {
  const now = options.now ?? Date.now;
  const live = new Map<string, Entry>();
  let closed = false;
  let nextSweepMs = now() + SWEEP_INTERVAL_MS;

  const open = () => {
    if (closed) throw new ChallengeStoreError("the challenge store is closed");
  };
  const sweep = (at: number) => {
    if (at < nextSweepMs) return;
    nextSweepMs = at + SWEEP_INTERVAL_MS;
    for (const [challenge, entry] of live) if (entry.expiresAtMs <= at) live.delete(challenge);
  };

  return {
    async issue(ttlSeconds, binding) {
      const ttlMs = ttlMilliseconds(ttlSeconds);
      const record = bindingRecord(binding);
      open();
      const at = now();
      sweep(at);
      const challenge = newChallenge();
      live.set(challenge, { record, expiresAtMs: at + ttlMs });
      return challenge;
    },
    async consume(challenge, binding) {
      const record = bindingRecord(binding);
      open();
      if (!isChallengeShaped(challenge)) return false;
      // Taken out before anything is compared: used, expired or wrongly bound, it is gone either way.
      const entry = live.get(challenge);
      live.delete(challenge);
      return entry !== undefined && now() < entry.expiresAtMs && entry.record === record;
    },
    async close() {
      closed = true;
      live.clear();
    },
  };
}
