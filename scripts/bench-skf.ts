/**
 * The SKF rows of the benchmark: the same virtual keys driven through their SKF face (libyzt-vskf.so), as a
 * real 国密 key is through its vendor's GM/T 0016 library. (a) The SKF floor: the host's own SKF adapter in
 * this process, signing the input the host gives the key (e = SM3(Z‖M) for SM2, the DigestInfo for RSA)
 * with SKF_ECCSignData / SKF_RSASignData on koffi's worker thread; (b) the host over stdio with
 * --skf-module; (c) a page's yzt.sign through Chromium; and key removal → the page's tokenremoved event.
 */
import type { VtokenManifest } from "../test/virtual-token/manifest.js";
import { hostLibraryOf, libraryEnv } from "../test/virtual-token/backend.js";
import { USER_PIN } from "../test/virtual-token/provision.js";
import { parseCertificate } from "../crypto/certificate.js";
import { loadSkfLibrary } from "../native-host/token/skf/library.js";
import { rsaSha256DigestInfo, sha256 } from "../crypto/signature-encoding.js";
import { sm2Digest } from "../crypto/sm2-digest.js";
import { BENCH_KEYS, DATA, besideFloor, hostSampler, loginThroughDialog, pageSampler, removalToPageEvent, timeCalls, type BenchKey, type Floor, type Paired } from "./bench-paths.js";
import { HostProcess } from "./host-process.js";
import { launchBrowser } from "./launch-browser.js";
import type { TestSite } from "./test-site.js";

/** Each path with the floor measured in turn with it (besideFloor()). */
export interface SkfKeyRows {
  key: string;
  host: Paired;
  page: Paired;
}

export interface SkfBench {
  keys: SkfKeyRows[];
  removalMs: number[];
}

/** (a) The SKF floor: the adapter in this process, logged in once, signing what the host would give the key. */
async function skfFloor(manifest: VtokenManifest, key: BenchKey): Promise<Floor> {
  const library = loadSkfLibrary({ kind: "skf", path: manifest.skfModule, source: "explicit" });
  if (library.error !== null) throw new Error(library.error);
  const present = library.presentKeys().find((candidate) => candidate.serial === key.serial);
  if (!present) throw new Error(`key ${key.serial} is not inserted`);
  const device = library.openKey(present);
  const keyId = key.certificateId.slice(key.certificateId.lastIndexOf(":") + 1);
  const certificate = (await device.readCertificates()).find((candidate) => candidate.keyId === keyId)!;
  const parsed = parseCertificate(certificate.der);
  await device.login(USER_PIN);
  const primitive = device.signingKey(keyId, parsed).primitive!;
  const input = parsed.keyAlgorithm === "SM2" ? sm2Digest(parsed.publicKeyPoint!, DATA) : rsaSha256DigestInfo(sha256(DATA));
  return {
    batch: (n) => timeCalls(n, () => primitive(input)),
    close: () => {
      device.close();
      library.close();
    },
  };
}

export async function measureSkf(manifest: VtokenManifest, env: Record<string, string>, site: TestSite, count: number): Promise<SkfBench> {
  // The same certificate ids as on the PKCS#11 face (skfKeyId numbers pairs as the virtual token does).
  const keys = BENCH_KEYS;
  const floors: Floor[] = [];
  for (const key of keys) floors.push(await skfFloor(manifest, key));
  try {
    const library = hostLibraryOf(manifest, "skf");
    const host = HostProcess.start({ library, env: { ...env, YZT_LOG_LEVEL: "warn" } });
    const viaHost: Paired[] = [];
    try {
      for (const [k, key] of keys.entries()) viaHost.push(await besideFloor(floors[k]!, await hostSampler(host, key, "https://bench-skf.example.cn"), count));
    } finally {
      await host.close();
    }

    const session = await launchBrowser("chromium", { ...libraryEnv(library), ...env, YZT_LOG_LEVEL: "warn" }, { site });
    try {
      const page = await session.browser.newPage();
      await page.goto(site.allowedUrl);
      await page.waitForFunction(() => typeof (window as { yzt?: unknown }).yzt === "object");
      const viaPage: Paired[] = [];
      for (const [k, key] of keys.entries()) {
        await loginThroughDialog(session.browser, page, key.certificateId);
        viaPage.push(await besideFloor(floors[k]!, pageSampler(page, key), count));
      }
      const removalMs = await removalToPageEvent(page, manifest.home, "demo", 10);
      return { keys: keys.map((key, k) => ({ key: key.name, host: viaHost[k]!, page: viaPage[k]! })), removalMs };
    } finally {
      await session.close();
    }
  } finally {
    for (const floor of floors) floor.close();
  }
}
