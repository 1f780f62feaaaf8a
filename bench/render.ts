// Rewrites BENCHMARKS.md from bench/results/*.json and bench/NOTES.md without running anything.
// Usage: tsx bench/render.ts
import { renderBenchmarks } from './lib';

renderBenchmarks();
