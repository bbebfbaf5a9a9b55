// The websocket session: handshake, scene/probe/scalars frames, automatic reconnection.
import { decodeFrame, parseJson, type Frame } from "./codec";
import {
  OVERLAYS, PROBE, PROTOCOL_VERSION, SCALARS, type ClientMessage, type ErrorMessage, type InputsInfo, type Progress, type RecipeInfo, type SceneInfo,
  type ServerMessage, type Timeline, type Welcome,
} from "./protocol.gen";

export interface ConnectionEvents {
  welcome(msg: Welcome): void;
  sceneInfo(msg: SceneInfo): void;
  scene(frame: Frame): void;
  /** One training step's probe results (binary frame of type ``probe``). */
  probe(frame: Frame): void;
  /** The loss/metrics history (binary frame of type ``scalars``): whole, or with ``from``
   * the rows that continue it. */
  scalars(frame: Frame): void;
  /** Data overlays: weight maps of every layer, or the selected layer's ridges and scatter. */
  overlays(frame: Frame): void;
  timeline(msg: Timeline): void;
  /** The probe inputs that can be inspected (sent on join when there are some). */
  inputs(msg: InputsInfo): void;
  /** A scene recipe's view settings and bookmarks (sent on join). */
  recipe(msg: RecipeInfo): void;
  /** How far a long request (feature visualisation, landscape) is. */
  progress(msg: Progress): void;
  error(msg: ErrorMessage): void;
  status(state: "connecting" | "open" | "closed", retryInSeconds?: number): void;
}

/** Largest frame the viewer decodes (a GPT-2 weights frame is ~7 MB, 100k embedded points ~3 MB);
 * anything bigger is dropped with an error rather than decoded. */
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;
/** Largest JSON message the viewer parses. */
export const MAX_TEXT_CHARS = 4 * 1024 * 1024;

export class Connection {
  private ws: WebSocket | null = null;
  private retries = 0;
  private fatal = false;
  private closedByUs = false;
  readonly protocol: number;

  constructor(private url: string, private events: ConnectionEvents, protocol?: number) {
    this.protocol = protocol ?? PROTOCOL_VERSION;
  }

  connect(): void {
    this.events.status("connecting");
    const ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      this.retries = 0;
      this.events.status("open");
      ws.send(JSON.stringify({ type: "hello", protocol: this.protocol, client: "nnviz3d-web/0.1.0" }));
    };
    ws.onmessage = (ev) => {
      const size = typeof ev.data === "string" ? ev.data.length : (ev.data as ArrayBuffer).byteLength;
      if (size > (typeof ev.data === "string" ? MAX_TEXT_CHARS : MAX_FRAME_BYTES)) {
        this.events.error({ type: "error", code: "frame_too_big", fatal: false,
          message: `dropped a server message of ${size.toLocaleString("en")} bytes (limit ${MAX_FRAME_BYTES.toLocaleString("en")})` });
        return;
      }
      if (typeof ev.data === "string") this.onText(ev.data);
      else {
        try {
          this.onFrame(decodeFrame(ev.data as ArrayBuffer));
        } catch (err) {
          this.events.error({ type: "error", code: "bad_frame", message: String(err), fatal: false });
        }
      }
    };
    ws.onclose = () => {
      this.ws = null;
      if (this.fatal || this.closedByUs) {
        this.events.status("closed");
        return;
      }
      const wait = Math.min(10, 2 ** this.retries);
      this.retries += 1;
      this.events.status("closed", wait);
      setTimeout(() => this.connect(), wait * 1000);
    };
  }

  private onFrame(frame: Frame): void {
    const type = frame.header.type;
    if (type === PROBE) this.events.probe(frame);
    else if (type === SCALARS) this.events.scalars(frame);
    else if (type === OVERLAYS) this.events.overlays(frame);
    else if (type === "scene" || type === undefined) this.events.scene(frame);
    else throw new Error(`unknown binary frame type ${JSON.stringify(type)}`);
  }

  private onText(text: string): void {
    let msg: ServerMessage;
    try {
      msg = parseJson(text) as ServerMessage;
    } catch {
      console.warn("nnviz3d: a text message that is not JSON was ignored");
      return;
    }
    switch (msg.type) {
      case "welcome": this.events.welcome(msg); break;
      case "scene_info": this.events.sceneInfo(msg); break;
      case "timeline": this.events.timeline(msg); break;
      case "inputs": this.events.inputs(msg); break;
      case "progress": this.events.progress(msg); break;
      case "recipe": this.events.recipe(msg); break;
      case "error":
        if (msg.fatal) this.fatal = true;
        this.events.error(msg);
        break;
    }
  }

  send(msg: ClientMessage): void {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  close(): void {
    this.closedByUs = true;
    this.ws?.close();
  }
}
