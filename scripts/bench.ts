/**
 * `npm run bench`: yzt-bridge against DESIGN.md's performance budget, in one run, on one virtual token
 * (no added latency) and one key:
 *   a) in-process graphene sign (bench-paths.ts) — the floor every other path pays on top of
 *   b) the native host over stdio framing
 *   c) a page's `yzt.sign` through headless Chromium (page → content script → background → host)
 * plus host cold start, removal-to-page-event time, host memory idle and after 1000 signatures, four
 * tabs signing at once, and the server kit's login rate through two demo nodes sharing Redis beside the
 * bare verification rate (bench-logins.ts). Prints a table and writes bench/results.json.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeFrame, FrameDecoder } from "../native-host/transport/framing.js";
import { hostEntry, packageRoot } from "../native-host/install/paths.js";
import { HOST_PROCESS_ENV } from "../native-host/install/host-manifest.js";
import { provision } from "../test/virtual-token/provision.js";
import { hostLibraryOf, libraryEnv } from "../test/virtual-token/backend.js";
import { insertToken, removeToken } from "../test/virtual-token/state.js";
import { BENCH_KEYS, DATA, besideFloor, hostSampler, loginThroughDialog, pageSampler, pkcs11Floors, removalToPageEvent, type Paired } from "./bench-paths.js";
import { HostProcess } from "./host-process.js";
import { measureLargeDocuments, type LargeDocumentStats } from "./bench-large.js";
import { measureServerLogins, serverLoginRow } from "./bench-logins.js";
import { measureSkf, type SkfBench } from "./bench-skf.js";
import { measureVerifyRates, verifyRatesRow } from "./bench-verify.js";
import { measureManyKeys, OFFICE_KEYS } from "./bench-many-keys.js";
import { measurePackages } from "./bench-packages.js";
import { measureDriverHop, rssMb } from "./bench-drivers.js";
import { measureNativeHop, type NativeHop } from "./bench-native-hop.js";
import { BUDGET, keyPaths, round, stats, verdict, type Stats } from "./bench-stats.js";
import { launchBrowser } from "./launch-browser.js";
import { startTestSite } from "./test-site.js";

const SIGNATURES = Number(process.env.YZT_BENCH_SIGNATURES ?? 300);
/** Removal, large documents and the four-tab run use the default demo key (SM2, like a current 一证通). */
const CERT_ID = "YZT0000000000001:0101";

/** A Node process that answers the first frame and nothing else: what Node itself costs to start here. */
const NODE_ECHO = `process.stdin.once("data", () => { const b = Buffer.from('{"id":1,"result":null}'); const h = Buffer.alloc(4); h.writeUInt32LE(b.length); process.stdout.write(Buffer.concat([h, b])); });`;

/** Start to first answer: a fresh process, as when a browser starts the host. */
async function coldStart(args: string[], env: Record<string, string>, executable = process.execPath): Promise<number> {
  const started = performance.now();
  const child = spawn(executable, args, { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "ignore"] });
  const decoder = new FrameDecoder(1 << 20);
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      if (decoder.push(chunk).some((d) => d.kind === "message" && (d.value as { id?: number }).id === 1)) resolve();
    });
    child.on("error", reject);
    child.stdin.write(encodeFrame({ id: 1, method: "hello", params: {} }));
  });
  const elapsed = performance.now() - started;
  child.stdin.end();
  await new Promise((resolve) => child.on("exit", resolve));
  return elapsed;
}

/** Bare Node and the host started in turn, `runs` of each, so both see the same machine. */
async function coldStartsBesideBare(args: string[], env: Record<string, string>, runs: number, executable = process.execPath): Promise<{ host: Stats; bare: Stats }> {
  const host: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < runs; i++) {
    bare.push(await coldStart(["-e", NODE_ECHO], {}));
    host.push(await coldStart(args, { ...HOST_PROCESS_ENV, ...env }, executable));
  }
  return { host: stats(host), bare: stats(bare) };
}

