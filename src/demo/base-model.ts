/**
 * The demo's pre-trained base model, made by tunekit itself: a word-level tokenizer over the synthetic world's
 * vocabulary and a small Llama pre-trained on synthetic stories and conversations (never a summary), from the
 * recipe below. The first run trains it (about a minute on 2 cores) and caches the model folder under
 * `<cache>/tunekit/demo/base-<recipe hash>`; later runs load it. With one libtorch thread the recipe reproduces the
 * same weights bit for bit.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TunekitError } from '../errors.js';
import { userCacheHome } from '../io/hub-cache.js';
import { syntheticPretrainingTexts, syntheticTokenizerCorpus, writeWordTokenizer } from '../data/index.js';
import { LlamaForCausalLM, loadModel, parseLlamaConfig, saveModel, type LanguageModel } from '../models/index.js';
import { loadTokenizer, type Tokenizer } from '../tokenize/index.js';
import { getNumThreads, manualSeed, setNumThreads, type Device } from '../torch/index.js';
import { train, type StepEvent } from '../train/index.js';

/** Everything that decides the base model's weights. Changing any of it makes a new cache entry. */
export const DEMO_BASE_RECIPE = {
  version: 1,
  seed: 0,
  architecture: { hidden_size: 128, intermediate_size: 256, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 4, max_position_embeddings: 512, rms_norm_eps: 1e-5 },
  pretraining: { steps: 300, batch_size: 8, learning_rate: 5e-3, weight_decay: 0.01, warmup_steps: 10, lr_scheduler_type: 'cosine' as const },
  threads: 1,
} as const;

export interface DemoBase {
  dir: string;
  cached: boolean;
  model: LanguageModel;
  tokenizer: Tokenizer;
  /** Pre-training seconds (0 when loaded from the cache). */
  seconds: number;
  /** The last pre-training step's loss (from the cache's recipe record when loaded). */
  loss: number;
}

/** `$TUNEKIT_CACHE`, else `$XDG_CACHE_HOME/tunekit`, else `~/.cache/tunekit`. */
export function tunekitCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TUNEKIT_CACHE || path.join(userCacheHome(env), 'tunekit');
}

export function demoBaseDir(cacheDir = tunekitCacheDir()): string {
  const hash = createHash('sha256').update(JSON.stringify(DEMO_BASE_RECIPE)).digest('hex').slice(0, 12);
  return path.join(cacheDir, 'demo', `base-${hash}`);
}

function llamaValues(vocabSize: number, bos: number | null, eos: number | null): Record<string, unknown> {
  return { model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: vocabSize, ...DEMO_BASE_RECIPE.architecture, tie_word_embeddings: false, bos_token_id: bos, eos_token_id: eos };
}

/** Loads the cached base, or pre-trains and caches it (`onStep` sees each pre-training step). */
export async function demoBaseModel(options: { cacheDir?: string; device?: Device; onStep?: (event: StepEvent) => void } = {}): Promise<DemoBase> {
  const dir = demoBaseDir(options.cacheDir);
  const recipeFile = path.join(dir, 'tunekit_recipe.json');
  if (existsSync(recipeFile)) {
    const { model, tokenizer } = await loadModel(dir, { device: options.device });
    if (tokenizer === null) throw new TunekitError('E_DEMO_CACHE', `${dir}: the cached demo model lost its tokenizer.json; delete the folder to rebuild it`);
    const record = JSON.parse(readFileSync(recipeFile, 'utf8')) as { loss: number };
    return { dir, cached: true, model, tokenizer, seconds: 0, loss: record.loss };
  }
  const started = performance.now();
  const threads = getNumThreads();
  setNumThreads(DEMO_BASE_RECIPE.threads);
  const staging = `${dir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  try {
    const { seed, pretraining } = DEMO_BASE_RECIPE;
    const tokenizerDir = path.join(staging, 'tokenizer');
    writeWordTokenizer(tokenizerDir, syntheticTokenizerCorpus(seed));
    const tokenizer = loadTokenizer(tokenizerDir);
    manualSeed(seed);
    const values = llamaValues(tokenizer.vocabSize, tokenizer.bosTokenId ?? null, (tokenizer.eosTokenId as number | undefined) ?? null);
    const model = new LlamaForCausalLM(parseLlamaConfig({ values, source: 'the demo base recipe' }));
    model.unfreeze();
    const eos = tokenizer.decode([tokenizer.eosTokenId as number], { skipSpecialTokens: false });
    const texts = syntheticPretrainingTexts(seed, pretraining.steps * pretraining.batch_size).map((record) => ({ input_ids: tokenizer.encode(`${record.text}${eos}`) }));
    let loss = NaN;
    await train(model, texts, { max_steps: pretraining.steps, per_device_train_batch_size: pretraining.batch_size, learning_rate: pretraining.learning_rate, weight_decay: pretraining.weight_decay, warmup_steps: pretraining.warmup_steps, lr_scheduler_type: pretraining.lr_scheduler_type, logging_steps: 1, seed, save_strategy: 'no' }, {
      padTokenId: tokenizer.padTokenId ?? 0,
      onEvent: (event) => {
        if (event.event !== 'step') return;
        loss = event.loss;
        options.onStep?.(event);
      },
    });
    const modelDir = path.join(staging, 'model');
    await saveModel(model, modelDir, { config: values });
    model.dispose();
    for (const name of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(tokenizerDir, name), path.join(modelDir, name));
    writeFileSync(path.join(modelDir, 'tunekit_recipe.json'), JSON.stringify({ recipe: DEMO_BASE_RECIPE, loss }, null, 2) + '\n');
    mkdirSync(path.dirname(dir), { recursive: true });
    try {
      renameSync(modelDir, dir);
    } catch (error) {
      // Another demo finished first: its copy is as good as ours.
      if (!existsSync(recipeFile)) throw error;
    }
    const loaded = await loadModel(dir, { device: options.device });
    return { dir, cached: false, model: loaded.model, tokenizer: loaded.tokenizer as Tokenizer, seconds: (performance.now() - started) / 1000, loss };
  } finally {
    rmSync(staging, { recursive: true, force: true });
    setNumThreads(threads);
  }
}
