/**
 * `npm start`: the whole product on one machine. Provisions the virtual USB key (unless a real key's library
 * is configured with YZT_SKF_MODULE or YZT_PKCS11_MODULE), starts the demo tax hall on loopback as
 * https://etax.beijing.chinatax.gov.cn/ (port 443 of a loopback address of its own; 8443 when binding 443 is
 * not allowed), registers the native host for a throw-away browser profile and opens the browser with the
 * extension, with the demo 一证通服务平台 (https://yzt.beijing.gov.cn/: online renewal and unlock) beside it.
 * Only that browser profile maps the names to the loopback address and trusts the demo TLS CA.
 *   npm start                       Chromium (headed when a display exists)
 *   npm start -- --browser firefox  Firefox ESR
 *   npm start -- --headless         no window: logs in and submits by itself, renews the expiring key's
 *                                   certificate on the issuer site, logs in with it, unlocks it; screenshots
 *   npm start -- --exit             stop after the headless run (for scripts)
 *   npm start -- --challenge-store redis://127.0.0.1:6379   login challenges in Redis (default: in memory)
 *   npm start -- --backend skf      the host drives the virtual key through its SKF library (default: pkcs11)
 * Environment: YZT_SKF_MODULE / YZT_PKCS11_MODULE (a real key's SKF library / PKCS#11 module), YZT_VTOKEN_HOME (virtual token, default .vtoken/),
 * YZT_DEMO_PORT (https port, default 443), YZT_DEMO_DIR (profiles and screenshots, default .demo/).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { issuerOptionsFrom, type IssuerOptions } from "../demo/issuer.js";
import { startDemoServer, type DemoServer } from "../demo/server.js";
import { DEFAULT_ISSUER_ORIGINS } from "../protocol/origin.js";
import { packageRoot } from "../native-host/install/paths.js";
import { memoryChallengeStore, redisChallengeStore, type ChallengeStore } from "../server/index.js";
import { hostLibraryOf, libraryEnv, type KeyBackend } from "../test/virtual-token/backend.js";
import { provision, USER_PIN } from "../test/virtual-token/provision.js";
import { readManifest } from "../test/virtual-token/state.js";
import { createDemoTls, DEMO_TLS_HOSTS, demoTlsFiles, type TlsFiles } from "../test/virtual-token/tls-pki.js";
import { walkThrough } from "./demo-walkthrough.js";
import { walkThroughIssuer } from "./issuer-walkthrough.js";
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
  /** redis:// URL of a shared challenge store; none: this process's memory. */
  challengeStore: string | null;
  /** Which face of the virtual key the host drives. */
  backend: KeyBackend;
}

function parseArgs(argv: string[]): DemoArgs {
  const browserIndex = argv.indexOf("--browser");
  const browser = browserIndex >= 0 ? argv[browserIndex + 1] : "chromium";
  if (browser !== "chromium" && browser !== "firefox" && browser !== "chrome") throw new Error(`--browser must be chromium or firefox, got ${browser}`);
  const wantsHeadless = argv.includes("--headless") || argv.includes("--exit");
  const storeIndex = argv.indexOf("--challenge-store");
  const store = storeIndex >= 0 ? argv[storeIndex + 1] ?? "" : null;
  if (store !== null && !/^rediss?:\/\//.test(store)) throw new Error(`--challenge-store takes a redis:// or rediss:// URL, got ${store || "nothing"}`);
  const backendIndex = argv.indexOf("--backend");
  const backend = backendIndex >= 0 ? argv[backendIndex + 1] : "pkcs11";
  if (backend !== "pkcs11" && backend !== "skf") throw new Error(`--backend must be pkcs11 or skf, got ${backend ?? "nothing"}`);
  return {
    browser: browser === "firefox" ? "firefox" : "chromium",
    headed: !wantsHeadless && Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY),
    exit: argv.includes("--exit"),
    port: Number(process.env.YZT_DEMO_PORT ?? 443),
    challengeStore: store,
    backend,
  };
}

/** The virtual key, provisioned once into .vtoken/ and reused by later runs (its PIN state persists). */
async function tokenEnvironment(
  root: string, demoDir: string, backend: KeyBackend,
): Promise<{ env: Record<string, string>; trustedRoots: string[]; pin: string | null; tls: TlsFiles; issuer?: IssuerOptions }> {
  const real = Object.fromEntries(["YZT_SKF_MODULE", "YZT_PKCS11_MODULE"].filter((name) => process.env[name]).map((name) => [name, process.env[name]!]));
  if (Object.keys(real).length > 0) {
    console.log(`使用真实证书库 real key libraries: ${Object.entries(real).map(([name, path]) => `${name}=${path}`).join(" ")}`);
    const roots = (process.env.YZT_CA_CERTIFICATES ?? "").split(":").filter(Boolean);
    // No virtual token: the demo's own directory keeps the demo TLS certificate.
    const tls = demoTlsFiles(demoDir) ?? createDemoTls(demoDir);
    return { env: { ...real, YZT_CA_CERTIFICATES: roots.join(":") }, trustedRoots: roots, pin: null, tls };
  }
  const home = process.env.YZT_VTOKEN_HOME || join(root, ".vtoken");
  // A token provisioned before the virtual SKF key (or the demo issuer's CA key) existed: provision it again.
  const outdated = () => {
    const manifest = readManifest(home);
    return (backend === "skf" && !manifest.skfModule) || !manifest.pki.sm2IntermediateKey || !existsSync(manifest.pki.sm2IntermediateKey);
  };
  if (!existsSync(join(home, "manifest.json")) || outdated()) {
    console.log("正在创建虚拟一证通 provisioning the virtual token…");
    await provision(home);
  }
  const manifest = readManifest(home);
  const library = hostLibraryOf(manifest, backend);
  console.log(`虚拟一证通 virtual key through ${backend === "skf" ? "SKF (GM/T 0016)" : "PKCS#11"}: ${library.path}`);
  return {
    env: { ...libraryEnv(library), YZT_VTOKEN_HOME: home, YZT_CA_CERTIFICATES: manifest.pki.chain },
    trustedRoots: [manifest.pki.chain],
    pin: USER_PIN,
    // A token provisioned before the demo went https, or a certificate near its end: make a new one.
    tls: demoTlsFiles(home) ?? createDemoTls(home),
    issuer: issuerOptionsFrom(manifest),
  };
}

