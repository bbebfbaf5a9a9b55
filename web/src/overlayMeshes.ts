// Three.js geometry for the server's data overlays (nnviz3d/scene/overlay.py). Colours come
// from the server (sRGB bytes) so every sink shows the same; these functions only place them.
import * as THREE from "three";
import type { NumericArray } from "./codec";

/** Largest number of relief segments per side of a grid plane (texture keeps every cell). */
const RELIEF_SEGMENTS = 64;

/** ``x``, or 0 when it is NaN or infinite: a value with no number gets no height or place (a
 * NaN vertex would make three.js's bounding sphere NaN, and the mesh vanish). */
export function finite(x: number): number {
  return Number.isFinite(x) ? x : 0;
}

/** A (rows, cols) grid as a plane on the floor (x: columns, z: rows) with signed relief along
 * y (heights in [-1, 1] map to 0..2*relief above the floor).
 * The texture has one texel per cell, nearest-filtered, so each cell shows its own colour. */
export function gridMesh(rows: number, cols: number, colors: Uint8Array, heights: NumericArray,
  width: number, depth: number, relief: number): THREE.Mesh {
  const rgba = new Uint8Array(rows * cols * 4);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const src = (r * cols + c) * 3, dst = (r * cols + c) * 4;
      rgba[dst] = colors[src]; rgba[dst + 1] = colors[src + 1]; rgba[dst + 2] = colors[src + 2]; rgba[dst + 3] = 255;
    }
  }
  const tex = new THREE.DataTexture(rgba, cols, rows, THREE.RGBAFormat);
  tex.colorSpace = THREE.SRGBColorSpace;
  tex.magFilter = THREE.NearestFilter;
  tex.minFilter = THREE.NearestFilter;
  tex.generateMipmaps = false;
  tex.needsUpdate = true;
  const sx = Math.min(cols, RELIEF_SEGMENTS), sz = Math.min(rows, RELIEF_SEGMENTS);
  const geo = new THREE.PlaneGeometry(width, depth, sx, sz);
  geo.rotateX(-Math.PI / 2); // lie on the floor: plane +y (uv v = 1) goes to -z
  const pos = geo.getAttribute("position") as THREE.BufferAttribute;
  const uv = geo.getAttribute("uv") as THREE.BufferAttribute;
  for (let i = 0; i < pos.count; i++) {
    // texel row 0 is at v = 0 (the +z end): row r of the matrix is at v = 1 - (r + .5) / rows
    const u = uv.getX(i), v = uv.getY(i);
    const c = Math.min(cols - 1, Math.floor(u * cols));
    const r = Math.min(rows - 1, Math.floor((1 - v) * rows));
    pos.setY(i, relief * (1 + finite(heights[r * cols + c])) + 0.004); // 0 at mid-height
    uv.setY(i, 1 - v);
  }
  geo.computeVertexNormals();
  const mat = new THREE.MeshBasicMaterial({ map: tex, side: THREE.DoubleSide });
  return new THREE.Mesh(geo, mat);
}

/** Grid cell (row, col) under a texture coordinate of a gridMesh. */
export function gridCell(uv: THREE.Vector2, rows: number, cols: number): [number, number] {
  return [Math.min(rows - 1, Math.floor(uv.y * rows)), Math.min(cols - 1, Math.floor(uv.x * cols))];
}

/** Bars standing on the floor, one instance each (one draw call for all bars of a scene). */
export class BarsBatch {
  readonly mesh: THREE.InstancedMesh;
  private n = 0;
  private readonly m = new THREE.Matrix4();
  private readonly c = new THREE.Color();

  constructor(capacity: number) {
    this.mesh = new THREE.InstancedMesh(new THREE.BoxGeometry(1, 1, 1),
      new THREE.MeshBasicMaterial(), Math.max(1, capacity));
    this.mesh.count = 0;
  }

  add(x: number, z: number, w: number, d: number, h: number, rgb: Uint8Array, at: number, y0 = 0): number {
    h = finite(h);
    this.m.makeScale(w, h, d);
    this.m.setPosition(x, y0 + h / 2, z);
    this.mesh.setMatrixAt(this.n, this.m);
    this.c.setRGB(rgb[at] / 255, rgb[at + 1] / 255, rgb[at + 2] / 255, THREE.SRGBColorSpace);
    this.mesh.setColorAt(this.n, this.c);
    return this.n++;
  }

  finish(): void {
    this.mesh.count = this.n;
    this.mesh.instanceMatrix.needsUpdate = true;
    if (this.mesh.instanceColor) this.mesh.instanceColor.needsUpdate = true;
    this.mesh.computeBoundingSphere();
  }
}

