/**
 * Benchmark rows for large documents (20 MB): a page's yzt.sign, detached and attached, against the floor of
 * hashing the same bytes with WebCrypto in the same page. Budget (issue: large documents): overhead ≤ 2× the
 * hashing floor. The document and its base64 text are made before the clock starts.
 */
import type { Page } from "puppeteer-core";

export interface LargeDocumentStats {
  bytes: number;
  runs: number;
  hashFloorMs: number;
  detachedMs: number;
  attachedMs: number;
  overheadOverFloor: { detached: number; attached: number };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function measureLargeDocuments(page: Page, certificateId: string, bytes = 20 * 1000 * 1000, runs = 5): Promise<LargeDocumentStats> {
  const samples = await page.evaluate(
    async (id, n, count) => {
      const yzt = (window as unknown as { yzt: { sign(o: object): Promise<unknown> } }).yzt;
      const content = new Uint8Array(n);
      for (let i = 0; i < n; i++) content[i] = (Math.imul(i, 2654435761) >>> 24) ^ (i & 0xff);
      let binary = "";
      for (let i = 0; i < n; i += 0x8000) binary += String.fromCharCode(...content.subarray(i, i + 0x8000));
      const data = btoa(binary);
      const timed = async (work: () => Promise<unknown>) => {
        const started = performance.now();
        await work();
        return performance.now() - started;
      };
      const result = { hash: [] as number[], detached: [] as number[], attached: [] as number[] };
      for (let i = 0; i < count; i++) {
        result.hash.push(await timed(() => crypto.subtle.digest("SHA-256", content)));
        result.detached.push(await timed(() => yzt.sign({ certificateId: id, data, format: "pkcs7-detached" })));
        result.attached.push(await timed(() => yzt.sign({ certificateId: id, data, format: "pkcs7-attached" })));
      }
      return result;
    },
    certificateId, bytes, runs,
  );
  const hashFloorMs = median(samples.hash);
  const detachedMs = median(samples.detached);
  const attachedMs = median(samples.attached);
  const ratio = (ms: number) => Number(((ms - hashFloorMs) / hashFloorMs).toFixed(2));
  return {
    bytes, runs,
    hashFloorMs: Number(hashFloorMs.toFixed(1)), detachedMs: Number(detachedMs.toFixed(1)), attachedMs: Number(attachedMs.toFixed(1)),
    overheadOverFloor: { detached: ratio(detachedMs), attached: ratio(attachedMs) },
  };
}
