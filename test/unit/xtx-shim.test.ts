/**
 * The XTXApp WebSocket shim's routing, with a fake bridge and a fake network socket: XTX URLs on sites
 * with compatibility are answered by yzt-bridge; on sites without it they reach the real socket unchanged;
 * every other URL is never touched.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PageBridge } from "../../extension/page/bridge.js";
import { YztError } from "../../extension/page/bridge.js";
import { installXtxCompatibility } from "../../extension/page/xtx/index.js";

class FakeCloseEvent extends Event {
  readonly code: number;
  constructor(type: string, init: { code?: number } = {}) {
    super(type);
    this.code = init.code ?? 1000;
  }
}

/** Stands in for the browser's WebSocket: records what is sent, can "receive". */
class FakeNetworkSocket extends EventTarget {
  static instances: FakeNetworkSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  constructor(readonly url: string) {
    super();
    FakeNetworkSocket.instances.push(this);
  }
  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {
    this.readyState = 3;
    this.dispatchEvent(new FakeCloseEvent("close"));
  }
  open(): void {
    this.readyState = 1;
    this.dispatchEvent(new Event("open"));
  }
}

function fakeBridge(enabled: boolean, calls: string[]): PageBridge & { emit(type: string): void } {
  const listeners: Array<(type: string, data: object) => void> = [];
  const answers: Record<string, unknown> = {
    xtxEnabled: enabled,
    listCertificates: [{ id: "S1:0101", tokenSerial: "S1", der: "MIIB", holderName: "公司", subject: { CN: "公司" }, purpose: "sign", keyAlgorithm: "RSA" }],
  };
  return {
    async call<T>(method: string): Promise<T> {
      calls.push(method);
      if (method === "xtxLogin") throw new YztError("PIN_INCORRECT", "wrong PIN", { retriesLeft: 9 });
      return answers[method] as T;
    },
    onEvent(listener) {
      listeners.push(listener);
    },
    onReady() {},
    emit(type: string) {
      for (const listener of listeners) listener(type, {});
    },
  };
}

const nextMessage = (socket: EventTarget) =>
  new Promise<Record<string, unknown>>((resolve) =>
    socket.addEventListener("message", (event) => resolve(JSON.parse(String((event as MessageEvent).data)) as Record<string, unknown>), { once: true }),
  );
const opened = (socket: EventTarget) => new Promise((resolve) => socket.addEventListener("open", resolve, { once: true }));

let saved: PropertyDescriptor | undefined;
beforeEach(() => {
  FakeNetworkSocket.instances = [];
  saved = Object.getOwnPropertyDescriptor(globalThis, "window");
  Object.assign(globalThis, { CloseEvent: FakeCloseEvent });
  Object.defineProperty(globalThis, "window", { value: { WebSocket: FakeNetworkSocket }, configurable: true, writable: true });
});
afterEach(() => {
  if (saved) Object.defineProperty(globalThis, "window", saved);
  else delete (globalThis as { window?: unknown }).window;
});

describe("XTXApp WebSocket shim", () => {
  it("answers SOF_* requests itself where compatibility is on, without opening a network socket", async () => {
    const calls: string[] = [];
    const bridge = fakeBridge(true, calls);
    installXtxCompatibility(bridge);
    const WS = (globalThis as unknown as { window: { WebSocket: new (url: string) => WebSocket } }).window.WebSocket;
    const socket = new WS("ws://127.0.0.1:21051/xtxapp/");
    await opened(socket);
    expect(FakeNetworkSocket.instances).toHaveLength(0);
    const reply = nextMessage(socket);
    socket.send(JSON.stringify({ xtx_func_name: "SOF_GetUserList", call_cmd_id: "i_1" }));
    expect(await reply).toEqual({ call_cmd_id: "i_1", retVal: "公司||0101/S1&&&" });
    const failed = nextMessage(socket);
    socket.send(JSON.stringify({ xtx_func_name: "SOF_Login", call_cmd_id: "i_2", param_1: "0101/S1", param_2: "0000" }));
    expect(await failed).toEqual({ call_cmd_id: "i_2", retVal: "false" });
    const lastError = nextMessage(socket);
    socket.send(JSON.stringify({ xtx_func_name: "SOF_GetLastError", call_cmd_id: "i_3" }));
    expect((await lastError).retVal).toBe(String(0x0b000202));
    const change = nextMessage(socket);
    bridge.emit("tokenremoved");
    expect(await change).toEqual({ call_cmd_id: "onUsbkeyChange", retVal: "" });
  });

  it("relays to the real socket where compatibility is off, so installed BJCA software keeps working", async () => {
    const calls: string[] = [];
    installXtxCompatibility(fakeBridge(false, calls));
    const WS = (globalThis as unknown as { window: { WebSocket: new (url: string) => WebSocket } }).window.WebSocket;
    const socket = new WS("wss://127.0.0.1:21061/xtxapp/");
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(FakeNetworkSocket.instances.map((s) => s.url)).toEqual(["wss://127.0.0.1:21061/xtxapp/"]);
    const open = opened(socket);
    FakeNetworkSocket.instances[0]!.open();
    await open;
    socket.send('{"xtx_func_name":"SOF_GetUserList","call_cmd_id":"x"}');
    expect(FakeNetworkSocket.instances[0]!.sent).toEqual(['{"xtx_func_name":"SOF_GetUserList","call_cmd_id":"x"}']);
    expect(calls).toEqual(["xtxEnabled"]);
  });

  it("leaves every other WebSocket alone", () => {
    const calls: string[] = [];
    installXtxCompatibility(fakeBridge(true, calls));
    const WS = (globalThis as unknown as { window: { WebSocket: new (url: string) => unknown } }).window.WebSocket;
    const other = new WS("wss://etax.example.cn/push");
    expect(other).toBeInstanceOf(FakeNetworkSocket);
    expect(new WS("ws://127.0.0.1:21052/xtxapp/")).toBeInstanceOf(FakeNetworkSocket);
    expect(calls).toEqual([]);
  });
});
