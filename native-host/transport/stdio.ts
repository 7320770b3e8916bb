/**
 * The host's stdio, on file descriptors 0 and 1 rather than process.stdin / process.stdout.
 * Why: under Wine, Node's stdin/stdout streams on a pipe throw EBADF when libuv opens the pipe (DESIGN.md,
 * "Platform facts"), while plain fs.read(0, …) and fs.writeSync(1, …) work on the same pipes. Built on those,
 * one transport runs on Linux, macOS, Windows and Wine alike.
 *
 * - openInput reads with FdReader on Windows only. Elsewhere it reads the first chunk with FdReader too
 *   (a stream needs Node's net module, 3–5 ms to load, which the browser waiting for its first answer would
 *   pay) and everything after it as a libuv stream (StreamReader): fs.read parks one of libuv's pool threads
 *   in read(2) and hands every request over from that thread, while the pool is also where the key signs
 *   (pkcs11js' asynchronous C_Sign) and SKF libraries wait for device events.
 * - FdReader reads one chunk at a time (the next read starts after the chunk is handed over), reports the
 *   end of input once (EOF, or the pipe broken by the browser), and waits and retries on EAGAIN, which a
 *   non-blocking descriptor inherited from a parent may give.
 * - FdWriter writes frames whole and in order. A blocking pipe blocks the write as process.stdout does on
 *   Linux; a non-blocking one that is full (EAGAIN) keeps the rest queued and retries on a timer, never
 *   spinning. A reader gone for good (EPIPE) drops what is queued. `flushed()` resolves once everything
 *   queued has been written, so the last replies reach the browser before the host exits.
 */
import { read, writeSync } from "node:fs";
import { underNodeDefaults } from "../support/v8-settings.js";

/** Bytes asked for per read: a whole typical frame, and a large one in few reads. */
export const READ_CHUNK_BYTES = 64 * 1024;
/** First wait after EAGAIN, doubled per retry up to the ceiling. */
export const RETRY_FIRST_MS = 1;
export const RETRY_MAX_MS = 50;

const errorCode = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | null)?.code;

export interface ReaderEvents {
  data(chunk: Buffer): void;
  /** Input is over: `error` says why when it was not a clean EOF. */
  end(error?: Error): void;
}

/** EOF (Unix), a broken pipe (Windows: the browser closed its end) and a closed descriptor all end input cleanly. */
function endReason(error?: Error): Error | undefined {
  return error === undefined || ["EOF", "EPIPE", "EBADF"].includes(errorCode(error) ?? "") ? undefined : error;
}

export interface InputReader {
  start(): void;
}

/** Standard input, read the way this platform reads a pipe best (see the header). */
export function openInput(fd: number, events: ReaderEvents, platform: NodeJS.Platform = process.platform): InputReader {
  if (platform === "win32") return new FdReader(fd, events);
  // After the first chunk no read is outstanding, so the stream takes over without losing a byte; it starts
  // once the first answers are out (setImmediate runs after the microtasks that write them).
  return new FdReader(fd, events, () => setImmediate(() => new StreamReader(fd, events).start()));
}

/** A descriptor as a Node stream: a pipe is watched by the event loop itself, no thread waits on it. */
export class StreamReader implements InputReader {
  private ended = false;

  constructor(private readonly fd: number, private readonly events: ReaderEvents) {}

  start(): void {
    // process.stdin also copes with a file or a terminal; another descriptor is taken to be a pipe. Node's net
    // module is fetched here, not imported: loading it at start is what the first chunk's fs.read avoids.
    // Node compiles the modules behind them from its own code caches only under its default flags.
    const stream = underNodeDefaults(() => {
      const { Socket } = process.getBuiltinModule("node:net");
      return this.fd === 0 ? process.stdin : new Socket({ fd: this.fd, readable: true, writable: false });
    });
    stream.on("data", (chunk: Buffer) => this.events.data(chunk));
    stream.on("end", () => this.finish());
    stream.on("error", (error: Error) => this.finish(error));
  }

  private finish(error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.events.end(endReason(error));
  }
}

export class FdReader implements InputReader {
  private readonly buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  private retryMs = RETRY_FIRST_MS;
  private ended = false;

  /** With `handOver`, reading stops after the first chunk and `handOver` is called to carry on. */
  constructor(private readonly fd: number, private readonly events: ReaderEvents, private readonly handOver?: () => void) {}

  start(): void {
    this.next();
  }

  private next(): void {
    read(this.fd, this.buffer, 0, this.buffer.length, null, (error, bytesRead) => {
      if (error && errorCode(error) === "EAGAIN") {
        setTimeout(() => this.next(), this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
        return;
      }
      this.retryMs = RETRY_FIRST_MS;
      if (error || bytesRead === 0) return this.finish(error ?? undefined);
      // The buffer is reused by the next read: hand over a copy.
      this.events.data(Buffer.from(this.buffer.subarray(0, bytesRead)));
      if (this.handOver) this.handOver();
      else this.next();
    });
  }

  private finish(error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.events.end(endReason(error));
  }
}

export class FdWriter {
  private readonly queue: Buffer[] = [];
  private retryTimer: NodeJS.Timeout | null = null;
  private retryMs = RETRY_FIRST_MS;
  private waiters: Array<() => void> = [];
  private closed = false;

  constructor(private readonly fd: number) {}

  /** Bytes accepted but not yet written (a reader that is not keeping up). */
  get pendingBytes(): number {
    return this.queue.reduce((sum, chunk) => sum + chunk.length, 0);
  }

  write(frame: Buffer): void {
    if (this.closed) return;
    this.queue.push(frame);
    if (this.retryTimer === null) this.drain();
  }

  /** Resolves when every frame written so far has left the process (or the reader is gone). */
  flushed(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private drain(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      let written: number;
      try {
        written = writeSync(this.fd, head);
      } catch (error) {
        if (errorCode(error) === "EAGAIN") {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.drain();
          }, this.retryMs);
          this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
          return;
        }
        // EPIPE and the like: nobody will ever read this, so nothing queued can be delivered.
        this.closed = true;
        this.queue.length = 0;
        break;
      }
      this.retryMs = RETRY_FIRST_MS;
      if (written < head.length) this.queue[0] = head.subarray(written);
      else this.queue.shift();
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
