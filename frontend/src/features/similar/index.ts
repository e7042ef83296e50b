// The look-alikes view is lazy-loaded: App.tsx imports ./components/SimilarPage dynamically.
// Other views link to it by URL (/datasets/:id/similar?sample=<id>): features do not import each other.
export {};
