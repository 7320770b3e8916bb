/**
 * Launches real Chromium or Firefox ESR with the built extension and the real native host registered in
 * a throw-away profile (Chromium: <user-data-dir>/NativeMessagingHosts; Firefox: a temporary HOME's
 * ~/.mozilla/native-messaging-hosts). Nothing touches the user's own profiles. Used by the demo
 * (`npm start`), the end-to-end tests and the benchmark.
 *
 * With `site`, the demo tax-hall host names resolve to the site's loopback address and the demo TLS CA is
 * trusted — in this profile only, so pages are real https secure contexts (no certificate errors ignored):
 * Chromium gets --host-resolver-rules and a temporary HOME whose ~/.pki/nssdb trusts the CA; Firefox gets
 * network.dns.forceResolve and the CA in the profile's cert9.db. Both databases are made with NSS certutil.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, { type Browser, type KeyInput, type Page } from "puppeteer-core";
import { chromeExtensionId, writeRegistration, type BrowserFamily } from "../native-host/install/host-manifest.js";
import { hostEntry, packageRoot } from "../native-host/install/paths.js";
import { DEMO_TLS_HOSTS } from "../test/virtual-token/tls-pki.js";
import type { BrowserSiteAccess } from "./test-site.js";

const REPO_ROOT = packageRoot();

export const CHROMIUM = "/usr/bin/chromium";
export const FIREFOX = "/usr/bin/firefox-esr";

export interface BrowserSession {
  family: BrowserFamily;
  browser: Browser;
  dir: string;
  close(): Promise<void>;
}

export function extensionDir(family: BrowserFamily): string {
  return join(REPO_ROOT, "dist", family === "firefox" ? "extension-firefox" : "extension-chrome");
}

const CHROMIUM_ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-dev-shm-usage",
];

export interface LaunchOptions {
  /** Show a window (needs a display); default headless. */
  headed?: boolean;
  /** Keep the profile here instead of a temporary directory that is deleted on close. */
  profileDir?: string;
  /** Register the native host (default). False simulates a machine where it was never installed. */
  registerHost?: boolean;
  /** Map the demo host names to this loopback address and trust this CA (PEM), in this profile only. */
  site?: BrowserSiteAccess;
  /**
   * "load" (default): the built extension is loaded and the host registered in the profile, as for every
   * test. "installed": neither — the browser starts as a user's desktop starts it (no automation flags that
   * block external extensions or policies), so whatever a package installed system-wide is what runs.
   */
  extension?: "load" | "installed";
  /** Extra Firefox preferences for this throw-away profile. */
  firefoxPrefs?: Record<string, unknown>;
}

const CA_NICKNAME = "yzt-demo-tls";

/**
 * Makes (or reuses) the NSS database in `dir` and trusts `caPem` in it as a TLS server CA ("C,,"), replacing
 * an older demo CA of the same nickname (a kept demo profile outlives re-provisioning).
 */
