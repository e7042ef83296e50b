// The evaluation view is lazy-loaded (React.lazy in App.tsx); only the grid's highlight hook is eager.
export { EvalFilterBar, useHighlights } from "./highlights";
