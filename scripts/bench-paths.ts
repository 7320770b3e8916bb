/**
 * The three signing paths the benchmark compares, for one key: (a) graphene in this process calling the
 * same PKCS#11 mechanism the host uses (the floor), (b) the native host over stdio, (c) a page's yzt.sign.
 * Each path signs the same small document, in batches alternating with the floor's (interleaved()).
 */
import { Module, ObjectClass, SessionFlag, UserType, type Key } from "graphene-pk11";
import type { Browser, Page } from "puppeteer-core";
import { rsaSha256DigestInfo, sha256 } from "../crypto/signature-encoding.js";
import { USER_PIN } from "../test/virtual-token/provision.js";
import { insertToken, removeToken } from "../test/virtual-token/state.js";
import type { HostProcess } from "./host-process.js";
import { press, waitForDialog } from "./launch-browser.js";

export const DATA = Buffer.from("<申报表>bench</申报表>");
const WARM_UP_ROUNDS = 2;

export interface BenchKey {
  /** Row label, e.g. "RSA-2048". */
  name: string;
  serial: string;
  certificateId: string;
  /** The mechanism and input the host itself uses for a raw signature of DATA with this key. */
  mechanism: string | { name: number; params: null };
  tokenInput: Buffer;
  /** The hash of the key's signatures: a large document's floor in the page. */
  contentHash: "SHA-256" | "SM3";
}

export const BENCH_KEYS: BenchKey[] = [
  { name: "RSA-2048", serial: "YZT0000000000005", certificateId: "YZT0000000000005:0101", mechanism: "RSA_PKCS", tokenInput: Buffer.from(rsaSha256DigestInfo(sha256(DATA))), contentHash: "SHA-256" },
  // The virtual token's SM2 mechanism that hashes inside (message + default ID), which the host prefers.
  { name: "SM2 (国密)", serial: "YZT0000000000001", certificateId: "YZT0000000000001:0101", mechanism: { name: 0x80005302, params: null }, tokenInput: DATA, contentHash: "SM3" },
];

/** Signs `n` times and gives each signature's time in ms. */
export type BatchSampler = (n: number) => number[] | Promise<number[]>;

/** Each of `n` calls in turn, timed: what an asynchronous path's sampler does. */
export async function timeCalls(n: number, call: () => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await call();
    samples.push(performance.now() - started);
  }
  return samples;
}

/** A floor that stays open while the path it is compared with is measured. */
export interface Floor {
  batch: BatchSampler;
  /**
   * The same call as the host makes it, where that differs from `batch`: the host signs through pkcs11js'
   * asynchronous C_Sign (a pool thread, so a slow or hung key never blocks it), the floor synchronously.
   */
  asyncBatch?: BatchSampler;
  close(): void;
}

/**
 * (a) The floors: graphene in this process, one session per key logged in once, the same mechanism and input
 * as the host. One module for all keys: a PKCS#11 module is initialised once per process, and finalized once.
 */
export function pkcs11Floors(module: string, keys: BenchKey[]): { floors: Floor[]; close(): void } {
  const lib = Module.load(module);
  lib.initialize({ flags: 2 });
  const slots = lib.getSlots(true);
  const floors = keys.map((key): Floor => {
    const slot = Array.from({ length: slots.length }, (_, i) => slots.items(i)).find((s) => s.getToken().serialNumber === key.serial)!;
    const session = slot.open(SessionFlag.SERIAL_SESSION);
    session.login(USER_PIN, UserType.USER);
    const privateKey = session.find({ class: ObjectClass.PRIVATE_KEY, id: Buffer.from("0101", "hex") }).items(0).toType<Key>();
    return {
      batch: (n) => Array.from({ length: n }, () => {
        const started = performance.now();
        session.createSign(key.mechanism as never, privateKey).once(key.tokenInput);
        return performance.now() - started;
      }),
      asyncBatch: (n) => timeCalls(n, () => new Promise<void>((resolve, reject) => {
        session.createSign(key.mechanism as never, privateKey).once(key.tokenInput, (error: Error | null) => (error ? reject(error) : resolve()));
      })),
      close: () => {
        // The key may have been pulled out since: its session is gone with it.
        try {
          session.logout();
          session.close();
        } catch {
          // nothing left to close
        }
      },
    };
  });
  return {
    floors,
    close: () => {
      for (const floor of floors) floor.close();
      lib.finalize();
    },
  };
}