function trustCaInNssDb(dir: string, caPem: string): void {
  mkdirSync(dir, { recursive: true });
  const db = `sql:${dir}`;
  const certutil = (args: string[]) => execFileSync("certutil", ["-d", db, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  try {
    if (!existsSync(join(dir, "cert9.db"))) certutil(["-N", "--empty-password"]);
    for (let i = 0; i < 10; i++) {
      try {
        certutil(["-D", "-n", CA_NICKNAME]);
      } catch {
        break; // no (more) older demo CA
      }
    }
    const caFile = join(dir, `${CA_NICKNAME}.pem`);
    writeFileSync(caFile, caPem);
    certutil(["-A", "-n", CA_NICKNAME, "-t", "C,,", "-i", caFile]);
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
    throw new Error(missing ? "certutil is missing: run scripts/setup-system.sh (Debian package libnss3-tools)" : `certutil failed: ${String((error as { stderr?: Buffer }).stderr ?? error)}`);
  }
}

/**
 * The browser's environment with a HOME of its own. X11 looks for the display's cookie in
 * $HOME/.Xauthority when XAUTHORITY is unset: point it at the real one so a headed browser still opens.
 */
function browserEnv(home: string): Record<string, string> {
  const env = { ...process.env, HOME: home } as Record<string, string>;
  const xauthority = process.env.HOME ? join(process.env.HOME, ".Xauthority") : "";
  if (!env.XAUTHORITY && xauthority && existsSync(xauthority)) env.XAUTHORITY = xauthority;
  return env;
}

/** Chromium's --host-resolver-rules: each demo host name to the site's address; nothing else changes. */
export function hostResolverRules(site: BrowserSiteAccess): string {
  const hosts = site.hosts ?? DEMO_TLS_HOSTS;
  return [...hosts.map((host) => `MAP ${host} ${site.hostIp}`), "EXCLUDE localhost"].join(", ");
}

/**
 * Chromium flags for a site: the name mapping, and no automatic http → https upgrade (the site serves both,
 * so Chromium would otherwise turn the site's plain-http page into the https one that tests must tell apart).
 */
function chromiumSiteArgs(site: BrowserSiteAccess): string[] {
  return [`--host-resolver-rules=${hostResolverRules(site)}`, "--disable-features=HttpsUpgrades"];
}

/**
 * Chromium as a desktop starts it: only the profile, headless mode and the site's name mapping.
 * --enable-unsafe-extension-debugging only lets the driver see extension windows (the PIN dialog); it
 * loads and enables nothing.
 */
const DESKTOP_CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage", "--enable-unsafe-extension-debugging"];

export async function launchBrowser(family: BrowserFamily, hostEnv: Record<string, string>, options: LaunchOptions = {}): Promise<BrowserSession> {
  const installed = options.extension === "installed";
  if (!installed && !existsSync(extensionDir(family))) throw new Error(`${extensionDir(family)} is missing: run "npm run build" first`);
  const dir = options.profileDir ?? mkdtempSync(join(tmpdir(), `yzt-${family}-`));
  mkdirSync(dir, { recursive: true });
  const headless = !options.headed;
  const registration = {
    launcherPath: join(dir, "yzt-host.sh"),
    node: process.execPath,
    entry: hostEntry(),
    env: { YZT_LOG_FILE: join(dir, "host.log"), YZT_LOG_LEVEL: "debug", ...hostEnv },
    chromeId: chromeExtensionId(join(REPO_ROOT, "manifest.json")),
  };
  let browser: Browser;
  const home = join(dir, "home");
  const site = options.site;
  if (family === "chromium") {
    const profile = join(dir, "profile");
    if (options.registerHost !== false && !installed) writeRegistration({ ...registration, family, manifestDir: join(profile, "NativeMessagingHosts") });
    // Chromium on Linux takes locally trusted CAs from $HOME/.pki/nssdb: a HOME of its own keeps that here.
    if (site) trustCaInNssDb(join(home, ".pki", "nssdb"), site.caPem);
    const siteArgs = site ? chromiumSiteArgs(site) : [];
    // The native host inherits the browser's environment: that is how the host env reaches it when installed.
    const env = installed ? { ...browserEnv(home), ...hostEnv } : site ? browserEnv(home) : undefined;
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless,
      defaultViewport: headless ? { width: 1200, height: 900 } : null,
      userDataDir: profile,
      pipe: true,
      ...(installed
        ? { ignoreDefaultArgs: true, args: [...DESKTOP_CHROMIUM_ARGS, ...(headless ? ["--headless=new"] : []), ...siteArgs] }
        : { enableExtensions: [extensionDir(family)], args: [...CHROMIUM_ARGS, ...siteArgs] }),
      ...(env ? { env } : {}),
    });
  } else {
    const profile = join(dir, "profile");
    if (options.registerHost !== false && !installed) writeRegistration({ ...registration, family, manifestDir: join(home, ".mozilla", "native-messaging-hosts") });
    if (site) trustCaInNssDb(profile, site.caPem);
    browser = await puppeteer.launch({
      browser: "firefox",
      executablePath: FIREFOX,
      headless,
      userDataDir: profile,
      env: installed ? { ...browserEnv(home), ...hostEnv } : browserEnv(home),
      extraPrefsFirefox: {
        // Every host name resolves to the site's address (Firefox has no per-name mapping to any address).
        // Plain http stays plain http, as in Chromium (chromiumSiteArgs).
        ...(site ? { "network.dns.forceResolve": site.hostIp, "dom.security.https_first": false } : {}),
        "extensions.autoDisableScopes": 0,
        "datareporting.policy.dataSubmissionEnabled": false,
        "browser.shell.checkDefaultBrowser": false,
        "network.captive-portal-service.enabled": false,
        "app.update.enabled": false,
        ...options.firefoxPrefs,
      },
    });
    if (!installed) await browser.installExtension(extensionDir(family));
  }
  return {
    family,
    browser,
    dir,
    async close() {
      await browser.close().catch(() => undefined);
      if (!options.profileDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Waits for an extension dialog window (picker / pin / change-pin / consent) and returns its page. Pages are
 * asked for their own location: over WebDriver BiDi, Firefox reports extension popups as about:blank.
 * `answered`: dialogs already dealt with, which may still be closing (a series of consent windows).
 */
export async function waitForDialog(browser: Browser, name: "picker" | "pin" | "change-pin" | "consent", timeout = 10_000, answered?: ReadonlySet<Page>): Promise<Page> {
  const page = await waitForExtensionPage(browser, `/extension/ui/${name}.html`, timeout, answered);
  // Typing before the dialog's script is ready would go nowhere: wait for its form to say so.
  await page.waitForSelector("form[data-ready=true]", { timeout });
  return page;
}

/** Any open extension page whose location contains `wanted`. */
export async function waitForExtensionPage(browser: Browser, wanted: string, timeout = 10_000, answered?: ReadonlySet<Page>): Promise<Page> {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    // Newest first: an older dialog that is still closing must not be mistaken for the new one.
    for (const page of (await browser.pages()).reverse()) {
      if (answered?.has(page)) continue;
      const href = page.url().includes(wanted) ? page.url() : await page.evaluate(() => location.href).catch(() => "");
      if (href.includes(wanted)) return page;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no page ${wanted} within ${timeout} ms`);
}

/** The driver's errors that mean the dialog window closed under it: success for an action that closes it. */
function closedUnderUs(error: unknown): boolean {
  return /Target closed|TargetCloseError|No target with given id|Session closed|browsing context|no such frame/i.test(String(error));
}

/**
 * Clicks a dialog button that may close the dialog window: the window can vanish between the mouse-down
 * and mouse-up the driver sends, which is success, not failure.
 */
export async function press(dialog: Page, selector: string): Promise<void> {
  await dialog.click(selector).catch((error: unknown) => {
    if (!closedUnderUs(error)) throw error;
  });
}

/** Presses a key in a dialog that the key may close (Enter, Escape): as press(), between key-down and key-up. */
export async function pressKey(dialog: Page, key: KeyInput): Promise<void> {
  await dialog.keyboard.press(key).catch((error: unknown) => {
    if (!closedUnderUs(error)) throw error;
  });
}
