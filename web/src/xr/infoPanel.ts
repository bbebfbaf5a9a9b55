// The info panel in the headset, laid out as the desktop's (#info): the title, a table of
// key/value rows (keys in one column, values in the next; the training statistics keep their two
// pairs a row), section headings with their step on the right, and the histograms drawn as the
// desktop draws them (bars). It is read from the desktop panel, so the headset shows the same
// content. One plane with a canvas texture: one draw call however long it is, redrawn only when
// the content changes. Everything is drawn with fillText: a name from a model is text, never
// markup, and one too long for its column ends in "…".
import * as THREE from "three";

export type PanelItem =
  | { kind: "title"; text: string }
  | { kind: "heading"; text: string; note: string }
  /** ``grid``: a statistics row (key, value, key, value in four columns); else key and value. */
  | { kind: "row"; cells: string[]; bad: boolean[]; grid: boolean }
  | { kind: "hist"; source: HTMLCanvasElement; lo: string; hi: string }
  | { kind: "text"; text: string; alarm: boolean };

/** A table cell as drawn: where its text starts, in metres from the middle of the panel's top
 * edge (x right, y down). */
export interface DrawnCell { text: string; shown: string; column: number; x: number; y: number }

/** The panel's width, in metres (its height follows the content). */
export const PANEL_WIDTH = 0.44;
/** The tallest the panel is, in metres: a longer one is drawn smaller, so that it stays above the
 * table and the model when standing at eye level. */
const MAX_HEIGHT = 0.5;
const PX = 1024; // canvas pixels across
const M = PANEL_WIDTH / PX; // metres per canvas pixel
const PAD = 28, ROW = 46, MAX_PX_HEIGHT = 2048;
const SANS = "system-ui, Roboto, sans-serif", MONO = "ui-monospace, 'DejaVu Sans Mono', monospace";
const FONT = { title: `bold 42px ${SANS}`, heading: `bold 34px ${SANS}`, note: `30px ${SANS}`,
  key: `32px ${SANS}`, value: `31px ${MONO}`, text: `31px ${SANS}`, range: `24px ${MONO}` };
const COLOR = { bg: "rgba(20, 25, 37, 0.94)", title: "#f2f5fb", heading: "#c4cbd9", note: "#6f7890",
  key: "#9aa4b8", value: "#e8ecf4", bad: "#ff6b81", rule: "#2c3342", range: "#8d96aa", histBg: "#0d1017" };
/** Characters of a cell read from the page before it is measured (the page clamps names too). */
const MAX_CHARS = 300;
const HIST_H = 110;

/** The desktop panel's content, in order (nothing when it is hidden). */
export function readPanel(panel: HTMLElement): PanelItem[] {
  if (panel.hidden) return [];
  const items: PanelItem[] = [];
  const text = (n: Node | null): string => (n?.textContent ?? "").trim().slice(0, MAX_CHARS);
  const walk = (node: Element, grid: boolean): void => {
    for (const child of Array.from(node.children)) {
      const tag = child.tagName;
      if (tag === "BUTTON" || tag === "SELECT" || tag === "INPUT") continue;
      if (tag === "CANVAS") {
        if ((child as HTMLElement).dataset.hist) items.push({ kind: "hist", source: child as HTMLCanvasElement, lo: "", hi: "" });
      } else if (tag === "H2" || tag === "H3" || tag === "H4") {
        // a heading's parts (title, then a step in a span) read as words, not run together
        const parts = Array.from(child.childNodes).map(text).filter(Boolean);
        if (tag === "H2") items.push({ kind: "title", text: parts.join(" · ") });
        else items.push({ kind: "heading", text: parts[0] ?? "", note: parts.slice(1).join(" · ") });
      } else if (tag === "TR") {
        const cells = Array.from(child.children);
        items.push({ kind: "row", cells: cells.map(text), grid,
          bad: cells.map((c) => c.classList.contains("bad") || !!c.querySelector(".nonfinite")) });
      } else if (child.classList.contains("hist-range")) {
        const last = items[items.length - 1];
        const [lo, hi] = Array.from(child.children).map(text);
        if (last?.kind === "hist") { last.lo = lo ?? ""; last.hi = hi ?? ""; }
      } else if (child.children.length) {
        walk(child, grid || (tag === "TABLE" && child.classList.contains("stats")));
      } else if (text(child)) {
        items.push({ kind: "text", text: text(child), alarm: false });
      }
    }
  };
  walk(panel, false);
  return items;
}

