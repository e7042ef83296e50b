export { EditLayer } from "./components/EditLayer";
export { EditorPanel } from "./components/EditorPanel";
export { SampleHistory } from "./components/SampleHistory";
export { useCategories, type EditableBox, type ReviewStatus } from "./api";
export { useBoxEditor } from "./hooks/useBoxEditor";
