// Whether the grid has painted its current screen (thumbnails and boxes) since its last filter change.
// The sidebar's requests wait for it: the server is one process on a few cores, and the facets of a filter,
// sent while the screen's page or thumbnails were still loading, delayed the grid's paint (bench/app.py).
// The grid sets it (features/grid), views that should not compete with it read it; neither imports the other.
// The state names the grid's query: on a filter change the sidebar renders with the new filter before the
// grid has said it is loading, and must not take the old screen's paint for the new one's.
import { useSyncExternalStore } from "react";
import { samplesQuery, type ViewState } from "./url-state";

interface State {
  key: string;
  painted: boolean;
}

const status = new Map<number, State>();
const listeners = new Set<() => void>();

function set(datasetId: number, value: State | undefined): void {
  const now = status.get(datasetId);
  if (now?.key === value?.key && now?.painted === value?.painted) return;
  if (value === undefined) status.delete(datasetId);
  else status.set(datasetId, value);
  for (const listener of listeners) listener();
}

/** What identifies the grid's screen: every parameter of its samples query. */
export const gridKey = (view: ViewState): string => JSON.stringify(samplesQuery(view));

/** The grid of `datasetId` starts loading a new screen (opened, or a new filter or order). */
export const gridPending = (datasetId: number, key: string) => set(datasetId, { key, painted: false });
/** Its screen has painted (or could not load: nothing left to wait for). */
export const gridPainted = (datasetId: number, key: string) => set(datasetId, { key, painted: true });
/** The grid is gone (another view): nothing to wait for. */
export const gridGone = (datasetId: number) => set(datasetId, undefined);

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** False while the grid of `datasetId` is on screen and has not painted the screen of `view`; true otherwise. */
export function useGridPainted(datasetId: number, view: ViewState): boolean {
  const key = gridKey(view);
  return useSyncExternalStore(subscribe, () => {
    const state = status.get(datasetId);
    return state === undefined || (state.painted && state.key === key);
  });
}
