// Reply shapes of the JSON API. Request bodies come from the generated schema (schema.d.ts);
// replies the backend still declares as bare objects are spelled out here until their pydantic
// reply models land, then become aliases of components["schemas"][...].
import type { components } from "./schema";

export type CreateDataset = components["schemas"]["CreateDataset"];
export type ImportStarted = components["schemas"]["ImportStarted"];
export type DatasetFormat = NonNullable<CreateDataset["format"]>;

export interface Dataset {
  id: number;
  name: string;
  format: string;
  path: string;
  images_dir: string | null;
  status: string;
  created_at: string;
  updated_at: string;
  counts: {
    samples: number;
    annotations: number;
    categories?: number;
    splits?: Record<string, { samples: number; annotations: number }>;
  };
}

export interface Job {
  id: string;
  kind: string;
  dataset_id: number | null;
  state: "queued" | "running" | "succeeded" | "failed" | "cancelled";
  done: number | null;
  total: number | null;
  message: string | null;
  error: string | null;
}

export type Box = components["schemas"]["SampleBox"];
export type SampleItem = components["schemas"]["SampleItem"];
export type SamplesPage = components["schemas"]["SamplesPage"];
export type SimilarHit = components["schemas"]["Hit"];

export interface BoxEvaluation {
  status: "TP" | "FP" | "FN" | "ignored" | string;
  error: string | null;
  partner_id: number | null;
  iou: number | null;
}

export interface Annotation {
  id: number;
  category: string;
  bbox: [number, number, number, number];
  source: string;
  confidence: number | null;
  iscrowd: boolean;
  area: number | null;
  evaluation: Record<string, BoxEvaluation>;
}

export interface SampleDetail {
  id: number;
  dataset_id: number;
  file_name: string;
  width: number;
  height: number;
  split: string | null;
  annotation_count: number;
  fields: Record<string, unknown>;
  tags: string[];
  annotations: Annotation[];
}

export interface Facets {
  total: number;
  categories: { value: string; samples: number; annotations: number }[];
  splits: { value: string | null; count: number }[];
  tags: { value: string; count: number }[];
}

export interface PredictionRun {
  run: string;
  format: string;
  predictions: number;
  created_at: string;
}

export interface SavedView {
  id: number;
  dataset_id: number;
  name: string;
  filters: Record<string, unknown>;
  created_at: string;
}

export interface TagEditResult {
  affected: number;
  matched: number;
  added: number;
  removed: number;
}

export interface EmbeddingsStatus {
  dataset_id: number;
  model: string;
  samples: number;
  models: { model: string; samples?: number; embedded?: number }[];
}

export type FileEntry = components["schemas"]["FileEntry"];
export type FileListing = components["schemas"]["FileListing"];
