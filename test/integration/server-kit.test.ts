/**
 * The server kit as a tax hall with several server nodes runs it: two demo server processes
 * (scripts/demo-node.ts, run from dist/: `npm test` builds first) share one real redis-server as their challenge store and check LoginTokens from
 * in-process RSA-2048 and SM2 keys for one public origin. A challenge issued by one node logs in on the
 * other, a replayed token is refused by both, a token from another browser or a forged one is refused,
 * and while Redis is dead logins fail closed, then work again once it is back.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { LoginToken } from "../../protocol/types.js";
import { LoginTokenError, redisChallengeStore, verifyLoginToken } from "../../server/index.js";
import { startDemoNode, type DemoNodeProcess } from "../../scripts/demo-node-process.js";
import { createLoginSigners, type LoginSigners } from "../../scripts/login-signers.js";
import { startRedisServer, type RedisServer } from "../../scripts/redis-server.js";

const ORIGIN = "https://etax.beijing.chinatax.gov.cn";
const RECOVERY_TIMEOUT_MS = 15_000;

let work: string;
let signers: LoginSigners;
let redis: RedisServer;
let nodes: DemoNodeProcess[];

interface Issued {
  challenge: string;
  /** The pre-login cookie the node bound the challenge to ("name=value"). */
  browser: string;
}

async function challengeFrom(node: DemoNodeProcess, browser?: string): Promise<Issued> {
  const reply = await fetch(new URL("/api/challenge", node.url), { headers: browser ? { cookie: browser } : {} });
  expect(reply.status).toBe(200);
  const cookie = reply.headers.get("set-cookie")?.split(";")[0] ?? browser;
  return { challenge: ((await reply.json()) as { challenge: string }).challenge, browser: cookie! };
}

async function login(node: DemoNodeProcess, token: LoginToken, browser: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const reply = await fetch(new URL("/api/login", node.url), { method: "POST", headers: { "content-type": "application/json", cookie: browser }, body: JSON.stringify({ token }) });
  return { status: reply.status, body: (await reply.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "yzt-server-kit-"));
  signers = await createLoginSigners();
  const roots = join(work, "roots.pem");
  writeFileSync(roots, signers.trustedRootsPem);
  redis = await startRedisServer();
  nodes = await Promise.all([0, 1].map(() => startDemoNode({ trustedRoots: roots, challengeStore: redis.url, publicOrigin: ORIGIN })));
});
afterAll(async () => {
  await Promise.all((nodes ?? []).map((node) => node.stop()));
  await redis?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("two server nodes sharing a Redis challenge store", () => {
  for (const key of ["rsa", "sm2"] as const) {
    it(`logs in with a ${key.toUpperCase()} token on the node that did not issue its challenge, and refuses its replay on both nodes`, async () => {
      const { challenge, browser } = await challengeFrom(nodes[0]!);
      const token = signers[key].sign(ORIGIN, challenge);
      expect(await login(nodes[1]!, token, browser)).toMatchObject({ status: 200, body: { holderName: signers[key].holderName } });
      expect(await login(nodes[0]!, token, browser)).toMatchObject({ status: 401, body: { error: "challenge" } });
      expect(await login(nodes[1]!, token, browser)).toMatchObject({ status: 401, body: { error: "challenge" } });
    });
  }

  it("refuses a genuine token presented from another browser, after which it is gone for its own browser too", async () => {
    const { challenge, browser } = await challengeFrom(nodes[0]!);
    const elsewhere = (await challengeFrom(nodes[1]!)).browser;
    expect(elsewhere).not.toBe(browser);
    const token = signers.sm2.sign(ORIGIN, challenge);
    expect(await login(nodes[1]!, token, elsewhere)).toMatchObject({ status: 401, body: { error: "challenge" } });
    expect(await login(nodes[0]!, token, browser)).toMatchObject({ status: 401, body: { error: "challenge" } });
  });

  it("lets a forged token burn nothing: it is refused, then the genuine token logs in", async () => {
    const { challenge, browser } = await challengeFrom(nodes[1]!);
    const genuine = signers.rsa.sign(ORIGIN, challenge);
    const signature = Buffer.from(genuine.signature, "base64");
    signature[7] = signature[7]! ^ 0x01;
    expect(await login(nodes[0]!, { ...genuine, signature: signature.toString("base64") }, browser)).toMatchObject({ status: 401, body: { error: "signature" } });
    expect(await login(nodes[0]!, genuine, browser)).toMatchObject({ status: 200 });
  });

  it("refuses a token whose challenge expired in Redis", async () => {
    const store = redisChallengeStore(redis.url);
    try {
      const challenge = await store.issue(0.2);
      await sleep(300);
      const failure = await verifyLoginToken(signers.sm2.sign(ORIGIN, challenge), { origin: ORIGIN, trustedRoots: [signers.trustedRootsPem], challengeStore: store }).catch((error: unknown) => error);
      expect(failure).toMatchObject({ name: "LoginTokenError", reason: "challenge" });
    } finally {
      await store.close();
    }
  });

  it("fails logins closed while Redis is dead (503, reason challengeStore) and logs in again once it restarts", async () => {
    const before = await challengeFrom(nodes[0]!);
    const waiting = signers.rsa.sign(ORIGIN, before.challenge);
    const store = redisChallengeStore(redis.url);
    await store.issue(60);
    await redis.kill();
    try {
      expect(await login(nodes[1]!, waiting, before.browser)).toMatchObject({ status: 503, body: { error: "challengeStore" } });
      expect((await fetch(new URL("/api/challenge", nodes[0]!.url))).status).toBe(503);
      const inProcess = await verifyLoginToken(waiting, { origin: ORIGIN, trustedRoots: [signers.trustedRootsPem], challengeStore: store }).catch((error: unknown) => error);
      expect(inProcess).toBeInstanceOf(LoginTokenError);
      expect(inProcess).toMatchObject({ reason: "challengeStore" });
    } finally {
      await redis.restart();
      await store.close();
    }
    // Each node's Redis client reconnects on its own back-off: wait until both serve again, not just one.
    const [, after] = await Promise.all([
      vi.waitFor(() => challengeFrom(nodes[0]!), { timeout: RECOVERY_TIMEOUT_MS, interval: 100 }),
      vi.waitFor(() => challengeFrom(nodes[1]!, before.browser), { timeout: RECOVERY_TIMEOUT_MS, interval: 100 }),
    ]);
    // Redis restarted empty: the challenge from before the outage is never accepted.
    expect(await login(nodes[0]!, waiting, before.browser)).toMatchObject({ status: 401, body: { error: "challenge" } });
    expect(await login(nodes[0]!, signers.rsa.sign(ORIGIN, after.challenge), after.browser)).toMatchObject({ status: 200 });
  });
});
