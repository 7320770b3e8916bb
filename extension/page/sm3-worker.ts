/**
 * Worker body: the SM3 digest of the bytes it is sent, so that hashing a large SM2 document (about 200 ms
 * for 20 MB, WebCrypto having no SM3) never runs on the page's main thread. Built into the page script by
 * vite (`?worker&inline`): a page-world script cannot start a worker from the extension's own files.
 */
import { sm3 } from "../shared/sm3.js";

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<Uint8Array>) => void) | null;
  postMessage(message: Uint8Array, transfer: Transferable[]): void;
};

scope.onmessage = (event) => {
  const digest = sm3(event.data);
  scope.postMessage(digest, [digest.buffer]);
};
