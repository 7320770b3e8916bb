/**
 * The tax hall's "一证通证书应用环境" page in its three states, in Chromium and Firefox, over https under the
 * tax-hall name: no extension (download and steps for this OS), extension without the native host
 * (HOST_MISSING: the same downloads, plus the repair hint), and ready (versions and the inserted keys).
 * The downloads are files of the packager's names in a directory of the test's own: the page and the
 * server are under test here, the packages themselves in test/system.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoServer, type DemoServer } from "../../demo/server.js";
import { launchBrowser, type LaunchOptions } from "../../scripts/launch-browser.js";
import { loopbackAddress } from "../../scripts/test-site.js";
import { REPO_ROOT } from "../../scripts/host-process.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";
import { isInserted } from "../virtual-token/state.js";

const version = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version;
const DOWNLOADS: Record<string, string> = {
  [`yzt-bridge_${version}_amd64.deb`]: "deb package bytes",
  [`yzt-bridge-${version}-1.x86_64.rpm`]: "rpm package bytes",
  [`yzt-bridge-firefox-${version}.xpi`]: "xpi bytes",
  "notes.txt": "not a package: never served",
};

let vtoken: VirtualToken;
let demo: DemoServer;
let packagesDir: string;
let caPem: string;

beforeAll(async () => {
  vtoken = await cloneVirtualToken();
  packagesDir = mkdtempSync(join(tmpdir(), "yzt-env-packages-"));
  const sums: string[] = [];
  for (const [name, content] of Object.entries(DOWNLOADS)) {
    writeFileSync(join(packagesDir, name), content);
    sums.push(`${createHash("sha256").update(content).digest("hex")}  ${name}`);
  }
  writeFileSync(join(packagesDir, "SHA256SUMS"), sums.join("\n") + "\n");
  const tls = vtoken.manifest.tls;
  caPem = readFileSync(tls.ca, "utf8");
  const start = (port: number) => startDemoServer({ trustedRoots: [vtoken.manifest.pki.chain], host: loopbackAddress(), port, packagesDir, tls: { cert: tls.cert, key: tls.key, hostName: tls.hosts[0]! } });
  demo = await start(443).catch(() => start(0));
}, 60_000);

afterAll(async () => {
  await demo?.close();
  vtoken?.dispose();
  if (packagesDir) rmSync(packagesDir, { recursive: true, force: true });
});

for (const family of ["chromium", "firefox"] as const) {
  describe(`一证通证书应用环境 page in ${family}`, () => {
    async function openEnvironment(options: LaunchOptions) {
      const session = await launchBrowser(family, vtoken.hostEnv, { ...options, site: { hostIp: demo.hostIp, caPem } });
      const page = await session.browser.newPage();
      await page.goto(demo.url);
      // Reached as a visitor does: the link at the top right of every tax-hall page.
      await Promise.all([page.waitForNavigation(), page.click("header a.env-link")]);
      await page.waitForSelector("#state:not([data-state=checking])", { timeout: 15_000 });
      return { session, page };
    }

    async function offeredDownloads(page: Awaited<ReturnType<typeof openEnvironment>>["page"]) {
      await page.waitForSelector("#downloads li", { timeout: 10_000 });
      return page.$$eval("#downloads a.download", (links) => links.map((link) => ({ kind: (link as HTMLElement).dataset.kind, href: (link as HTMLAnchorElement).href, text: link.parentElement!.textContent })));
    }

    it("without the extension: says so and offers this Linux machine's .deb and .rpm with checksums and steps", async () => {
      const { session, page } = await openEnvironment({ extension: "installed" });
      try {
        expect(await page.$eval("#state", (el) => (el as HTMLElement).dataset.state)).toBe("none");
        const links = await offeredDownloads(page);
        expect(links.map((link) => link.kind).sort()).toEqual(family === "firefox" ? ["deb", "rpm", "xpi"] : ["deb", "rpm"]);
        const deb = links.find((link) => link.kind === "deb")!;
        expect(deb.text).toContain(createHash("sha256").update(DOWNLOADS[`yzt-bridge_${version}_amd64.deb`]!).digest("hex"));
        // The link serves the file's bytes; a name of no package shape is not served.
        const fetched = await page.evaluate(async (href) => (await fetch(href)).text(), deb.href);
        expect(fetched).toBe(DOWNLOADS[`yzt-bridge_${version}_amd64.deb`]);
        expect(await page.evaluate(async () => (await fetch("/packages/notes.txt")).status)).toBe(404);
        expect(await page.$eval("#platform", (el) => el.textContent)).toContain("Linux");
        expect(await page.$eval("#steps", (el) => el.textContent)).toContain("sudo apt install");
      } finally {
        await session.close();
      }
    }, 90_000);

    it("with the extension but no native host: HOST_MISSING, the packages and the repair hint", async () => {
      const { session, page } = await openEnvironment({ registerHost: false });
      try {
        expect(await page.$eval("#state", (el) => (el as HTMLElement).dataset.state)).toBe("host-missing");
        expect((await offeredDownloads(page)).map((link) => link.kind).sort()).toEqual(["deb", "rpm"]);
        expect(await page.$eval("#steps", (el) => el.textContent)).toContain("yzt doctor --fix");
      } finally {
        await session.close();
      }
    }, 90_000);

    it("ready: the extension and host versions and the inserted keys, no downloads", async () => {
      const { session, page } = await openEnvironment({});
      try {
        expect(await page.$eval("#state", (el) => (el as HTMLElement).dataset.state)).toBe("ready");
        const versions = await page.$eval("#versions", (el) => el.textContent);
        expect(versions).toContain(`本地服务版本${version}`);
        expect(versions).toContain(`扩展版本${version}`);
        const keys = await page.$$eval("#keys li.key", (items) => items.map((li) => li.textContent));
        const present = vtoken.manifest.tokens.filter((token) => isInserted(vtoken.home, token.serial));
        expect(present.length).toBeGreaterThan(0);
        expect(keys.length).toBe(present.length);
        for (const token of present) expect(keys.join("\n")).toContain(token.serial);
        expect(await page.$eval("#install", (el) => el.className)).toBe("hidden");
      } finally {
        await session.close();
      }
    }, 90_000);
  });
}
