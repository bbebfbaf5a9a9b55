// The timeline bar: play/pause, speed, a scrubber over the recorded steps, the step readout and
// a Live button. Live mode follows the newest step; scrubbing or playing seeks (throttled).
// Under the scrubber, one row of ticks per probe kind marks the steps that hold it
// (stepMarks.ts); under that, a line says how old each view is at the shown step.
import { el, fill, formatStat, numEl } from "./dom";
import type { ViewAge } from "./probeState";
import type { Timeline } from "./protocol.gen";
import { drawMarks, type KindMarks, MARK_COLORS, MARK_NAMES, type MarkKind, markAtOrBefore, marksNear, readMarks } from "./stepMarks";
import { $ } from "./ui";

/** Playback speed at 1×, in steps per second. */
const STEPS_PER_SECOND = 5;
const TICK_MS = 100;
/** At most one seek per this many ms. */
const SEEK_INTERVAL_MS = 100;

export interface TimelineActions {
  seek(step: number): void;
  follow(): void;
  /** How old each view is at the shown step (probeState.ts viewAges). */
  ages?(): ViewAge[];
}

export class TimelineBar {
  /** The last timeline message, or null before one arrived. */
  info: Timeline | null = null;
  live = true;
  playing = false;
  private readonly bar = $("timeline");
  private readonly play = $("tl-play") as HTMLButtonElement;
  private readonly speed = $("tl-speed") as HTMLSelectElement;
  private readonly scrub = $("tl-scrub") as HTMLInputElement;
  private readonly readout = $("tl-step");
  private readonly liveBtn = $("tl-live") as HTMLButtonElement;
  /** Playback position (fractional steps). */
  private pos = 0;
  /** The step the bar shows (requested or received). */
  private shown: number | null = null;
  private timer = 0;
  private lastSeek = 0;
  private pendingSeek: number | null = null;
  private seekTimer = 0;
  /** The shown step's loss (NaN/Inf included), or null. */
  private loss: number | null = null;
  /** Which steps hold which kind (the last timeline message's, checked). */
  marks = new Map<MarkKind, KindMarks>();
  /** The view ages as last shown. */
  ages: ViewAge[] = [];
  private readonly marksCanvas = el("canvas", { id: "tl-marks", "aria-hidden": "true" });
  private readonly agesLine = el("div", { id: "tl-ages", role: "status" });

  constructor(private actions: TimelineActions) {
    const track = el("div", { id: "tl-track" });
    this.scrub.replaceWith(track);
    track.append(this.scrub, this.marksCanvas);
    this.bar.append(this.agesLine);
    const tip = (e: MouseEvent) => this.marksTip(e.clientX);
    this.marksCanvas.addEventListener("mousemove", tip);
    this.scrub.addEventListener("mousemove", tip);
    this.play.addEventListener("click", () => (this.playing ? this.pause() : this.start()));
    this.liveBtn.addEventListener("click", () => this.follow());
    this.scrub.addEventListener("input", () => {
      this.pause();
      this.seek(Number(this.scrub.value));
    });
    this.render();
  }

  /** A timeline message: which steps exist. */
  update(msg: Timeline): void {
    this.info = msg;
    this.marks = readMarks(msg.kinds);
    this.render();
  }

  /** Redraw the view ages (the weight maps changed, say). */
  refresh(): void {
    this.render();
  }

  /** The step now shown (from the probe data), and its loss if known. */
  setShown(step: number | null, loss?: number): void {
    if (this.live) this.shown = step; // otherwise the bar shows the step it asked for
    this.loss = typeof loss === "number" ? loss : null;
    this.render();
  }

  /** Leave live mode and show ``step`` (throttled seek). */
  seek(step: number): void {
    const info = this.info;
    if (info && info.last_step >= info.first_step && info.first_step >= 0) {
      step = Math.min(info.last_step, Math.max(info.first_step, step));
    }
    step = Math.round(step);
    this.live = false;
    this.shown = step;
    this.pendingSeek = step;
    const wait = this.lastSeek + SEEK_INTERVAL_MS - performance.now();
    if (wait <= 0) this.flushSeek();
    else if (!this.seekTimer) this.seekTimer = window.setTimeout(() => this.flushSeek(), wait);
    this.render();
  }

  /** Back to live mode: follow the newest step. */
  follow(): void {
    this.pause();
    clearTimeout(this.seekTimer);
    this.seekTimer = 0;
    this.pendingSeek = null;
    this.live = true;
    this.actions.follow();
    this.render();
  }

  /** Ask again for what is shown (after a reconnect). */
  resend(): void {
    if (this.live) return;
    if (this.shown !== null) { this.lastSeek = 0; this.seek(this.shown); }
  }

  private flushSeek(): void {
    this.seekTimer = 0;
    if (this.pendingSeek === null) return;
    const step = this.pendingSeek;
    this.pendingSeek = null;
    this.lastSeek = performance.now();
    this.actions.seek(step);
  }