async function main(): Promise<void> {
  const root = packageRoot();
  const work = mkdtempSync(join(tmpdir(), "yzt-bench-"));
  const home = join(work, "vtoken");
  const manifest = await provision(home);
  const env = { YZT_VTOKEN_HOME: home, YZT_CA_CERTIFICATES: manifest.pki.chain };
  const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.versions.node, signatures: SIGNATURES };
  try {
    console.log(`yzt-bridge benchmark: ${SIGNATURES} signatures per path and key (RSA-2048, SM2) on the virtual token…`);
    insertToken(home, "rsa");
    // Each path is measured in turn with its floor (interleaved()). Floors load SoftHSM in this process, so
    // they are closed while other virtual tokens are provisioned here (the office hub).
    let floorSet = pkcs11Floors(manifest.module, BENCH_KEYS);
    let floors = floorSet.floors;

    const host = HostProcess.start({ library: hostLibraryOf(manifest, "pkcs11"), env: { ...env, YZT_LOG_LEVEL: "warn" } });
    await host.request("hello", {});
    const idleRss = rssMb(host.child.pid!);
    const viaHosts: Paired[] = [];
    for (const [k, key] of BENCH_KEYS.entries()) viaHosts.push(await besideFloor(floors[k]!, await hostSampler(host, key, "https://bench.example.cn"), SIGNATURES));
    const signedSoFar = viaHosts.reduce((sum, paired) => sum + paired.path.length, 0);
    for (let i = signedSoFar; i < 1000; i++) {
      await host.request("sign", { certificateId: CERT_ID, origin: "https://bench.example.cn", format: "raw", data: DATA.toString("base64") });
    }
    const rssAfter = rssMb(host.child.pid!);
    await host.close();
    floorSet.close();

    console.log("the driver hop: the same host with its library in-process and behind its driver process…");
    const drivers = await measureDriverHop(hostLibraryOf(manifest, "pkcs11"), env, BENCH_KEYS, SIGNATURES);
    const driverHops = BENCH_KEYS.map((key, k) => {
      const { floor, path } = drivers.paired[k]!;
      const [inProcess, viaDriver] = [stats(floor), stats(path)];
      return { key: key.name, inProcess, viaDriver, hopMs: round(viaDriver.median - inProcess.median) };
    });

    const { host: cold, bare: bareNode } = await coldStartsBesideBare([hostEntry(), "--module", manifest.module], env, 21);
    console.log(`an office hub: ${OFFICE_KEYS} keys inserted at once…`);
    const hub = await measureManyKeys(work);
    const hubStats = { keys: hub.keys, certificates: hub.certificates, coldListMs: stats(hub.coldListMs), skfColdListMs: stats(hub.skfColdListMs), removalMs: stats(hub.removalMs), pickerOpenMs: stats(hub.pickerOpenMs) };
    console.log("building the packages (deb, rpm) to measure them…");
    const packaged = await measurePackages(join(work, "packages"), (runtime, entry) => coldStartsBesideBare([entry, "--module", manifest.module], env, 21, runtime));

    console.log("the server kit: logins through two demo nodes sharing one Redis (RSA-2048, SM2)…");
    const serverLogins = await measureServerLogins(work);
    const verifyRates = measureVerifyRates();

    const site = await startTestSite(manifest.tls);
    const session = await launchBrowser("chromium", { ...libraryEnv(hostLibraryOf(manifest, "pkcs11")), ...env, YZT_LOG_LEVEL: "warn" }, { site });
    const viaPages: Paired[] = [];
    let removal: Stats;
    const large: Record<string, LargeDocumentStats> = {};
    let nativeHop: NativeHop;
    let concurrent: { tabs: number; perTab: number; ok: number; failed: number; wallMs: number; perSignatureMs: number };
    try {
      const page = await session.browser.newPage();
      await page.goto(site.allowedUrl);
      await page.waitForFunction(() => typeof (window as { yzt?: unknown }).yzt === "object");
      floorSet = pkcs11Floors(manifest.module, BENCH_KEYS);
      floors = floorSet.floors;
      for (const key of BENCH_KEYS) {
        // Log in through the real PIN dialog once; the session then serves every signature.
        await loginThroughDialog(session.browser, page, key.certificateId);
        viaPages.push(await besideFloor(floors[BENCH_KEYS.indexOf(key)]!, pageSampler(page, key), SIGNATURES));
      }
      floorSet.close();
      nativeHop = await measureNativeHop(session.browser, hostLibraryOf(manifest, "pkcs11"), { ...env, YZT_LOG_LEVEL: "warn" }, SIGNATURES);
      // Documents are hashed in the page: WebCrypto SHA-256 for RSA, the extension's SM3 for SM2. The GM
      // profile's SignedData puts the content off a 3-byte boundary, so its attached form is encoded anew.
      for (const key of BENCH_KEYS) {
        const keyHash = key.contentHash;
        large[key.name] = await measureLargeDocuments(page, key.certificateId, { keyHash });
        if (keyHash === "SM3") large[`${key.name}, cmsProfile gm`] = await measureLargeDocuments(page, key.certificateId, { keyHash, signOptions: { cmsProfile: "gm" } });
      }
      removeToken(home, "rsa");

      // Removal: time from pulling the key to the page's tokenremoved event.
      const removalSamples = await removalToPageEvent(page, home, "demo", 10);
      removal = stats(removalSamples);

      // Four tabs (four origins: the same host name on four ports) signing at once: every one must log in, then all sign concurrently.
      const tabs = 4;
      const perTab = 50;
      const sites = await Promise.all(Array.from({ length: tabs }, () => startTestSite(manifest.tls, { hostIp: site.hostIp, port: 0 })));
      const pages = await Promise.all(sites.map(async (s) => {
        const p = await session.browser.newPage();
        await p.goto(s.allowedUrl);
        await p.waitForFunction(() => typeof (window as { yzt?: unknown }).yzt === "object");
        return p;
      }));
      for (const p of pages) await loginThroughDialog(session.browser, p, CERT_ID);
      const started = performance.now();
      const outcomes = await Promise.all(pages.map((p) => p.evaluate(async (id, data, count) => {
        const yzt = (window as unknown as { yzt: { sign(o: object): Promise<unknown> } }).yzt;
        const settled = await Promise.allSettled(Array.from({ length: count }, () => yzt.sign({ certificateId: id, data, format: "raw" })));
        return settled.filter((s) => s.status === "fulfilled").length;
      }, CERT_ID, DATA.toString("base64"), perTab)));
      const wallMs = performance.now() - started;
      const ok = outcomes.reduce((a, b) => a + b, 0);
      concurrent = { tabs, perTab, ok, failed: tabs * perTab - ok, wallMs: round(wallMs, 1), perSignatureMs: round(wallMs / (tabs * perTab)) };
      await Promise.all(sites.map((s) => s.close()));
    } finally {
      await session.close();
      await site.close();
    }

    console.log("the same keys through their SKF face (GM/T 0016, libyzt-vskf.so)…");
    insertToken(home, "rsa");
    const skfSite = await startTestSite(manifest.tls);
    let skf: SkfBench;
    try {
      skf = await measureSkf(manifest, env, skfSite, SIGNATURES);
    } finally {
      await skfSite.close();
      removeToken(home, "rsa");
    }
    const skfKeys = skf.keys.map((k) => keyPaths(k.key, k.host, k.page));
    const skfRemoval = stats(skf.removalMs);

    const perKey = BENCH_KEYS.map((key, k) => keyPaths(key.name, viaHosts[k]!, viaPages[k]!));
    const addedAtStart = cold.median - bareNode.median;
    const packagedOverBare = round(packaged.coldStartMs.host.median / packaged.coldStartMs.bare.median, 2);
    // The issue's 572/s was the bare check repeated on one key, which is what the known-key row measures.
    const sm2Check = verifyRates.sm2KnownKey;
    const browserHop = { serviceWorker: stats(nativeHop.serviceWorker), stdio: stats(nativeHop.stdio) };
    const hubListsMet = Math.max(hubStats.coldListMs.median, hubStats.skfColdListMs.median) <= BUDGET.officeHubListMs;
    const largeOverhead = (stats: LargeDocumentStats) => Math.max(stats.overheadOverFloor.detached, stats.overheadOverFloor.attached);
    Object.assign(results, {
      keys: perKey,
      skf: { keys: skfKeys, removalToPageEventMs: skfRemoval },
      coldStartMs: cold,
      bareNodeStartMs: bareNode,
      removalToPageEventMs: removal,
      hostRssMb: { idle: round(idleRss, 1), after1000Signatures: round(rssAfter, 1) },
      drivers: { hops: driverHops, idleDriverRssMb: drivers.idleDriverRssMb.map((mb) => round(mb, 1)), idleDriverPssMb: drivers.idleDriverPssMb.map((mb) => round(mb, 1)), bareNodeRssMb: round(drivers.bareNodeRssMb, 1) },
      nativeMessagingHelloMs: browserHop,
      concurrentTabs: concurrent,
      largeDocument20MB: large,
      packages: packaged,
      serverLogins,
      signatureChecksPerCpuSecond: verifyRates,
      officeHub: hubStats,
      budget: {
        coldStartOverBareMs: { target: BUDGET.coldStartOverBareMs, value: round(addedAtStart, 1), met: addedAtStart <= BUDGET.coldStartOverBareMs },
        packagedOverBare: { target: BUDGET.packagedOverBare, value: packagedOverBare, met: packagedOverBare <= BUDGET.packagedOverBare },
        hostOverheadMs: { target: BUDGET.hostOverheadMs, met: [...perKey, ...skfKeys].every((k) => k.overheadMs.host <= BUDGET.hostOverheadMs) },
        pageOverheadMs: { target: BUDGET.pageOverheadMs, met: [...perKey, ...skfKeys].every((k) => k.overheadMs.page <= BUDGET.pageOverheadMs) },
        officeHubListMs: { target: BUDGET.officeHubListMs, met: hubListsMet },
        idleRssMb: { target: BUDGET.idleRssMb, met: idleRss <= BUDGET.idleRssMb },
        rssAfter1000Mb: { target: BUDGET.rssAfter1000Mb, met: rssAfter <= BUDGET.rssAfter1000Mb },
        driverHopMs: { target: BUDGET.driverHopMs, met: driverHops.every((hop) => hop.hopMs <= BUDGET.driverHopMs) },
        idleDriverRssMb: { target: BUDGET.idleDriverRssMb, met: drivers.idleDriverRssMb.every((mb) => mb <= BUDGET.idleDriverRssMb) },
        sm2ChecksPerCpuSecond: { target: `≥ ${BUDGET.sm2ChecksPerCpuSecond}`, met: sm2Check >= BUDGET.sm2ChecksPerCpuSecond },
        skfRemovalMs: { target: 300, met: skfRemoval.median <= 300 },
        removalMs: { target: 300, met: removal.median <= 300 },
        concurrent: { target: "all succeed", met: concurrent.failed === 0 },
        serverLogins: { target: "all succeed", met: serverLogins.every((s) => s.failed === 0 && !s.stoppedEarly) },
        officeHubRemovalMs: { target: 300, met: hubStats.removalMs.median <= 300 },
        largeDocumentOverhead: { target: "≤ 2× the hashing floor (the key's hash: SHA-256 or SM3)", met: Object.values(large).every((l) => largeOverhead(l) <= 2) },
      },
    });
    const row = (name: string, s: Stats) => `| ${name.padEnd(52)} | ${s.median.toFixed(3).padStart(8)} | ${s.p95.toFixed(3).padStart(8)} | ${String(s.n).padStart(5)} |`;
    const table = [
      "| path (ms per signature)                              |   median |      p95 |     n |",
      "|------------------------------------------------------|---------:|---------:|------:|",
      ...perKey.flatMap((k) => [
        row(`${k.key}: a) in-process graphene (floor)`, k.inProcess),
        ...(k.asyncCall ? [row(`${k.key}: a') the same, asynchronous C_Sign as the host`, k.asyncCall)] : []),
        row(`${k.key}: b) native host over stdio`, k.host),
        row(`${k.key}: c) page yzt.sign via Chromium`, k.page),
      ]),
      "",
      ...skfKeys.flatMap((k) => [
        row(`SKF ${k.key}: a) in-process SKF adapter (floor)`, k.inProcess),
        row(`SKF ${k.key}: b) native host over stdio`, k.host),
        row(`SKF ${k.key}: c) page yzt.sign via Chromium`, k.page),
      ]),
      "",
      ...[...perKey, ...skfKeys.map((k) => ({ ...k, key: `SKF ${k.key}` }))].map((k) =>
        `${k.key}: overhead over the floor measured beside it: host ${k.overheadMs.host} ms (budget ≤ ${BUDGET.hostOverheadMs} ms: ${verdict(k.overheadMs.host <= BUDGET.hostOverheadMs)}), page ${k.overheadMs.page} ms (floor ${k.pageFloor.median.toFixed(3)} ms; budget ≤ ${BUDGET.pageOverheadMs} ms: ${verdict(k.overheadMs.page <= BUDGET.pageOverheadMs)})` +
        (k.overheadMs.hostOverAsyncCall !== undefined ? `; over the asynchronous C_Sign the host makes (a'): host ${k.overheadMs.hostOverAsyncCall} ms (${verdict(k.overheadMs.hostOverAsyncCall <= BUDGET.hostOverheadMs)}), page ${k.overheadMs.pageOverAsyncCall} ms (${verdict(k.overheadMs.pageOverAsyncCall! <= BUDGET.pageOverheadMs)})` : "") +
        `; ratios b/a ${k.ratios.hostOverFloor}, c/a ${k.ratios.pageOverFloor}`),
      `SKF key removal → page tokenremoved (SKF_WaitForDevEvent on a worker thread): median ${skfRemoval.median.toFixed(0)} ms, p95 ${skfRemoval.p95.toFixed(0)} ms (budget ≤ 300 ms)`,
      `host cold start to first answer: median ${cold.median.toFixed(1)} ms, p95 ${cold.p95.toFixed(1)} ms; a bare Node process answering one frame, started in turn with it: median ${bareNode.median.toFixed(1)} ms, so the host adds ${addedAtStart.toFixed(1)} ms (budget ≤ +${BUDGET.coldStartOverBareMs} ms: ${verdict(addedAtStart <= BUDGET.coldStartOverBareMs)})`,
      `packaged host (/opt/yzt-bridge: its own stripped Node runtime) cold start to first answer: median ${packaged.coldStartMs.host.median.toFixed(1)} ms against ${packaged.coldStartMs.bare.median.toFixed(1)} ms for bare Node started in turn: ${packagedOverBare}× (budget ≤ ${BUDGET.packagedOverBare}×: ${verdict(packagedOverBare <= BUDGET.packagedOverBare)})`,
      `package sizes: ${packaged.sizes.map((p) => `${p.name} ${(p.bytes / 1048576).toFixed(1)} MB`).join(", ")}; installed ${(packaged.installedBytes / 1048576).toFixed(1)} MB; both built in ${(packaged.buildMs / 1000).toFixed(1)} s`,
      `${hubStats.keys} keys inserted (${hubStats.certificates} certificates): host cold start to the full certificate list median ${hubStats.coldListMs.median.toFixed(0)} ms, p95 ${hubStats.coldListMs.p95.toFixed(0)} ms, through the SKF face median ${hubStats.skfColdListMs.median.toFixed(0)} ms, p95 ${hubStats.skfColdListMs.p95.toFixed(0)} ms (budget ≤ ${BUDGET.officeHubListMs} ms: ${verdict(hubListsMet)}); one key's removal → host event median ${hubStats.removalMs.median.toFixed(0)} ms, p95 ${hubStats.removalMs.p95.toFixed(0)} ms (budget ≤ 300 ms); picker open (page call → dialog ready) median ${hubStats.pickerOpenMs.median.toFixed(0)} ms`,
      `key removal → page tokenremoved: median ${removal.median.toFixed(0)} ms, p95 ${removal.p95.toFixed(0)} ms (budget ≤ 300 ms)`,
      ...driverHops.map((hop) => `${hop.key}: driver hop ${hop.hopMs} ms per signature (host with the library in-process ${hop.inProcess.median.toFixed(3)} ms, behind its driver process ${hop.viaDriver.median.toFixed(3)} ms; budget ≤ ${BUDGET.driverHopMs} ms: ${verdict(hop.hopMs <= BUDGET.driverHopMs)})`),
      `idle driver process RSS: ${drivers.idleDriverRssMb.map((mb) => `${mb.toFixed(1)} MB`).join(", ")} (budget ≤ ${BUDGET.idleDriverRssMb} MB each: ${verdict(drivers.idleDriverRssMb.every((mb) => mb <= BUDGET.idleDriverRssMb))}); a bare Node process idle beside it: ${drivers.bareNodeRssMb.toFixed(1)} MB; its proportional share beside the host (PSS: pages both map counted half): ${drivers.idleDriverPssMb.map((mb) => `${mb.toFixed(1)} MB`).join(", ")}`,
      `Chromium's native messaging by itself: hello from the extension's service worker median ${browserHop.serviceWorker.median.toFixed(1)} ms, over stdio from Node ${browserHop.stdio.median.toFixed(3)} ms, measured in turn: ${(browserHop.serviceWorker.median - browserHop.stdio.median).toFixed(2)} ms of every page call is the browser's hop to the host and back`,
      `host RSS: idle ${idleRss.toFixed(1)} MB (budget ≤ ${BUDGET.idleRssMb} MB: ${verdict(idleRss <= BUDGET.idleRssMb)}), after 1000 signatures ${rssAfter.toFixed(1)} MB (budget ≤ ${BUDGET.rssAfter1000Mb} MB: ${verdict(rssAfter <= BUDGET.rssAfter1000Mb)})`,
      ...Object.entries(large).map(([name, l]) => {
        const floor = l.keyHash === "SM3" ? `SM3 floor ${l.keyHashFloorMs} ms (WebCrypto SHA-256 ${l.hashFloorMs} ms)` : `WebCrypto SHA-256 floor ${l.hashFloorMs} ms`;
        const versusSha256 = l.keyHash === "SM3" ? `; against SHA-256: ${l.overheadOverSha256.detached}×, ${l.overheadOverSha256.attached}×` : "";
        return `20 MB document, ${name}: ${floor}; yzt.sign detached ${l.detachedMs} ms (overhead ${l.overheadOverFloor.detached}× the floor), attached ${l.attachedMs} ms (${l.overheadOverFloor.attached}×) (budget ≤ 2×)${versusSha256}`;
      }),
      `4 tabs × 50 concurrent SM2 signatures: ${concurrent.ok}/${concurrent.tabs * concurrent.perTab} succeeded in ${concurrent.wallMs} ms (${concurrent.perSignatureMs} ms each, serialised per token)`,
      ...serverLogins.map(serverLoginRow),
      `${verifyRatesRow(verifyRates)} (budget: SM2 on a key seen before ≥ ${BUDGET.sm2ChecksPerCpuSecond}/s, the bare check's rate before @noble/curves: ${verdict(sm2Check >= BUDGET.sm2ChecksPerCpuSecond)})`,
    ].join("\n");
    console.log(`\n${table}\n`);
    const out = join(root, "bench");
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, "results.json"), JSON.stringify(results, null, 2) + "\n");
    writeFileSync(join(out, "results.md"), `${table}\n`);
    console.log(`written: ${join(out, "results.json")}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exit(1);
});
