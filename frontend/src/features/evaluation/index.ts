// The evaluation view, lazy-loaded by App.tsx; its highlight hook for the grid lives in src/lib/highlights.tsx.
export { default as EvaluationPage } from "./components/EvaluationPage";
