/** Hand-made comparison reports for the report layer's tests: small, with every section, and awkward text. */
import type { report } from '../../src/index.js';

type ComparisonReport = report.ComparisonReport;

/** Three systems (a prompting baseline, LoRA, full fine-tuning), two metrics, forgetting on two tasks. */
export function sampleReport(): ComparisonReport {
  return {
    schema: 'tunekit.report/1',
    title: 'DialogSum: LoRA vs full fine-tuning',
    createdAt: '2026-12-01T12:00:00.000Z',
    baseline: 'zero_shot',
    metrics: ['rougeL', 'bleu'],
    confidence: 0.95,
    bootstrapSamples: 1000,
    seed: 7,
    testSize: 50,
    notes: ['model: stories260K', 'data: dialogsum test | first 50'],
    systems: [
      {
        name: 'zero_shot',
        label: 'Zero-shot',
        method: 'prompting',
        metrics: { rougeL: { value: 0.2104, low: 0.1899, high: 0.2301 }, bleu: { value: 3.456, low: 2.9, high: 4.01 } },
        trainableParameters: 0,
        totalParameters: 260_000,
        peakMemoryBytes: 12 * 1024 * 1024,
      },
      {
        name: 'lora',
        label: 'LoRA r=8',
        method: 'lora',
        metrics: { rougeL: { value: 0.3121, low: 0.2897, high: 0.3349 }, bleu: { value: 9.87, low: 8.5, high: 11.25 } },
        significance: {
          rougeL: { difference: 0.1017, low: 0.0801, high: 0.1234, pValue: 0.001 },
          bleu: { difference: 6.414, low: 5.1, high: 7.7, pValue: 0.2 },
        },
        trainableParameters: 4096,
        totalParameters: 264_096,
        trainSeconds: 75.4,
        peakMemoryBytes: 40 * 1024 * 1024,
        artifactBytes: 17_000,
        loss: {
          train: [
            [1, 2.9],
            [2, 2.5],
            [3, 2.2],
            [4, 2.0],
          ],
          eval: [
            [2, 2.6],
            [4, 2.3],
          ],
        },
        details: { rank: 8, alpha: 16 },
      },
      {
        name: 'full',
        label: 'Full',
        method: 'full',
        metrics: { rougeL: { value: 0.3311, low: 0.3, high: 0.36 }, bleu: { value: 10.5, low: 9.1, high: 12 } },
        significance: {
          rougeL: { difference: 0.1207, low: 0.1, high: 0.14, pValue: 0.0004 },
          bleu: { difference: 7.044, low: 5.5, high: 8.6, pValue: 0.03 },
        },
        trainableParameters: 260_000,
        totalParameters: 260_000,
        trainSeconds: 190,
        peakMemoryBytes: 96 * 1024 * 1024,
        artifactBytes: 1_040_000,
        loss: {
          train: [
            [1, 2.9],
            [2, 2.3],
            [3, 1.9],
            [4, 1.7],
          ],
          eval: [
            [2, 2.4],
            [4, 2.1],
          ],
        },
      },
    ],
    forgetting: [
      { system: 'lora', task: 'arc_easy', metric: 'acc', before: 0.3, after: 0.29, delta: { value: -0.01, low: -0.03, high: 0.01 }, higherIsBetter: true, documents: 100 },
      { system: 'full', task: 'arc_easy', metric: 'acc', before: 0.3, after: 0.25, delta: { value: -0.05, low: -0.08, high: -0.02 }, higherIsBetter: true, documents: 100 },
      { system: 'lora', task: 'wikitext', metric: 'word_perplexity', before: 40.5, after: 41.25, delta: { value: 0.75, low: 0.25, high: 1.5 }, higherIsBetter: false, documents: 20 },
      { system: 'full', task: 'wikitext', metric: 'word_perplexity', before: 40.5, after: 52, delta: { value: 11.5, low: 9, high: 14 }, higherIsBetter: false, documents: 20 },
    ],
    checks: [
      { name: 'merged LoRA equals unmerged', passed: true, detail: 'max |Δlogit| 2e-6' },
      { name: 'loss decreased', passed: false, detail: '' },
    ],
    examples: [
      {
        input: '#Person1#: Hi | how are you?\n#Person2#: Fine.',
        reference: 'Two people greet.',
        outputs: { zero_shot: 'Hello <script>alert(1)</script>', lora: 'They *greet* & chat.', full: 'Person1 asks how Person2 is.' },
      },
    ],
  };
}
