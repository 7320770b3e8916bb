/**
 * Benchmark rows for large documents (20 MB): a page's yzt.sign, detached and attached, against the floor of
 * hashing the same bytes in the same page. Budget (issue: large documents): overhead ≤ 2× the hashing floor.
 * The floor is the hash the key needs: WebCrypto SHA-256 for RSA keys; for SM2 keys SM3, which WebCrypto
 * lacks, so the floor is the extension's own SM3 code run in the page in one go (no yields, no worker),
 * measured next to the SHA-256 one. The document and its base64 text are made before the clock starts.
 */
import { join } from "node:path";
import { build } from "esbuild";
import type { Page } from "puppeteer-core";
import { packageRoot } from "../native-host/install/paths.js";

export interface LargeDocumentStats {
  bytes: number;
  runs: number;
  /** yzt.sign options beyond certificate, data and format (e.g. cmsProfile). */
  signOptions: Record<string, string>;
  /** WebCrypto SHA-256 of the bytes in the page. */
  hashFloorMs: number;
  /** The key's own hash of the bytes in the page: SHA-256 (the same as hashFloorMs) or SM3. */
  keyHashFloorMs: number;
  keyHash: "SHA-256" | "SM3";
  detachedMs: number;
  attachedMs: number;
  /** (sign − floor) / floor, against the key's own hash: the budget. */
  overheadOverFloor: { detached: number; attached: number };
  /** The same against WebCrypto SHA-256, for comparison across key types. */
  overheadOverSha256: { detached: number; attached: number };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export interface LargeDocumentRun {
  bytes?: number;
  runs?: number;
  /** The key's hash: SM3 for SM2 keys. */
  keyHash?: "SHA-256" | "SM3";
  /** More yzt.sign options, e.g. `{ cmsProfile: "gm" }`. */
  signOptions?: Record<string, string>;
}

/** The extension's SM3 as a script for the page: the same code the page script hashes SM2 documents with. */
async function sm3PageScript(): Promise<string> {
  const bundled = await build({
    entryPoints: [join(packageRoot(), "extension", "shared", "sm3.ts")],
    bundle: true, format: "iife", globalName: "__yztBenchSm3", write: false, logLevel: "silent",
  });
  return `${bundled.outputFiles[0]!.text};globalThis.__yztBenchSm3 = __yztBenchSm3;`;
}

export async function measureLargeDocuments(page: Page, certificateId: string, { bytes = 20 * 1000 * 1000, runs = 5, keyHash = "SHA-256", signOptions = {} }: LargeDocumentRun = {}): Promise<LargeDocumentStats> {
  if (keyHash === "SM3") await page.evaluate(await sm3PageScript());
  const samples = await page.evaluate(
    async (id, n, count, more, sm3) => {
      const yzt = (window as unknown as { yzt: { sign(o: object): Promise<unknown> } }).yzt;
      const content = new Uint8Array(n);
      for (let i = 0; i < n; i++) content[i] = (Math.imul(i, 2654435761) >>> 24) ^ (i & 0xff);
      let binary = "";
      for (let i = 0; i < n; i += 0x8000) binary += String.fromCharCode(...content.subarray(i, i + 0x8000));
      const data = btoa(binary);
      const timed = async (work: () => unknown) => {
        const started = performance.now();
        await work();
        return performance.now() - started;
      };
      type Sm3 = { update(b: Uint8Array): Sm3; digest(): Uint8Array };
      const Sm3 = sm3 ? (window as unknown as { __yztBenchSm3: { Sm3: new () => Sm3 } }).__yztBenchSm3.Sm3 : null;
      const result = { hash: [] as number[], keyHash: [] as number[], detached: [] as number[], attached: [] as number[] };
      for (let i = 0; i < count; i++) {
        result.hash.push(await timed(() => crypto.subtle.digest("SHA-256", content)));
        if (Sm3) {
          result.keyHash.push(await timed(() => new Sm3().update(content).digest()));
        }
        result.detached.push(await timed(() => yzt.sign({ ...more, certificateId: id, data, format: "pkcs7-detached" })));
        result.attached.push(await timed(() => yzt.sign({ ...more, certificateId: id, data, format: "pkcs7-attached" })));
      }
      return result;
    },
    certificateId, bytes, runs, signOptions, keyHash === "SM3",
  );
  const hashFloorMs = median(samples.hash);
  const keyHashFloorMs = keyHash === "SM3" ? median(samples.keyHash) : hashFloorMs;
  const detachedMs = median(samples.detached);
  const attachedMs = median(samples.attached);
  const ratio = (ms: number, floor: number) => Number(((ms - floor) / floor).toFixed(2));
  const round = (ms: number) => Number(ms.toFixed(1));
  return {
    bytes, runs, signOptions, keyHash,
    hashFloorMs: round(hashFloorMs), keyHashFloorMs: round(keyHashFloorMs), detachedMs: round(detachedMs), attachedMs: round(attachedMs),
    overheadOverFloor: { detached: ratio(detachedMs, keyHashFloorMs), attached: ratio(attachedMs, keyHashFloorMs) },
    overheadOverSha256: { detached: ratio(detachedMs, hashFloorMs), attached: ratio(attachedMs, hashFloorMs) },
  };
}
