// Guided tours: a scene recipe's [[tour]] stops (nnviz3d/recipe.py) played one after another,
// each a viewpoint, a caption and how long to stay. On the desktop the camera flies to each stop;
// in VR the world moves instead (with a fade), never the head. The caller says how to show a stop
// and how long getting there takes; a stop's seconds count from its arrival.
import { $ } from "./ui";

export interface TourStop {
  position: [number, number, number];
  target: [number, number, number];
  caption: string;
  seconds: number;
  bookmark?: string;
  /** A training step to show (recordings). */
  step?: number;
}

export class Tour {
  stops: TourStop[] = [];
  playing = false;
  /** The stop shown (0-based), or -1 before the first. */
  index = -1;
  /** Stops shown since the tour was loaded (for tests: it advanced). */
  visited = 0;
  private left = 0;
  private readonly button: HTMLButtonElement;
  private readonly captionEl: HTMLElement;

  /** ``show`` starts the move to a stop and returns how many seconds the move takes. */
  constructor(private show: (stop: TourStop) => number) {
    this.button = document.createElement("button");
    this.button.id = "btn-tour";
    this.button.hidden = true;
    this.button.addEventListener("click", () => (this.playing ? this.stop() : this.play()));
    const status = document.getElementById("status");
    status?.parentElement?.insertBefore(this.button, status);
    this.captionEl = document.createElement("div");
    this.captionEl.id = "tour-caption";
    this.captionEl.hidden = true;
    this.captionEl.style.cssText = "position:fixed;left:50%;bottom:84px;transform:translateX(-50%);max-width:70vw;"
      + "padding:10px 18px;border-radius:8px;background:rgba(12,15,22,0.86);color:#eef2fa;z-index:15;"
      + "font:16px/1.4 system-ui,sans-serif;text-align:center;pointer-events:none";
    $("dock").parentElement!.append(this.captionEl);
    this.render();
  }

  load(stops: TourStop[]): void {
    this.stop();
    this.stops = stops;
    this.index = -1;
    this.visited = 0;
    this.render();
  }

  play(from = 0): void {
    if (!this.stops.length) return;
    this.playing = true;
    this.go(Math.max(0, Math.min(from, this.stops.length - 1)));
  }

  /** Skip to the next stop (ends the tour after the last). */
  next(): void {
    if (this.index + 1 >= this.stops.length) { this.stop(); return; }
    this.playing = true;
    this.go(this.index + 1);
  }

  stop(): void {
    this.playing = false;
    this.captionEl.hidden = true;
    this.render();
  }

  /** Advance the clock; true when a new stop was shown. */
  tick(dt: number): boolean {
    if (!this.playing) return false;
    this.left -= dt;
    if (this.left > 0) return false;
    this.next();
    return true;
  }

  get caption(): string {
    return this.playing && this.index >= 0 ? this.stops[this.index].caption : "";
  }

  private go(i: number): void {
    this.index = i;
    this.visited++;
    const stop = this.stops[i];
    this.captionEl.textContent = stop.caption;
    this.captionEl.hidden = !stop.caption;
    // a stop's time is a positive finite number of seconds (a recipe could say inf or NaN)
    const seconds = Number.isFinite(stop.seconds) && stop.seconds > 0 ? stop.seconds : 5;
    this.left = this.show(stop) + seconds;
    this.render();
  }

  private render(): void {
    this.button.hidden = this.stops.length === 0;
    this.button.textContent = this.playing ? `■ Tour ${this.index + 1}/${this.stops.length}` : "▶ Tour";
    this.button.title = this.playing ? "Stop the tour" : `Play the scene's tour (${this.stops.length} stops)`;
  }

  state(): Record<string, unknown> {
    return { playing: this.playing, index: this.index, count: this.stops.length, caption: this.caption,
      visited: this.visited };
  }
}
