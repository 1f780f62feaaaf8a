/**
 * "No growth" from a trend, not from two samples of a sawtooth: a least-squares line through many samples
 * (taken after a forced GC where the runtime allows one), the growth it predicts over the run (slope × run
 * length) and the residual spread around it. The verdict is "no growth" only when that predicted growth is
 * below a stated bound AND within the noise (≤ 2 residual standard deviations); a steady climb without noise is
 * growth however small the bound.
 */
export interface Trend {
  n: number;
  /** Units of y per unit of x. */
  slope: number;
  intercept: number;
  /** Standard deviation of the residuals around the line (n − 2 degrees of freedom). */
  residualSd: number;
  /** Standard error of the slope. */
  slopeSe: number;
  /** x span of the samples (last − first). */
  span: number;
  /** slope × span: what the line says the run added. */
  growth: number;
}

export function trend(xs: readonly number[], ys: readonly number[]): Trend {
  if (xs.length !== ys.length) throw new Error(`[vigil] [bench] trend: ${xs.length} x values for ${ys.length} y values`);
  const n = xs.length;
  if (n < 3) throw new Error(`[vigil] [bench] trend: ${n} samples; a trend needs at least 3`);
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i] - mx) ** 2;
    sxy += (xs[i] - mx) * (ys[i] - my);
  }
  if (sxx === 0) throw new Error('[vigil] [bench] trend: every sample has the same x');
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let sse = 0;
  for (let i = 0; i < n; i++) sse += (ys[i] - (intercept + slope * xs[i])) ** 2;
  const residualSd = Math.sqrt(sse / (n - 2));
  const span = Math.max(...xs) - Math.min(...xs);
  return { n, slope, intercept, residualSd, slopeSe: residualSd / Math.sqrt(sxx), span, growth: slope * span };
}

export interface GrowthVerdict {
  trend: Trend;
  /** True only when growth ≤ bound and growth ≤ 2 × residualSd (and there were enough samples). */
  noGrowth: boolean;
  /** One line for the BENCHMARKS.md row, e.g. "+1.2 KiB over the run (slope … per …, ±… residual SD, 40 samples)". */
  text: string;
}

export interface GrowthOptions {
  /** The largest growth over the run that still counts as none, in y units. */
  bound: number;
  /** Fewer samples than this is no verdict (noGrowth false). Default 20. */
  minSamples?: number;
  /** Formats a y amount (e.g. kib). */
  format: (y: number) => string;
  /** What one x unit is, for the slope's text (e.g. "1,000 cycles"); slope is shown per `perX` x units. */
  perX?: number;
  perXText?: string;
}

export function growthVerdict(xs: readonly number[], ys: readonly number[], o: GrowthOptions): GrowthVerdict {
  const t = trend(xs, ys);
  const minSamples = o.minSamples ?? 20;
  const noGrowth = t.n >= minSamples && t.growth <= o.bound && t.growth <= 2 * t.residualSd;
  const sign = (y: number) => (y >= 0 ? '+' : '−') + o.format(Math.abs(y));
  const per = o.perX ?? 1;
  const text =
    `trend ${sign(t.growth)} over the run (least squares over ${t.n} samples; slope ${sign(t.slope * per)} ± ${o.format(t.slopeSe * per)} per ${o.perXText ?? 'sample'}; ` +
    `residual SD ${o.format(t.residualSd)}; "no growth" needs ≤ ${o.format(o.bound)} and ≤ 2 residual SD${t.n < minSamples ? `, and ≥ ${minSamples} samples` : ''})`;
  return { trend: t, noGrowth, text };
}