/** The panel as plain text, a line an item: what tests and the status read. */
export function panelText(items: PanelItem[]): string {
  return items.map((it) => {
    if (it.kind === "title") return it.text;
    if (it.kind === "heading") return [it.text, it.note].filter(Boolean).join(" · ");
    if (it.kind === "row") {
      const pairs: string[] = [];
      for (let i = 0; i < it.cells.length; i += 2) pairs.push(`${it.cells[i]}: ${it.cells[i + 1] ?? ""}`);
      return pairs.join("   ");
    }
    if (it.kind === "hist") return it.lo || it.hi ? `histogram ${it.lo} … ${it.hi}` : "histogram";
    return it.text;
  }).filter(Boolean).join("\n");
}

export class InfoPanel {
  /** The panel; its origin is the middle of its top edge. */
  readonly root = new THREE.Group();
  readonly mesh: THREE.Mesh;
  private readonly canvas = document.createElement("canvas");
  private readonly ctx: CanvasRenderingContext2D;
  private readonly texture: THREE.CanvasTexture;
  /** The text shown (what tests read). */
  content = "";
  /** The table cells drawn (what tests read to see rows, not one column of text). */
  cells: DrawnCell[] = [];
  /** Histograms drawn. */
  histograms = 0;

  constructor(name: string) {
    this.root.name = name;
    this.canvas.width = PX;
    this.canvas.height = 256;
    this.ctx = this.canvas.getContext("2d")!;
    this.texture = new THREE.CanvasTexture(this.canvas);
    this.texture.colorSpace = THREE.SRGBColorSpace;
    this.texture.anisotropy = 4;
    this.mesh = new THREE.Mesh(new THREE.PlaneGeometry(1, 1), new THREE.MeshBasicMaterial({
      map: this.texture, transparent: true, side: THREE.DoubleSide, toneMapped: false, depthWrite: false }));
    this.mesh.renderOrder = 20;
    this.root.add(this.mesh);
    this.root.visible = false;
  }

  /** Show ``items`` (hidden when there are none); called when they may have changed. */
  set(items: PanelItem[]): void {
    this.content = panelText(items);
    this.root.visible = items.length > 0;
    if (items.length) this.draw(items);
  }

  /** The panel's box in the reference space (metres), in ``into``; null while hidden. */
  box(into = new THREE.Box3()): THREE.Box3 | null {
    if (!this.root.visible || !this.root.parent) return null;
    this.root.updateMatrixWorld(true);
    return into.setFromObject(this.mesh);
  }

  private draw(items: PanelItem[]): void {
    const ctx = this.ctx;
    const height = Math.min(MAX_PX_HEIGHT, Math.ceil(this.measure(items) / 64) * 64);
    if (this.canvas.height !== height) {
      this.canvas.height = height;
      this.texture.dispose(); // re-allocated at the new size on the next upload
    }
    ctx.clearRect(0, 0, PX, height);
    ctx.fillStyle = COLOR.bg;
    roundRect(ctx, 0, 0, PX, height, 18);
    ctx.textBaseline = "middle";
    this.cells = [];
    this.histograms = 0;
    const inner = PX - 2 * PAD;
    // the key column is as wide as the widest key of the key/value table (at most 40%)
    ctx.font = FONT.key;
    let keyW = 0;
    for (const it of items) if (it.kind === "row" && !it.grid) keyW = Math.max(keyW, ctx.measureText(it.cells[0] ?? "").width);
    keyW = Math.min(keyW + 28, 0.4 * inner);
    let y = PAD;
    for (const it of items) {
      if (y + ROW > height - PAD) { this.line("…", PAD, y + ROW / 2, inner, FONT.text, COLOR.note); break; }
      if (it.kind === "title") {
        this.line(it.text, PAD, y + 28, inner, FONT.title, COLOR.title);
        y += 64;
      } else if (it.kind === "heading") {
        ctx.fillStyle = COLOR.rule;
        ctx.fillRect(PAD, y + 6, inner, 2);
        const noteW = it.note ? Math.min(0.45 * inner, this.width(it.note, FONT.note)) : 0;
        this.line(it.text, PAD, y + 34, inner - noteW - 16, FONT.heading, COLOR.heading);
        if (it.note) this.line(it.note, PX - PAD - noteW, y + 34, noteW, FONT.note, COLOR.note);
        y += 60;
      } else if (it.kind === "row") {
        const cols = it.grid ? [0, 0.2, 0.5, 0.7].map((f) => PAD + f * inner) : [PAD, PAD + keyW];
        const right = it.grid ? [0.2, 0.5, 0.7, 1].map((f) => PAD + f * inner - 12) : [PAD + keyW - 12, PX - PAD];
        it.cells.forEach((cell, i) => {
          if (i >= cols.length) return;
          const key = i % 2 === 0;
          // a lone value (the update ratio's) takes the rest of the row
          const end = !key && i === it.cells.length - 1 ? PX - PAD : right[i];
          const shown = this.line(cell, cols[i], y + ROW / 2, end - cols[i], key ? FONT.key : FONT.value,
            key ? COLOR.key : it.bad[i] ? COLOR.bad : COLOR.value);
          this.cells.push({ text: cell, shown, column: i, x: cols[i] * M, y: (y + ROW / 2) * M });
        });
        y += ROW;
      } else if (it.kind === "hist") {
        ctx.fillStyle = COLOR.histBg;
        ctx.fillRect(PAD, y + 6, inner, HIST_H);
        if (it.source.width && it.source.height) ctx.drawImage(it.source, PAD, y + 6, inner, HIST_H);
        this.histograms++;
        y += HIST_H + 10;
        if (it.lo || it.hi) {
          this.line(it.lo, PAD, y + 14, inner / 2, FONT.range, COLOR.range);
          const w = Math.min(inner / 2, this.width(it.hi, FONT.range));
          this.line(it.hi, PX - PAD - w, y + 14, w, FONT.range, COLOR.range);
          y += 32;
        }
      } else {
        for (const part of this.wrap(it.text, inner, FONT.text, 3)) {
          this.line(part, PAD, y + ROW / 2, inner, FONT.text, it.alarm ? COLOR.bad : COLOR.value);
          y += ROW;
        }
      }
    }
    this.texture.needsUpdate = true;
    const k = Math.min(1, MAX_HEIGHT / (height * M));
    this.mesh.scale.set(PANEL_WIDTH * k, height * M * k, 1);
    this.mesh.position.set(0, -height * M * k / 2, 0);
    for (const c of this.cells) { c.x = (c.x - PANEL_WIDTH / 2) * k; c.y *= k; }
  }

