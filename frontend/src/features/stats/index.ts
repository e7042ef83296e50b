// The statistics view is lazy-loaded: App.tsx imports ./components/StatsPage dynamically.
export {};