/** (b) The native host over stdio framing, logged in once for the origin. */
export async function hostSampler(host: HostProcess, key: BenchKey, origin: string): Promise<BatchSampler> {
  await host.request("login", { certificateId: key.certificateId, origin, pin: USER_PIN });
  return (n) => timeCalls(n, () => host.request("sign", { certificateId: key.certificateId, origin, format: "raw", data: DATA.toString("base64") }));
}

/** (c) window.yzt.sign in a page whose origin is already logged in on the key, timed in the page. */
export function pageSampler(page: Page, key: BenchKey): BatchSampler {
  return (n) => page.evaluate(
    async (id, data, total) => {
      const yzt = (window as unknown as { yzt: { sign(o: object): Promise<unknown> } }).yzt;
      const samples: number[] = [];
      for (let i = 0; i < total; i++) {
        const started = performance.now();
        await yzt.sign({ certificateId: id, data, format: "raw" });
        samples.push(performance.now() - started);
      }
      return samples;
    },
    key.certificateId, DATA.toString("base64"), n,
  );
}

/**
 * Samplers measured in alternating batches of ten, `count` signatures each after two warm-up rounds: this
 * machine's speed drifts over a run (other processes, CPU frequency), and a floor measured minutes before its
 * path would turn that drift into "overhead". Returns each sampler's samples, in the order given.
 */
export async function interleaved(samplers: BatchSampler[], count: number): Promise<number[][]> {
  const batch = 10;
  const samples = samplers.map((): number[] => []);
  for (let round = 0; round < WARM_UP_ROUNDS + Math.ceil(count / batch); round++) {
    for (const [index, sampler] of samplers.entries()) {
      const taken = await sampler(batch);
      if (round >= WARM_UP_ROUNDS) samples[index]!.push(...taken);
    }
  }
  return samples;
}

/** A path's samples with its floor's, measured in turn (and the host's own way of calling the key, where it differs). */
export interface Paired {
  floor: number[];
  asyncFloor?: number[];
  path: number[];
}

export async function besideFloor(floor: Floor, path: BatchSampler, count: number): Promise<Paired> {
  if (!floor.asyncBatch) {
    const [floorSamples, pathSamples] = await interleaved([floor.batch, path], count);
    return { floor: floorSamples!, path: pathSamples! };
  }
  const [floorSamples, asyncSamples, pathSamples] = await interleaved([floor.batch, floor.asyncBatch, path], count);
  return { floor: floorSamples!, asyncFloor: asyncSamples!, path: pathSamples! };
}

/** Logs a tab's origin in on a certificate through the extension's real PIN dialog. */
export async function loginThroughDialog(browser: Browser, tab: Page, certificateId: string): Promise<void> {
  const login = tab.evaluate((id) => (window as unknown as { yzt: { login(o: object): Promise<unknown> } }).yzt.login({ certificateId: id, challenge: "bench-challenge-0123456789" }), certificateId);
  const dialog = await waitForDialog(browser, "pin");
  await dialog.type("input[name=pin]", USER_PIN);
  await press(dialog, "button[type=submit]");
  await login;
}

/** Time from pulling a virtual key out to the page's tokenremoved event, `runs` times (the key goes back in after each). */
export async function removalToPageEvent(page: Page, home: string, alias: string, runs: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    await page.evaluate(() => {
      const w = window as unknown as { yzt: { addEventListener(t: string, cb: () => void): void }; __removedAt?: number; __armed?: boolean };
      w.__removedAt = 0;
      if (!w.__armed) {
        w.__armed = true;
        w.yzt.addEventListener("tokenremoved", () => {
          w.__removedAt = Date.now();
        });
      }
    });
    const pulledAt = Date.now();
    removeToken(home, alias);
    await page.waitForFunction(() => ((window as unknown as { __removedAt?: number }).__removedAt ?? 0) > 0, { timeout: 5000 });
    const seenAt = await page.evaluate(() => (window as unknown as { __removedAt: number }).__removedAt);
    samples.push(seenAt - pulledAt);
    insertToken(home, alias);
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
  return samples;
}
