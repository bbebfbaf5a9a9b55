// A spectral embedding of the visible blocks' graph in 3D: each connected part is placed by the
// 2nd, 3rd and 4th eigenvectors of its normalized Laplacian (L = I - D^-1/2 A D^-1/2, edges taken
// undirected), divided by sqrt(degree) (the random-walk coordinates, which spread hubs less);
// the parts stand side by side. The eigenvectors come from a dense symmetric solver
// (Householder tridiagonalisation and the implicit QL method, as EISPACK tred2/tql2 and JAMA):
// n is the number of visible blocks, at most a few hundred, so O(n^3) takes milliseconds.

/** Eigenvalues (ascending) and eigenvectors (column j of ``vectors``, row-major n x n) of the
 * symmetric matrix ``a`` (row-major n x n; only read). */
export function symmetricEigen(a: ArrayLike<number>, n: number): { values: Float64Array; vectors: Float64Array } {
  const V: Float64Array[] = [];
  for (let i = 0; i < n; i++) V.push(Float64Array.from({ length: n }, (_, j) => a[i * n + j]));
  const d = new Float64Array(n), e = new Float64Array(n);
  // the QL rotations run along columns: they work on the transpose, rows in memory order
  const Vt: Float64Array[] = [];
  if (n > 0) {
    tred2(V, d, e, n);
    for (let j = 0; j < n; j++) Vt.push(Float64Array.from({ length: n }, (_, i) => V[i][j]));
    tql2(Vt, d, e, n);
  }
  const order = Array.from(d.keys()).sort((x, y) => d[x] - d[y]);
  const values = Float64Array.from(order, (k) => d[k]);
  const vectors = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) vectors[i * n + j] = Vt[order[j]][i];
  return { values, vectors };
}

/** Householder reduction of V (symmetric) to tridiagonal form: d diagonal, e sub-diagonal. */
function tred2(V: Float64Array[], d: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) d[j] = V[n - 1][j];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0, h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) { d[j] = V[i - 1][j]; V[i][j] = 0; V[j][i] = 0; }
    } else {
      for (let k = 0; k < i; k++) { d[k] /= scale; h += d[k] * d[k]; }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j];
        V[j][i] = f;
        g = e[j] + V[j][j] * f;
        for (let k = j + 1; k <= i - 1; k++) { g += V[k][j] * d[k]; e[k] += V[k][j] * f; }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) { e[j] /= h; f += e[j] * d[j]; }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        for (let k = j; k <= i - 1; k++) V[k][j] -= f * e[k] + g * d[k];
        d[j] = V[i - 1][j];
        V[i][j] = 0;
      }
    }
    d[i] = h;
  }
  for (let i = 0; i < n - 1; i++) {
    V[n - 1][i] = V[i][i];
    V[i][i] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[k][i + 1] / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[k][i + 1] * V[k][j];
        for (let k = 0; k <= i; k++) V[k][j] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) V[k][i + 1] = 0;
  }
  for (let j = 0; j < n; j++) { d[j] = V[n - 1][j]; V[n - 1][j] = 0; }
  V[n - 1][n - 1] = 1;
  e[0] = 0;
}

/** Implicit QL iterations on the tridiagonal (d, e), accumulating the rotations into the
 * eigenvectors ``Vt`` (one per row: the transpose of JAMA's V). */
function tql2(Vt: Float64Array[], d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0, tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n - 1 && Math.abs(e[m]) > eps * tst1) m++;
    if (m > l) {
      for (let iter = 0; iter < 100; iter++) {
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1, c2 = c, c3 = c, s = 0, s2 = 0;
        const el1 = e[l + 1];
        for (let i = m - 1; i >= l; i--) {
          c3 = c2; c2 = c; s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          const vi = Vt[i], vj = Vt[i + 1];
          for (let k = 0; k < n; k++) {
            h = vj[k];
            vj[k] = s * vi[k] + c * h;
            vi[k] = c * vi[k] - s * h;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
        if (!(Math.abs(e[l]) > eps * tst1)) break; // also stops on NaN
      }
    }
    d[l] += f;
    e[l] = 0;
  }
}

