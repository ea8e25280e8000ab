// Where the reliability suites put their numbers: each scenario writes results/<scenario>.json (git-ignored)
// with the date, the machine and its figures, and prints them. `node test/reliability/render-table.mjs`
// turns the files into the table of docs/reliability.md.

import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Where figures go; RELIABILITY_RESULTS moves them (a documented run, apart from other runs of the suite). */
export const RESULTS_DIR = process.env.RELIABILITY_RESULTS ?? path.join(__dirname, 'results');

export type FigureValue = number | string | boolean | null | { [key: string]: FigureValue };
export type Figures = Record<string, FigureValue>;

export interface ScenarioResult {
  scenario: string;
  date: string;
  machine: { cpu: string; cores: number; memoryGiB: number; node: string; platform: string };
  figures: Figures;
}

export function machine(): ScenarioResult['machine'] {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

/** Records one scenario's figures (replacing the previous run's) and prints them. */
export function recordFigures(scenario: string, figures: Figures): void {
  const result: ScenarioResult = { scenario, date: new Date().toISOString(), machine: machine(), figures };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(path.join(RESULTS_DIR, `${scenario}.json`), `${JSON.stringify(result, null, 2)}\n`);
  console.log(`[reliability] ${scenario}\n${JSON.stringify(figures, null, 2)}`);
}
