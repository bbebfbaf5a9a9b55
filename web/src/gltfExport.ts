// The Export glTF button: the server builds the current view as GLB with the same Python
// exporter as `nnviz3d export` (GET /export.glb, nnviz3d/server/gltf_route.py), so the file
// shows what the viewer shows: layout, colours (the Colour menu at the shown step), weight maps.
import { displayName, safeFileName } from "./dom";

/** The download URL for the shown step and colour quantity (the page's query, e.g. an access
 * token, travels along). */
export function gltfUrl(step: number | null, colorKey: string): string {
  const q = new URLSearchParams(location.search);
  q.delete("step");
  q.delete("color_by");
  if (step !== null) q.set("step", String(step));
  if (colorKey !== "kind") q.set("color_by", colorKey);
  const query = q.toString();
  return `/export.glb${query ? `?${query}` : ""}`;
}

/** Fetch the GLB and save it as MODEL.glb; resolves to an error sentence, or null. */
export async function downloadGltf(step: number | null, colorKey: string, model: string): Promise<string | null> {
  let res: Response;
  try {
    res = await fetch(gltfUrl(step, colorKey));
  } catch (e) {
    return `glTF export failed: ${String(e)}`;
  }
  if (!res.ok) return `glTF export failed: ${displayName((await res.text()) || res.statusText, 300)}`;
  const a = document.createElement("a");
  a.href = URL.createObjectURL(await res.blob());
  a.download = `${safeFileName(model)}.glb`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  return null;
}
