// Render mode (``?render=1``, what ``nnviz3d render`` opens in headless Chromium): the scene alone,
// no toolbar, panels, help line or tooltips, on a solid background (``?background=rrggbb``) or a
// transparent one (``?background=transparent``). ``capture`` returns the canvas's pixels as a
// data URL, with the loss chart (where the viewer shows it) and a caption drawn on it, for the
// frames of a picture or a video (nnviz3d/render/).

/** What the URL asks of the render. */
export interface RenderOptions {
  /** Render mode is on. */
  on: boolean;
  /** The background is transparent (alpha 0). */
  transparent: boolean;
  /** The background colour (0xrrggbb), or null for the viewer's own. */
  background: number | null;
  /** The loss chart panel stays (in its corner, drawn into captures). */
  chart: boolean;
}

/** Read ``?render=1&background=...&chart=0`` (anything malformed is ignored). */
export function renderOptions(params: URLSearchParams): RenderOptions {
  const on = params.get("render") === "1";
  const bg = (params.get("background") ?? "").toLowerCase();
  const hex = /^#?([0-9a-f]{6})$/.exec(bg);
  return {
    on,
    transparent: on && bg === "transparent",
    background: on && hex ? parseInt(hex[1], 16) : null,
    chart: !on || params.get("chart") !== "0",
  };
}

/** The page's UI hidden in render mode (the chart panel too unless ``chart``). */
const UI = ["toolbar", "info", "dock", "tooltip", "select-box", "toast", "help", "overlay", "tour-caption"];

/** Hide every panel, keep the canvas (and the chart panel when asked). */
export function enterRenderMode(opts: RenderOptions): void {
  if (!opts.on) return;
  const hidden = [...UI, ...(opts.chart ? [] : ["chart-panel"])].map((id) => `#${id}`).join(", ");
  const style = document.createElement("style");
  style.id = "render-mode";
  style.textContent = `${hidden} { display: none !important; }`
    + (opts.transparent ? " html, body { background: transparent !important; }" : "");
  document.head.append(style);
  document.body.classList.add("render-mode");
}

/** How a capture is made: a caption along the bottom, the chart or not, the image type. */
export interface CaptureOptions {
  caption?: string;
  /** The loss chart where the page shows it, and the colour scale (a quantity's) top left. */
  chart?: boolean;
  /** "image/png" (default, keeps transparency) or "image/jpeg" (video frames: faster). */
  type?: string;
  quality?: number;
}

/** True when no visible text label under ``root`` waits for troika to lay out its glyphs (a
 * capture before then would miss the label). A label whose layout is due is started here:
 * troika starts it when drawn, and render mode draws only for a capture. */
export function labelsSettled(root: { traverse(f: (o: object) => void): void }): boolean {
  let pending = false;
  root.traverse((o) => {
    const t = o as { visible?: boolean; _needsSync?: boolean; _isSyncing?: boolean; sync?: () => void };
    if (!t.visible || !(t._needsSync || t._isSyncing)) return;
    pending = true;
    if (t._needsSync && !t._isSyncing) t.sync?.();
  });
  return !pending;
}

let frame: HTMLCanvasElement | null = null;

/** The scene canvas's pixels (at its full resolution) with the chart panel and a caption drawn
 * over them, as a data URL. Call it right after a render (the drawing buffer is preserved). */
export function capture(scene: HTMLCanvasElement, opts: CaptureOptions = {}): string {
  const plain = !opts.caption && !opts.chart;
  const type = opts.type === "image/jpeg" ? "image/jpeg" : "image/png";
  if (plain) return scene.toDataURL(type, opts.quality);
  frame ??= document.createElement("canvas");
  const out = frame;
  if (out.width !== scene.width || out.height !== scene.height) { out.width = scene.width; out.height = scene.height; }
  const ctx = out.getContext("2d")!;
  ctx.clearRect(0, 0, out.width, out.height);
  ctx.drawImage(scene, 0, 0);
  const scale = scene.width / Math.max(1, scene.clientWidth);
  if (opts.chart) { drawChart(ctx, scale); drawScale(ctx, scale); }
  if (opts.caption) drawCaption(ctx, opts.caption, out.width, out.height, scale);
  return out.toDataURL(type, opts.quality);
}

