export { Sidebar } from "./components/Sidebar";
