/**
 * The SKF adapter's device watching against a scripted library (the real one is driven end to end by the
 * integration and browser suites on the virtual SKF key): polling with SKF_EnumDev where the library has no
 * events, SKF_WaitForDevEvent on a worker where it has, the fall-back to polling when waiting fails, and a
 * close that cancels a running wait and unloads the library (the binding holds the unload back while a worker
 * call runs).
 */
import { describe, expect, it } from "vitest";
import type { SkfBinding, SkfFunctionName, SkfFunctions, UlongRef } from "../../native-host/token/skf/binding.js";
import { SAR } from "../../native-host/token/skf/errors.js";
import { SkfLibrary } from "../../native-host/token/skf/library.js";

const CANDIDATE = { kind: "skf" as const, path: "/opt/vendor/libskf.so", source: "explicit" as const };

interface Script {
  present: string[];
  /** SKF_EnumDev answers this instead of SAR_OK. */
  enumFails?: number;
  events: boolean;
  /** Resolves a pending SKF_WaitForDevEvent with this code. */
  finishWait?: (code: number) => void;
  cancelled: number;
  unloaded: number;
}

function scriptedBinding(script: Script): SkfBinding {
  const devInfo = (name: string, buffer: Buffer) => {
    buffer.fill(0);
    buffer.write("Vendor", 2);
    buffer.write(`label-${name}`, 130);
    buffer.write(`SN-${name}`, 162);
  };
  const fn: Partial<Record<SkfFunctionName, unknown>> = {
    SKF_EnumDev: (_present: number, buffer: Buffer | null, size: UlongRef) => {
      if (script.enumFails !== undefined) return script.enumFails;
      const list = Buffer.from(`${script.present.map((name) => `${name}\0`).join("")}\0`, "latin1");
      if (buffer) list.copy(buffer);
      size[0] = list.length;
      return SAR.OK;
    },
    SKF_ConnectDev: (name: Buffer, handle: [unknown]) => {
      handle[0] = name.toString("latin1").replace(/\0.*/, "");
      return script.present.includes(handle[0] as string) ? SAR.OK : SAR.DEVICE_REMOVED;
    },
    SKF_GetDevInfo: (handle: string, buffer: Buffer) => {
      devInfo(handle, buffer);
      return SAR.OK;
    },
    SKF_DisConnectDev: () => SAR.OK,
    ...(script.events ? { SKF_WaitForDevEvent: () => SAR.OK, SKF_CancelWaitForDevEvent: () => ((script.cancelled += 1), script.finishWait?.(SAR.NOT_EVENTERR), SAR.OK) } : {}),
  };
  return {
    path: CANDIDATE.path,
    ulongBytes: 4,
    fn: fn as unknown as SkfFunctions,
    callAsync: (name) =>
      name === "SKF_WaitForDevEvent" ? new Promise<number>((resolve) => (script.finishWait = resolve)) : Promise.reject(new Error(`unexpected async ${name}`)),
    close: () => {
      script.unloaded += 1;
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("SKF device watching", () => {
  it("polls SKF_EnumDev where the library has no events, and lists each device by its DEVINFO serial and label", () => {
    const script: Script = { present: ["KEY1"], events: false, cancelled: 0, unloaded: 0 };
    const library = new SkfLibrary(CANDIDATE, scriptedBinding(script));
    expect(library.changed()).toBe(true);
    expect(library.presentKeys()).toEqual([{ serial: "SN-KEY1", label: "label-KEY1", manufacturer: "Vendor", model: "SKF" }]);
    expect(library.changed()).toBe(false);
    script.present.push("KEY2");
    expect(library.changed()).toBe(true);
    expect(library.presentKeys().map((key) => key.serial)).toEqual(["SN-KEY1", "SN-KEY2"]);
    script.present = ["KEY2"];
    expect(library.changed()).toBe(true);
    expect(library.presentKeys().map((key) => key.serial)).toEqual(["SN-KEY2"]);
  });

  it("learns of changes from SKF_WaitForDevEvent on a worker and asks the watcher to look at once", async () => {
    const script: Script = { present: ["KEY1"], events: true, cancelled: 0, unloaded: 0 };
    const library = new SkfLibrary(CANDIDATE, scriptedBinding(script));
    library.presentKeys();
    let looks = 0;
    library.startEvents(() => (looks += 1));
    await tick();
    // Nothing happened: no EnumDev polling while events run.
    script.present = [];
    expect(library.changed()).toBe(false);
    script.finishWait!(SAR.OK);
    await tick();
    expect(looks).toBe(1);
    expect(library.changed()).toBe(true);
    expect(library.changed()).toBe(false);
    library.close();
    await tick();
  });

  it("rescans at the next look when a call found a device handle dead (a key pulled and put back between looks)", () => {
    const script: Script = { present: ["KEY1"], events: false, cancelled: 0, unloaded: 0 };
    const library = new SkfLibrary(CANDIDATE, scriptedBinding(script));
    const [key] = library.presentKeys();
    expect(library.changed()).toBe(false);
    const device = library.openKey(key!);
    script.present = [];
    // The device is gone (ConnectDev answers SAR_DEVICE_REMOVED) but the name list looks as before once it is back.
    expect(() => device.pinReading()).toThrow(/removed/);
    script.present = ["KEY1"];
    expect(library.changed()).toBe(true);
  });

  it("falls back to polling when waiting fails, instead of spinning on a broken wait", async () => {
    const script: Script = { present: ["KEY1"], events: true, cancelled: 0, unloaded: 0 };
    const library = new SkfLibrary(CANDIDATE, scriptedBinding(script));
    library.presentKeys();
    library.startEvents(() => undefined);
    await tick();
    script.finishWait!(SAR.NOTSUPPORTYETERR);
    await tick();
    expect(library.changed()).toBe(true);
    expect(library.changed()).toBe(false);
    script.present = [];
    expect(library.changed()).toBe(true);
  });

  it("cancels a running wait at close and unloads the library", async () => {
    const script: Script = { present: ["KEY1"], events: true, cancelled: 0, unloaded: 0 };
    const library = new SkfLibrary(CANDIDATE, scriptedBinding(script));
    library.startEvents(() => undefined);
    await tick();
    library.close();
    expect(script.cancelled).toBe(1);
    await tick();
    expect(script.unloaded).toBe(1);
  });

  it("reports a failing enumeration as the library's problem (INTERNAL naming SKF_EnumDev), never as a key pulled out", () => {
    for (const code of [SAR.DEVICE_REMOVED, SAR.INVALIDHANDLEERR, SAR.FAIL]) {
      const library = new SkfLibrary(CANDIDATE, scriptedBinding({ present: [], enumFails: code, events: false, cancelled: 0, unloaded: 0 }));
      let failure: unknown;
      try {
        library.presentKeys();
      } catch (error) {
        failure = error;
      }
      expect(failure, `0x${code.toString(16)}`).toMatchObject({ code: "INTERNAL", data: { call: "SKF_EnumDev" } });
      expect((failure as Error).message).toContain(CANDIDATE.path);
    }
  });

  it("unloads at once when no wait is running", () => {
    const script: Script = { present: [], events: false, cancelled: 0, unloaded: 0 };
    new SkfLibrary(CANDIDATE, scriptedBinding(script)).close();
    expect(script.unloaded).toBe(1);
  });
});
