// The API's request and reply shapes, all generated from the backend's OpenAPI schema (schema.d.ts,
// `npm run gen:api`): never written twice by hand.
import type { components } from "./schema";

type Schemas = components["schemas"];

export type CreateDataset = Schemas["CreateDataset"];
export type ImportStarted = Schemas["ImportStarted"];
export type DatasetFormat = NonNullable<CreateDataset["format"]>;
export type Dataset = Schemas["Dataset"];
export type DatasetSummary = Schemas["DatasetSummary"];
export type Job = Schemas["Job"];
export type PageBoxes = Schemas["PageBoxes"];
export type SampleItem = Schemas["SampleItem"];
export type SamplesPage = Schemas["SamplesPage"];
// two models are called Annotation in the backend; this is the one of GET /samples/{id}
export type Annotation = Schemas["app__routers__samples__Annotation"];
export type BoxEvaluation = Schemas["BoxEvaluation"];
export type SampleDetail = Schemas["Sample"];
export type Facets = Schemas["Facets"];
export type PredictionRun = Schemas["PredictionRun"];
export type SavedView = Schemas["View"];
export type TagEditResult = Schemas["TagsEdited"];
export type EmbeddingsStatus = Schemas["EmbeddingStatus"];
export type SimilarHit = Schemas["Hit"];
export type FileEntry = Schemas["FileEntry"];
export type FileListing = Schemas["FileListing"];
