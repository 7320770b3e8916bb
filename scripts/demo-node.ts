/**
 * One node of a multi-node demo tax hall, as its own process: the demo server over plain http on
 * 127.0.0.1 (any free port), its challenges in the Redis all nodes share, LoginTokens checked against the
 * site's public origin. Started by scripts/demo-node-process.ts for the server-kit tests and the login
 * benchmark; it prints one JSON line {url, origin} once it listens, and ends when its stdin closes (so it
 * never outlives the process that started it) or on SIGTERM.
 *   node dist/scripts/demo-node.js --trusted-roots roots.pem --challenge-store redis://127.0.0.1:6379 --public-origin https://etax.example.cn
 */
import { startDemoServer } from "../demo/server.js";
import { redisChallengeStore } from "../server/index.js";

function option(argv: string[], name: string): string {
  const index = argv.indexOf(`--${name}`);
  const value = index >= 0 ? argv[index + 1] : undefined;
  if (!value) throw new Error(`--${name} is required`);
  return value;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const challengeStore = redisChallengeStore(option(argv, "challenge-store"));
  const server = await startDemoServer({ trustedRoots: [option(argv, "trusted-roots")], challengeStore, publicOrigin: option(argv, "public-origin") });
  process.stdout.write(`${JSON.stringify({ url: server.url, origin: server.origin })}\n`);
  const stop = async () => {
    await server.close();
    await challengeStore.close();
    process.exit(0);
  };
  process.stdin.on("end", () => void stop());
  process.stdin.resume();
  process.once("SIGTERM", () => void stop());
}

main().catch((error: unknown) => {
  console.error(`demo node: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