/** Connected parts of an undirected graph on n nodes: each a list of node indices, ascending. */
export function components(n: number, adj: number[][]): number[][] {
  const seen = new Uint8Array(n), out: number[][] = [];
  for (let s = 0; s < n; s++) {
    if (seen[s]) continue;
    const part = [s];
    seen[s] = 1;
    for (let k = 0; k < part.length; k++) {
      for (const t of adj[part[k]]) if (!seen[t]) { seen[t] = 1; part.push(t); }
    }
    out.push(part.sort((x, y) => x - y));
  }
  return out;
}

/** The spectral coordinates (3 per node, graph order along the first) of one connected part,
 * scaled so its largest extent is 1 (0 for a single node). Signs are fixed: the first axis
 * rises with the node index (input to output), the others point their largest value positive. */
function embedPart(part: number[], adj: number[][]): Float64Array[] {
  const m = part.length;
  const out = part.map(() => new Float64Array(3));
  if (m < 2) return out;
  const local = new Map(part.map((g, i) => [g, i]));
  const deg = part.map((g) => adj[g].length);
  const L = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    L[i * m + i] = 1;
    for (const t of adj[part[i]]) {
      const j = local.get(t)!;
      L[i * m + j] -= 1 / Math.sqrt(deg[i] * deg[j]);
    }
  }
  const { vectors } = symmetricEigen(L, m);
  for (let axis = 0; axis < 3 && axis + 1 < m; axis++) {
    const col = axis + 1;
    const v = part.map((_, i) => vectors[i * m + col] / Math.sqrt(deg[i]));
    let sign = 1;
    if (axis === 0) {
      let c = 0;
      v.forEach((x, i) => { c += x * (i - (m - 1) / 2); });
      sign = c < 0 ? -1 : 1;
    } else {
      let big = 0;
      for (const x of v) if (Math.abs(x) > Math.abs(big)) big = x;
      sign = big < 0 ? -1 : 1;
    }
    v.forEach((x, i) => { out[i][axis] = sign * x; });
  }
  let extent = 0;
  for (let a = 0; a < 3; a++) {
    const vals = out.map((p) => p[a]);
    extent = Math.max(extent, Math.max(...vals) - Math.min(...vals));
  }
  if (extent > 0) for (const p of out) for (let a = 0; a < 3; a++) p[a] /= extent;
  return out;
}

/** Gap between connected parts, as a share of the largest part's extent (1). */
const PART_GAP = 0.12;

/** Spectral coordinates of ``n`` nodes linked by ``edges`` (pairs of node indices, direction and
 * repeats ignored): 3 per node, [along, across, up], the largest part spanning 1 along its
 * largest extent, smaller parts (sized by the square root of their share of nodes) in a row
 * across beside it. NaN-free for any input (n = 0, 1, 2, 3, isolated nodes, self loops). */
export function spectralEmbedding(n: number, edges: [number, number][]): Float64Array {
  const sets = Array.from({ length: n }, () => new Set<number>());
  for (const [a, b] of edges) {
    if (a === b || !(a >= 0 && a < n && b >= 0 && b < n)) continue;
    sets[a].add(b);
    sets[b].add(a);
  }
  const adj = sets.map((s) => [...s]);
  const parts = components(n, adj).sort((p, q) => q.length - p.length || p[0] - q[0]);
  const out = new Float64Array(3 * n);
  const biggest = parts[0]?.length ?? 1;
  let across = 0; // the next part's left side, on the across axis
  parts.forEach((part, k) => {
    const scale = Math.sqrt(part.length / biggest);
    const coords = embedPart(part, adj);
    let lo = Infinity, hi = -Infinity;
    for (const c of coords) { lo = Math.min(lo, c[1]); hi = Math.max(hi, c[1]); }
    const shift = k === 0 ? 0 : across - lo * scale;
    part.forEach((node, i) => {
      out[3 * node] = coords[i][0] * scale;
      out[3 * node + 1] = coords[i][1] * scale + shift;
      out[3 * node + 2] = coords[i][2] * scale;
    });
    across = (k === 0 ? hi : hi * scale + shift) + PART_GAP * (part.length > 1 ? 1 : 0.5);
  });
  for (let i = 0; i < out.length; i++) if (!Number.isFinite(out[i])) out[i] = 0;
  return out;
}
