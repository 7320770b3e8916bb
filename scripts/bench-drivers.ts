/**
 * What running each key library in a driver process of its own costs (DESIGN.md "Key backends"): the same
 * host started twice on the same keys, once with its library loaded in its own process
 * (YZT_KEY_DRIVERS=inprocess, the floor) and once behind its driver (what ships), signing in alternating
 * batches: the difference per signature is the driver hop. Also each idle driver's memory.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import type { HostLibrary } from "../test/virtual-token/backend.js";
import { besideFloor, hostSampler, type BenchKey, type Paired } from "./bench-paths.js";
import { HostProcess } from "./host-process.js";

export interface DriverBench {
  /** Per key: floor = the host with its library in-process, path = the host with it behind its driver. */
  paired: Paired[];
  /** Resident memory of each driver process once the host has listed its keys and signed nothing. */
  idleDriverRssMb: number[];
  /**
   * The same drivers' proportional share (PSS): the pages of the Node binary and the libraries that the host
   * maps too are counted half. RSS counts them whole in each process.
   */
  idleDriverPssMb: number[];
  /** A bare Node process, idle, measured beside them: the floor under any driver, a Node process too. */
  bareNodeRssMb: number;
}

/** A process's proportional set size (Linux smaps_rollup). */
export function pssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8").split("\n").find((l) => l.startsWith("Pss:"));
  return Number(/(\d+)/.exec(line ?? "")?.[1] ?? 0) / 1024;
}

/** A process's resident memory (Linux /proc). */
export function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Number(/(\d+)/.exec(line ?? "")?.[1] ?? 0) / 1024;
}

/** The resident memory of a Node process that does nothing once started (what Node itself takes here). */
async function bareNodeRssMb(): Promise<number> {
  const child = spawn(process.execPath, ["-e", 'setImmediate(() => process.stdout.write("ready\\n")); setInterval(() => {}, 1000);'], { stdio: ["ignore", "pipe", "ignore"] });
  try {
    await once(child.stdout, "data");
    return rssMb(child.pid!);
  } finally {
    child.kill();
  }
}

/** The host's child processes: its drivers (Linux /proc). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export async function measureDriverHop(library: HostLibrary, env: Record<string, string>, keys: BenchKey[], count: number): Promise<DriverBench> {
  const common = { ...env, YZT_LOG_LEVEL: "warn" };
  const inProcess = HostProcess.start({ library, env: { ...common, YZT_KEY_DRIVERS: "inprocess" } });
  const withDriver = HostProcess.start({ library, env: common });
  try {
    await Promise.all([inProcess.request("listTokens", {}), withDriver.request("listTokens", {})]);
    const drivers = childrenOf(withDriver.child.pid!);
    const idleDriverRssMb = drivers.map(rssMb);
    const idleDriverPssMb = drivers.map(pssMb);
    const bareRss = await bareNodeRssMb();
    const paired: Paired[] = [];
    for (const key of keys) {
      const floor = await hostSampler(inProcess, key, "https://bench.example.cn");
      paired.push(await besideFloor({ batch: floor, close() {} }, await hostSampler(withDriver, key, "https://bench.example.cn"), count));
    }
    return { paired, idleDriverRssMb, idleDriverPssMb, bareNodeRssMb: bareRss };
  } finally {
    await Promise.all([inProcess.close(), withDriver.close()]);
  }
}
