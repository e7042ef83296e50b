// Work spread over animation frames with a budget per frame: the grid draws the boxes of a screen of new
// cells in as many frames as it takes instead of one task (bench/app.py counts tasks over 50 ms while scrolling).
const BUDGET_MS = 6;

const queue = new Set<() => void>();
let scheduled = false;

function run(): void {
  scheduled = false;
  const end = performance.now() + BUDGET_MS;
  for (const job of queue) {
    queue.delete(job);
    job();
    if (performance.now() > end) break;
  }
  if (queue.size > 0) schedule();
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(run);
}

/** Runs `job` in a coming animation frame (in order); the returned function drops it if it has not run yet. */
export function inFrame(job: () => void): () => void {
  queue.add(job);
  schedule();
  return () => queue.delete(job);
}
