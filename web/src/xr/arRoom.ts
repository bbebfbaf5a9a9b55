// Test and demo aid for AR: a room captured on a Meta Quest 3 (office_small, shipped with
// @iwer/sem, the Immersive Web Emulation Runtime's synthetic environment module: walls, floor,
// a 1.6 x 0.75 m table with a screen on it, and the room's scanned mesh) installed in an
// emulated headset. It answers the session's hit-tests by ray casts against the room and is
// drawn behind the page's canvas as the passthrough. Loaded only when an emulated AR session
// starts; the room (100 KB of JSON) is fetched then.
import { SyntheticEnvironmentModule } from "@iwer/sem";
import type { XRDevice } from "iwer";
import roomUrl from "@iwer/sem/lib/captures/office_small.json?url";

export async function installRoom(device: XRDevice): Promise<void> {
  if (device.sem) return;
  const response = await fetch(roomUrl);
  if (!response.ok) throw new Error(`the emulated room did not load: HTTP ${response.status}`);
  const room = await response.json();
  device.installSEM(SyntheticEnvironmentModule);
  device.sem!.loadEnvironment(room);
}
