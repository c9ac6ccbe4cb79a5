import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { sftPadTokenId } from '../src/data/collate.js';
import { tokenizeSftDataset } from '../src/data/sft.js';
import { loadModelFromFolder } from '../src/models/load.js';
import type { LanguageModel } from '../src/models/types.js';
import { getPeftModel, loraConfig, PeftModel, saveAdapter } from '../src/peft/index.js';
import { loadTokenizer } from '../src/tokenize/index.js';
import { getNumThreads, manualSeed, setNumThreads } from '../src/torch/index.js';
import type { TrainingArguments } from '../src/train/arguments.js';
import { train, type EvalEvent, type StepEvent, type TrainEvent } from '../src/train/trainer.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';
import { pythonHas, runPythonJson } from './helpers/python.js';

const modelDir = path.join(sharedDir, 'reference', 'models', 'stories260K');
const fixtureDir = path.join(repoRoot, 'test', 'fixtures', 'train');
const fixturePath = path.join(fixtureDir, 'trainer-stories260K.json');
const adapterDir = path.join(fixtureDir, 'lora-adapter-stories260K');
const peer = path.join(repoRoot, 'bench', 'peer', 'trainer_losses.py');
const record = process.env.TUNEKIT_RECORD === '1';
const havePython = pythonHas('transformers', 'peft');
const workDir = mkdtempSync(path.join(tmpdir(), 'tunekit-trainer-'));
after(() => rmSync(workDir, { recursive: true, force: true }));

const records = [
  { prompt: 'Once upon a time, there was a little girl named Lily.', completion: ' She liked to play in the park with her ball.' },
  { prompt: 'Tom had a big red dog.', completion: ' The dog liked to run and jump all day.' },
  { prompt: 'The sun was hot and the sky was blue.', completion: ' Ben went to the sea to swim.' },
  { prompt: 'Mom made a cake for the party.', completion: ' It was sweet and everyone was happy.' },
  { prompt: 'One day, a cat found a box.', completion: ' The cat got in the box and took a nap.' },
  { prompt: 'Sue saw a bird in the tree.', completion: ' The bird sang a pretty song for her.' },
  { prompt: 'The boy lost his toy.', completion: ' He looked and looked, and then he found it under the bed.' },
  { prompt: 'It was a rainy day.', completion: ' The kids stayed inside and played with blocks.' },
  { prompt: 'Anna wanted to help her dad.', completion: ' She gave him the big box and he said thank you.' },
  { prompt: 'A little fish lived in a pond.', completion: ' He was sad because he had no friends.' },
  { prompt: 'The old man had a garden.', completion: ' He grew flowers and a tall tree.' },
  { prompt: 'Max was scared of the dark.', completion: ' His mom gave him a light and a hug.' },
];
const evalRecords = [
  { prompt: 'Lily and Tom went to the park.', completion: ' They played on the swing.' },
  { prompt: 'The dog saw a ball.', completion: ' He ran to get it.' },
  { prompt: 'Ben was very happy.', completion: ' He got a new red car for his birthday.' },
  { prompt: 'The bird was hungry.', completion: ' It found a worm in the grass.' },
  { prompt: 'Sue had a doll.', completion: ' She loved it very much.' },
];

type Example = { input_ids: number[]; labels: number[] };
interface PeerLog { step: number; loss?: number; learning_rate?: number; grad_norm?: number; eval_loss?: number; epoch?: number }
interface PeerResult { transformers: string; torch: string; logs: PeerLog[]; train_loss: number; global_step: number; tensors: Record<string, number[]> }
interface Case {
  name: string;
  args: Partial<TrainingArguments>;
  lora?: boolean;
  eval?: boolean;
  /** [tunekit name, Python name] of final tensors to compare. */
  tensors: [string, string][];
}
interface Fixture { examples: Example[]; evalExamples: Example[]; padTokenId: number; results: Record<string, PeerResult> }

