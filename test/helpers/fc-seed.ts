/**
 * Seeds for the property tests (ROBUSTNESS.md): each property runs once with its fixed seed (the same
 * cases on every run, so a regression is seen at once) and once with a random seed that is printed, so
 * that every CI run also explores new cases and any failure can be replayed: VIGIL_FC_SEED=<seed>.
 */
import fc from 'fast-check';

const fromEnv = process.env.VIGIL_FC_SEED;
/** The random seed of this test process: VIGIL_FC_SEED when set, else from the clock. */
export const RANDOM_SEED = fromEnv !== undefined && /^-?\d+$/.test(fromEnv) ? Number(fromEnv) : Date.now() % 2_147_483_647;

let printed = false;
function printSeed(): void {
  if (printed) return;
  printed = true;
  console.log(`[vigil] [fc] random seed ${RANDOM_SEED} (replay with VIGIL_FC_SEED=${RANDOM_SEED})`);
}

/** `[label, seed]` pairs for it.each: the fixed seed, then the printed random one. */
export function seeds(fixed: number): Array<[string, number]> {
  printSeed();
  return [
    [`fixed seed ${fixed}`, fixed],
    [`random seed ${RANDOM_SEED}`, RANDOM_SEED],
  ];
}

/** fc.assert with a seed and a run count; the failure message carries the seed and the shrunk case. */
export function check<Ts extends [unknown, ...unknown[]]>(prop: fc.IProperty<Ts>, seed: number, numRuns: number): void {
  fc.assert(prop, { seed, numRuns });
}

export function checkAsync<Ts extends [unknown, ...unknown[]]>(prop: fc.IAsyncProperty<Ts>, seed: number, numRuns: number): Promise<void> {
  return fc.assert(prop, { seed, numRuns });
}
