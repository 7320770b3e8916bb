/**
 * The driver's end of its stdin (driver/child.ts): the host's frames, read from the driver's very start.
 */
import type { Logger } from "../support/log.js";
import { FrameDecoder } from "../transport/framing.js";
import { openInput } from "../transport/stdio.js";
import { MAX_DRIVER_FRAME_BYTES } from "./wire.js";

const STDIN_FD = 0;

/**
 * The host's frames, read from the driver's start: a spare driver's first frame names its library, and
 * requests that come while the library loads wait for it.
 */
export function hostFrames(logger: Logger): { first(): Promise<unknown>; serve(onFrame: (value: unknown) => void, onEnd: () => void): void } {
  const waiting: unknown[] = [];
  let firstWaiter: ((value: unknown) => void) | null = null;
  let handler: ((value: unknown) => void) | null = null;
  let ended = false;
  let onEnded: (() => void) | null = null;
  const decoder = new FrameDecoder(MAX_DRIVER_FRAME_BYTES);
  openInput(STDIN_FD, {
    data: (chunk) => {
      for (const decoded of decoder.push(chunk)) {
        if (decoded.kind === "error") {
          logger.log("warn", "driver: unreadable frame from the host", { error: decoded.error.message });
          continue;
        }
        const take = firstWaiter ?? handler;
        firstWaiter = null;
        if (take) take(decoded.value);
        else waiting.push(decoded.value);
      }
    },
    // The host is gone: nothing is left to serve.
    end: () => {
      ended = true;
      if (onEnded) onEnded();
      else process.exit(0);
    },
  }).start();
  return {
    first: () => new Promise((resolve) => (waiting.length > 0 ? resolve(waiting.shift()) : (firstWaiter = resolve))),
    serve(onFrame, onEnd) {
      handler = onFrame;
      onEnded = onEnd;
      for (const value of waiting.splice(0)) onFrame(value);
      if (ended) onEnd();
    },
  };
}
