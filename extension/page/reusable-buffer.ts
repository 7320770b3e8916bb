/**
 * One spare buffer for decoding large documents in the page. On the machines we measured, a fresh 20 MB
 * buffer costs 11–90 ms (the operating system zero-fills every page on first touch) while decoding into it
 * takes 5 ms: an office signing several attachments in a row pays that once, not per document. The spare is
 * dropped after a minute without large documents, so a page does not keep 32 MB it no longer needs.
 */

const RELEASE_AFTER_MS = 60_000;
// Taken when the script loads, before any page script could replace it.
const setTimer = setTimeout;
const clearTimer = clearTimeout;

export class ReusableBuffer {
  private spare: ArrayBuffer | null = null;
  private releaseTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly releaseAfterMs = RELEASE_AFTER_MS) {}

  /** `size` bytes, in the spare buffer when it is free and big enough. The caller gives it back when done. */
  take(size: number): Uint8Array<ArrayBuffer> {
    const spare = this.spare;
    if (spare && spare.byteLength >= size) {
      // Two signatures at once: the second gets a fresh buffer, never a shared one.
      this.spare = null;
      return new Uint8Array(spare, 0, size);
    }
    return new Uint8Array(size);
  }

  /** Keeps the larger of the returned and the spare buffer; the other is left to the garbage collector. */
  giveBack(bytes: Uint8Array<ArrayBuffer>): void {
    if (!this.spare || bytes.buffer.byteLength > this.spare.byteLength) this.spare = bytes.buffer;
    clearTimer(this.releaseTimer);
    this.releaseTimer = setTimer(() => {
      this.spare = null;
    }, this.releaseAfterMs);
  }

  get spareBytes(): number {
    return this.spare?.byteLength ?? 0;
  }
}
