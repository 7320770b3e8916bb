/**
 * The server kit under load, for `npm run bench`: logins (challenge from one node → LoginToken signed in
 * this process → login on the other node, which verifies it and consumes the challenge in Redis) through
 * two demo server processes sharing one redis-server, all on loopback, with RSA-2048 and SM2 tokens.
 * Bounded: a fixed number of logins per key with a fixed number in flight, stopping early at a time limit.
 *
 * Measured per key: logins per second of wall time; logins per CPU-second the servers used (both nodes and
 * Redis, from /proc — the client's signing shares the machine but is not counted), i.e. per server core;
 * the latency of the server's part of a login (the challenge request plus the login request; the client's
 * signing between them excluded) at p50 and p99; and, beside it, the bare verifyLoginToken rate of the
 * same key in this process on one core (no HTTP, no store): what the rest costs on top.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { verifyLoginToken } from "../server/index.js";
import { startDemoNode, type DemoNodeProcess } from "./demo-node-process.js";
import { createLoginSigners, type LoginSigner } from "./login-signers.js";
import { startRedisServer } from "./redis-server.js";

const ORIGIN = "https://etax.beijing.chinatax.gov.cn";
/** Linux reports process CPU time in clock ticks of 1/100 s (USER_HZ). */
const TICKS_PER_SECOND = 100;
const WARM_UP_LOGINS = 20;

export interface LoginLoad {
  loginsPerKey: number;
  inFlight: number;
  maxMsPerKey: number;
  bareVerifications: number;
}

/** Small on purpose: a few seconds of the bench on a two-core machine, enough for stable rates. */
export const DEFAULT_LOGIN_LOAD: LoginLoad = { loginsPerKey: 120, inFlight: 4, maxMsPerKey: 5_000, bareVerifications: 60 };

export interface ServerLoginStats {
  key: string;
  logins: number;
  failed: number;
  failures: Record<string, number>;
  stoppedEarly: boolean;
  wallMs: number;
  serverCpuMs: number;
  loginsPerSecond: number;
  loginsPerServerCore: number;
  latencyMs: { p50: number; p99: number };
  /** verifyLoginToken alone per CPU-second of this process: comparable with loginsPerServerCore. */
  bareVerificationsPerCore: number;
}

const round = (value: number, digits = 1) => Number(value.toFixed(digits));

