// The near-duplicates view is lazy-loaded: App.tsx imports ./components/DuplicatesPage dynamically.
export {};
