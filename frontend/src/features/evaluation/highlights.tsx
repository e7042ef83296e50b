// moved to src/lib (the grid uses it too, and features never import each other)
export { ERROR_LABELS, EvalFilterBar, useHighlights } from "@/lib/highlights";
