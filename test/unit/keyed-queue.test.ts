import { describe, expect, it } from "vitest";
import { KeyedQueue } from "../../native-host/token/keyed-queue.js";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("per-token operation queue", () => {
  it("runs tasks for one token strictly one after another", async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    const task = (name: string) => async () => {
      log.push(`${name}:start`);
      await delay(10);
      log.push(`${name}:end`);
    };
    await Promise.all([queue.run("t1", task("a")), queue.run("t1", task("b")), queue.run("t1", task("c"))]);
    expect(log).toEqual(["a:start", "a:end", "b:start", "b:end", "c:start", "c:end"]);
  });

  it("lets different tokens work in parallel", async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    await Promise.all([
      queue.run("t1", async () => { log.push("t1:start"); await delay(20); log.push("t1:end"); }),
      queue.run("t2", async () => { log.push("t2:start"); await delay(5); log.push("t2:end"); }),
    ]);
    expect(log.indexOf("t2:start")).toBeLessThan(log.indexOf("t1:end"));
  });

  it("keeps going after a failed task and forgets idle tokens", async () => {
    const queue = new KeyedQueue();
    await expect(queue.run("t", async () => { throw new Error("boom"); })).rejects.toThrow("boom");
    await expect(queue.run("t", async () => 42)).resolves.toBe(42);
    await delay(0);
    expect(queue.activeKeys).toBe(0);
  });
});
