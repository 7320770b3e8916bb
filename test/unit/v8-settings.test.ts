/**
 * The host's lean V8 settings (native-host/support/v8-settings.ts), each check in a Node of its own: V8's flags
 * belong to the whole process, and V8 remembers scripts it compiled before, which would hide whether a code
 * cache was accepted. The compiled module (dist/) is what the bundle holds.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../scripts/host-process.js";

const SETTINGS = pathToFileURL(join(REPO_ROOT, "dist", "native-host", "support", "v8-settings.js")).href;
const work = mkdtempSync(join(tmpdir(), "yzt-v8-settings-"));
const CACHE = join(work, "script.v8-cache");
const SOURCE = "(function (a, b) { return a * b + 1; })";

afterAll(() => rmSync(work, { recursive: true, force: true }));

function inFreshNode(body: string): string {
  const program = `import { settleLean, underNodeDefaults, needOptimisingCompiler } from ${JSON.stringify(SETTINGS)};
import { Script } from "node:vm";
import { readFileSync, writeFileSync } from "node:fs";
import { getHeapSpaceStatistics } from "node:v8";
const SOURCE = ${JSON.stringify(SOURCE)};
const CACHE = ${JSON.stringify(CACHE)};
${body}`;
  return execFileSync(process.execPath, ["--input-type=module", "-e", program], { encoding: "utf8" }).trim();
}

const accepted = (how: string) => `const script = ${how}; process.stdout.write(script.cachedDataRejected ? "rejected" : "accepted");`;

describe("the host's lean V8 settings", () => {
  it("keep code caches written under Node's defaults usable: V8 refuses them under the lean flags, not under underNodeDefaults", () => {
    inFreshNode(`writeFileSync(CACHE, new Script(SOURCE).createCachedData());`);
    const load = "new Script(SOURCE, { cachedData: readFileSync(CACHE) })";
    expect(inFreshNode(accepted(load))).toBe("accepted");
    expect(inFreshNode(`settleLean(); ${accepted(load)}`)).toBe("rejected");
    expect(inFreshNode(`settleLean(); ${accepted(`underNodeDefaults(() => ${load})`)}`)).toBe("accepted");
    // TurboFan back on for heavy code leaves the heap lean: still not Node's defaults.
    expect(inFreshNode(`settleLean(); needOptimisingCompiler(); ${accepted(load)}`)).toBe("rejected");
    expect(inFreshNode(`settleLean(); needOptimisingCompiler(); ${accepted(`underNodeDefaults(() => ${load})`)}`)).toBe("accepted");
  });

  it("write caches under Node's defaults from a lean process", () => {
    inFreshNode(`settleLean(); const script = new Script(SOURCE); writeFileSync(CACHE, underNodeDefaults(() => script.createCachedData()));`);
    expect(inFreshNode(accepted("new Script(SOURCE, { cachedData: readFileSync(CACHE) })"))).toBe("accepted");
  });

  it("keep the young generation at its first size where Node's defaults let it grow to 32 MB", () => {
    // Short-lived garbage with a few survivors, as requests in flight leave it.
    const churn = `let live = [];
for (let i = 0; i < 300000; i++) { live.push({ text: "申报表".repeat(20) + i, rows: new Array(16).fill(i) }); if (live.length > 3000) live = live.slice(1500); }
const newSpace = getHeapSpaceStatistics().find((space) => space.space_name === "new_space");
process.stdout.write(String(newSpace.space_size / 1048576));`;
    const leanMb = Number(inFreshNode(`settleLean(); ${churn}`));
    const defaultMb = Number(inFreshNode(churn));
    expect(leanMb).toBeLessThanOrEqual(2);
    expect(defaultMb).toBeGreaterThan(8);
  });
});
