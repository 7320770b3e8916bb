/**
 * Calls running on koffi's worker threads, and work that must wait until none runs: closing a key's handles,
 * unloading a library. Doing either under a running call would free memory the vendor library is using.
 */
export class WorkerCalls {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  get busy(): boolean {
    return this.running > 0;
  }

  async run<T>(call: () => Promise<T>): Promise<T> {
    this.running++;
    try {
      return await call();
    } finally {
      this.running--;
      this.flush();
    }
  }

  /** Runs `action` now if no call runs, else once the last one has returned. */
  whenIdle(action: () => void): void {
    this.waiting.push(action);
    this.flush();
  }

  private flush(): void {
    if (this.running > 0) return;
    for (const action of this.waiting.splice(0)) action();
  }
}