/** A ridge of T rows (steps, back to front along +z) x B bins (along x), filled strips with
 * a line on top of each; one mesh plus one line set. Quad q of the mesh is row floor(q / B). */
export function ridgeMesh(heights: NumericArray, rowColors: Uint8Array, rows: number, bins: number,
  width: number, depth: number, height: number): THREE.Group {
  const quads = rows * bins;
  const pos = new Float32Array(quads * 4 * 3);
  const col = new Float32Array(quads * 4 * 3);
  const idx = new Uint32Array(quads * 6);
  const line = new Float32Array(rows * bins * 2 * 3);
  const c = new THREE.Color();
  const dz = rows > 1 ? depth / (rows - 1) : 0;
  for (let t = 0; t < rows; t++) {
    c.setRGB(rowColors[3 * t] / 255, rowColors[3 * t + 1] / 255, rowColors[3 * t + 2] / 255, THREE.SRGBColorSpace);
    const z = -depth / 2 + t * dz;
    for (let b = 0; b < bins; b++) {
      const q = t * bins + b;
      const x0 = -width / 2 + (b / bins) * width, x1 = -width / 2 + ((b + 1) / bins) * width;
      const y = finite(heights[q]) * height + 0.002;
      const corners = [x0, 0, z, x1, 0, z, x1, y, z, x0, y, z];
      pos.set(corners, q * 12);
      for (let k = 0; k < 4; k++) col.set([c.r * 0.55, c.g * 0.55, c.b * 0.55], q * 12 + k * 3);
      col.set([c.r, c.g, c.b], q * 12 + 6);
      col.set([c.r, c.g, c.b], q * 12 + 9);
      idx.set([q * 4, q * 4 + 1, q * 4 + 2, q * 4, q * 4 + 2, q * 4 + 3], q * 6);
      line.set([x0, y, z, x1, y, z], q * 6);
    }
  }
  const geo = new THREE.BufferGeometry();
  geo.setAttribute("position", new THREE.BufferAttribute(pos, 3));
  geo.setAttribute("color", new THREE.BufferAttribute(col, 3));
  geo.setIndex(new THREE.BufferAttribute(idx, 1));
  const fill = new THREE.Mesh(geo, new THREE.MeshBasicMaterial({ vertexColors: true, side: THREE.DoubleSide,
    transparent: true, opacity: 0.85 }));
  fill.name = "ridge-fill";
  const lg = new THREE.BufferGeometry();
  lg.setAttribute("position", new THREE.BufferAttribute(line, 3));
  const lines = new THREE.LineSegments(lg, new THREE.LineBasicMaterial({ color: 0xe8ecf5 }));
  lines.name = "ridge-lines";
  const group = new THREE.Group();
  group.add(fill, lines);
  return group;
}

/** Points in a cube of side ``size`` (positions in [-1, 1]), one draw call. */
export function pointsMesh(positions: NumericArray, colors: Uint8Array, size: number): THREE.Points {
  const n = positions.length / 3;
  const pos = new Float32Array(n * 3);
  const col = new Float32Array(n * 3);
  const c = new THREE.Color();
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 3; k++) pos[3 * i + k] = finite(positions[3 * i + k]) * (size / 2);
    c.setRGB(colors[3 * i] / 255, colors[3 * i + 1] / 255, colors[3 * i + 2] / 255, THREE.SRGBColorSpace);
    col.set([c.r, c.g, c.b], 3 * i);
  }
  const geo = new THREE.BufferGeometry();
  geo.setAttribute("position", new THREE.BufferAttribute(pos, 3));
  geo.setAttribute("color", new THREE.BufferAttribute(col, 3));
  geo.computeBoundingSphere();
  return new THREE.Points(geo, new THREE.PointsMaterial({ size: 0.05, vertexColors: true }));
}

/** A thin wire box, to show the extent of a panel (ridge, scatter). */
export function frameBox(w: number, h: number, d: number): THREE.LineSegments {
  const geo = new THREE.EdgesGeometry(new THREE.BoxGeometry(w, h, d));
  return new THREE.LineSegments(geo, new THREE.LineBasicMaterial({ color: 0x4a5470, transparent: true, opacity: 0.7 }));
}

/** C maps of H x W as C upright slabs (x-y planes) stacked along z over ``depth``: one texture
 * atlas (channel k in texel rows k*H..k*H+H-1, row 0 at the top) and one draw call. Quad q
 * (faces 2q and 2q+1) shows channel ``order[q]`` (default q) at ``place(q)`` (default: the
 * stack, quad 0 at -z). */
