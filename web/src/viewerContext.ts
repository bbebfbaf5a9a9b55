// What the viewer's modules share: the parts main.ts (the composition root) makes, the state
// several modules read or write, and the few calls they all need. main.ts passes this one object
// to each module instead of the modules reaching for globals.
import type * as THREE from "three";
import type { ColorKey } from "./colorBy";
import type { Connection } from "./connection";
import type { GradientFlow } from "./gradientFlow";
import type { HealthMarks } from "./healthMarks";
import type { InspectPanel } from "./inspectPanel";
import type { LabelPool } from "./labels";
import type { LossChart } from "./lossChart";
import type { Navigation } from "./navigation";
import type { Overlays } from "./overlays";
import type { ProbeState } from "./probeState";
import type { SceneView } from "./sceneView";
import type { TimelineBar } from "./timeline";

/** The changing state that more than one module reads or writes. */
export interface ViewerState {
  /** A scene is shown and the connection holds. */
  ready: boolean;
  /** The model's name (from the server's welcome). */
  model: string;
  /** The scene's version (from its frame header). */
  sceneVersion: number;
  /** The server's last error message, or null. */
  lastError: string | null;
  /** The quantity the blocks are coloured by. */
  colorKey: ColorKey;
  /** The camera is still where the viewer framed it on load (not from the URL, not moved since). */
  cameraUntouched: boolean;
  /** Set when the probe frames are differences between two runs (nnviz3d compare). */
  compareNote: string;
  /** Layers of A whose matched layer in B has another path (matched by structure). */
  comparePairs: Record<string, string>;
  /** The gradient flow's particles must be recomputed before they next move. */
  flowDirty: boolean;
}

/** The viewer's parts and shared calls, handed to each module. */
export interface Viewer {
  readonly canvas: HTMLCanvasElement;
  readonly camera: THREE.PerspectiveCamera;
  readonly nav: Navigation;
  /** The model root (moved and scaled in VR). */
  readonly world: THREE.Group;
  readonly view: SceneView;
  readonly labels: LabelPool;
  readonly overlays: Overlays;
  readonly marks: HealthMarks;
  readonly flow: GradientFlow;
  readonly chart: LossChart;
  readonly probe: ProbeState;
  readonly inspectPanel: InspectPanel;
  readonly timeline: TimelineBar;
  readonly conn: Connection;
  readonly state: ViewerState;
  /** Draw again at the next frame, labels included. */
  requestRender(): void;
  /** Draw now (probe data and labels first). */
  renderNow(): void;
  /** A message at the bottom of the screen for a few seconds. */
  showToast(text: string): void;
  /** The model and, when shown, the loss chart. */
  sceneBox(): THREE.Box3;
}