/**
 * The issuer site is https://yzt.beijing.gov.cn, an issuer origin by default; on another port it is another
 * origin, which the demo's own host configuration (never the user's) names as an issuer.
 */
function issuerConfig(server: DemoServer, demoDir: string): Record<string, string> {
  if (!server.issuerUrl) return {};
  const origin = new URL(server.issuerUrl).origin;
  if (DEFAULT_ISSUER_ORIGINS.includes(origin)) return {};
  const dir = join(demoDir, "host-config");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), `${JSON.stringify({ issuerOrigins: [origin] }, null, 2)}\n`);
  return { YZT_CONFIG_DIR: dir };
}

/**
 * The demo tax hall on port 443 (or YZT_DEMO_PORT) of this process's loopback address; 8443 when the port
 * is privileged and may not be bound; any free port when the wanted one is taken.
 */
async function startHttpsDemo(trustedRoots: string[], tls: TlsFiles, port: number, challengeStore: ChallengeStore, issuer?: IssuerOptions): Promise<DemoServer> {
  const start = (wanted: number) =>
    startDemoServer({ trustedRoots, port: wanted, host: loopbackAddress(), tls: { cert: tls.cert, key: tls.key, hostName: DEMO_HOST }, challengeStore, ...(issuer ? { issuer } : {}) });
  const code = (error: unknown) => (error as NodeJS.ErrnoException).code;
  return start(port)
    .catch((error: unknown) => (code(error) === "EACCES" ? start(UNPRIVILEGED_PORT) : Promise.reject(error)))
    .catch((error: unknown) => (code(error) === "EADDRINUSE" ? start(0) : Promise.reject(error)));
}

/** Redis connection trouble, said once per outage rather than at every reconnection attempt. */
function reportRedis(): (error: Error) => void {
  let reported = false;
  return (error) => {
    if (reported) return;
    reported = true;
    console.error(`Redis 不可用，登录将被拒绝直到恢复 Redis unreachable, logins fail until it is back: ${error.message}`);
    setTimeout(() => (reported = false), 30_000).unref();
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const root = packageRoot();
  const shots = process.env.YZT_DEMO_DIR || join(root, ".demo");
  mkdirSync(shots, { recursive: true });
  const token = await tokenEnvironment(root, shots, args.backend);
  const challenges = args.challengeStore ? redisChallengeStore(args.challengeStore, { onError: reportRedis() }) : memoryChallengeStore();
  const server = await startHttpsDemo(token.trustedRoots, token.tls, args.port, challenges, token.issuer);
  console.log(`演示网上办税服务厅 demo tax hall: ${server.url} (${server.hostIp}:${server.port}, only in the browser the demo opens)`);
  if (server.issuerUrl) console.log(`演示一证通服务平台（证书更新、证书解锁） demo issuer site (renewal, unlock): ${server.issuerUrl}`);
  console.log(`登录挑战码 login challenges: ${args.challengeStore ? `Redis ${new URL(args.challengeStore).host}` : "in memory (one node)"}`);
  const profile = join(shots, args.browser);
  const site = { hostIp: server.hostIp, caPem: readFileSync(token.tls.ca, "utf8"), hosts: token.tls.hosts };
  const session = await launchBrowser(args.browser, { ...token.env, ...issuerConfig(server, shots) }, { headed: args.headed, profileDir: profile, site });
  const page = await session.browser.newPage();
  await page.goto(server.url);
  const closeServer = async () => {
    await server.close();
    await challenges.close();
  };
  const stop = async () => {
    await session.close();
    await closeServer();
  };
  if (!args.headed) {
    if (!token.pin) throw new Error("headless demo needs the virtual token (its PIN is known); unset YZT_SKF_MODULE / YZT_PKCS11_MODULE or use a display");
    await walkThrough(page, session.browser, token.pin, shots);
    const home = token.env.YZT_VTOKEN_HOME;
    if (server.issuerUrl && home) await walkThroughIssuer({ browser: session.browser, taxHall: page, taxHallUrl: server.url, issuerUrl: server.issuerUrl, home, pin: token.pin, shots });
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
  session.browser.once("disconnected", () => void closeServer().then(() => process.exit(0)));
}

main().catch((error: unknown) => {
  console.error(`demo: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
