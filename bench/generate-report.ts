// Readable tables of the generation benchmark.
import type { GenerateBenchReport } from './generate-bench.js';
import type { GenerateRunResult, GenerateSegment } from './generate-case-protocol.js';
import { formatTable } from './table.js';

const sec = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : '-');
const msCell = (ms: number) => (Number.isFinite(ms) ? ms.toFixed(0) : '-');
const pct = (x: number) => (100 * x).toFixed(1);

/** Columns of the phase table: the pipeline's phases, loading split into files/EP and the DiT. */
const COLUMNS: Array<{ title: string; match: (s: GenerateSegment) => boolean }> = [
  { title: 'load files', match: (s) => s.phase === 'loading' && s.detail !== 'transformer' },
  { title: 'baking', match: (s) => s.phase === 'baking' },
  { title: 'encoding', match: (s) => s.phase === 'encoding' },
  { title: 'refs', match: (s) => s.phase === 'references' },
  { title: 'load DiT', match: (s) => s.phase === 'loading' && s.detail === 'transformer' },
  { title: 'denoising', match: (s) => s.phase === 'denoising' },
  { title: 'decoding', match: (s) => s.phase === 'decoding' },
  { title: 'saving', match: (s) => s.phase === 'saving' },
];

function sumWhere(r: GenerateRunResult, match: (s: GenerateSegment) => boolean, f: (s: GenerateSegment) => number): number {
  return r.segments.filter(match).reduce((a, s) => a + f(s), 0);
}

const outside = (s: GenerateSegment) => s.ms - s.sessionRunMs - s.sessionCreateMs;

function generationRuns(r: GenerateBenchReport): Array<{ caseLabel: string; peakRssMb: number; run: GenerateRunResult }> {
  return r.cases.filter((c) => c.group === 'generation' && c.result)
    .flatMap((c) => c.result!.runs.map((run) => ({ caseLabel: c.label, peakRssMb: c.result!.peakRssMb, run })));
}

/** Wall seconds per phase, total, ORT time and the share outside ORT. */
export function generationPhaseTable(r: GenerateBenchReport): string {
  const rows = generationRuns(r).map(({ run, peakRssMb }) => [
    run.label,
    ...COLUMNS.map((c) => sec(sumWhere(run, c.match, (s) => s.ms))),
    sec(run.totalMs),
    sec(run.sessionRunMs),
    sec(run.sessionCreateMs),
    sec(run.outsideMs),
    pct(run.outsideShare),
    sec(run.sessionReleaseMs),
    pct(run.hostShare),
    peakRssMb.toFixed(0),
  ]);
  const failed = r.cases.filter((c) => c.group === 'generation' && !c.result).map((c) => [c.label, `failed: ${c.error ?? '?'}`]);
  return formatTable(
    ['run (wall s)', ...COLUMNS.map((c) => c.title), 'total', 'ORT run', 'ORT create', 'outside', 'outside %', 'of which release', 'host %', 'peak RSS MB'],
    [...rows, ...failed],
  );
}

/** Where the time outside ORT goes: milliseconds per phase. */
export function outsideByPhaseTable(r: GenerateBenchReport): string {
  const rows = generationRuns(r).map(({ run }) => [
    run.label,
    ...COLUMNS.map((c) => msCell(sumWhere(run, c.match, outside))),
    msCell(run.outsideMs),
    run.stepMs.length ? msCell(Math.max(...run.stepMs.map((m, i) => m - run.stepSessionRunMs[i]))) : '-',
  ]);
  return formatTable(['run (outside-ORT ms)', ...COLUMNS.map((c) => c.title), 'total', 'max per step'], rows);
}

/** Bake phase and DiT creation per LoRA scenario. */
export function bakeTable(r: GenerateBenchReport): string {
  const rows = r.cases.filter((c) => c.group === 'bake').flatMap((c) => {
    if (!c.result) return [[c.label, `failed: ${c.error ?? '?'}`]];
    return c.result.runs.map((run) => {
      const bakeRunMs = sumWhere(run, (s) => s.phase === 'baking', (s) => s.sessionRunMs);
      return [
        run.label,
        run.bakeMiss === null ? '-' : run.bakeMiss ? 'miss' : 'hit',
        sec(run.bakeMs),
        sec(bakeRunMs),
        sec(run.ditLoadMs),
        sec(run.ditSessionCreateMs),
        sec(run.ditLoadMs - run.ditSessionCreateMs),
        sec(run.totalMs),
        run.rssAfterMb.toFixed(0),
      ];
    });
  });
  return formatTable(
    ['scenario (mid kit, CPU)', 'bake', 'bake s', 'merge runs s', 'load DiT s', 'DiT session create s', 'graph build etc. s', 'run total s', 'RSS after MB'],
    rows,
  );
}

export function profileSection(r: GenerateBenchReport): string {
  const parts: string[] = [];
  for (const c of r.cases) {
    const top = c.result?.profileTop;
    if (!top) continue;
    parts.push(`JS self time, ${c.label} (all runs; ${sec(c.result!.profileBusyMs ?? 0)} s sampled busy, "(program)" = native incl. ORT):`);
    parts.push(formatTable(['function', 'self ms'], top.map((e) => [e.fn, e.selfMs.toFixed(0)])));
  }
  return parts.join('\n');
}
