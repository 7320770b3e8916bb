/**
 * An installation without the PKCS#11 binding (the Windows installer built here: no Windows pkcs11js on the
 * registry) still starts and answers: the bundled host, laid out as a package lays it out but with no
 * node_modules/pkcs11js, serves the virtual key through its SKF face; a PKCS#11 library it is given is listed
 * as failed with why, and diagnose names the missing binding. The SKF binding (koffi) is there.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HostProcess, REPO_ROOT } from "../../scripts/host-process.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";

let vtoken: VirtualToken;
let install: string;
let host: HostProcess;

beforeAll(async () => {
  vtoken = await cloneVirtualToken();
  install = mkdtempSync(join(tmpdir(), "yzt-no-pkcs11-"));
  writeFileSync(join(install, "package.json"), JSON.stringify({ name: "yzt-bridge", version: "0.0.0", private: true, type: "module" }));
  cpSync(join(REPO_ROOT, "manifest.json"), join(install, "manifest.json"));
  cpSync(join(REPO_ROOT, "dist", "host"), join(install, "dist", "host"), { recursive: true });
  mkdirSync(join(install, "node_modules", "@koromix"), { recursive: true });
  symlinkSync(join(REPO_ROOT, "node_modules", "koffi"), join(install, "node_modules", "koffi"));
  const koffiPlatform = `koffi-${process.platform}-${process.arch}`;
  symlinkSync(join(REPO_ROOT, "node_modules", "@koromix", koffiPlatform), join(install, "node_modules", "@koromix", koffiPlatform));
  host = HostProcess.start({
    entry: join(install, "dist", "host", "main.js"),
    env: { ...vtoken.env, YZT_PKCS11_MODULE: "", YZT_SKF_MODULE: "" },
    args: ["--skf-module", vtoken.manifest.skfModule, "--module", vtoken.module],
  });
}, 60_000);

afterAll(async () => {
  await host?.close();
  vtoken?.dispose();
  if (install) rmSync(install, { recursive: true, force: true });
});

describe("a host installed without the PKCS#11 binding", () => {
  it("starts, answers hello and lists the keys its SKF library reaches", async () => {
    // hello waits for no library; once the libraries' drivers have answered, only the SKF one counts as loaded.
    expect(await host.request("hello")).toMatchObject({ protocol: 1 });
    const tokens = await host.request("listTokens");
    expect(tokens.filter((token) => token.present).length).toBeGreaterThan(0);
    expect(await host.request("hello")).toMatchObject({ protocol: 1, modules: [vtoken.manifest.skfModule] });
  });

  it("lists the PKCS#11 library as failed, saying the binding is not in this installation, and diagnose names it", async () => {
    const { checks } = await host.request("diagnose");
    expect(checks.find((check) => check.id === "binding" && check.detail?.backend === "pkcs11")).toMatchObject({ status: "warning" });
    expect(checks.find((check) => check.id === "binding" && check.detail?.backend === "skf")).toMatchObject({ status: "ok" });
    const pkcs11 = checks.find((check) => check.id === "module" && check.detail?.path === vtoken.module);
    expect(pkcs11).toMatchObject({ status: "error" });
    expect(pkcs11!.message).toContain("the PKCS#11 binding (pkcs11js) is not in this installation");
  });
});
