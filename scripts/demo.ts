/**
 * `npm start`: the whole product on one machine. Provisions the virtual USB key (unless a real PKCS#11
 * module is configured with YZT_PKCS11_MODULE), starts the demo tax hall on loopback as
 * https://etax.beijing.chinatax.gov.cn/ (port 443 of a loopback address of its own; 8443 when binding 443 is
 * not allowed), registers the native host for a throw-away browser profile and opens the browser with the
 * extension. Only that browser profile maps the name to the loopback address and trusts the demo TLS CA.
 *   npm start                       Chromium (headed when a display exists)
 *   npm start -- --browser firefox  Firefox ESR
 *   npm start -- --headless         no window: logs in and submits by itself, saves screenshots
 *   npm start -- --exit             stop after the headless run (for scripts)
 * Environment: YZT_PKCS11_MODULE (a real key's module), YZT_VTOKEN_HOME (virtual token, default .vtoken/),
 * YZT_DEMO_PORT (https port, default 443), YZT_DEMO_DIR (profiles and screenshots, default .demo/).
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startDemoServer, type DemoServer } from "../demo/server.js";
import { packageRoot } from "../native-host/install/paths.js";
import { provision, USER_PIN } from "../test/virtual-token/provision.js";
import { readManifest } from "../test/virtual-token/state.js";
import { createDemoTls, DEMO_TLS_HOSTS, demoTlsFiles, type TlsFiles } from "../test/virtual-token/tls-pki.js";
import { walkThrough } from "./demo-walkthrough.js";
import { launchBrowser } from "./launch-browser.js";
import { loopbackAddress } from "./test-site.js";

const DEMO_HOST = DEMO_TLS_HOSTS[0];
/** Where the demo goes when the process may not bind port 443 (not root, no CAP_NET_BIND_SERVICE). */
const UNPRIVILEGED_PORT = 8443;

interface DemoArgs {
  browser: "chromium" | "firefox";
  headed: boolean;
  exit: boolean;
  port: number;
}

function parseArgs(argv: string[]): DemoArgs {
  const browserIndex = argv.indexOf("--browser");
  const browser = browserIndex >= 0 ? argv[browserIndex + 1] : "chromium";
  if (browser !== "chromium" && browser !== "firefox" && browser !== "chrome") throw new Error(`--browser must be chromium or firefox, got ${browser}`);
  const wantsHeadless = argv.includes("--headless") || argv.includes("--exit");
  return {
    browser: browser === "firefox" ? "firefox" : "chromium",
    headed: !wantsHeadless && Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY),
    exit: argv.includes("--exit"),
    port: Number(process.env.YZT_DEMO_PORT ?? 443),
  };
}

/** The virtual key, provisioned once into .vtoken/ and reused by later runs (its PIN state persists). */
async function tokenEnvironment(root: string, demoDir: string): Promise<{ env: Record<string, string>; trustedRoots: string[]; pin: string | null; tls: TlsFiles }> {
  if (process.env.YZT_PKCS11_MODULE) {
    console.log(`使用真实证书模块 real PKCS#11 module: ${process.env.YZT_PKCS11_MODULE}`);
    const roots = (process.env.YZT_CA_CERTIFICATES ?? "").split(":").filter(Boolean);
    // No virtual token: the demo's own directory keeps the demo TLS certificate.
    const tls = demoTlsFiles(demoDir) ?? createDemoTls(demoDir);
    return { env: { YZT_PKCS11_MODULE: process.env.YZT_PKCS11_MODULE, YZT_CA_CERTIFICATES: roots.join(":") }, trustedRoots: roots, pin: null, tls };
  }
  const home = process.env.YZT_VTOKEN_HOME || join(root, ".vtoken");
  if (!existsSync(join(home, "manifest.json"))) {
    console.log("正在创建虚拟一证通 provisioning the virtual token…");
    await provision(home);
  }
  const manifest = readManifest(home);
  return {
    env: { YZT_PKCS11_MODULE: manifest.module, YZT_VTOKEN_HOME: home, YZT_CA_CERTIFICATES: manifest.pki.chain },
    trustedRoots: [manifest.pki.chain],
    pin: USER_PIN,
    // A token provisioned before the demo went https, or a certificate near its end: make a new one.
    tls: demoTlsFiles(home) ?? createDemoTls(home),
  };
}

/**
 * The demo tax hall on port 443 (or YZT_DEMO_PORT) of this process's loopback address; 8443 when the port
 * is privileged and may not be bound; any free port when the wanted one is taken.
 */
async function startHttpsDemo(trustedRoots: string[], tls: TlsFiles, port: number): Promise<DemoServer> {
  const start = (wanted: number) => startDemoServer({ trustedRoots, port: wanted, host: loopbackAddress(), tls: { cert: tls.cert, key: tls.key, hostName: DEMO_HOST } });
  const code = (error: unknown) => (error as NodeJS.ErrnoException).code;
  return start(port)
    .catch((error: unknown) => (code(error) === "EACCES" ? start(UNPRIVILEGED_PORT) : Promise.reject(error)))
    .catch((error: unknown) => (code(error) === "EADDRINUSE" ? start(0) : Promise.reject(error)));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const root = packageRoot();
  const shots = process.env.YZT_DEMO_DIR || join(root, ".demo");
  mkdirSync(shots, { recursive: true });
  const token = await tokenEnvironment(root, shots);
  const server = await startHttpsDemo(token.trustedRoots, token.tls, args.port);
  console.log(`演示网上办税服务厅 demo tax hall: ${server.url} (${server.hostIp}:${server.port}, only in the browser the demo opens)`);
  const profile = join(shots, args.browser);
  const site = { hostIp: server.hostIp, caPem: readFileSync(token.tls.ca, "utf8"), hosts: token.tls.hosts };
  const session = await launchBrowser(args.browser, token.env, { headed: args.headed, profileDir: profile, site });
  const page = await session.browser.newPage();
  await page.goto(server.url);
  const stop = async () => {
    await session.close();
    await server.close();
  };
  if (!args.headed) {
    if (!token.pin) throw new Error("headless demo needs the virtual token (its PIN is known); unset YZT_PKCS11_MODULE or use a display");
    await walkThrough(page, session.browser, token.pin, shots);
  } else {
    console.log("请在浏览器中点击“证书登录”，PIN 为 12345678。Log in in the browser window; PIN 12345678.");
  }
  console.log("拔出/插入证书 pull/insert the key: npm run vtoken -- remove demo | insert demo");
  if (args.exit) {
    await stop();
    return;
  }
  console.log("按 Ctrl-C 结束 press Ctrl-C to stop");
  process.once("SIGINT", () => void stop().then(() => process.exit(0)));
  session.browser.once("disconnected", () => void server.close().then(() => process.exit(0)));
}

main().catch((error: unknown) => {
  console.error(`demo: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