  private start(): void {
    const info = this.info;
    if (!info || info.last_step < 0) return;
    let from = this.shown ?? info.first_step;
    if (from >= info.last_step) from = info.first_step; // at the end: play from the start
    this.pos = from;
    this.playing = true;
    this.seek(from);
    this.timer = window.setInterval(() => this.tick(), TICK_MS);
    this.render();
  }

  private pause(): void {
    if (!this.playing) return;
    this.playing = false;
    clearInterval(this.timer);
    this.render();
  }

  private tick(): void {
    const info = this.info;
    if (!info) { this.pause(); return; }
    this.pos += (STEPS_PER_SECOND * Number(this.speed.value) * TICK_MS) / 1000;
    const end = this.pos >= info.last_step;
    if (end) this.pos = info.last_step;
    if (Math.round(this.pos) !== this.shown) this.seek(this.pos);
    if (end) this.pause();
  }

  private render(): void {
    const info = this.info;
    // nothing to scrub: no frames, or one static step (a model file, a comparison of two files)
    this.bar.hidden = !info || info.frames === 0 || (!info.live && info.first_step === info.last_step);
    document.body.classList.toggle("has-timeline", !this.bar.hidden);
    if (!info) return;
    const first = Math.max(0, info.first_step);
    // live frames can be a moment ahead of the timeline message
    const last = Math.max(first, info.last_step, this.live ? (this.shown ?? 0) : 0);
    this.scrub.min = String(first);
    this.scrub.max = String(last);
    const at = this.live ? (this.shown ?? last) : (this.shown ?? first);
    this.scrub.value = String(at);
    this.play.textContent = this.playing ? "❚❚" : "▶";
    this.play.title = this.playing ? "Pause" : "Play";
    this.liveBtn.classList.toggle("on", this.live);
    this.liveBtn.hidden = !info.live; // a replay or a finished run has no newest step to follow
    this.liveBtn.title = info.live ? "Follow the newest step (training is running)" : "Show the newest step (the run has ended)";
    this.bar.classList.toggle("running", info.live);
    const loss = this.loss;
    fill(this.readout, `step ${this.shown ?? "–"}/${info.last_step >= 0 ? last : "–"}`,
      loss === null ? null : [" · loss ", numEl(loss, (v) => v.toPrecision(3))]);
    this.readout.title = `shown step ${this.shown ?? "–"} of ${info.first_step}…${last}${loss === null ? "" : ` · loss ${formatStat(loss)}`}`;
    if (!this.bar.hidden) drawMarks(this.marksCanvas, this.marks, first, last);
    this.renderAges();
  }

  /** "weights, gradients from step 48 (4 behind) · activations from step 52 · no weight maps
   * yet": the kinds grouped by the step their data is from, older ones in amber. */
  private renderAges(): void {
    const ages = this.actions.ages?.() ?? [];
    this.ages = ages;
    const shown = this.shown;
    const groups = new Map<number | null, ViewAge[]>();
    for (const a of ages) groups.set(a.step, [...(groups.get(a.step) ?? []), a]);
    const names = (list: ViewAge[]) => list.flatMap((a, i) => {
      const sw = el("span", { class: "sw" });
      sw.style.background = MARK_COLORS[a.kind];
      return [i ? ", " : null, el("span", { class: "kind", "data-kind": a.kind }, sw, a.name)];
    });
    const items = [...groups].map(([step, list], i) => {
      const sep = i ? " · " : null;
      const what = list.map((a) => a.name).join(", ");
      if (step === null) {
        return [sep, el("span", { class: "age none", title: `no ${what} at or before step ${shown ?? "–"}` },
          "no ", names(list), " yet")];
      }
      const age = list[0].age ?? 0;
      const title = `${what} from step ${step}` + (age > 0 ? `: ${age} step${age === 1 ? "" : "s"} before the shown step ${shown}` : " (the shown step)");
      return [sep, el("span", { class: age > 0 ? "age old" : "age", "data-step": step, title },
        names(list), ` from step ${step}`, age > 0 ? el("small", null, ` (${age} behind)`) : null)];
    });
    this.agesLine.hidden = items.length === 0;
    fill(this.agesLine, items.flat());
  }

  /** A tooltip on the tick rows: which kinds the step under the pointer holds. */
  private marksTip(clientX: number): void {
    const info = this.info;
    if (!info) return;
    const r = this.marksCanvas.getBoundingClientRect();
    const first = Math.max(0, info.first_step), last = Math.max(first, info.last_step);
    const { step, kinds } = marksNear(this.marks, clientX - r.left, r.width, first, last);
    const before = ([...this.marks.keys()] as MarkKind[]).map((k) => {
      const s = markAtOrBefore(this.marks.get(k), step);
      return `${MARK_NAMES[k]} ${s === null ? "none yet" : `from ${s}`}`;
    });
    const title = `step ${step}: ${kinds.length ? kinds.map((k) => MARK_NAMES[k]).join(", ") : "no probe"} captured` +
      (before.length ? `\nshown there: ${before.join(" · ")}` : "") +
      "\nticks: weights (blue), gradients (orange), activations (green), weight maps (violet)";
    this.marksCanvas.title = title;
    this.scrub.title = title;
  }
}
