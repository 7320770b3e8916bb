/**
 * The Redis challenge store against a real redis-server (a throw-away one per file, scripts/redis-server.ts):
 * the ChallengeStore contract; two separate Node processes (test/support/challenge-consumer.mjs, on the
 * built package: `npm test` builds first) racing over the same challenges, of which exactly one may win
 * each; how challenges sit in Redis; Redis hung, and Redis killed mid-run — typed failures, nothing
 * accepted, and the same store working again once Redis is back on its port.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ChallengeStoreError, redisChallengeStore, type ChallengeStore } from "../../server/index.js";
import { startRedisServer, type RedisServer } from "../../scripts/redis-server.js";
import { challengeStoreContract } from "../support/challenge-store-contract.js";

const CONSUMER = fileURLToPath(new URL("../support/challenge-consumer.mjs", import.meta.url));
const RACE_CHALLENGES = 1000;
/** Redis has to be back, and the client reconnected, within this (it reconnects at least once a second). */
const RECOVERY_TIMEOUT_MS = 15_000;

let redis: RedisServer;
let store: ChallengeStore;

beforeAll(async () => {
  redis = await startRedisServer();
  store = redisChallengeStore(redis.url);
});
afterAll(async () => {
  await store?.close();
  await redis?.stop();
});

challengeStoreContract("redisChallengeStore", () => ({
  store,
  another: () => redisChallengeStore(redis.url),
  // Redis expires keys on its own clock: really wait the TTL out (with a margin).
  expire: (ttlSeconds) => sleep(ttlSeconds * 1000 + 100),
}));

/** The next IPC message of a forked consumer that carries `key`; rejects if the process ends first. */
function nextMessage<T>(child: ChildProcess, key: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: Record<string, unknown>) => {
      if (!(key in message)) return;
      child.off("message", onMessage);
      resolve(message as T);
    };
    child.on("message", onMessage);
    child.once("exit", (code) => reject(new Error(`consumer exited (${code}) before sending ${key}`)));
  });
}

describe("redisChallengeStore across processes", () => {
  it(`lets two Node processes racing over the same ${RACE_CHALLENGES} challenges win exactly ${RACE_CHALLENGES} consumes between them`, async () => {
    const challenges = await Promise.all(Array.from({ length: RACE_CHALLENGES }, () => store.issue(120)));
    const nodes = [0, 1].map(() => fork(CONSUMER, [], { env: { ...process.env, YZT_REDIS_URL: redis.url }, stdio: "inherit" }));
    try {
      await Promise.all(nodes.map((node) => {
        const ready = nextMessage(node, "ready");
        node.send({ challenges });
        return ready;
      }));
      const results = nodes.map((node) => nextMessage<{ won: string[] }>(node, "won"));
      for (const node of nodes) node.send({ go: true });
      const won = (await Promise.all(results)).map((result) => result.won);
      expect(won[0]!.length + won[1]!.length).toBe(RACE_CHALLENGES);
      expect(new Set(won.flat())).toEqual(new Set(challenges));
    } finally {
      for (const node of nodes) node.kill();
    }
  });

  it("keeps each challenge as one key that Redis itself expires, holding a hash rather than the session id", async () => {
    const challenge = await store.issue(60, "session-id-0123456789");
    const raw = createClient({ url: redis.url });
    await raw.connect();
    try {
      const key = `yzt:challenge:${challenge}`;
      const ttlMs = await raw.pTTL(key);
      expect(ttlMs).toBeGreaterThan(0);
      expect(ttlMs).toBeLessThanOrEqual(60_000);
      expect(await raw.get(key)).not.toContain("session-id-0123456789");
    } finally {
      await raw.close();
    }
  });
});

describe("redisChallengeStore when Redis goes away", () => {
  it("fails with ChallengeStoreError when Redis stops answering (a hung server) instead of waiting for it, and never accepts that challenge later", async () => {
    const impatient = redisChallengeStore(redis.url, { commandTimeoutMs: 300 });
    const challenge = await impatient.issue(60);
    process.kill(redis.pid!, "SIGSTOP");
    try {
      await expect(impatient.consume(challenge)).rejects.toThrow(ChallengeStoreError);
    } finally {
      process.kill(redis.pid!, "SIGCONT");
    }
    // The unanswered GETDEL ran once Redis woke up: the challenge is gone, its login was refused anyway.
    expect(await impatient.consume(challenge)).toBe(false);
    await impatient.close();
  });

  it("fails with ChallengeStoreError while Redis is dead, accepts nothing twice, and works again once it restarts on the same port", async () => {
    const challenges = await Promise.all(Array.from({ length: 300 }, () => store.issue(120)));
    const outcome = (challenge: string) =>
      store.consume(challenge).then(
        (fresh) => (fresh ? "accepted" : "refused"),
        (error: unknown) => (error instanceof ChallengeStoreError ? "storeError" : `other: ${String(error)}`),
      );
    // Killed while consumes are in flight: each one either got its answer before or fails typed.
    const inFlight = Promise.all(challenges.map(outcome));
    await redis.kill();
    const during = await inFlight;
    expect(during.filter((o) => o !== "accepted" && o !== "storeError")).toEqual([]);

    // Dead: every call fails at once, typed — no queueing until Redis returns.
    await expect(store.issue(60)).rejects.toThrow(ChallengeStoreError);
    await expect(store.consume(challenges[0]!)).rejects.toThrow(ChallengeStoreError);
    // A node starting while Redis is away fails the same way.
    const lateNode = redisChallengeStore(redis.url, { commandTimeoutMs: 300 });
    await expect(lateNode.issue(60)).rejects.toThrow(ChallengeStoreError);

    await redis.restart();
    await vi.waitFor(() => store.issue(60), { timeout: RECOVERY_TIMEOUT_MS, interval: 100 });
    await vi.waitFor(() => lateNode.issue(60), { timeout: RECOVERY_TIMEOUT_MS, interval: 100 });
    // Redis came back empty (nothing is saved): no challenge from before is accepted again.
    const after = await Promise.all(challenges.map(outcome));
    expect(after.every((o) => o === "refused")).toBe(true);
    const fresh = await store.issue(60);
    expect(await store.consume(fresh)).toBe(true);
    expect(await lateNode.consume(fresh)).toBe(false);
    await lateNode.close();
  });
});
