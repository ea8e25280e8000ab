// `pnpm test:mutation:summary`: the core's mutation score from every report under reports/mutation (a whole
// run's `mutation.json`, which --write replaces with the merge, or the parts `MUTATE=… pnpm test:mutation`
// writes), and every surviving mutant with the verdict test/mutation/survivors.mjs gives it. A mutant is known by its file, the text
// of its line, its column and its change, so a report stays valid while other lines move; a mutant whose line
// has changed since its run is dropped (run that part again). For one mutant, the newest report wins.
//
//   node test/mutation/summary.mjs [--write] [--ranges]
//     --write:  reports/mutation/mutation.json (the merged report) and docs/mutation-survivors.md (the list)
//     --ranges: the lines of the survivors not judged yet, as a MUTATE value to run them again after new tests

import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SURVIVORS } from './survivors.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const DIR = join(ROOT, 'reports/mutation');
const write = process.argv.includes('--write');
const ranges = process.argv.includes('--ranges');

const reports = readdirSync(DIR)
  .filter((name) => /^mutation(-.+)?\.json$/.test(name))
  .map((name) => ({ name, at: statSync(join(DIR, name)).mtimeMs }))
  .sort((a, b) => a.at - b.at);
if (reports.length === 0 && !readdirSync(DIR).some((n) => n.startsWith('events-')))
  throw new Error(`no reports in ${DIR}: run pnpm test:mutation first`);

const current = new Map(); // file → its lines now
const linesOf = (file) => {
  if (!current.has(file)) {
    let text = null;
    try {
      text = readFileSync(join(ROOT, file), 'utf8');
    } catch {}
    current.set(file, text === null ? null : text.split('\n'));
  }
  return current.get(file);
};

/** The mutant's line in today's source: the same text, nearest to where it was; null if it is gone. */
function lineNow(file, text, was) {
  const lines = linesOf(file);
  if (lines === null) return null;
  if (lines[was - 1] === text) return was;
  let best = null;
  for (let i = 0; i < lines.length; i++)
    if (lines[i] === text && (best === null || Math.abs(i + 1 - was) < Math.abs(best - was))) best = i + 1;
  return best;
}

/**
 * A run cut short leaves no report, only the verdicts it recorded (`events-<part>/`): read as a report whose
 * source is today's (so summarise before changing the core again).
 */
function fromEvents(dir) {
  const files = {};
  for (const name of readdirSync(join(DIR, dir)).filter((n) => n.endsWith('-onMutantTested.json'))) {
    const m = JSON.parse(readFileSync(join(DIR, dir, name), 'utf8'));
    const rel = m.fileName.replace(/^.*?(packages\/core\/src\/)/, '$1');
    const lines = linesOf(rel);
    if (lines === null) continue;
    files[rel] ??= { source: lines.join('\n'), mutants: [] };
    files[rel].mutants.push(m);
  }
  return { files };
}

const cutShort = readdirSync(DIR)
  .filter(
    (name) => name.startsWith('events-') && !reports.some((r) => r.name === `mutation-${name.slice(7)}.json`),
  )
  .map((name) => ({ name, at: statSync(join(DIR, name)).mtimeMs, events: true }));
const sources = [...reports, ...cutShort].sort((a, b) => a.at - b.at);

const mutants = new Map();
let stale = 0;
for (const { name, events } of sources) {
  const report = events ? fromEvents(name) : JSON.parse(readFileSync(join(DIR, name), 'utf8'));
  for (const [path, file] of Object.entries(report.files)) {
    const rel = path.replace(/^.*?(packages\/core\/src\/)/, '$1');
    const source = file.source.split('\n');
    for (const m of file.mutants) {
      const text = source[m.location.start.line - 1];
      const line = lineNow(rel, text, m.location.start.line);
      const key = `${rel}\0${text}\0${m.location.start.column}\0${m.location.end.line - m.location.start.line}\0${m.mutatorName}\0${m.replacement}`;
      if (line === null) {
        if (!mutants.has(key)) stale++;
        continue;
      }
      const shift = line - m.location.start.line;
      mutants.set(key, {
        ...m,
        file: rel,
        report: name,
        location: {
          start: { ...m.location.start, line: line },
          end: { ...m.location.end, line: m.location.end.line + shift },
        },
      });
    }
  }
}

const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);
const part = (file) => {
  const rest = file.replace('packages/core/src/', '');
  return rest.includes('/') ? `${rest.split('/')[0]}/` : 'top-level files';
};
const score = { detected: 0, valid: 0 };
const parts = new Map();
const counts = {};
for (const m of mutants.values()) {
  counts[m.status] = (counts[m.status] ?? 0) + 1;
  if (!DETECTED.has(m.status) && !UNDETECTED.has(m.status)) continue;
  const p = parts.get(part(m.file)) ?? { detected: 0, valid: 0 };
  parts.set(part(m.file), p);
  for (const s of [score, p]) {
    s.valid++;
    if (DETECTED.has(m.status)) s.detected++;
  }
}
const pct = (s) => `${((100 * s.detected) / s.valid).toFixed(1)} %`;