function cpuMs(pid: number): number {
  // Fields after the command name (which may hold spaces, inside parentheses): utime and stime are 14th and 15th.
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** One login across two nodes; resolves with the server-side milliseconds, or the failure's name. */
async function loginOnce(issuer: DemoNodeProcess, verifier: DemoNodeProcess, signer: LoginSigner): Promise<number | string> {
  let started = performance.now();
  const issued = await fetch(new URL("/api/challenge", issuer.url));
  if (!issued.ok) return `challenge ${issued.status}`;
  const browser = issued.headers.get("set-cookie")?.split(";")[0] ?? "";
  const { challenge } = (await issued.json()) as { challenge: string };
  let serverMs = performance.now() - started;
  const token = signer.sign(ORIGIN, challenge);
  started = performance.now();
  const reply = await fetch(new URL("/api/login", verifier.url), { method: "POST", headers: { "content-type": "application/json", cookie: browser }, body: JSON.stringify({ token }) });
  const body = (await reply.json()) as { error?: string };
  serverMs += performance.now() - started;
  return reply.ok ? serverMs : `login ${reply.status} ${body.error ?? ""}`.trim();
}

async function loadRun(nodes: DemoNodeProcess[], pids: number[], signer: LoginSigner, load: LoginLoad): Promise<Omit<ServerLoginStats, "bareVerificationsPerCore">> {
  for (let i = 0; i < WARM_UP_LOGINS; i++) await loginOnce(nodes[i % 2]!, nodes[(i + 1) % 2]!, signer);
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  const cpuBefore = pids.reduce((sum, pid) => sum + cpuMs(pid), 0);
  const started = performance.now();
  const deadline = started + load.maxMsPerKey;
  let next = 0;
  let stoppedEarly = false;
  const worker = async () => {
    for (;;) {
      if (next >= load.loginsPerKey) return;
      if (performance.now() > deadline) {
        stoppedEarly = true;
        return;
      }
      const index = next++;
      // Always across nodes: the challenge comes from one, the login goes to the other.
      const outcome = await loginOnce(nodes[index % 2]!, nodes[(index + 1) % 2]!, signer);
      if (typeof outcome === "number") latencies.push(outcome);
      else failures[outcome] = (failures[outcome] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: load.inFlight }, worker));
  const wallMs = performance.now() - started;
  const serverCpuMs = pids.reduce((sum, pid) => sum + cpuMs(pid), 0) - cpuBefore;
  const sorted = latencies.sort((a, b) => a - b);
  return {
    key: signer.name,
    logins: latencies.length,
    failed: Object.values(failures).reduce((a, b) => a + b, 0),
    failures,
    stoppedEarly,
    wallMs: round(wallMs),
    serverCpuMs: round(serverCpuMs, 0),
    loginsPerSecond: round((latencies.length * 1000) / wallMs),
    loginsPerServerCore: round((latencies.length * 1000) / Math.max(serverCpuMs, 1)),
    latencyMs: { p50: round(percentile(sorted, 0.5), 2), p99: round(percentile(sorted, 0.99), 2) },
  };
}

/**
 * verifyLoginToken alone, in this process: the floor a login pays on top of. Counted per CPU-second, like
 * the servers, so that other work on the machine slows neither figure down.
 */
async function bareVerificationsPerCore(signer: LoginSigner, trustedRootsPem: string, count: number): Promise<number> {
  const challenge = "bench-challenge-0123456789abcdef";
  const token = signer.sign(ORIGIN, challenge);
  const options = { origin: ORIGIN, trustedRoots: [trustedRootsPem], challenge };
  for (let i = 0; i < 10; i++) await verifyLoginToken(token, options);
  const before = process.cpuUsage();
  for (let i = 0; i < count; i++) await verifyLoginToken(token, options);
  const used = process.cpuUsage(before);
  return round((count * 1e6) / (used.user + used.system));
}

export async function measureServerLogins(work: string, load: LoginLoad = DEFAULT_LOGIN_LOAD): Promise<ServerLoginStats[]> {
  const signers = await createLoginSigners();
  const roots = join(work, "login-roots.pem");
  writeFileSync(roots, signers.trustedRootsPem);
  const redis = await startRedisServer();
  const nodes: DemoNodeProcess[] = [];
  try {
    for (let i = 0; i < 2; i++) nodes.push(await startDemoNode({ trustedRoots: roots, challengeStore: redis.url, publicOrigin: ORIGIN }));
    const pids = [...nodes.map((node) => node.pid), redis.pid!];
    const results: ServerLoginStats[] = [];
    for (const signer of [signers.rsa, signers.sm2]) {
      const run = await loadRun(nodes, pids, signer, load);
      results.push({ ...run, bareVerificationsPerCore: await bareVerificationsPerCore(signer, signers.trustedRootsPem, load.bareVerifications) });
    }
    return results;
  } finally {
    await Promise.all(nodes.map((node) => node.stop()));
    await redis.stop();
  }
}

/** The bench table's line for one key. */
export function serverLoginRow(s: ServerLoginStats): string {
  const failed = s.failed ? `, ${s.failed} FAILED (${Object.entries(s.failures).map(([why, n]) => `${why}: ${n}`).join(", ")})` : "";
  const early = s.stoppedEarly ? " (stopped at the time limit)" : "";
  return `server kit, ${s.key}: ${s.logins} logins across 2 demo nodes sharing Redis in ${(s.wallMs / 1000).toFixed(2)} s${early}${failed}: ` +
    `${s.loginsPerSecond} logins/s, ${s.loginsPerServerCore} logins/s per server core (nodes + Redis used ${(s.serverCpuMs / 1000).toFixed(2)} CPU s); ` +
    `latency p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms; bare verifyLoginToken ${s.bareVerificationsPerCore}/s per core`;
}
