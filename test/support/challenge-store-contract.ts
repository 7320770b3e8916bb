/**
 * What every ChallengeStore promises (server/challenges/challenge-store.ts), as one suite run over each
 * store: the memory store in test/unit, the Redis store against a real redis-server in test/integration.
 * `expire` makes a challenge of `ttlSeconds` run out: the memory store moves its clock, Redis waits.
 */
import { describe, expect, it } from "vitest";
import { ChallengeStoreError, type ChallengeStore } from "../../server/index.js";

export interface StoreUnderTest {
  store: ChallengeStore;
  /** Lets more than `ttlSeconds` pass for the store. */
  expire(ttlSeconds: number): Promise<void>;
  /** Makes a new store of the same kind (to check close() without closing the shared one). */
  another(): ChallengeStore;
}

/** The TTL the expiry tests use: short, because Redis has to really wait it out. */
const SHORT_TTL_SECONDS = 0.2;

export function challengeStoreContract(name: string, setUp: () => StoreUnderTest): void {
  describe(`${name}: the ChallengeStore contract`, () => {
    it("issues distinct base64url challenges of at least 128 random bits, within API.md's 16..256 characters", async () => {
      const { store } = setUp();
      const issued = await Promise.all(Array.from({ length: 50 }, () => store.issue(60)));
      expect(new Set(issued).size).toBe(issued.length);
      for (const challenge of issued) {
        expect(challenge).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(challenge.length).toBeGreaterThanOrEqual(Math.ceil(128 / 6));
        expect(challenge.length).toBeGreaterThanOrEqual(16);
        expect(challenge.length).toBeLessThanOrEqual(256);
      }
    });

    it("gives a challenge out once: true the first time, false ever after", async () => {
      const { store } = setUp();
      const challenge = await store.issue(60);
      expect(await store.consume(challenge)).toBe(true);
      expect(await store.consume(challenge)).toBe(false);
      expect(await store.consume(challenge)).toBe(false);
    });

    it("lets exactly one of many concurrent consumers have it", async () => {
      const { store } = setUp();
      const challenges = await Promise.all(Array.from({ length: 20 }, () => store.issue(60)));
      const outcomes = await Promise.all(challenges.flatMap((challenge) => Array.from({ length: 10 }, () => store.consume(challenge))));
      expect(outcomes.filter(Boolean)).toHaveLength(challenges.length);
    });

    it("refuses a challenge after its TTL", async () => {
      const { store, expire } = setUp();
      const challenge = await store.issue(SHORT_TTL_SECONDS);
      await expire(SHORT_TTL_SECONDS);
      expect(await store.consume(challenge)).toBe(false);
    });

    it("refuses a challenge from another session, and burns it: the rightful session cannot use it afterwards", async () => {
      const { store } = setUp();
      const stolen = await store.issue(60, "session-a");
      expect(await store.consume(stolen, "session-b")).toBe(false);
      expect(await store.consume(stolen, "session-a")).toBe(false);
      const unbound = await store.issue(60, "session-a");
      expect(await store.consume(unbound)).toBe(false);
      const bound = await store.issue(60);
      expect(await store.consume(bound, "session-a")).toBe(false);
      const right = await store.issue(60, "session-a");
      expect(await store.consume(right, "session-a")).toBe(true);
    });

    it("answers false, without throwing, for anything it never issued", async () => {
      const { store } = setUp();
      for (const value of ["", "short", "A".repeat(32), "x".repeat(5000), "../../etc/passwd", "*", `${await store.issue(60)}x`]) {
        expect(await store.consume(value)).toBe(false);
      }
    });

    it("refuses TTLs and bindings that can only be mistakes", async () => {
      const { store } = setUp();
      for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) await expect(store.issue(ttl)).rejects.toThrow(TypeError);
      await expect(store.issue(60, "")).rejects.toThrow(TypeError);
      await expect(store.consume(await store.issue(60), "")).rejects.toThrow(TypeError);
    });

    it("throws ChallengeStoreError once closed", async () => {
      const { another } = setUp();
      const store = another();
      const challenge = await store.issue(60);
      await store.close();
      await expect(store.issue(60)).rejects.toThrow(ChallengeStoreError);
      await expect(store.consume(challenge)).rejects.toThrow(ChallengeStoreError);
    });
  });
}
