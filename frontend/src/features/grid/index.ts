export { Grid } from "./components/Grid";
