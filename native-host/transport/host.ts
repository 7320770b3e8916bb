/**
 * The native host loop: decode frames from the browser, validate, dispatch, answer, and forward token
 * events. Requests run concurrently (the token service serialises per token); a bad frame is answered
 * with BAD_REQUEST and the loop carries on.
 *
 * Layer transport/ (framing, host loop, dispatcher): owns the stdio wire to the browser. It may import
 * token/ (which it drives), support/ and the protocol contract; nothing below it imports transport/.
 */
import { YztError } from "../../protocol/errors.js";
import { encodeFrame, FrameDecoder } from "./framing.js";
import type { Logger } from "../support/log.js";
import { MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, parseRequest, requestIdOf, type HostMessage, type Request } from "../../protocol/messages.js";

export interface HostIo {
  write(frame: Buffer): void;
}

export class HostLoop {
  private readonly decoder = new FrameDecoder(MAX_REQUEST_BYTES);

  constructor(
    private readonly io: HostIo,
    private readonly dispatch: (request: Request) => Promise<unknown>,
    private readonly logger: Logger,
  ) {}

  /** Feeds raw stdin bytes. */
  receive(chunk: Buffer): void {
    for (const decoded of this.decoder.push(chunk)) {
      if (decoded.kind === "error") {
        // The frame could not be read, so there is no id to answer to: id 0 is reserved for this.
        this.send({ id: 0, error: decoded.error.toJSON() });
        continue;
      }
      void this.handle(decoded.value);
    }
  }

  send(message: HostMessage): void {
    let frame = encodeFrame(message);
    if (frame.length - 4 > MAX_RESPONSE_BYTES && "id" in message) {
      frame = encodeFrame({ id: message.id, error: new YztError("INTERNAL", "reply exceeds the 1 MiB native-messaging limit").toJSON() });
    }
    this.io.write(frame);
  }

  private async handle(message: unknown): Promise<void> {
    let request: Request;
    try {
      request = parseRequest(message);
    } catch (error) {
      this.send({ id: requestIdOf(message) ?? 0, error: YztError.from(error, "BAD_REQUEST").toJSON() });
      return;
    }
    const started = performance.now();
    try {
      const result = await this.dispatch(request);
      this.send({ id: request.id, result: result ?? null });
      this.logger.log("debug", "request done", { method: request.method, ms: Math.round(performance.now() - started) });
    } catch (error) {
      const failure = YztError.from(error);
      this.logger.log(failure.code === "INTERNAL" ? "error" : "info", "request failed", { method: request.method, code: failure.code, detail: failure.code === "INTERNAL" ? failure.message : undefined });
      this.send({ id: request.id, error: failure.toJSON() });
    }
  }
}
