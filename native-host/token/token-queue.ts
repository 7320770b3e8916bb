/**
 * Runs work on one token at a time, bounded by the operation timeout and by removal: a task rejects
 * TOKEN_REMOVED as soon as the watcher sees the token go, even if the driver call itself hangs.
 * PKCS#11 failures leave here mapped to YztError once.
 */
import { YztError } from "../../protocol/errors.js";
import { KeyedQueue } from "./keyed-queue.js";
import { mapPkcs11Error } from "./pkcs11-errors.js";
import { tokenRemovedError, type TokenEntry } from "./token-entry.js";

export class TokenQueue {
  private readonly queue = new KeyedQueue();

  /** `onRemoved` lets the watcher look at the slots at once when a call failed because the key is gone. */
  constructor(private readonly operationTimeoutMs: number, private readonly onRemoved: () => void) {}

  run<T>(entry: TokenEntry, task: () => Promise<T>): Promise<T> {
    return this.queue.run(entry.serial, async () => {
      if (!entry.present) throw tokenRemovedError(entry.serial);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new YztError("TIMEOUT", "the token did not answer in time")), this.operationTimeoutMs);
      });
      try {
        return await Promise.race([task(), entry.removal.promise, timeout]);
      } catch (error) {
        const mapped = mapPkcs11Error(error);
        if (mapped.code === "TOKEN_REMOVED") this.onRemoved();
        throw mapped;
      } finally {
        clearTimeout(timer);
      }
    });
  }
}

/** Runs a synchronous PKCS#11 call, mapping its failure once. */
export function guard<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw mapPkcs11Error(error);
  }
}