/** The chart panel's canvas where the page shows it, on a dark card. */
function drawChart(ctx: CanvasRenderingContext2D, scale: number): void {
  const panel = document.getElementById("chart-panel");
  const chart = panel?.querySelector("canvas");
  if (!panel || !chart || panel.hidden) return;
  const r = chart.getBoundingClientRect();
  if (r.width <= 0 || r.height <= 0) return;
  const [x, y, w, h] = [r.left * scale, r.top * scale, r.width * scale, r.height * scale];
  ctx.save();
  ctx.fillStyle = "rgba(16, 19, 26, 0.78)";
  ctx.beginPath();
  ctx.roundRect(x, y, w, h, 8 * scale);
  ctx.fill();
  ctx.drawImage(chart, x, y, w, h);
  ctx.restore();
}

/** The colour scale of a quantity as the legend says it (``name (log)  min [bar] max``), read
 * from the page's legend, on a dark card in the top left corner; nothing for kind colours. */
function drawScale(ctx: CanvasRenderingContext2D, scale: number): void {
  const box = document.getElementById("legend-scale");
  const text = (sel: string) => box?.querySelector(sel)?.textContent?.trim() ?? "";
  const bar = box?.querySelector<HTMLElement>(".bar");
  const name = text(".name");
  if (!box || box.hidden || !name || !bar) return;
  const stops = bar.style.background.match(/#[0-9a-f]{3,8}|rgba?\([^)]*\)/gi) ?? [];
  if (stops.length < 2) return;
  const size = 13 * scale, pad = 8 * scale, barW = 140 * scale, barH = 10 * scale;
  ctx.save();
  ctx.font = `500 ${size}px system-ui, "DejaVu Sans", sans-serif`;
  const lo = text("[data-scale=min]"), hi = text("[data-scale=max]");
  const parts = [ctx.measureText(name).width, ctx.measureText(lo).width, barW, ctx.measureText(hi).width];
  const w = parts.reduce((a, b) => a + b, 0) + 5 * pad, h = size * 2;
  ctx.fillStyle = "rgba(16, 19, 26, 0.82)";
  ctx.beginPath();
  ctx.roundRect(pad, pad, w, h, 6 * scale);
  ctx.fill();
  ctx.textBaseline = "middle";
  let x = 2 * pad;
  const y = pad + h / 2;
  ctx.fillStyle = "#eef2fa";
  ctx.fillText(name, x, y);
  x += parts[0] + pad;
  ctx.fillStyle = "#c4cbd9";
  ctx.fillText(lo, x, y);
  x += parts[1] + pad;
  const g = ctx.createLinearGradient(x, 0, x + barW, 0);
  stops.forEach((c, i) => g.addColorStop(i / (stops.length - 1), c));
  ctx.fillStyle = g;
  ctx.fillRect(x, y - barH / 2, barW, barH);
  x += barW + pad;
  ctx.fillStyle = "#c4cbd9";
  ctx.fillText(hi, x, y);
  ctx.restore();
}

/** One line of text centred near the bottom on a dark rounded band, sized to the frame. */
function drawCaption(ctx: CanvasRenderingContext2D, text: string, w: number, h: number, scale: number): void {
  const size = Math.round(Math.max(12 * scale, h / 34));
  ctx.save();
  ctx.font = `500 ${size}px system-ui, "DejaVu Sans", sans-serif`;
  let line = text.replace(/\s+/g, " ").trim();
  const room = w * 0.86;
  while (line.length > 4 && ctx.measureText(line).width > room) line = `${line.slice(0, -2).trimEnd()}…`;
  const tw = ctx.measureText(line).width, pad = size * 0.6;
  const bw = tw + 2 * pad, bh = size * 1.6;
  const x = (w - bw) / 2, y = h - bh - size * 0.9;
  ctx.fillStyle = "rgba(12, 15, 22, 0.86)";
  ctx.beginPath();
  ctx.roundRect(x, y, bw, bh, size * 0.4);
  ctx.fill();
  ctx.fillStyle = "#eef2fa";
  ctx.textBaseline = "middle";
  ctx.fillText(line, x + pad, y + bh / 2);
  ctx.restore();
}
