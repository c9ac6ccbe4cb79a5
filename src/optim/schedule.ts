import { TunekitError } from '../errors.js';
import type { Optimizer } from './optimizer.js';

/** A learning-rate multiplier as a function of the optimizer step (0-based). */
export type Schedule = (step: number) => number;

export interface WarmupOptions {
  warmupSteps?: number;
  totalSteps: number;
}

function checkSteps(warmupSteps: number, totalSteps: number): void {
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) throw new TunekitError('E_SCHEDULE', `warmupSteps must be a non-negative integer, got ${warmupSteps}`);
  if (!Number.isInteger(totalSteps) || totalSteps < 1) throw new TunekitError('E_SCHEDULE', `totalSteps must be a positive integer, got ${totalSteps}`);
}

/** 1 throughout, or a linear ramp over `warmupSteps` and then 1. */
export function constantSchedule(options: { warmupSteps?: number } = {}): Schedule {
  const warmup = options.warmupSteps ?? 0;
  return (step) => (step < warmup ? step / Math.max(1, warmup) : 1);
}

/** Linear warmup to 1, then linear decay to 0 at `totalSteps` (transformers' get_linear_schedule_with_warmup). */
export function linearSchedule({ warmupSteps = 0, totalSteps }: WarmupOptions): Schedule {
  checkSteps(warmupSteps, totalSteps);
  return (step) => {
    if (step < warmupSteps) return step / Math.max(1, warmupSteps);
    return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
  };
}

/**
 * Linear warmup, then a cosine from 1 down to `minRatio` over the remaining steps (transformers'
 * get_cosine_schedule_with_warmup with `numCycles` 0.5 and minRatio 0).
 */
export function cosineSchedule({ warmupSteps = 0, totalSteps, numCycles = 0.5, minRatio = 0 }: WarmupOptions & { numCycles?: number; minRatio?: number }): Schedule {
  checkSteps(warmupSteps, totalSteps);
  return (step) => {
    if (step < warmupSteps) return step / Math.max(1, warmupSteps);
    const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
    const cosine = Math.max(0, 0.5 * (1 + Math.cos(Math.PI * numCycles * 2 * progress)));
    return minRatio + (1 - minRatio) * cosine;
  };
}

/** Applies a schedule to every group of an optimizer: lr = base lr × schedule(step). Call `step()` after each optimizer step. */
export class LRScheduler {
  readonly baseLrs: number[];
  #step = 0;

  constructor(
    readonly optimizer: Optimizer,
    readonly schedule: Schedule,
  ) {
    this.baseLrs = optimizer.groups.map((group) => group.options.lr);
    this.apply();
  }

  get currentStep(): number {
    return this.#step;
  }

  step(): void {
    this.#step++;
    this.apply();
  }

  /** Restores the step count (for resume) and sets the matching learning rates. */
  setStep(step: number): void {
    this.#step = step;
    this.apply();
  }

  get lastLr(): number[] {
    return this.optimizer.groups.map((group) => group.options.lr);
  }

  private apply(): void {
    const factor = this.schedule(this.#step);
    this.optimizer.groups.forEach((group, i) => {
      group.options.lr = this.baseLrs[i] * factor;
    });
  }
}
