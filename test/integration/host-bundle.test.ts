/**
 * The bundled host as browsers start it (dist/host/main.js: the code-cached loader of bundle.cjs and
 * vendor.cjs). The caches must be ones this Node accepts under the flags launchers give it and the flags the
 * loader sets (TurboFan off for bundle.cjs, on for vendor.cjs), or every start silently compiles again; a cache
 * V8 rejects (another Node, a damaged file) must cost time only, never an answer; the bundles must be ASCII,
 * because the loader reads them as latin1.
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_FILE, codeCacheFile, VENDOR_FILE } from "../../native-host/bundle/run-bundle.js";
import { HostProcess, REPO_ROOT } from "../../scripts/host-process.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";

const HOST_DIR = join(REPO_ROOT, "dist", "host");
const ORIGIN = "https://etax.beijing.chinatax.gov.cn";

let vtoken: VirtualToken;
/** A copy of dist/host inside dist/, so pkcs11js resolves from the repository's node_modules as it does for the original. */
let copy: string;

beforeAll(async () => {
  vtoken = await cloneVirtualToken();
  copy = join(REPO_ROOT, "dist", `host-rejected-cache-${process.pid}`);
  cpSync(HOST_DIR, copy, { recursive: true });
  // Same length, other bytes: V8 must refuse them (its checksum), as it refuses another Node's cache.
  for (const file of [BUNDLE_FILE, VENDOR_FILE]) {
    const cache = join(copy, codeCacheFile(file));
    writeFileSync(cache, Buffer.alloc(readFileSync(cache).length, 0x5a));
  }
}, 60_000);

afterAll(() => {
  vtoken?.dispose();
  if (copy) rmSync(copy, { recursive: true, force: true });
});

/** A first contact, as a login page makes it: hello, list, log in, then a CMS signature (which needs vendor.cjs). */
async function firstContact(entry: string): Promise<{ verified: unknown; rejectedCaches: string[] }> {
  // HostProcess starts Node as launchers do and logs at debug level, where the loader says which caches V8
  // refused.
  const host = HostProcess.start({ entry, library: vtoken.library, env: vtoken.env });
  let verified: unknown;
  try {
    expect(await host.request("hello")).toMatchObject({ protocol: 1 });
    const [certificate] = (await host.request("listCertificates", { purpose: "sign" })).filter((candidate) => candidate.tokenSerial === vtoken.manifest.tokens[0]!.serial);
    expect(certificate).toBeDefined();
    await host.request("login", { certificateId: certificate!.id, origin: ORIGIN, pin: vtoken.manifest.userPin });
    const signed = await host.request("sign", { certificateId: certificate!.id, origin: ORIGIN, format: "pkcs7-detached", data: Buffer.from("申报表").toString("base64") });
    verified = await host.request("verifyMessage", { signature: signed.signature, data: Buffer.from("申报表").toString("base64") });
  } finally {
    await host.close();
  }
  const logLines = host.stderr.join("").split("\n").filter((line) => line.startsWith("{"));
  const rejectedCaches = logLines.map((line) => JSON.parse(line) as { message: string; bundle?: string }).filter((line) => line.message === "code cache rejected").map((line) => line.bundle!);
  return { verified, rejectedCaches };
}

describe("the bundled host", () => {
  it("started as launchers start it, compiles both bundles from the caches it ships (V8 checks Node and flags)", async () => {
    const { verified, rejectedCaches } = await firstContact(join(HOST_DIR, "main.js"));
    expect(verified).toMatchObject({ valid: true });
    expect(rejectedCaches).toEqual([]);
  });

  it("ships bundles that are ASCII, so reading them as latin1 is exact", () => {
    for (const file of [BUNDLE_FILE, VENDOR_FILE]) {
      const bytes = readFileSync(join(HOST_DIR, file));
      expect(bytes.findIndex((byte) => byte > 0x7f), file).toBe(-1);
    }
  });

  it("with caches V8 rejects, says so and still answers, lists, logs in and signs CMS (vendor.cjs) like the original", async () => {
    const { verified, rejectedCaches } = await firstContact(join(copy, "main.js"));
    expect(verified).toMatchObject({ valid: true });
    // The key library's driver process runs the same bundle and says so too.
    expect([...new Set(rejectedCaches)].sort()).toEqual([BUNDLE_FILE, VENDOR_FILE]);
  });
});
