// Whether the grid has painted its current screen (thumbnails and boxes) since its last filter change.
// The sidebar's requests wait for it: the server is one process on a few cores, and the facets of a
// filter, sent while the screen's thumbnails were still loading, delayed the grid's paint (bench/app.py).
// The grid sets it (features/grid), views that should not compete with it read it; neither imports the other.
import { useSyncExternalStore } from "react";

const painted = new Map<number, boolean>();
const listeners = new Set<() => void>();

function set(datasetId: number, value: boolean | undefined): void {
  if (painted.get(datasetId) === value) return;
  if (value === undefined) painted.delete(datasetId);
  else painted.set(datasetId, value);
  for (const listener of listeners) listener();
}

/** The grid of `datasetId` starts loading a new screen (opened, or a new filter or order). */
export const gridPending = (datasetId: number) => set(datasetId, false);
/** Its screen has painted (or could not load: nothing left to wait for). */
export const gridPainted = (datasetId: number) => set(datasetId, true);
/** The grid is gone (another view): nothing to wait for. */
export const gridGone = (datasetId: number) => set(datasetId, undefined);

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** False while the grid of `datasetId` is on screen and has not painted; true otherwise. */
export function useGridPainted(datasetId: number): boolean {
  return useSyncExternalStore(subscribe, () => painted.get(datasetId) ?? true);
}