  /** The canvas height ``items`` need, in pixels. */
  private measure(items: PanelItem[]): number {
    let y = 2 * PAD;
    for (const it of items) {
      if (it.kind === "title") y += 64;
      else if (it.kind === "heading") y += 60;
      else if (it.kind === "row") y += ROW;
      else if (it.kind === "hist") y += HIST_H + 10 + (it.lo || it.hi ? 32 : 0);
      else y += ROW * this.wrap(it.text, PX - 2 * PAD, FONT.text, 3).length;
    }
    return y;
  }

  private width(text: string, font: string): number {
    this.ctx.font = font;
    return this.ctx.measureText(text).width;
  }

  /** Draw one line of text, clamped to ``maxW`` pixels with "…"; returns what was drawn. */
  private line(text: string, x: number, y: number, maxW: number, font: string, color: string): string {
    const ctx = this.ctx;
    ctx.font = font;
    ctx.fillStyle = color;
    const shown = clamp(ctx, text, maxW);
    ctx.fillText(shown, x, y);
    return shown;
  }

  /** ``text`` broken into at most ``lines`` lines of ``maxW`` pixels (the last one clamped). */
  private wrap(text: string, maxW: number, font: string, lines: number): string[] {
    const ctx = this.ctx;
    ctx.font = font;
    const out: string[] = [];
    for (const para of text.split("\n")) {
      let cur = "";
      for (const word of para.split(" ")) {
        const next = cur ? `${cur} ${word}` : word;
        if (cur && ctx.measureText(next).width > maxW) { out.push(cur); cur = word; } else cur = next;
      }
      out.push(cur);
    }
    if (out.length > lines) { out.length = lines; out[lines - 1] += " …"; }
    return out.map((s) => clamp(ctx, s, maxW));
  }
}

/** ``text`` cut to fit ``maxW`` pixels in the context's font, ending in "…" when cut. */
function clamp(ctx: CanvasRenderingContext2D, text: string, maxW: number): string {
  if (ctx.measureText(text).width <= maxW) return text;
  let lo = 0, hi = text.length;
  while (lo < hi) { // the longest prefix that fits with the ellipsis
    const mid = (lo + hi + 1) >> 1;
    if (ctx.measureText(`${text.slice(0, mid)}…`).width <= maxW) lo = mid; else hi = mid - 1;
  }
  return `${text.slice(0, lo)}…`;
}

function roundRect(ctx: CanvasRenderingContext2D, x: number, y: number, w: number, h: number, r: number): void {
  ctx.beginPath();
  ctx.roundRect(x, y, w, h, r);
  ctx.fill();
}
