// The wrist menu: a small board above the left controller with buttons for the timeline
// (play/pause, a scrub bar), the colour quantity, expand/collapse of the selected layer, the tour,
// re-centring and leaving VR. The right controller's ray presses them (trigger). Hit tests are
// plain arithmetic in the board's plane, with scratch vectors: no allocation per frame.
import * as THREE from "three";
import { Text } from "troika-three-text";
import fontUrl from "@fontsource/roboto/files/roboto-latin-400-normal.woff?url";

export interface MenuButton {
  id: string;
  /** Centre and size on the board, metres. */
  x: number; y: number; w: number; h: number;
  label(): string;
  /** ``u`` is where along the button (0 left .. 1 right) it was pressed. */
  press(u: number): void;
}

const BOARD_W = 0.26, BOARD_H = 0.19;
const IDLE = new THREE.Color(0x2a3246), HOVER = new THREE.Color(0x3f6fb0);
const _inv = new THREE.Matrix4();
const _o = new THREE.Vector3();
const _d = new THREE.Vector3();

export class WristMenu {
  readonly root = new THREE.Group();
  private readonly meshes: THREE.Mesh[] = [];
  private readonly texts: Text[] = [];
  private readonly labels: string[] = [];
  private readonly board: THREE.Mesh;
  private hovered = -1;
  /** How far along the ray the last hit met the board (metres), for the pointer's length. */
  hitDistance = 0;

  constructor(readonly buttons: MenuButton[]) {
    this.root.name = "wrist-menu";
    const board = new THREE.Mesh(new THREE.PlaneGeometry(BOARD_W, BOARD_H),
      new THREE.MeshBasicMaterial({ color: 0x0e121b, transparent: true, opacity: 0.9, side: THREE.DoubleSide }));
    board.renderOrder = 30;
    this.board = board;
    this.root.add(board);
    for (const b of buttons) {
      const m = new THREE.Mesh(new THREE.PlaneGeometry(b.w, b.h), new THREE.MeshBasicMaterial({ color: IDLE.getHex() }));
      m.position.set(b.x, b.y, 0.001);
      m.renderOrder = 31;
      const t = new Text();
      t.font = fontUrl;
      t.fontSize = 0.011;
      t.color = 0xeef2fa;
      t.anchorX = "center";
      t.anchorY = "middle";
      t.position.set(b.x, b.y, 0.002);
      t.renderOrder = 32;
      this.meshes.push(m);
      this.texts.push(t);
      this.labels.push("");
      this.root.add(m, t);
    }
    // above the left controller, tilted towards the face
    this.root.position.set(0, 0.1, -0.06);
    this.root.rotation.x = -0.7;
    this.refresh();
  }

  /** Re-read the button labels (call when what they show may have changed, not every frame). */
  refresh(): void {
    this.buttons.forEach((b, i) => {
      const s = b.label();
      if (s === this.labels[i]) return;
      this.labels[i] = s;
      this.texts[i].text = s;
      this.texts[i].sync();
    });
  }

  /** The button a ray hits (index), or -1; ``u`` of the hit in ``this.u``. */
  hit(origin: THREE.Vector3, direction: THREE.Vector3): number {
    if (!this.root.visible || !this.root.parent?.visible) return -1; // no left controller
    _inv.copy(this.root.matrixWorld).invert();
    _o.copy(origin).applyMatrix4(_inv);
    _d.copy(direction).transformDirection(_inv);
    if (Math.abs(_d.z) < 1e-6) return -1;
    const t = -_o.z / _d.z;
    if (t <= 0) return -1;
    const x = _o.x + _d.x * t, y = _o.y + _d.y * t;
    if (Math.abs(x) > BOARD_W / 2 || Math.abs(y) > BOARD_H / 2) return -1;
    // the distance in world units (the board is scaled uniformly, if at all)
    this.hitDistance = t * this.root.matrixWorld.getMaxScaleOnAxis();
    for (let i = 0; i < this.buttons.length; i++) {
      const b = this.buttons[i];
      if (Math.abs(x - b.x) <= b.w / 2 && Math.abs(y - b.y) <= b.h / 2) {
        this.u = (x - (b.x - b.w / 2)) / b.w;
        return i;
      }
    }
    return this.buttons.length; // the board, between buttons
  }
  /** Where along the hit button (0 left .. 1 right) the last hit was. */
  u = 0;

  /** Highlight the hovered button (index from ``hit``; -1 none). */
  hover(i: number): void {
    if (i === this.hovered) return;
    if (this.hovered >= 0 && this.hovered < this.meshes.length) (this.meshes[this.hovered].material as THREE.MeshBasicMaterial).color.copy(IDLE);
    if (i >= 0 && i < this.meshes.length) (this.meshes[i].material as THREE.MeshBasicMaterial).color.copy(HOVER);
    this.hovered = i;
  }

  /** Press button ``i`` at ``u``; true when it was a button. */
  press(i: number, u: number): boolean {
    const b = this.buttons[i];
    if (!b) return i === this.buttons.length; // a press on the board itself is swallowed
    b.press(u);
    this.refresh();
    return true;
  }

  /** Centre of a button in world coordinates (for tests that aim a controller at it). */
  buttonPoint(id: string): number[] | null {
    const b = this.buttons.find((x) => x.id === id);
    if (!b) return null;
    this.root.updateMatrixWorld(true);
    return new THREE.Vector3(b.x, b.y, 0).applyMatrix4(this.root.matrixWorld).toArray();
  }

  /** The board's box in the reference space (metres), in ``into``; null while no controller
   * holds it. */
  box(into = new THREE.Box3()): THREE.Box3 | null {
    if (!this.root.parent || !this.root.parent.visible) return null;
    this.root.updateMatrixWorld(true);
    return into.setFromObject(this.board);
  }

  /** The labels shown now. */
  get shownLabels(): string[] { return [...this.labels]; }
}
