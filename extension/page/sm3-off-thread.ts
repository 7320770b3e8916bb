/**
 * SM3 for the page script, off the page's main thread: in a worker started for each large document (its
 * start-up is a few milliseconds against hundreds for the hash). A page whose Content-Security-Policy
 * forbids blob: and data: workers gets the sliced SM3 on its main thread instead, which yields every 1 MB.
 */
/// <reference types="vite/client" />
import { SM3, type ContentHash } from "../shared/large-data.js";
import Sm3Worker from "./sm3-worker.ts?worker&inline";

function digestInWorker(content: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    // Throws where the page's CSP refuses the worker (Chromium); Firefox reports that as an error event.
    const worker = new Sm3Worker();
    worker.onmessage = (event: MessageEvent<Uint8Array>) => {
      worker.terminate();
      resolve(event.data);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      worker.terminate();
      reject(new Error("the SM3 worker did not start"));
    };
    // A copy moves to the worker: the page keeps its bytes (an attached signature embeds them).
    const copy = content.slice();
    worker.postMessage(copy, [copy.buffer]);
  });
}

export const SM3_OFF_THREAD: ContentHash = {
  name: "SM3",
  async digest(content) {
    try {
      return await digestInWorker(content);
    } catch {
      return SM3.digest(content);
    }
  },
};
