/**
 * Starts and stops demo nodes (scripts/demo-node.ts) as child processes: several servers of one site
 * sharing a Redis challenge store, the way a tax hall runs behind a load balancer. Used by the server-kit
 * integration tests and the login benchmark.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { join } from "node:path";
import { packageRoot } from "../native-host/install/paths.js";

export interface DemoNodeOptions {
  /** A PEM file with the CA certificates the site trusts. */
  trustedRoots: string;
  /** redis:// URL of the shared challenge store. */
  challengeStore: string;
  /** The site's origin, the same for every node. */
  publicOrigin: string;
}

export interface DemoNodeProcess {
  /** Where this node answers (http://127.0.0.1:<port>/). */
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startDemoNode(options: DemoNodeOptions): Promise<DemoNodeProcess> {
  const entry = join(packageRoot(), "dist", "scripts", "demo-node.js");
  const args = [entry, "--trusted-roots", options.trustedRoots, "--challenge-store", options.challengeStore, "--public-origin", options.publicOrigin];
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      const line = stdout.split("\n")[0];
      if (stdout.includes("\n") && line) resolve((JSON.parse(line) as { url: string }).url);
    });
    void exited.then(() => reject(new Error(`demo node exited before it listened: ${stderr}`)));
  });
  return {
    url,
    pid: child.pid!,
    stop: async () => {
      // Closing stdin is the node's signal to close its server and store and exit.
      child.stdin.end();
      await exited;
    },
  };
}
