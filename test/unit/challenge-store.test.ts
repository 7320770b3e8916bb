/** The in-memory challenge store (one server node): the shared ChallengeStore contract on a clock the test moves. */
import { describe, expect, it } from "vitest";
import { memoryChallengeStore } from "../../server/index.js";
import { challengeStoreContract } from "../support/challenge-store-contract.js";

function storeWithClock() {
  let nowMs = Date.UTC(2025, 0, 1);
  const make = () => memoryChallengeStore({ now: () => nowMs });
  return {
    store: make(),
    another: make,
    advance: (ms: number) => {
      nowMs += ms;
    },
    expire: async (ttlSeconds: number) => {
      nowMs += ttlSeconds * 1000;
    },
  };
}

challengeStoreContract("memoryChallengeStore", storeWithClock);

describe("memoryChallengeStore", () => {
  it("keeps a challenge until the last millisecond of its TTL, not one after", async () => {
    const { store, advance } = storeWithClock();
    const early = await store.issue(30);
    const late = await store.issue(30);
    advance(30_000 - 1);
    expect(await store.consume(early)).toBe(true);
    advance(1);
    expect(await store.consume(late)).toBe(false);
  });

  it("still answers for challenges issued before a sweep of expired ones", async () => {
    const { store, advance } = storeWithClock();
    await store.issue(1);
    const kept = await store.issue(600);
    advance(120_000);
    await store.issue(600); // the first issue after the sweep interval drops the expired challenge
    expect(await store.consume(kept)).toBe(true);
  });
});
