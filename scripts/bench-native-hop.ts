/**
 * What Chromium's native messaging costs by itself: `hello`, which the host answers without touching a key,
 * sent from the extension's service worker through connectNative, against the same request sent over stdio
 * from Node to a host started the same way; alternating batches, as every path of the benchmark. The
 * difference is the browser's own hop: a part of every page call's overhead that runs none of this project's
 * code. (A service worker's clock counts in steps of 0.1 ms, so its median is one of those steps.)
 */
import type { Browser } from "puppeteer-core";
import { HOST_NAME } from "../protocol/messages.js";
import type { HostLibrary } from "../test/virtual-token/backend.js";
import { interleaved, timeCalls, type BatchSampler } from "./bench-paths.js";
import { HostProcess } from "./host-process.js";

export interface NativeHop {
  /** ms per `hello` from the service worker through Chromium's native messaging. */
  serviceWorker: number[];
  /** ms per `hello` over stdio from Node. */
  stdio: number[];
}

type BenchWorker = typeof globalThis & { yztBenchHello?: (n: number) => Promise<number[]> };

/** The sampler in the service worker: its own port to a host of its own, opened on the first batch. */
async function serviceWorkerSampler(browser: Browser): Promise<BatchSampler> {
  const target = await browser.waitForTarget((candidate) => candidate.type() === "service_worker" && candidate.url().startsWith("chrome-extension://"));
  const worker = (await target.worker())!;
  await worker.evaluate((hostName) => {
    const scope = globalThis as BenchWorker;
    const runtime = (globalThis as unknown as { chrome: { runtime: { connectNative(name: string): { postMessage(m: object): void; onMessage: { addListener(f: (m: { id: number }) => void): void } } } } }).chrome.runtime;
    const port = runtime.connectNative(hostName);
    const waiting = new Map<number, () => void>();
    let next = 1;
    port.onMessage.addListener((message) => {
      waiting.get(message.id)?.();
      waiting.delete(message.id);
    });
    const hello = () => new Promise<void>((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      port.postMessage({ id, method: "hello", params: {} });
    });
    scope.yztBenchHello = async (n) => {
      const samples: number[] = [];
      for (let i = 0; i < n; i++) {
        const started = performance.now();
        await hello();
        samples.push(performance.now() - started);
      }
      return samples;
    };
  }, HOST_NAME);
  return (n) => worker.evaluate((count) => (globalThis as BenchWorker).yztBenchHello!(count), n);
}

export async function measureNativeHop(browser: Browser, library: HostLibrary, env: Record<string, string>, count: number): Promise<NativeHop> {
  const host = HostProcess.start({ library, env });
  try {
    await host.request("hello", {});
    const viaStdio: BatchSampler = (n) => timeCalls(n, () => host.request("hello", {}));
    const [serviceWorker, stdio] = await interleaved([await serviceWorkerSampler(browser), viaStdio], count);
    return { serviceWorker: serviceWorker!, stdio: stdio! };
  } finally {
    await host.close();
  }
}
