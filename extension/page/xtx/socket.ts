/**
 * A WebSocket look-alike for ws://127.0.0.1:21051/xtxapp/ (wss://…:21061 on https pages): answered by the
 * page's XtxService where XTXApp compatibility is on, relayed to the real socket where it is off. It
 * behaves like a socket to BJCA's libraries: open/message/error/close through both on* handlers and
 * listeners, sends while CONNECTING are refused as a real socket would, and a closed socket stays closed
 * (libraries that reconnect simply construct a new one).
 */
import type { PageBridge } from "../bridge.js";
import type { XtxService } from "./service.js";
import { encodeReply, parseCall, USB_KEY_CHANGE } from "./wire.js";

type Handler = ((event: Event) => void) | null;

export class XtxSocket extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readyState = 0;
  readonly protocol = "";
  readonly extensions = "";
  bufferedAmount = 0;
  binaryType: BinaryType = "blob";
  onopen: Handler = null;
  onmessage: Handler = null;
  onerror: Handler = null;
  onclose: Handler = null;
  private service: XtxService | null = null;
  private relay: WebSocket | null = null;

  constructor(readonly url: string, bridge: PageBridge, service: () => XtxService, openReal: () => WebSocket, private readonly sockets: Set<XtxSocket>) {
    super();
    bridge
      .call<boolean>("xtxEnabled")
      .catch(() => false)
      .then((enabled) => {
        if (this.readyState === 3) return;
        if (!enabled) return this.relayTo(openReal());
        this.service = service();
        sockets.add(this);
        this.readyState = 1;
        this.fire(new Event("open"));
      });
  }

  send(frame: unknown): void {
    if (this.relay) return this.relay.send(frame as string);
    if (this.readyState === 0) throw new DOMException("Still in CONNECTING state.", "InvalidStateError");
    if (this.readyState !== 1 || !this.service) return;
    const call = parseCall(frame);
    if (!call) return;
    void this.service.run(call.name, call.params).then((value) => this.deliver(encodeReply(call.id, value)));
  }

  close(): void {
    if (this.relay) return this.relay.close();
    if (this.readyState >= 2) return;
    this.readyState = 3;
    this.sockets.delete(this);
    this.fire(new CloseEvent("close", { code: 1000, wasClean: true }));
  }

  /** Unsolicited key-change notice, as BJCA's service sends it on insertion and removal. */
  notifyKeyChange(): void {
    if (this.service) this.deliver(USB_KEY_CHANGE);
  }

  private deliver(data: string): void {
    if (this.readyState === 1) this.fire(new MessageEvent("message", { data }));
  }

  private fire(event: Event): void {
    const handler = (this as unknown as Record<string, Handler>)[`on${event.type}`];
    if (typeof handler === "function") handler.call(this, event);
    this.dispatchEvent(event);
  }

  private relayTo(socket: WebSocket): void {
    this.relay = socket;
    for (const type of ["open", "message", "error", "close"]) {
      socket.addEventListener(type, (event) => {
        this.readyState = socket.readyState;
        const copy = type === "message" ? new MessageEvent("message", { data: (event as MessageEvent).data }) : type === "close" ? new CloseEvent("close", event as CloseEvent) : new Event(type);
        this.fire(copy);
      });
    }
  }
}
