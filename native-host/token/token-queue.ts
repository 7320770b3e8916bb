/**
 * Runs work on one token at a time, bounded by the operation timeout and by removal: a task rejects
 * TOKEN_REMOVED as soon as the watcher sees the token go, even if the driver call itself hangs.
 * Adapters map their backend's failures to YztError; anything else leaving a task becomes INTERNAL here.
 */
import { YztError } from "../../protocol/errors.js";
import { KeyedQueue } from "./keyed-queue.js";
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
        const mapped = YztError.from(error, "INTERNAL");
        if (mapped.code === "TOKEN_REMOVED") this.onRemoved();
        throw mapped;
      } finally {
        clearTimeout(timer);
      }
    });
  }
}
