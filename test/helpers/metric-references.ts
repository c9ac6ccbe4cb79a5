/** Reading ../shared/reference/metrics (rouge-score and sacreBLEU outputs) and comparing with them to 1e-9. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { RougeScores } from '../../src/metrics/index.js';
import { hasShared, sharedDir } from './paths.js';

export const referenceDir = path.join(sharedDir, 'reference', 'metrics');
/** node:test's `skip` for tests that need the reference cases: false, or why they are skipped. */
export const skipWithoutReferences: false | string =
  hasShared && existsSync(path.join(referenceDir, 'cases.jsonl')) ? false : `no reference data at ${referenceDir}`;
export const TOLERANCE = 1e-9;

/** One line of cases.jsonl (`references[0] === reference`). */
export interface Case {
  id: string;
  category: string;
  prediction: string;
  reference: string;
  references: string[];
}

export function readJsonLines<T>(file: string): T[] {
  return readFileSync(path.join(referenceDir, file), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}

export function loadCases(): Map<string, Case> {
  return new Map(readJsonLines<Case>('cases.jsonl').map((item) => [item.id, item]));
}

export function close(actual: number, expected: number, where: string): void {
  assert.ok(Math.abs(actual - expected) <= TOLERANCE, `${where}: got ${actual}, expected ${expected}`);
}

export function assertRouge(actual: RougeScores, expected: RougeScores, where: string): void {
  for (const type of Object.keys(expected)) {
    for (const measure of ['precision', 'recall', 'fmeasure'] as const) {
      close(actual[type][measure], expected[type][measure], `${where} ${type}.${measure}`);
    }
  }
}