/** The verdict docs give a surviving mutant: the first entry of survivors.mjs whose file and code match. */
function verdictOf(m, text) {
  for (const entry of SURVIVORS) {
    if (!m.file.includes(entry.file)) continue;
    if (!entry.code.some((code) => text.includes(code))) continue;
    if (entry.replacement !== undefined && !entry.replacement.test(m.replacement ?? '')) continue;
    return entry;
  }
  return null;
}

const survivors = [...mutants.values()]
  .filter((m) => UNDETECTED.has(m.status))
  .sort((a, b) => a.file.localeCompare(b.file) || a.location.start.line - b.location.start.line);
const unexplained = [];
const byKind = new Map();
for (const m of survivors) {
  const text = linesOf(m.file)[m.location.start.line - 1];
  const verdict = verdictOf(m, text);
  if (verdict === null) unexplained.push(m);
  const kind = verdict?.kind ?? 'not yet judged';
  if (!byKind.has(kind)) byKind.set(kind, []);
  byKind.get(kind).push({ m, text, verdict });
}

const line = (m) =>
  `${m.file.replace('packages/core/src/', '')}:${m.location.start.line} ${m.mutatorName} → ${JSON.stringify(
    (m.replacement ?? '').replace(/\s+/g, ' ').slice(0, 60),
  )}${m.status === 'NoCoverage' ? ' (no test runs it)' : ''}`;

console.log(
  `mutation score ${pct(score)} (${score.detected} of ${score.valid} valid mutants detected) from ${reports.length} report(s)${cutShort.length > 0 ? ` and the recorded verdicts of ${cutShort.length} run(s) cut short` : ''}`,
);
console.log(
  `statuses: ${JSON.stringify(counts)}${stale > 0 ? `; ${stale} dropped (their lines changed)` : ''}`,
);
for (const [name, p] of [...parts].sort())
  console.log(`  ${name.padEnd(16)} ${pct(p).padStart(7)}  ${p.detected} / ${p.valid}`);
for (const [kind, rows] of byKind) console.log(`survivors, ${kind}: ${rows.length}`);
if (unexplained.length > 0) {
  console.log('\nsurvivors docs do not judge yet (a test should kill them, or survivors.mjs say why not):');
  for (const m of unexplained)
    console.log(`  ${line(m)}  | ${linesOf(m.file)[m.location.start.line - 1].trim().slice(0, 90)}`);
}

if (ranges) {
  const lines = new Set(unexplained.map((m) => `${m.file}:${m.location.start.line}-${m.location.end.line}`));
  console.log(`\nMUTATE='${[...lines].join(',')}'`);
}

if (write) {
  const merged = { schemaVersion: '2', thresholds: { high: 90, low: 80 }, projectRoot: ROOT, files: {} };
  for (const m of mutants.values()) {
    merged.files[m.file] ??= { language: 'typescript', source: linesOf(m.file).join('\n'), mutants: [] };
    const { file: _f, report: _r, ...mutant } = m;
    merged.files[m.file].mutants.push(mutant);
  }
  writeFileSync(join(DIR, 'mutation.json'), `${JSON.stringify(merged)}\n`);
  const doc = [
    '# Surviving mutants',
    '',
    'Written by `node test/mutation/summary.mjs --write` from the reports under `reports/mutation` and the verdicts in',
    '`test/mutation/survivors.mjs`; the score and how it was measured are in [testing.md](testing.md#mutation-testing).',
    '',
    `Score: **${pct(score)}** (${score.detected} of ${score.valid} valid mutants detected).`,
    '',
  ];
  for (const [kind, rows] of byKind) {
    doc.push(`## ${kind} (${rows.length})`, '');
    let why = null;
    for (const { m, verdict } of rows.sort((a, b) =>
      (a.verdict?.why ?? '').localeCompare(b.verdict?.why ?? ''),
    )) {
      if ((verdict?.why ?? null) !== why) {
        why = verdict?.why ?? null;
        if (why !== null) doc.push('', `${why}`, '');
      }
      doc.push(`- \`${line(m)}\``);
    }
    doc.push('');
  }
  writeFileSync(join(ROOT, 'docs/mutation-survivors.md'), `${doc.join('\n').replace(/\n{3,}/g, '\n\n')}`);
  console.log('\nwrote reports/mutation/mutation.json and docs/mutation-survivors.md');
}