const base = { logging_steps: 1, seed: 42 };
const full = [
  ['model.norm.weight', 'model.norm.weight'],
  ['model.layers.0.self_attn.k_proj.weight', 'model.layers.0.self_attn.k_proj.weight'],
  ['model.layers.4.input_layernorm.weight', 'model.layers.4.input_layernorm.weight'],
] as [string, string][];
const cases: Case[] = [
  {
    name: 'full fine-tuning: warmup, linear decay, weight decay, clipping, eval',
    args: { ...base, learning_rate: 2e-3, num_train_epochs: 2, per_device_train_batch_size: 4, per_device_eval_batch_size: 2, warmup_steps: 2, weight_decay: 0.1, max_grad_norm: 0.5, eval_strategy: 'steps', eval_steps: 4 },
    eval: true,
    tensors: full,
  },
  { name: 'accumulation 2 × batch 2', args: { ...base, learning_rate: 1e-3, num_train_epochs: 1, per_device_train_batch_size: 2, gradient_accumulation_steps: 2, weight_decay: 0.01 }, tensors: full },
  { name: 'batch 4', args: { ...base, learning_rate: 1e-3, num_train_epochs: 1, per_device_train_batch_size: 4, weight_decay: 0.01 }, tensors: full },
  { name: 'accumulation 4 with a short last step, cosine, data_seed', args: { ...base, learning_rate: 1e-3, num_train_epochs: 2, per_device_train_batch_size: 2, gradient_accumulation_steps: 4, lr_scheduler_type: 'cosine', warmup_steps: 0.25, data_seed: 7 }, tensors: full },
  {
    name: 'logging every 2 steps (averaged), an unlogged last step, eval per epoch, constant schedule',
    args: { seed: 42, logging_steps: 2, learning_rate: 1e-3, max_steps: 5, per_device_train_batch_size: 5, per_device_eval_batch_size: 4, lr_scheduler_type: 'constant', weight_decay: 0.1, eval_strategy: 'epoch' },
    eval: true,
    tensors: full,
  },
  {
    name: 'LoRA from the same adapter',
    args: { ...base, learning_rate: 5e-3, max_steps: 5, per_device_train_batch_size: 3, lr_scheduler_type: 'constant_with_warmup', warmup_steps: 1, weight_decay: 0.05, max_grad_norm: 1 },
    lora: true,
    tensors: [
      ['base_model.model.model.layers.0.self_attn.q_proj.lora_B.default.weight', 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.default.weight'],
      ['base_model.model.model.layers.4.self_attn.v_proj.lora_A.default.weight', 'base_model.model.model.layers.4.self_attn.v_proj.lora_A.default.weight'],
    ],
  },
];

function relative(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
}

async function ensureAdapter(): Promise<void> {
  if (existsSync(adapterDir)) return;
  if (!record) throw new Error(`${adapterDir} is missing; run with TUNEKIT_RECORD=1 to create it`);
  manualSeed(0);
  const peft = getPeftModel(await loadModelFromFolder(modelDir), loraConfig({ r: 8, loraAlpha: 16, loraDropout: 0, targetModules: ['q_proj', 'v_proj'], taskType: 'CAUSAL_LM' }));
  await saveAdapter(peft, adapterDir);
  peft.dispose();
}

async function runOurs(c: Case, fixture: Fixture): Promise<{ events: TrainEvent[]; tensors: Record<string, number[]>; model: LanguageModel }> {
  let model: LanguageModel = await loadModelFromFolder(modelDir);
  if (c.lora) model = await PeftModel.fromPretrained(model, adapterDir, { isTrainable: true });
  const events: TrainEvent[] = [];
  await train(model, fixture.examples, c.args, { padTokenId: fixture.padTokenId, evalExamples: c.eval ? fixture.evalExamples : undefined, onEvent: (e) => events.push(e) });
  const named = new Map(model.namedParameters());
  const tensors: Record<string, number[]> = {};
  for (const [ours] of c.tensors) {
    const value = named.get(ours);
    assert.ok(value !== undefined, `no parameter ${ours}; have ${[...named.keys()].slice(0, 5).join(', ')}...`);
    tensors[ours] = Array.from(value.float().toFloat32Array());
  }
  return { events, tensors, model };
}

function theirs(c: Case, fixture: Fixture): PeerResult {
  const spec = path.join(workDir, 'spec.json');
  writeFileSync(spec, JSON.stringify({ model: modelDir, adapter: c.lora ? adapterDir : null, train: fixture.examples, eval: c.eval ? fixture.evalExamples : null, pad_token_id: fixture.padTokenId, args: c.args, tensors: c.tensors.map(([, py]) => py) }));
  return runPythonJson<PeerResult>(peer, [spec]);
}

const measured: Record<string, { loss: number; lr: number; gradNorm: number; evalLoss: number; tensor: number }> = {};

describe("train() equals transformers' Trainer (stories260K)", { skip: hasShared ? false : 'no ../shared reference models' }, () => {
  const threads = getNumThreads();
  let fixture: Fixture;
  after(() => {
    setNumThreads(threads);
    if (record) writeFileSync(fixturePath, JSON.stringify(fixture) + '\n');
    console.log(JSON.stringify({ measuredMaxRelativeDifference: measured }));
  });

  it('tokenizes the dataset as the recorded fixture has it', async () => {
    setNumThreads(1);
    const tokenizer = loadTokenizer(modelDir);
    const examples = tokenizeSftDataset(tokenizer, records).examples.map(({ input_ids, labels }) => ({ input_ids, labels }));
    const evalExamples = tokenizeSftDataset(tokenizer, evalRecords).examples.map(({ input_ids, labels }) => ({ input_ids, labels }));
    const padTokenId = sftPadTokenId(tokenizer).padTokenId;
    if (record || !existsSync(fixturePath)) {
      assert.ok(record, `${fixturePath} is missing; run with TUNEKIT_RECORD=1 and Python to create it`);
      fixture = { examples, evalExamples, padTokenId, results: {} };
    } else {
      fixture = JSON.parse(readFileSync(fixturePath, 'utf8')) as Fixture;
      assert.deepEqual({ examples, evalExamples, padTokenId }, { examples: fixture.examples, evalExamples: fixture.evalExamples, padTokenId: fixture.padTokenId });
    }
    await ensureAdapter();
  });

  for (const c of cases) {
    it(`${c.name}: per-step loss, learning rate, grad norm, eval loss and final weights`, async () => {
      assert.ok(fixture !== undefined);
      const reference = havePython ? theirs(c, fixture) : fixture.results[c.name];
      assert.ok(reference !== undefined, `no recorded Trainer result for '${c.name}' and no Python transformers to run`);
      if (record) fixture.results[c.name] = reference;
      const { events, tensors, model } = await runOurs(c, fixture);
      const steps = events.filter((e): e is StepEvent => e.event === 'step');
      const evals = events.filter((e): e is EvalEvent => e.event === 'eval');
      const peerSteps = reference.logs.filter((l) => l.loss !== undefined && l.eval_loss === undefined && l.learning_rate !== undefined);
      const peerEvals = reference.logs.filter((l) => l.eval_loss !== undefined);
      assert.equal(steps.length, peerSteps.length, 'logged steps');
      assert.equal(evals.length, peerEvals.length, 'evaluations');
      const m = { loss: 0, lr: 0, gradNorm: 0, evalLoss: 0, tensor: 0 };
      steps.forEach((ours, i) => {
        const py = peerSteps[i];
        assert.equal(ours.step, py.step);
        assert.ok(Math.abs(ours.epoch - (py.epoch as number)) <= 1e-12, `step ${ours.step}: epoch ${ours.epoch} vs Trainer ${py.epoch}`);
        m.loss = Math.max(m.loss, relative(ours.loss, py.loss as number));
        m.lr = Math.max(m.lr, relative(ours.learning_rate, py.learning_rate as number));
        m.gradNorm = Math.max(m.gradNorm, relative(ours.grad_norm, py.grad_norm as number));
        assert.ok(relative(ours.loss, py.loss as number) <= 1e-5, `step ${ours.step}: loss ${ours.loss} vs Trainer ${py.loss}`);
        assert.ok(relative(ours.learning_rate, py.learning_rate as number) <= 1e-12, `step ${ours.step}: lr ${ours.learning_rate} vs Trainer ${py.learning_rate}`);
        assert.ok(relative(ours.grad_norm, py.grad_norm as number) <= 1e-4, `step ${ours.step}: grad_norm ${ours.grad_norm} vs Trainer ${py.grad_norm}`);
      });
      evals.forEach((ours, i) => {
        assert.equal(ours.step, peerEvals[i].step);
        m.evalLoss = Math.max(m.evalLoss, relative(ours.eval_loss, peerEvals[i].eval_loss as number));
        assert.ok(relative(ours.eval_loss, peerEvals[i].eval_loss as number) <= 1e-5, `eval at ${ours.step}: ${ours.eval_loss} vs Trainer ${peerEvals[i].eval_loss}`);
      });
      const done = events.at(-1);
      assert.ok(done?.event === 'done' && done.global_step === reference.global_step);
      assert.ok(relative(done.train_loss, reference.train_loss) <= 1e-5, `train_loss ${done.train_loss} vs ${reference.train_loss}`);
      for (const [ours, py] of c.tensors) {
        const a = tensors[ours];
        const b = reference.tensors[py];
        assert.equal(a.length, b.length, ours);
        const scale = Math.max(...b.map(Math.abs));
        const worst = Math.max(...a.map((v, i) => Math.abs(v - b[i]))) / scale;
        m.tensor = Math.max(m.tensor, worst);
        assert.ok(worst <= 1e-4, `${ours}: max difference ${worst} of the largest value`);
      }
      measured[c.name] = m;
      model.dispose();
    });
  }

  it('gradient accumulation 2 × batch 2 equals batch 4', () => {
    const a = fixture.results['accumulation 2 × batch 2'];
    const b = fixture.results['batch 4'];
    if (a === undefined || b === undefined) return;
    const lossesA = a.logs.filter((l) => l.loss !== undefined).map((l) => l.loss as number);
    const lossesB = b.logs.filter((l) => l.loss !== undefined).map((l) => l.loss as number);
    assert.equal(lossesA.length, lossesB.length);
    lossesA.forEach((loss, i) => assert.ok(relative(loss, lossesB[i]) <= 1e-5, `step ${i + 1}: ${loss} vs ${lossesB[i]}`));
  });
});
