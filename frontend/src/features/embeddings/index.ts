export { MapPage } from "./components/MapPage";
