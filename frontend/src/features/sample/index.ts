export { SampleView } from "./components/SampleView";
