/**
 * `npm run vtoken -- <command>`: the virtual USB key from the outside.
 *   provision | reset [--keys N]   create (again) the demo CAs and keys, plus N office keys (one company
 *                            each, SM2/RSA alternating, all inserted): an accounting agency's hub
 *   status                   which keys are inserted, PIN retries, latency
 *   insert|remove <key>      put a key in / pull it out (keys: demo, ec, expired, expiring)
 *   latency <key> <ms>       make signing slow like a real USB key
 *   unlock <key>             SO unlock after 10 wrong PINs (PIN back to 12345678)
 *   lock <key>               lock the user PIN, as 10 wrong PINs do (to try 证书解锁 on the demo issuer site)
 * Home: --home DIR, else $YZT_VTOKEN_HOME, else <repo>/.vtoken.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./build.js";
import { provision } from "./provision.js";
import { getLatency, getRetries, insertToken, isInserted, readManifest, removeToken, setLatency, setRetries, unlockToken } from "./state.js";

export function defaultHome(): string {
  return process.env.YZT_VTOKEN_HOME || join(repoRoot(), ".vtoken");
}

function requireProvisioned(home: string): void {
  if (!existsSync(join(home, "manifest.json"))) throw new Error(`no virtual token in ${home}: run "npm run vtoken -- provision" first`);
}

async function main(argv: string[]): Promise<void> {
  const homeIndex = argv.indexOf("--home");
  const home = homeIndex >= 0 ? argv.splice(homeIndex, 2)[1] ?? "" : defaultHome();
  const keysIndex = argv.indexOf("--keys");
  const keys = keysIndex >= 0 ? Number(argv.splice(keysIndex, 2)[1]) : 0;
  const [command, key, value] = argv;
  switch (command) {
    case "provision":
    case "reset": {
      const manifest = await provision(home, { keys });
      const offices = manifest.tokens.filter((token) => token.alias.startsWith("office")).map((token) => token.alias);
      console.log(`virtual token ready in ${home}\nmodule: ${manifest.module} (PKCS#11)\nskfModule: ${manifest.skfModule} (SKF, GM/T 0016)\nuser PIN ${manifest.userPin}, SO PIN ${manifest.soPin}; inserted: demo${offices.length > 0 ? `, ${offices.join(", ")}` : ""}`);
      return;
    }
    case "status": {
      requireProvisioned(home);
      const manifest = readManifest(home);
      console.log(`module: ${manifest.module}\nskfModule: ${manifest.skfModule}`);
      for (const token of manifest.tokens) {
        const state = isInserted(home, token.alias) ? "inserted" : "removed ";
        console.log(`${token.alias.padEnd(9)} ${token.serial}  ${state}  PIN tries left ${getRetries(home, token.alias)}  latency ${getLatency(home, token.alias)} ms  ${token.company}`);
      }
      return;
    }
    case "insert":
    case "remove":
    case "lock":
    case "unlock": {
      requireProvisioned(home);
      if (!key) throw new Error(`usage: ${command} <demo|ec|expired|expiring>`);
      if (command === "insert") insertToken(home, key);
      else if (command === "remove") removeToken(home, key);
      else if (command === "lock") setRetries(home, key, 0);
      else unlockToken(home, key);
      const done = { insert: "inserted", remove: "removed", lock: "PIN locked", unlock: "unlocked, PIN reset" } as const;
      console.log(`${key}: ${done[command]}`);
      return;
    }
    case "latency": {
      requireProvisioned(home);
      const ms = Number(value);
      if (!key || !Number.isInteger(ms)) throw new Error("usage: latency <key> <milliseconds>");
      setLatency(home, key, ms);
      console.log(`${key}: ${ms} ms per signature`);
      return;
    }
    default:
      console.log("usage: vtoken provision|reset [--keys N]|status|insert <key>|remove <key>|latency <key> <ms>|lock <key>|unlock <key> [--home DIR]");
      if (command !== undefined) process.exitCode = 1;
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(`vtoken: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
