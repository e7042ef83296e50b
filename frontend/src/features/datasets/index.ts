export { DatasetsPage } from "./components/DatasetsPage";
export { useDatasetDetail } from "./api";
