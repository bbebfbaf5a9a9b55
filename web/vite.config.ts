import { defineConfig, type Plugin } from "vite";

// The build lands inside the Python package so a wheel carries the viewer.
export default defineConfig({
  base: "./",
  plugins: [iwerSemRooms()],
  build: {
    outDir: "../nnviz3d/viewer_dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    assetsInlineLimit: 0,
  },
});

/** @iwer/sem (the AR emulator's room, web/src/xr/arRoom.ts) lists five captured rooms as lazy
 * imports; xr/arRoom.ts fetches the one it uses itself, so the list is empty here and the
 * other rooms (4.5 MB) stay out of the package. */
function iwerSemRooms(): Plugin {
  const id = "\0iwer-sem-rooms";
  return {
    name: "iwer-sem-rooms",
    enforce: "pre",
    resolveId: (source, importer) => (source === "./registry.js" && importer?.includes("@iwer/sem") ? id : null),
    load: (what) => (what === id ? "export const Environments = {};" : null),
  };
}