export function slabsMesh(channels: number, h: number, w: number, colors: Uint8Array,
  width: number, height: number, depth: number, opacity = 1,
  place?: (q: number) => [number, number, number], order?: number[]): THREE.Mesh {
  const rgba = new Uint8Array(channels * h * w * 4);
  for (let i = 0; i < channels * h * w; i++) {
    rgba[4 * i] = colors[3 * i]; rgba[4 * i + 1] = colors[3 * i + 1]; rgba[4 * i + 2] = colors[3 * i + 2]; rgba[4 * i + 3] = 255;
  }
  const tex = new THREE.DataTexture(rgba, w, h * channels, THREE.RGBAFormat);
  tex.colorSpace = THREE.SRGBColorSpace;
  tex.magFilter = THREE.NearestFilter;
  tex.minFilter = THREE.NearestFilter;
  tex.generateMipmaps = false;
  tex.needsUpdate = true;
  const pos = new Float32Array(channels * 12), uv = new Float32Array(channels * 8);
  const idx = new Uint32Array(channels * 6);
  const dz = channels > 1 ? depth / (channels - 1) : 0;
  for (let k = 0; k < channels; k++) {
    const [cx, cy, z] = place ? place(k) : [0, 0, -depth / 2 + k * dz];
    const x0 = cx - width / 2, x1 = cx + width / 2, y0 = cy - height / 2, y1 = cy + height / 2;
    pos.set([x0, y1, z, x1, y1, z, x1, y0, z, x0, y0, z], k * 12);
    // texture v: 0 at the first texel row; the slab's top edge shows its row 0
    const ch = order ? order[k] : k;
    const v0 = (ch * h) / (h * channels), v1 = ((ch + 1) * h) / (h * channels);
    uv.set([0, v0, 1, v0, 1, v1, 0, v1], k * 8);
    idx.set([4 * k, 4 * k + 2, 4 * k + 1, 4 * k, 4 * k + 3, 4 * k + 2], k * 6);
  }
  const geo = new THREE.BufferGeometry();
  geo.setAttribute("position", new THREE.BufferAttribute(pos, 3));
  geo.setAttribute("uv", new THREE.BufferAttribute(uv, 2));
  geo.setIndex(new THREE.BufferAttribute(idx, 1));
  geo.computeBoundingSphere();
  const mat = new THREE.MeshBasicMaterial({ map: tex, side: THREE.DoubleSide, transparent: opacity < 1, opacity,
    depthWrite: opacity >= 1 });
  return new THREE.Mesh(geo, mat);
}

/** Cell (channel, row, col) of a slabsMesh hit (``order`` as given to slabsMesh). */
export function slabCell(faceIndex: number, uv: THREE.Vector2, channels: number, h: number, w: number,
  order?: number[]): number[] {
  const q = Math.min(channels - 1, Math.floor(faceIndex / 2));
  const k = order ? order[q] : q;
  const row = Math.min(h - 1, Math.max(0, Math.floor(uv.y * h * channels) - k * h));
  return [k, row, Math.min(w - 1, Math.floor(uv.x * w))];
}

/** A loss surface: an (R, C) height field of ``size`` x ``size`` (columns along x, rows along
 * z) and ``height`` tall, vertex-coloured; one vertex per grid point. */
export function surfaceMesh(rows: number, cols: number, heights: NumericArray, colors: Uint8Array,
  size: number, height: number): THREE.Mesh {
  const geo = new THREE.PlaneGeometry(size, size, cols - 1, rows - 1);
  geo.rotateX(-Math.PI / 2); // PlaneGeometry row 0 is at +y, which becomes -z: beta row 0 at -z
  const pos = geo.getAttribute("position") as THREE.BufferAttribute;
  const col = new Float32Array(pos.count * 3);
  const c = new THREE.Color();
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < cols; k++) {
      const i = r * cols + k;
      pos.setY(i, finite(heights[i]) * height);
      c.setRGB(colors[3 * i] / 255, colors[3 * i + 1] / 255, colors[3 * i + 2] / 255, THREE.SRGBColorSpace);
      col.set([c.r, c.g, c.b], 3 * i);
    }
  }
  geo.setAttribute("color", new THREE.BufferAttribute(col, 3));
  geo.computeVertexNormals();
  return new THREE.Mesh(geo, new THREE.MeshBasicMaterial({ vertexColors: true, side: THREE.DoubleSide }));
}
